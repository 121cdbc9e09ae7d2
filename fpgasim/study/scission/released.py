"""The released ScissionTL benchmark data as split candidates.

Owns :func:`read_released` (the CSV converted from qub-blesson/ScissionTL@7cebb25
``ScissionTL(Triton)/benchmark_data/*-densenet169.dat``: one row per device block and one per
edge suffix; every problem names the file, the line and the column) and
:func:`released_candidates` (one device's blocks with the edge's suffix times, as the released
predictor pairs them: the edge row after block i starts at its output layer + 1).

Sizes are the released ``.npy`` file sizes (float32 + a 128-byte header); the released predictor
ranks on them, so this path keeps them whatever the study's byte accounting.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fpgasim.errors import BadArgument
from fpgasim.study.scission.predict import Candidate

__all__ = ["ReleasedBlock", "ReleasedData", "read_released", "released_candidates", "COLUMNS", "NOT_APPLICABLE"]

#: The CSV's columns, in order.
COLUMNS = ("device", "side", "input_layer", "output_layer", "block_time_s", "output_bytes", "tl_output_bytes",
           "downsample_time_s", "dataconvert_time_s", "upsample_time_s")
#: The released marker of a TL that does not apply.
NOT_APPLICABLE = -1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleasedBlock:
    """One CSV row (times in seconds, sizes in bytes; ``line`` its line in the file)."""

    line: int
    input_layer: int
    output_layer: int
    block_time_s: float
    output_bytes: int
    tl_output_bytes: int
    downsample_time_s: float
    dataconvert_time_s: float
    upsample_time_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleasedData:
    """The released measurements: device name → its blocks; edge name → its suffix rows."""

    path: Path
    devices: Mapping[str, tuple[ReleasedBlock, ...]]
    edges: Mapping[str, tuple[ReleasedBlock, ...]]

    @property
    def block_ends(self) -> tuple[int, ...]:
        """The output layer of every block of the first device."""
        return tuple(b.output_layer for b in next(iter(self.devices.values())))


def _cell(path: Path, line: int, column: str, text: str, kind: Callable[[str], object]) -> object:
    try:
        return kind(text)
    except ValueError:
        raise BadArgument(f"{path}:{line}: column {column}={text!r}: expected {kind.__name__}") from None


def read_released(path: str | Path) -> ReleasedData:
    """Read and check the released CSV (lines starting with ``#`` are comments).

    Raises:
        BadArgument: a missing file, other columns, a bad number, a side other than device/edge,
            device blocks that do not follow each other from layer 0, or an edge row that does not
            start after a device block (file, line and column named).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadArgument(f"{path}: cannot read the released data ({exc.strerror})") from None
    rows = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.startswith("#")]
    if not rows:
        raise BadArgument(f"{path}: no header; expected the columns {', '.join(COLUMNS)}")
    header_line, header = rows[0]
    if tuple(next(csv.reader([header]))) != COLUMNS:
        raise BadArgument(f"{path}:{header_line}: columns {header!r}; expected {','.join(COLUMNS)}")
    devices: dict[str, list[ReleasedBlock]] = {}
    edges: dict[str, list[ReleasedBlock]] = {}
    for number, line in rows[1:]:
        cells = next(csv.reader([line]))
        if len(cells) != len(COLUMNS):
            raise BadArgument(f"{path}:{number}: {len(cells)} cells; expected {len(COLUMNS)}")
        row = dict(zip(COLUMNS, cells))
        if row["side"] not in ("device", "edge"):
            raise BadArgument(f"{path}:{number}: column side={row['side']!r}: expected device or edge")
        ints = {k: _cell(path, number, k, row[k], int) for k in ("input_layer", "output_layer", "output_bytes",
                                                                  "tl_output_bytes")}
        floats = {k: _cell(path, number, k, row[k], float) for k in ("block_time_s", "downsample_time_s",
                                                                     "dataconvert_time_s")}
        up = None if row["upsample_time_s"] == "" else _cell(path, number, "upsample_time_s", row["upsample_time_s"], float)
        block = ReleasedBlock(line=number, **ints, **floats, upsample_time_s=up)
        (devices if row["side"] == "device" else edges).setdefault(row["device"], []).append(block)
    if not devices or not edges:
        raise BadArgument(f"{path}: expected rows of at least one device and one edge; found "
                          f"{len(devices)} device(s), {len(edges)} edge(s)")
    for name, blocks in devices.items():
        expected = 0
        for block in blocks:
            if block.input_layer != expected or block.output_layer < block.input_layer:
                raise BadArgument(f"{path}:{block.line}: device {name!r} block {block.input_layer}-"
                                  f"{block.output_layer}: expected a block starting at layer {expected}")
            expected = block.output_layer + 1
    return ReleasedData(path=path, devices={k: tuple(v) for k, v in devices.items()},
                        edges={k: tuple(v) for k, v in edges.items()})


def released_candidates(data: ReleasedData, device: str, edge: str,
                        positions: Mapping[int, int] | None = None) -> tuple[Candidate, ...]:
    """The split candidates of ``device`` with ``edge`` (label: the Keras layer the split follows).

    Args:
        positions: Keras output layer → topological position of the aligned fpgasim split node;
            an unaligned block takes the position of the aligned block before it.

    Raises:
        BadArgument: an unknown device or edge, or an edge row that does not start just after a
            device block or does not end at the last layer. A block the edge has no row after
            is not a candidate (the released data has none after Keras layer 595).
    """
    if device not in data.devices or edge not in data.edges:
        raise BadArgument(f"{data.path}: no {'device' if device not in data.devices else 'edge'} "
                          f"{device if device not in data.devices else edge!r}; devices: "
                          f"{', '.join(data.devices)}; edges: {', '.join(data.edges)}")
    blocks, suffixes = data.devices[device], data.edges[edge]
    last = blocks[-1].output_layer
    starts = {block.output_layer + 1: block for block in blocks[:-1]}
    for suffix in suffixes:
        if suffix.input_layer not in starts or suffix.output_layer != last:
            raise BadArgument(f"{data.path}:{suffix.line}: edge {edge!r} row {suffix.input_layer}-"
                              f"{suffix.output_layer}: expected a row from just after a block of device "
                              f"{device!r} to its last layer {last}")
    by_start = {suffix.input_layer: suffix for suffix in suffixes}
    candidates: list[Candidate] = []
    cumulative = 0.0
    position = None
    for index, block in enumerate(blocks):
        cumulative += block.block_time_s
        if positions is not None:
            position = positions.get(block.output_layer, position)
        if index == len(blocks) - 1:
            candidates.append(Candidate(index=index, label=str(block.output_layer), position=position,
                                        device_s=cumulative, edge_s=0.0, local=True, nbytes=0, tl_nbytes=None))
            continue
        suffix = by_start.get(block.output_layer + 1)
        if suffix is None:
            continue  # the edge was not measured after this block: not a split candidate
        applies = block.downsample_time_s != NOT_APPLICABLE
        candidates.append(Candidate(
            index=index, label=str(block.output_layer), position=position, device_s=cumulative,
            edge_s=suffix.block_time_s, local=False, nbytes=block.output_bytes,
            tl_nbytes=block.tl_output_bytes if applies else None,
            tl_device_s=block.downsample_time_s if applies else 0.0,
            convert_s=block.dataconvert_time_s if applies else 0.0,
            tl_edge_s=(block.upsample_time_s or 0.0) if applies else 0.0))
    return tuple(candidates)
