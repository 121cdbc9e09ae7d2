"""Small classifiers as graphs: LeNet-5 (LeCun et al. 1998) and CifarNet (TensorFlow-slim's CIFAR-10 net).

LeNet-5 takes 1×32×32: C1 6 5×5, S2 average 2/2, C3 16 5×5 (every S2 map connected: the paper's
partial C3 table is not representable and changes the count by 1.5 %), S4, F5 120 (a 5×5 conv
in the paper, a fully connected layer on 16×5×5 here: the same counts), F6 84, output 10.
CifarNet takes 3×32×32: conv1 64 5×5 "same", max pool 3/2, conv2 64 5×5, max pool 3/2, fc3 384,
fc4 192, logits 10 (the local response normalisations are left out: no parameters, no MACs).
"""

from __future__ import annotations

from fpgasim.nn.graph import Graph
from fpgasim.nn.graph_ops import Op
from fpgasim.nn.zoo.builder import GraphBuilder

__all__ = ["lenet5", "cifarnet"]


def _fully_connected(b: GraphBuilder, *widths: int) -> Graph:
    b.add("flatten", Op.FLATTEN)
    for index, (name, width) in enumerate(widths):
        b.add(name, Op.LINEAR, out_features=width)
        if index < len(widths) - 1:
            b.add(f"{name}.relu", Op.RELU)
    return b.build()


def lenet5(*, batch: int = 1) -> Graph:
    """LeNet-5 on a 1×32×32 input (ReLU for the paper's scaled tanh)."""
    b = GraphBuilder("lenet5", (1, 32, 32), batch=batch, batch_norm=False)
    b.conv_bn("c1", out_channels=6, kernel=5)
    b.add("s2", Op.POOL, kind="avg", kernel=2, stride=2)
    b.conv_bn("c3", out_channels=16, kernel=5)
    b.add("s4", Op.POOL, kind="avg", kernel=2, stride=2)
    return _fully_connected(b, ("f5", 120), ("f6", 84), ("output", 10))


def cifarnet(*, batch: int = 1) -> Graph:
    """CifarNet on a 3×32×32 input."""
    b = GraphBuilder("cifarnet", (3, 32, 32), batch=batch, batch_norm=False)
    b.conv_bn("conv1", out_channels=64, kernel=5, padding=2)
    b.add("pool1", Op.POOL, kind="max", kernel=3, stride=2, padding=1)
    b.conv_bn("conv2", out_channels=64, kernel=5, padding=2)
    b.add("pool2", Op.POOL, kind="max", kernel=3, stride=2, padding=1)
    return _fully_connected(b, ("fc3", 384), ("fc4", 192), ("logits", 10))
