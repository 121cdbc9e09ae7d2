"""Per-axis sliding-window arguments: a kernel, stride or padding given as one int or as (height, width).

Owns :data:`Pair` (the one representation of a window length across the package: an int when both
axes are equal, a ``(height, width)`` tuple otherwise), :func:`per_axis` (any accepted form →
checked ``(height, width)`` ints), :func:`as_pair` (``(height, width)`` → the canonical
:data:`Pair`, so that square windows stay plain ints everywhere they are stored or printed) and
:func:`axes` (a checked :data:`Pair` → ``(height, width)``, without checks, for hot paths), and
:class:`WindowAxes`, the per-axis views every frozen spec holding such fields inherits.
"""

from __future__ import annotations

import numpy as np

from fpgasim.errors import BadArgument

__all__ = ["Pair", "per_axis", "as_pair", "axes", "WindowAxes"]

#: A window length along height and width: an int (both axes) or (height, width), in elements.
Pair = int | tuple[int, int]


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def per_axis(name: str, value: object, minimum: int) -> tuple[int, int]:
    """``(height, width)`` of a window argument given as an int or a 2-sequence of ints.

    Raises:
        BadArgument: not an int nor a 2-list/tuple of ints, or a value below ``minimum``; the
            message names ``name`` and the value.
    """
    values = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(values) != 2 or not all(_is_int(v) and v >= minimum for v in values):
        raise BadArgument(f"{name}={value!r}: expected an integer >= {minimum} or [height, width] of them")
    return int(values[0]), int(values[1])


def axes(value: Pair) -> tuple[int, int]:
    """``(height, width)`` of an already checked :data:`Pair` (no checks)."""
    return (value, value) if isinstance(value, int) else value


def as_pair(height: int, width: int) -> Pair:
    """The canonical :data:`Pair`: ``height`` when both are equal, else ``(height, width)``."""
    return height if height == width else (height, width)


class WindowAxes:
    """Per-axis views of a frozen spec's canonical ``kernel``, ``stride`` and ``padding`` fields
    (a spec without ``stride``/``padding`` uses only the kernel views)."""

    __slots__ = ()
    kernel_h = property(lambda self: axes(self.kernel)[0], doc="Kernel height KH in elements.")
    kernel_w = property(lambda self: axes(self.kernel)[1], doc="Kernel width KW in elements.")
    stride_h = property(lambda self: axes(self.stride)[0], doc="Stride along the height in elements.")
    stride_w = property(lambda self: axes(self.stride)[1], doc="Stride along the width in elements.")
    pad_h = property(lambda self: axes(self.padding)[0], doc="Zero rows above and below, in elements.")
    pad_w = property(lambda self: axes(self.padding)[1], doc="Zero columns left and right, in elements.")
