"""Private argument checks shared by the layer specs (raise BadArgument naming the field)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from fpgasim.errors import BadArgument
from fpgasim.ops.conv import output_size
from fpgasim.ops.window import as_pair, per_axis

E = TypeVar("E", bound=StrEnum)


def check_name(owner: str, name: object) -> None:
    """Raise BadArgument unless ``name`` is a non-empty string."""
    if not isinstance(name, str) or not name:
        raise BadArgument(f"{owner}: name={name!r}: expected a non-empty string")


def check_int(owner: str, field: str, value: object, *, minimum: int) -> None:
    """Raise BadArgument unless ``value`` is an int (not bool) that is >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadArgument(f"{owner}: {field}={value!r}: expected an integer >= {minimum}")


def check_bool(owner: str, field: str, value: object) -> None:
    """Raise BadArgument unless ``value`` is a bool."""
    if not isinstance(value, bool):
        raise BadArgument(f"{owner}: {field}={value!r}: expected True or False")


def parse_choice(owner: str, field: str, enum_type: type[E], value: object) -> E:
    """Return ``enum_type(value)`` or raise BadArgument listing the allowed values."""
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise BadArgument(f"{owner}: {field}={value!r}: expected one of {allowed}") from None


def check_window(owner: str, layer: object) -> None:
    """Check a frozen layer's ``kernel``, ``stride`` (≥ 1) and ``padding`` (≥ 0), each an int or
    [height, width], and store each in its canonical form (an int when square, else (h, w)).

    Raises:
        BadArgument: naming ``owner``, the field and the value.
    """
    for field, minimum in (("kernel", 1), ("stride", 1), ("padding", 0)):
        try:
            height, width = per_axis(field, getattr(layer, field), minimum)
        except BadArgument as exc:
            raise BadArgument(f"{owner}: {exc}") from None
        object.__setattr__(layer, field, as_pair(height, width))


def out_size(owner: str, in_size: int, kernel: int, stride: int, padding: int, axis: str, *,
             ceil_mode: bool = False) -> int:
    """Output size of a sliding window (:func:`fpgasim.ops.conv.output_size`, floor or ceil mode);
    BadArgument naming ``owner`` if the window does not fit."""
    if in_size + 2 * padding - kernel < 0:
        raise BadArgument(
            f"{owner}: kernel={kernel} does not fit in_{axis}={in_size} with padding={padding}: "
            f"expected kernel <= in_{axis} + 2*padding"
        )
    return output_size(in_size, kernel, stride, padding, ceil_mode=ceil_mode)


def known_names(word: str, known: Iterable[str]) -> str:
    """``"known: a, b, c"`` plus ``"; did you mean 'x'?"`` when one name is close to ``word``."""
    names = sorted(map(str, known))
    close = difflib.get_close_matches(word, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"known: {', '.join(names)}{hint}"
