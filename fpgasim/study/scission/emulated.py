"""The split plan on fpgasim devices and links: every split's terms timed by the graph executor.

Owns :func:`emulated_candidates`. For one device → edge pair (a two-device platform: any compute
device or FPGA board as the device, a compute device as the edge, one cable):

- the device's time up to split k is when k's output is ready in a run of the whole graph on the
  device (at a valid split every later node depends on k, so nothing after k runs earlier);
- the edge's time after k is the end of a run of the whole graph on the edge minus when k's output
  is ready there (the suffix reads only k's output);
- the cut itself is one small run per split on the same pair: k's tensor on the device, the device
  TL (2×2/2 max pool) there, the edge TL (nearest upsample) on the edge, the tensor crossing the
  cable in between; without the TL, k's tensor crosses and the edge reads it.

A test checks the sum against the executor running the split placement of the whole graph. The
link carries the tensor's data (``word_bits``: 32, float32, unless an FPGA device's design sets
another width). With ``ByteAccounting.NPY`` each transfer also carries the ``.npy`` header the
released tool's file has (128 B here), added at the cable's payload rate after the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fpgasim.hw.platform import FpgaDevice, Platform
from fpgasim.kernels import TiledConvDesign
from fpgasim.mapping.graph_plan import plan_graph
from fpgasim.nn.graph import Graph, NodeSpec
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.split import ByteAccounting, SplitRule, blocks, npy_header_bytes, tl_applies, tl_shape
from fpgasim.sim.executor import GraphEmulation, execute
from fpgasim.study.scission.predict import Candidate

__all__ = ["EmulatedPair", "emulated_candidates", "FLOAT_WORD_BITS"]

#: Number width of a run without an FPGA device: float32, as the released tool sends.
FLOAT_WORD_BITS = 32
_PS_PER_S = 1e12


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatedPair:
    """A device, an edge and the cable between them.

    Attributes:
        platform: the two devices and one cable. device, edge: their ids.
        designs: the kernel design of an FPGA device, by id.
    """

    platform: Platform
    device: str
    edge: str
    designs: Mapping[str, TiledConvDesign]

    @property
    def word_bits(self) -> int | None:
        """The run's number width: None when an FPGA design sets it, else float32."""
        fpga = any(isinstance(d, FpgaDevice) for d in self.platform.devices)
        return None if fpga else FLOAT_WORD_BITS


def _run(pair: EmulatedPair, graph: Graph, placement: Mapping[str, str], default: str | None) -> GraphEmulation:
    plan = plan_graph(graph, pair.platform, pair.designs, placement, default=default, word_bits=pair.word_bits)
    return execute(plan, trace=False)


def _ends(run: GraphEmulation) -> dict[str, int]:
    return {node.name: node.end_ps for node in run.nodes}


def _cut(pair: EmulatedPair, shape: tuple[int, int, int], batch: int, *, tl: bool,
         accounting: ByteAccounting) -> tuple[float, float, float, int]:
    """(device TL s, transfer s, edge TL s, bytes) of k's tensor crossing the pair's cable."""
    specs = [NodeSpec(name="split", op=Op.INPUT, attrs={"shape": shape})]
    placement = {"split": pair.device}
    if tl:
        specs += [NodeSpec(name="tl_down", op=Op.POOL, inputs=("split",), attrs={"kind": "max", "kernel": 2, "stride": 2}),
                  NodeSpec(name="tl_up", op=Op.UPSAMPLE, inputs=("tl_down",), attrs={"scale": 2, "size": shape[1:]})]
        placement |= {"tl_down": pair.device, "tl_up": pair.edge}
    else:
        specs.append(NodeSpec(name="edge", op=Op.FLATTEN, inputs=("split",)))
        placement["edge"] = pair.edge
    run = _run(pair, Graph.build(name="cut", batch=batch, specs=specs), placement, None)
    (transfer,) = run.transfers
    nodes = {node.name: node for node in run.nodes}
    down = (nodes["tl_down"].end_ps - nodes["tl_down"].start_ps) / _PS_PER_S if tl else 0.0
    up = (nodes["tl_up"].end_ps - nodes["tl_up"].start_ps) / _PS_PER_S if tl else 0.0
    seconds, nbytes = (transfer.end_ps - transfer.start_ps) / _PS_PER_S, transfer.nbytes
    if accounting is ByteAccounting.NPY:
        header = npy_header_bytes(tl_shape(shape) if tl else shape, batch)
        (cable,) = pair.platform.cables
        seconds, nbytes = seconds + 8 * header / (cable.link.effective_gbps * 1e9), nbytes + header
    return down, seconds, up, nbytes


def emulated_candidates(graph: Graph, pair: EmulatedPair, rule: SplitRule = SplitRule.BRANCHES,
                        accounting: ByteAccounting = ByteAccounting.FLOAT32) -> tuple[Candidate, ...]:
    """One candidate per block of ``graph`` (label: the split node), timed on ``pair``.

    Raises:
        PlacementError: a node the device or the edge has no engine for. DoesNotFit: a design
            that does not fit its board.
    """
    on_device = _ends(_run(pair, graph, {}, pair.device))
    edge_run = _run(pair, graph, {}, pair.edge)
    on_edge, edge_total = _ends(edge_run), edge_run.total_ps
    positions = {node.name: i for i, node in enumerate(graph.nodes)}
    candidates = []
    found = blocks(graph, rule)
    for block in found:
        node = graph.node(block.last)
        device_s = on_device[block.last] / _PS_PER_S
        if block.index == len(found) - 1:
            candidates.append(Candidate(index=block.index, label=block.last, position=positions[block.last],
                                        device_s=device_s, edge_s=0.0, local=True, nbytes=0, tl_nbytes=None))
            continue
        _, transfer_s, _, nbytes = _cut(pair, node.out_shape, graph.batch, tl=False, accounting=accounting)
        tl = {}
        if tl_applies(node.out_shape):
            down, tl_transfer, up, tl_nbytes = _cut(pair, node.out_shape, graph.batch, tl=True, accounting=accounting)
            tl = {"tl_nbytes": tl_nbytes, "tl_device_s": down, "tl_edge_s": up, "tl_transfer_s": tl_transfer}
        candidates.append(Candidate(
            index=block.index, label=block.last, position=positions[block.last], device_s=device_s,
            edge_s=(edge_total - on_edge[block.last]) / _PS_PER_S, local=False, nbytes=nbytes,
            transfer_s=transfer_s, **({"tl_nbytes": None} | tl)))
    return tuple(candidates)
