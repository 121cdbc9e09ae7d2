"""On-chip resource model shared by every kernel type: DSPs and block memories.

Owns: the mapping of one on-chip buffer (word width, depth, banks, double buffering, memory
preference) to BRAM18 / BRAM36 / URAM blocks or LUTRAM, the DSP count of a MAC array, and —
separately — the *released Super-LIP formulas* (superlip-model.md §2.3) that the authors' DSE
code uses. Every counting function accepts Python ints or numpy integer arrays (broadcast
together) so that the analytical tiling search can evaluate millions of candidate tilings at once.

Mapping rule (general model). A buffer with ``banks`` banks is ``banks`` separate memories
(HLS ``ARRAY_PARTITION complete``), times 2 when double buffered (ping-pong). One bank of
``depth_words`` words of ``width_bits`` bits is built from ONE aspect ratio of the primitive,
cascaded in width and depth: ``blocks = min over shapes (d, w) of ⌈width/w⌉·⌈depth/d⌉``.
BRAM18 shapes are 16K×1, 8K×2, 4K×4, 2K×9, 1K×18 and 512×36 (simple dual port); BRAM36 shapes
are the same with twice the depth, plus 512×72 (SDP); URAM is 4K×72. A BRAM36 is counted as two
BRAM18 (its shapes are two BRAM18 shapes stacked, so it never beats two BRAM18 in this count).
Mixing shapes inside one bank (e.g. 36 bits as 1K×36 plus one extra 16K×1 column) is not
modelled, so the count is what Vivado reaches with uniform cascading — an upper bound on what it
may reach by mixing. Memory preference: ``bram`` → BRAM; ``uram`` → URAM; ``lutram`` →
distributed RAM (one LUT holds 64×1 bits); ``auto`` → URAM when the board has URAM and one
URAM bank replaces at least as many BRAM18 bits as it holds (``16·uram_blocks ≤ bram18_blocks``,
i.e. the buffer is deep and wide enough), else BRAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import window_extent

__all__ = [
    "MemoryPreference", "MemoryKind", "BRAM18_SHAPES", "BRAM36_SHAPES", "URAM_SHAPES",
    "BRAM18_BITS", "URAM_BITS", "LUTRAM_BITS_PER_LUT", "RELEASED_BITS_PER_BRAM18",
    "bram18_blocks", "bram36_blocks", "uram_blocks", "lutram_luts", "buffer_bram18",
    "dsp_count", "BufferSpec", "BufferUse", "map_buffer",
    "released_dsp", "released_bram18_parts", "released_bram18",
]

#: BRAM18 aspect ratios as (depth_words, width_bits); 512×36 needs simple-dual-port mode.
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
#: BRAM36 aspect ratios as (depth_words, width_bits); 512×72 needs simple-dual-port mode.
BRAM36_SHAPES = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))
#: UltraRAM (URAM288) has one shape: 4K words of 72 bits.
URAM_SHAPES = ((4096, 72),)
#: Bits in one BRAM18 including the parity bits (1K×18).
BRAM18_BITS = 18432
#: Bits in one URAM288 block.
URAM_BITS = 294912
#: One LUT6 used as distributed RAM holds 64×1 bits (RAM64X1S).
LUTRAM_BITS_PER_LUT = 64
#: The released Super-LIP code divides by 18000 bits per BRAM18 (superlip-model.md §2.3).
RELEASED_BITS_PER_BRAM18 = 18000


class MemoryPreference(StrEnum):
    """Which on-chip memory a buffer should use (see the module docstring for ``auto``)."""

    BRAM = "bram"
    URAM = "uram"
    LUTRAM = "lutram"
    AUTO = "auto"


class MemoryKind(StrEnum):
    """The memory a buffer was actually mapped to."""

    BRAM18 = "bram18"
    URAM = "uram"
    LUTRAM = "lutram"


def _as_int_array(value: object, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise BadArgument(f"{name}={value!r}: expected a non-negative integer (or an integer array)")
    if np.any(array < 0):
        raise BadArgument(f"{name}={value!r}: expected a non-negative integer (or an integer array)")
    return array.astype(np.int64)


def _axes(value: object) -> tuple[object, object]:
    """(height, width) of a window argument: a (height, width) tuple, or one value for both axes."""
    return value if isinstance(value, tuple) else (value, value)


def _out(result: np.ndarray, *inputs: object) -> int | np.ndarray:
    """Return a Python int when every input was a scalar, else the array."""
    if all(np.ndim(value) == 0 for value in inputs):
        return int(result)
    return result


def _blocks(width_bits: object, depth_words: object, shapes: tuple[tuple[int, int], ...]) -> np.ndarray:
    width = _as_int_array(width_bits, "width_bits")[..., None]
    depth = _as_int_array(depth_words, "depth_words")[..., None]
    depths = np.array([shape[0] for shape in shapes], dtype=np.int64)
    widths = np.array([shape[1] for shape in shapes], dtype=np.int64)
    count = (-(-width // widths)) * (-(-depth // depths))
    return count.min(axis=-1)


def bram18_blocks(width_bits: object, depth_words: object) -> int | np.ndarray:
    """BRAM18 blocks for ONE bank of ``depth_words`` × ``width_bits`` (best single aspect ratio).

    Args:
        width_bits: word width in bits (int or integer array, ≥ 0).
        depth_words: number of words (int or integer array, ≥ 0); 0 words need 0 blocks.

    Returns:
        Blocks per bank, an int for scalar inputs, else an int64 array of the broadcast shape.

    Raises:
        BadArgument: a negative or non-integer input.
    """
    return _out(_blocks(width_bits, depth_words, BRAM18_SHAPES), width_bits, depth_words)


def bram36_blocks(width_bits: object, depth_words: object) -> int | np.ndarray:
    """BRAM36 blocks for ONE bank (as :func:`bram18_blocks`, with the BRAM36 shapes)."""
    return _out(_blocks(width_bits, depth_words, BRAM36_SHAPES), width_bits, depth_words)


def uram_blocks(width_bits: object, depth_words: object) -> int | np.ndarray:
    """URAM288 blocks for ONE bank (4K × 72 cascaded in width and depth)."""
    return _out(_blocks(width_bits, depth_words, URAM_SHAPES), width_bits, depth_words)


def lutram_luts(width_bits: object, depth_words: object) -> int | np.ndarray:
    """LUTs for ONE bank as distributed RAM: ``width · ⌈depth/64⌉`` (64×1 bits per LUT)."""
    width = _as_int_array(width_bits, "width_bits")
    depth = _as_int_array(depth_words, "depth_words")
    return _out(width * (-(-depth // LUTRAM_BITS_PER_LUT)), width_bits, depth_words)


def buffer_bram18(width_bits: object, depth_words: object, banks: object, double_buffered: bool) -> int | np.ndarray:
    """BRAM18 blocks of a whole banked buffer in BRAM: ``copies · banks · min(b18, 2·b36)``.

    Args:
        width_bits: word width in bits.
        depth_words: words per bank.
        banks: number of banks (separate memories).
        double_buffered: True for a ping-pong pair (×2).

    Returns:
        BRAM18 blocks (int for scalar inputs, else an int64 array).

    Raises:
        BadArgument: a negative or non-integer input.
    """
    per_bank = np.minimum(_blocks(width_bits, depth_words, BRAM18_SHAPES),
                          2 * _blocks(width_bits, depth_words, BRAM36_SHAPES))
    copies = 2 if double_buffered else 1
    return _out(copies * _as_int_array(banks, "banks") * per_bank, width_bits, depth_words, banks)


def dsp_count(macs: object, dsp_per_mac: float) -> int | np.ndarray:
    """DSP slices for ``macs`` parallel MAC units at ``dsp_per_mac`` slices each, rounded up.

    Args:
        macs: MAC units working in parallel (int or integer array).
        dsp_per_mac: DSP slices per MAC for the precision and DSP type (e.g. 5 for fp32,
            1 for int16, 0.5 for int8 packed two per DSP48E2).

    Returns:
        ``⌈macs · dsp_per_mac⌉`` (int for a scalar input).

    Raises:
        BadArgument: negative MACs or a DSP cost that is not a finite number ≥ 0.
    """
    if isinstance(dsp_per_mac, bool) or not isinstance(dsp_per_mac, (int, float, np.number)) \
            or not np.isfinite(dsp_per_mac) or dsp_per_mac < 0:
        raise BadArgument(f"dsp_per_mac={dsp_per_mac!r}: expected a finite number >= 0")
    count = _as_int_array(macs, "macs") * float(dsp_per_mac)
    return _out(np.ceil(np.round(count, 9)).astype(np.int64), macs)


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferSpec:
    """One on-chip buffer of a kernel, before it is mapped to memory blocks.

    Attributes:
        name: e.g. ``"ifm"``, ``"weights"``.
        width_bits: word width in bits.
        depth_words: words in ONE bank.
        banks: separate memories (from array partitioning).
        double_buffered: True for a ping-pong pair.
        memory: the design's memory preference.
    """

    name: str
    width_bits: int
    depth_words: int
    banks: int
    double_buffered: bool
    memory: MemoryPreference

    @property
    def copies(self) -> int:
        """2 for a ping-pong pair, else 1."""
        return 2 if self.double_buffered else 1

    @property
    def bits(self) -> int:
        """Payload bits over all banks and copies."""
        return self.width_bits * self.depth_words * self.banks * self.copies


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferUse:
    """Where one buffer went and what it costs.

    Attributes:
        spec: the buffer.
        kind: the memory it was mapped to.
        blocks_per_bank: blocks (BRAM18 or URAM) or LUTs (LUTRAM) per bank.
        bram18: BRAM18 blocks in total (0 unless kind is BRAM18).
        uram: URAM blocks in total (0 unless kind is URAM).
        lutram_luts: LUTs used as distributed RAM (0 unless kind is LUTRAM).
    """

    spec: BufferSpec
    kind: MemoryKind
    blocks_per_bank: int
    bram18: int
    uram: int
    lutram_luts: int

    @property
    def efficiency(self) -> float:
        """Payload bits ÷ capacity of the blocks used (0 for an empty buffer)."""
        capacity = self.bram18 * BRAM18_BITS + self.uram * URAM_BITS \
            + self.lutram_luts * LUTRAM_BITS_PER_LUT
        return self.spec.bits / capacity if capacity else 0.0


def map_buffer(spec: BufferSpec, *, uram_available: bool) -> BufferUse:
    """Map one buffer to BRAM18, URAM or LUTRAM by its preference (module docstring rule).

    Args:
        spec: the buffer.
        uram_available: whether the board has any URAM (``auto`` never picks URAM otherwise).

    Returns:
        The :class:`BufferUse`; a ``uram`` preference on a board without URAM still maps to
        URAM (the fit check then reports it as not fitting).
    """
    copies_banks = spec.copies * spec.banks
    b18 = min(int(bram18_blocks(spec.width_bits, spec.depth_words)),
              2 * int(bram36_blocks(spec.width_bits, spec.depth_words)))
    ur = int(uram_blocks(spec.width_bits, spec.depth_words))
    kind = MemoryKind.BRAM18
    if spec.memory == MemoryPreference.URAM or (
            spec.memory == MemoryPreference.AUTO and uram_available and 0 < 16 * ur <= b18):
        kind = MemoryKind.URAM
    elif spec.memory == MemoryPreference.LUTRAM:
        kind = MemoryKind.LUTRAM
    if kind is MemoryKind.URAM:
        return BufferUse(spec=spec, kind=kind, blocks_per_bank=ur, bram18=0, uram=copies_banks * ur, lutram_luts=0)
    if kind is MemoryKind.LUTRAM:
        luts = int(lutram_luts(spec.width_bits, spec.depth_words))
        return BufferUse(spec=spec, kind=kind, blocks_per_bank=luts, bram18=0, uram=0,
                         lutram_luts=copies_banks * luts)
    return BufferUse(spec=spec, kind=kind, blocks_per_bank=b18, bram18=copies_banks * b18, uram=0, lutram_luts=0)


# ---------------------------------------------------------------------------------------------
# The released Super-LIP formulas ([CODE] SuperLinearBackend.py; superlip-model.md §2.3)
# ---------------------------------------------------------------------------------------------

def _released_bits(bits: int) -> int:
    if bits not in (16, 32):
        raise BadArgument(f"bits={bits!r}: the released Super-LIP formulas exist for 16 and 32 only")
    return bits


def released_dsp(tm: object, tn: object, bits: int) -> int | np.ndarray:
    """Released DSP count: ``5·Tm·Tn`` for 32-bit floating point, ``Tm·Tn`` for 16-bit fixed.

    Raises:
        BadArgument: bits other than 16 or 32, or negative tile sizes.
    """
    factor = 5 if _released_bits(bits) == 32 else 1
    return _out(factor * _as_int_array(tm, "tm") * _as_int_array(tn, "tn"), tm, tn)


def released_bram18_parts(tm: object, tn: object, tr: object, tc: object, k: object, bits: int,
                          *, stride: object | None = None
                          ) -> tuple[int | np.ndarray, int | np.ndarray, int | np.ndarray]:
    """Released BRAM18 counts ``(bI, bO, bW)`` of the IFM, OFM and weight buffers.

    ``bI = 2·Tn·⌈Tr·Tc·bits/18000⌉``, ``bO = 2·Tm·⌈Tr·Tc·bits/18000⌉``; weights
    ``bW = 2·Tm·Tn·⌈K²·bits/18000⌉`` for 32 bits and, as written in the code for 16 bits,
    ``bW = Tm·Tn·⌈4·K²·16/18000⌉`` (no ×2; see docs/fit.md for the comparison). With
    ``stride`` S, the IFM buffer holds the tile's whole input window (the ``complete`` model):
    ``bI = 2·Tn·⌈((Tr−1)·S+K)·((Tc−1)·S+K)·bits/18000⌉`` (:func:`~fpgasim.kernels.conv_schedule.window_extent`).
    ``k`` and ``stride`` are an int (or integer array) for both axes or a (height, width) tuple;
    then K² is KH·KW and each axis's window uses its own kernel and stride.

    Raises:
        BadArgument: bits other than 16 or 32, or negative sizes.
    """
    bits = _released_bits(bits)
    m, n = _as_int_array(tm, "tm"), _as_int_array(tn, "tn")
    r, c = _as_int_array(tr, "tr"), _as_int_array(tc, "tc")
    kh, kw = (_as_int_array(v, "k") for v in _axes(k))
    per_map = -(-(r * c * bits) // RELEASED_BITS_PER_BRAM18)
    if stride is None:
        b_i = 2 * n * per_map
    else:
        sh, sw = (_as_int_array(v, "stride") for v in _axes(stride))
        ifm_words = window_extent(r, sh, kh) * window_extent(c, sw, kw)
        b_i = 2 * n * (-(-(ifm_words * bits) // RELEASED_BITS_PER_BRAM18))
    b_o = 2 * m * per_map
    if bits == 32:
        b_w = 2 * m * n * (-(-(kh * kw * bits) // RELEASED_BITS_PER_BRAM18))
    else:
        b_w = m * n * (-(-(4 * kh * kw * 16) // RELEASED_BITS_PER_BRAM18))
    inputs = (tm, tn, tr, tc, *_axes(k))
    return _out(b_i, *inputs), _out(b_o, *inputs), _out(b_w, *inputs)


def released_bram18(tm: object, tn: object, tr: object, tc: object, k: object, bits: int,
                    *, stride: int | None = None) -> int | np.ndarray:
    """Released BRAM18 total ``bI + bO + bW`` (see :func:`released_bram18_parts`; ``stride``:
    the IFM buffer holds the halo)."""
    b_i, b_o, b_w = released_bram18_parts(tm, tn, tr, tc, k, bits, stride=stride)
    return b_i + b_o + b_w
