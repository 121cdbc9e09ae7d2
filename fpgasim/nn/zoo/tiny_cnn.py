"""``tiny_cnn``: a small chained CNN that exercises every layer kind ``fpgasim run`` emulates."""

from __future__ import annotations

from fpgasim.nn.layers import Conv2d, Linear, Pool, PoolKind
from fpgasim.nn.network import Network

__all__ = ["tiny_cnn"]


def tiny_cnn(*, batch: int = 1) -> Network:
    """3×16×16 → conv1 (3→8, 3×3) → pool1 (max 2×2/2) → conv2 (8→16, 3×3) → pool2 (avg 3×3/2,
    pad 1) → fc1 (256→32) → fc2 (32→10)."""
    conv = dict(kernel=3, padding=1)
    layers = (Conv2d(name="conv1", in_channels=3, out_channels=8, in_h=16, in_w=16, **conv),
              Pool(name="pool1", kind=PoolKind.MAX, channels=8, in_h=16, in_w=16, kernel=2, stride=2),
              Conv2d(name="conv2", in_channels=8, out_channels=16, in_h=8, in_w=8, **conv),
              Pool(name="pool2", kind=PoolKind.AVG, channels=16, in_h=8, in_w=8, kernel=3, stride=2, padding=1),
              Linear(name="fc1", in_features=256, out_features=32),
              Linear(name="fc2", in_features=32, out_features=10))
    return Network(name="tiny_cnn", input_shape=(3, 16, 16), layers=layers, batch=batch)
