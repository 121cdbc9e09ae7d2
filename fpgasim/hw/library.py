"""The board library: where board files live and how a board name resolves to a file.

Owns: ``BOARDS_DIR`` (the repository's ``boards/``, overridable with the environment variable
``FPGASIM_BOARDS_DIR``), :func:`board_ids` and :func:`load_board`.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from fpgasim.errors import BadArgument, ConfigError
from fpgasim.hw.board import Board, load_board_file

__all__ = ["BOARDS_DIR", "BOARDS_DIR_ENV", "NON_BOARD_FILES", "boards_dir", "board_ids", "is_board_path", "load_board"]

#: The board library shipped with fpgasim.
BOARDS_DIR = Path(__file__).resolve().parents[2] / "boards"
#: Environment variable that points the library at another directory.
BOARDS_DIR_ENV = "FPGASIM_BOARDS_DIR"
#: Files in the boards directory that are not boards.
NON_BOARD_FILES = frozenset({"links.yaml", "dsp_types.yaml", "compute.yaml", "device_fits.yaml"})


def boards_dir() -> Path:
    """The board directory in use: ``$FPGASIM_BOARDS_DIR`` if set, else :data:`BOARDS_DIR`."""
    override = os.environ.get(BOARDS_DIR_ENV)
    return Path(override) if override else BOARDS_DIR


def board_ids() -> list[str]:
    """Sorted ids (file stems) of the boards in :func:`boards_dir`."""
    folder = boards_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml") if p.name not in NON_BOARD_FILES)


def is_board_path(name_or_path: str | Path) -> bool:
    """Whether a board reference is a path (a ``Path``, or text with a path separator or a
    ``.yaml``/``.yml`` ending) rather than a library id."""
    return isinstance(name_or_path, Path) or (
        isinstance(name_or_path, str) and ("/" in name_or_path or os.sep in name_or_path
                                           or name_or_path.endswith((".yaml", ".yml"))))


def load_board(name_or_path: str | Path) -> Board:
    """Load a board by library name (``"zcu102"``) or by path to a YAML file.

    Args:
        name_or_path: a board id in :func:`board_ids`, or a path (a ``Path``, or text containing
            a path separator or ending in ``.yaml``/``.yml``).

    Returns:
        The frozen :class:`Board`.

    Raises:
        BadArgument: an unknown board name (lists the known ones, suggests the closest).
        ConfigError: the file has problems; a library file whose ``id`` differs from its name.
    """
    if is_board_path(name_or_path):
        return load_board_file(name_or_path)
    if not isinstance(name_or_path, str) or not name_or_path:
        raise BadArgument(f"board must be a board name or a path; got {name_or_path!r}")
    known = board_ids()
    if name_or_path not in known:
        close = difflib.get_close_matches(name_or_path, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise BadArgument(f"unknown board {name_or_path!r}{hint} known boards: {', '.join(known) or 'none'} "
                          f"(in {boards_dir()})")
    path = boards_dir() / f"{name_or_path}.yaml"
    board = load_board_file(path)
    if board.id != name_or_path:
        from fpgasim.config import read_yaml

        doc = read_yaml(path)
        raise ConfigError([doc.problem(("board", "id"), f"id {board.id!r} differs from the file name; "
                                                        f"expected {name_or_path!r}")])
    return board
