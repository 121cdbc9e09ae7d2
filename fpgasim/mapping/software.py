"""A graph node's work on a compute device: the inputs of its roofline, in one place.

Owns: the op class of a node (:func:`node_op_class`: a 1×1 dense convolution is pointwise work,
a convolution with one group per channel is depthwise), the work one node gives a
:class:`~fpgasim.hw.compute.ComputeSpec` (:func:`node_work`), and the latency of a whole graph
run node after node on one device (:func:`graph_software_s`). The executor times software nodes
with :func:`node_work`, and the device fit (:mod:`fpgasim.mapping.device_fit`) uses the same
function, so a fitted efficiency means the same thing in both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fpgasim.hw.compute import ComputeSpec, OpClass
from fpgasim.mapping.graph_plan import FPGA_ENGINES, Engine
from fpgasim.nn.graph import Graph, Node
from fpgasim.nn.graph_ops import Op

__all__ = ["SoftwareWork", "node_op_class", "node_work", "graph_software_s", "takes_time"]

#: The op class of each op a compute device runs (everything not listed is element-wise work).
_OP_CLASS = {Op.CONV: OpClass.DENSE_CONV, Op.DEPTHWISE: OpClass.DEPTHWISE, Op.POINTWISE: OpClass.POINTWISE,
             Op.LINEAR: OpClass.FC, Op.POOL: OpClass.POOL, Op.GLOBAL_POOL: OpClass.POOL}
_RELABEL = FPGA_ENGINES[Engine.RELABEL]


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftwareWork:
    """What one node asks of a compute device (the arguments of ``ComputeSpec.node_time_s``)."""

    op_class: OpClass
    macs: int
    elementwise_ops: int
    #: activations read and written (weights are not counted), bytes.
    bytes_moved: int


def node_op_class(node: Node) -> OpClass:
    """The op class of ``node``: a ``conv`` with a 1×1 kernel and one group is pointwise, one with a
    group per input channel (and as many outputs) is depthwise, any other conv is dense."""
    if node.op is Op.CONV:
        layer = node.layer
        if layer.groups == 1 and layer.kernel == 1:
            return OpClass.POINTWISE
        if layer.groups > 1 and layer.groups == layer.in_channels == layer.out_channels:
            return OpClass.DEPTHWISE
    return _OP_CLASS.get(node.op, OpClass.ELEMENTWISE)


def takes_time(node: Node) -> bool:
    """False for the nodes that only relabel their input (input, flatten, reshape, ...)."""
    return node.op not in _RELABEL


def _elements(shape: tuple[int, ...], batch: int) -> int:
    return batch * int(np.prod(shape))


def node_work(node: Node, batch: int, element_bytes: int) -> SoftwareWork:
    """The work of ``node`` for ``batch`` inputs at ``element_bytes`` per value."""
    in_elems = sum(_elements(shape, batch) for shape in node.in_shapes)
    return SoftwareWork(op_class=node_op_class(node), macs=node.macs * batch,
                        elementwise_ops=node.elementwise_ops * batch,
                        bytes_moved=(in_elems + _elements(node.out_shape, batch)) * element_bytes)


def graph_software_s(graph: Graph, spec: ComputeSpec, element_bits: int) -> float:
    """Seconds for ``spec`` to run every node of ``graph`` one after the other (relabelling nodes
    take none): the sum of each node's roofline time and dispatch overhead."""
    nbytes = -(-element_bits // 8)
    total = 0.0
    for node in graph.nodes:
        if takes_time(node):
            work = node_work(node, graph.batch, nbytes)
            total += spec.node_time_s(op_class=work.op_class, macs=work.macs, elementwise_ops=work.elementwise_ops,
                                      bytes_moved=work.bytes_moved, element_bits=element_bits)
    return total
