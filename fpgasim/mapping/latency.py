"""Closed-form per-tile latency model (Zhang FPGA'15 / Super-LIP XFER), vectorised with numpy.

Owns the analytical latency of one conv layer on one board of a partition, in two variants
(:class:`~fpgasim.mapping.spec.ModelVariant`; formulas in docs/analytical-model.md and
reference/superlip-model.md §2–3):

- per-tile terms: t_I (DDR read IFM), t_W (DDR read weights), t_C = KH·KW·Tr·Tc (compute; plus
  the MAC pipeline's fill at every step in ``complete``), t_O (DDR write OFM), link terms (XFER:
  the shared operand's part received from peers);
- L_in = max(t_I, t_W, t_C, t_link); L_out = max(⌈N/Tn⌉·L_in, t_O) (``complete``: the last of
  the ⌈N/Tn⌉ steps loads only the remaining N mod Tn input channels);
- cycles = groups·⌈B/Pb⌉·⌈⌈R/Pr⌉/Tr⌉·⌈⌈C/Pc⌉/Tc⌉·⌈⌈M/Pm⌉/Tm⌉·L_out (+ fill + drain in ``complete``).
  Edge tiles of rows, columns and output channels are counted at full size.

:func:`latency_arrays` evaluates arrays of tilings at once (the search's inner loop);
:func:`layer_latency` evaluates one tiling and returns every term and the bottleneck label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpgasim.errors import BadArgument
from fpgasim.kernels.conv_schedule import window_extent
from fpgasim.mapping.link_model import XferCost
from fpgasim.mapping.spec import Bottleneck, ConvShape, ModelVariant, Partition, StreamRates, Tiling

__all__ = ["BOTTLENECK_ORDER", "CYCLE_DECIMALS", "LayerLatency", "latency_arrays", "layer_latency", "parse_variant",
           "xfer_shared"]

#: Decimals of the complete model's cycles (a millionth of a cycle), so that equal latencies tie.
CYCLE_DECIMALS = 6

#: Order of the per-output-tile terms; ties in the max go to the earliest.
BOTTLENECK_ORDER = (Bottleneck.COMPUTE, Bottleneck.DDR_READ_IFM, Bottleneck.DDR_READ_WEIGHTS,
                    Bottleneck.DDR_WRITE_OFM, Bottleneck.LINK)


def parse_variant(variant: object) -> ModelVariant:
    """Return ``ModelVariant(variant)`` or raise BadArgument listing the allowed values."""
    try:
        return ModelVariant(variant)
    except ValueError:
        allowed = ", ".join(v.value for v in ModelVariant)
        raise BadArgument(f"variant={variant!r}: expected one of {allowed}") from None


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _pieces(n: int, parts: int) -> list[int]:
    """Sizes of the ``parts`` contiguous pieces of n (⌈n/parts⌉ each, the last shorter or empty),
    as :func:`fpgasim.mapping.parts.board_parts` splits a dimension."""
    size = -(-n // parts)
    return [max(min(size, n - index * size), 0) for index in range(parts)]


def _even(pieces: list[int], tile) -> np.ndarray | bool:
    """Every piece walks the same number of ``tile``-sized tiles (and none is empty)."""
    if min(pieces) == 0:
        return False
    counts = [np.ceil(piece / tile) for piece in set(pieces)]
    even = True
    for count in counts[1:]:
        even = even & (count == counts[0])
    return even


def xfer_shared(shape: ConvShape, partition: Partition, tm, tr, tc) -> tuple[np.ndarray | bool, np.ndarray | bool]:
    """Whether the boards share the weights and the IFM tiles (XFER) at these tile sizes.

    XFER exchanges tile k for tile k, so a group shares only when its members walk the same number
    of tiles (the emulator's rule): weight sharers differ in batch, row and column part, IFM sharers
    in output-channel part. Uneven parts read the whole operand themselves.
    """
    weights = partition.spatial > 1
    if weights:
        weights = (_even(_pieces(shape.batch, partition.pb), 1) & _even(_pieces(shape.out_h, partition.pr), tr)
                   & _even(_pieces(shape.out_w, partition.pc), tc))
    ifm = partition.pm > 1
    if ifm:
        ifm = _even(_pieces(shape.out_channels, partition.pm), tm)
    return weights, ifm


def latency_arrays(shape: ConvShape, tm, tn, tr, tc, partition: Partition, rates: StreamRates,
                   variant: ModelVariant, xfer: XferCost | None = None, link_bound: bool = False
                   ) -> dict[str, np.ndarray]:
    """Evaluate the model for broadcastable arrays of tile sizes (no argument checks).

    Args:
        shape: the layer. tm, tn, tr, tc: integer arrays (or ints) of tile sizes >= 1.
        partition: the split over boards; rates: stream rates in elements per cycle.
        variant: released or complete.
        xfer: complete variant: the XFER exchange over the platform's links
            (:meth:`~fpgasim.mapping.link_model.LinkModel.xfer`); ``t_link`` is then the time until
            a board holds every share of a step (routes, shared links, per-message latency,
            cut-through lag). None: the link-blind term, the received share ÷ ``rates.link``.
        link_bound: with ``xfer``, price the exchange by its lower bound
            (:meth:`~fpgasim.mapping.link_model.XferCost.lower_bound`: own reads, each link's bytes
            at its rate): a lower bound of the latency, which grows with the link term; the search
            prunes with it.

    Returns:
        float64 arrays (cycles) ``t_i, t_w, t_c, t_o, t_link_w, t_link_i, t_link, l_in, l_out,
        fill, drain, cycles`` (the load terms of a full step of Tn input channels), ``inner`` (one
        output tile's inner steps), ``steps`` (⌈N/Tn⌉), ``load_steps`` (full steps' worth of
        loads: N/Tn in ``complete``, else ⌈N/Tn⌉), ``tiles`` (outer iterations per board), and
        ``link_bytes``: with ``xfer``, the bytes one inner step's exchange moves over every hop
        (whole cluster; else 0).
        The DDR terms are per board, after the XFER share.
    """
    m, n, taps = shape.out_channels, shape.in_channels, shape.kernel_h * shape.kernel_w
    b_local = _ceil_div(shape.batch, partition.pb)
    r_local = _ceil_div(shape.out_h, partition.pr)
    c_local = _ceil_div(shape.out_w, partition.pc)
    m_local = _ceil_div(m, partition.pm)
    tm, tn, tr, tc = (np.asarray(x, dtype=np.float64) for x in (tm, tn, tr, tc))
    ps, pm = partition.spatial, partition.pm
    a = rates.link
    if variant is ModelVariant.COMPLETE:
        tm, tn = np.minimum(tm, m_local), np.minimum(tn, n)
        tr, tc = np.minimum(tr, r_local), np.minimum(tc, c_local)
        window = window_extent(tr, shape.stride_h, shape.kernel_h) * window_extent(tc, shape.stride_w, shape.kernel_w)
    else:
        window = tr * tc
    t_c = taps * tr * tc
    if variant is ModelVariant.COMPLETE:  # the MAC pipeline fills at every inner step
        t_c = t_c + rates.step_fill_cycles
    t_o = tm * tr * tc / rates.ofm
    zero = np.zeros_like(t_c)
    share = xfer_shared(shape, partition, tm, tr, tc) if xfer is not None and variant is ModelVariant.COMPLETE \
        else (False, False)

    def step(tn_step) -> dict[str, np.ndarray]:
        """The load terms of one inner step over ``tn_step`` input channels."""
        ifm_tile, w_tile = tn_step * window, tm * tn_step * taps
        t_i, t_w = ifm_tile / rates.ifm, w_tile / rates.weights
        t_link_w, t_link_i, link_bytes = zero, zero, zero
        if a is not None and variant is ModelVariant.RELEASED:
            if ps == 1 and pm == 1:  # the code's fallback row: link term on the whole weight tile
                t_link_w = w_tile / a + zero
            if ps > 1:
                t_w, t_link_w = t_w / ps, w_tile / a / ps + zero
            if pm > 1:
                t_i, t_link_i = t_i / pm, ifm_tile / a / pm + zero
            t_link = np.maximum(t_link_w, t_link_i)
        elif a is not None and xfer is not None:
            w_shared, i_shared = w_tile * share[0], ifm_tile * share[1]
            t_w = np.where(share[0], t_w / ps, t_w) + zero
            t_i = np.where(share[1], t_i / pm, t_i) + zero
            t_link_w, t_link_i = w_shared * ((ps - 1) / ps) / a + zero, i_shared * ((pm - 1) / pm) / a + zero
            if link_bound:
                t_link = xfer.lower_bound(w_shared, i_shared, t_w, t_i) + zero
            else:
                t_link = xfer.cycles(w_shared, i_shared, t_w, t_i) + zero
            link_bytes = xfer.link_bytes(w_shared, i_shared) + zero
        elif a is not None:
            if ps > 1:
                t_w, t_link_w = t_w / ps, w_tile * ((ps - 1) / ps) / a + zero
            if pm > 1:
                t_i, t_link_i = t_i / pm, ifm_tile * ((pm - 1) / pm) / a + zero
            t_link = t_link_w + t_link_i  # one receive port per board carries both
        else:
            t_link = zero
        t_i, t_w = t_i + zero, t_w + zero
        return {"t_i": t_i, "t_w": t_w, "t_link_w": t_link_w, "t_link_i": t_link_i, "t_link": t_link,
                "link_bytes": link_bytes, "l_in": np.maximum(np.maximum(t_i, t_w), np.maximum(t_c, t_link))}

    full = step(tn)
    t_i, t_w, t_link, l_in = full["t_i"], full["t_w"], full["t_link"], full["l_in"]
    steps = np.ceil(n / tn)
    tiles = (shape.groups * b_local) * np.ceil(r_local / tr) * np.ceil(c_local / tc) * np.ceil(m_local / tm)
    if variant is ModelVariant.COMPLETE:
        # The last inner step loads the ⌈N/Tn⌉-th, shorter, slice of input channels. Output tiles
        # pipeline as (load+compute) → store; the first tile's load+compute and the last tile's
        # store are exposed once. Within a tile, a load → compute pipeline of n steps takes
        # the sum of max(load, compute) plus the first step's min(load, compute).
        inner = (steps - 1) * l_in + step(n - (steps - 1) * tn)["l_in"]
        load_steps = n / tn
        l_out = np.maximum(inner, t_o)
        fill = inner + np.minimum(np.maximum(np.maximum(t_i, t_w), t_link), t_c)
        drain = t_o
        # Rounded to a millionth of a cycle: tilings that tie (e.g. N = 8 in steps of 4+4 or 5+3 when
        # compute bounds the short step) must compare equal, not by their float rounding.
        cycles = np.round((tiles - 1) * l_out + fill + drain, CYCLE_DECIMALS)
    else:
        inner, load_steps = steps * l_in, steps
        l_out = np.maximum(inner, t_o)
        fill, drain = zero, zero
        cycles = tiles * l_out
    t_link_w, t_link_i, link_bytes = full["t_link_w"], full["t_link_i"], full["link_bytes"]
    return {"t_i": t_i, "t_w": t_w, "t_c": t_c, "t_o": t_o, "t_link_w": t_link_w, "t_link_i": t_link_i,
            "t_link": t_link, "l_in": l_in, "l_out": l_out, "steps": steps, "tiles": tiles,
            "inner": inner + zero, "load_steps": load_steps + zero,
            "fill": fill, "drain": drain, "cycles": cycles, "link_bytes": link_bytes}


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerLatency:
    """Every term of one layer's analytical latency on one board of its partition (cycles).

    Attributes:
        t_i_cycles, t_w_cycles: DDR read of one IFM / weight tile (after the XFER share).
        t_c_cycles: compute of one tile step, KH·KW·Tr·Tc.
        t_o_cycles: DDR write of one OFM tile.
        t_link_w_cycles, t_link_i_cycles: link receive of the weight / IFM share per tile.
        t_link_cycles: the link term inside L_in (released: max of the two; complete: sum).
        l_in_cycles: max(t_I, t_W, t_C, t_link) of a full step. inner_cycles: one output tile's
            inner steps (released: steps·L_in; complete: the last step loads N mod Tn channels).
        l_out_cycles: max(inner, t_O).
        steps: ⌈N/Tn⌉. load_steps: full steps' worth of loads (complete: N/Tn; released: steps).
        tiles: outer iterations per board (groups·B'·row·col·channel tiles).
        fill_cycles: the first output tile's load and compute, ⌈N/Tn⌉·L_in + min(load, compute)
            (complete only, else 0).
        drain_cycles: last store after the last compute (complete only, else 0).
        cycles: released: tiles·L_out; complete: (tiles − 1)·L_out + fill + drain.
        bottleneck: the term attaining L_out (ties: compute, IFM, weights, OFM, link).
        variant: the model variant evaluated.
        link_step_bytes: priced on the platform's links: bytes one inner step's XFER exchange
            moves over every hop, whole cluster (0 otherwise).
    """

    t_i_cycles: float
    t_w_cycles: float
    t_c_cycles: float
    t_o_cycles: float
    t_link_w_cycles: float
    t_link_i_cycles: float
    t_link_cycles: float
    l_in_cycles: float
    inner_cycles: float
    l_out_cycles: float
    steps: int
    load_steps: float
    tiles: int
    fill_cycles: float
    drain_cycles: float
    cycles: float
    bottleneck: Bottleneck
    variant: ModelVariant
    link_step_bytes: float = 0.0

    def time_ms(self, clock_mhz: float) -> float:
        """Latency in milliseconds at ``clock_mhz``."""
        return self.cycles / (clock_mhz * 1e3)

    def tile_terms_cycles(self) -> dict[Bottleneck, float]:
        """Each resource's busy time in one output tile, keyed by bottleneck label; the largest
        is L_out when one resource bounds every step (each is at most L_out)."""
        return {Bottleneck.COMPUTE: self.steps * self.t_c_cycles,
                Bottleneck.DDR_READ_IFM: self.load_steps * self.t_i_cycles,
                Bottleneck.DDR_READ_WEIGHTS: self.load_steps * self.t_w_cycles,
                Bottleneck.DDR_WRITE_OFM: self.t_o_cycles,
                Bottleneck.LINK: self.load_steps * self.t_link_cycles}


def layer_latency(shape: ConvShape, tiling: Tiling, *, rates: StreamRates, partition: Partition | None = None,
                  variant: ModelVariant | str = ModelVariant.COMPLETE, boards: int | None = None,
                  xfer: XferCost | None = None) -> LayerLatency:
    """Analytical latency of one conv layer with one tiling (one board of the partition).

    Args:
        shape: the layer (:class:`ConvShape`). tiling: ⟨Tm, Tn, Tr, Tc⟩.
        rates: stream rates in elements per cycle (``link=None``: single board / no XFER).
        partition: the split over boards (default: all 1).
        variant: ``released`` or ``complete`` (default, the physically complete model).
        boards: if given, the partition's product must equal it.
        xfer: the XFER exchange over the platform's links (see :func:`latency_arrays`).

    Returns:
        :class:`LayerLatency` with every term and the bottleneck label.

    Raises:
        BadArgument: a wrong argument type, an unknown variant, a partition factor larger than
            its dimension, or a product different from ``boards``.
    """
    variant = parse_variant(variant)
    partition = Partition() if partition is None else partition
    for name, value, cls in (("shape", shape, ConvShape), ("tiling", tiling, Tiling),
                             ("rates", rates, StreamRates), ("partition", partition, Partition)):
        if not isinstance(value, cls):
            raise BadArgument(f"layer_latency: {name}={value!r}: expected a {cls.__name__}")
    partition.check(shape, boards=boards)
    arrays = latency_arrays(shape, tiling.tm, tiling.tn, tiling.tr, tiling.tc, partition, rates, variant, xfer)
    v = {key: float(value) for key, value in arrays.items()}
    steps, load_steps = int(v["steps"]), v["load_steps"]
    terms = (steps * v["t_c"], load_steps * v["t_i"], load_steps * v["t_w"], v["t_o"], load_steps * v["t_link"])
    label = BOTTLENECK_ORDER[int(np.argmax(terms))]
    return LayerLatency(t_i_cycles=v["t_i"], t_w_cycles=v["t_w"], t_c_cycles=v["t_c"], t_o_cycles=v["t_o"],
                        t_link_w_cycles=v["t_link_w"], t_link_i_cycles=v["t_link_i"], t_link_cycles=v["t_link"],
                        l_in_cycles=v["l_in"], inner_cycles=v["inner"], l_out_cycles=v["l_out"], steps=steps,
                        load_steps=load_steps, tiles=int(v["tiles"]),
                        fill_cycles=v["fill"], drain_cycles=v["drain"], cycles=v["cycles"],
                        bottleneck=label, variant=variant, link_step_bytes=v["link_bytes"])
