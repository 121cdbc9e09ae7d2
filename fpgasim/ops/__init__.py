"""Compute layer: Numba kernels on fixed-point (exact integer) and float32 arrays, each with a
float64 reference. Pure functions, no timing; the public names of every module are re-exported."""

from fpgasim.ops import (
    activations, attention, batchnorm, conv, dsc, elementwise, linear, lookup, ode, partition, pool, resample, sumtree, window,
)
from fpgasim.ops.activations import *  # noqa: F403
from fpgasim.ops.attention import *  # noqa: F403
from fpgasim.ops.batchnorm import *  # noqa: F403
from fpgasim.ops.conv import *  # noqa: F403
from fpgasim.ops.dsc import *  # noqa: F403
from fpgasim.ops.elementwise import *  # noqa: F403
from fpgasim.ops.linear import *  # noqa: F403
from fpgasim.ops.lookup import *  # noqa: F403
from fpgasim.ops.ode import *  # noqa: F403
from fpgasim.ops.partition import *  # noqa: F403
from fpgasim.ops.pool import *  # noqa: F403
from fpgasim.ops.resample import *  # noqa: F403
from fpgasim.ops.sumtree import *  # noqa: F403
from fpgasim.ops.window import *  # noqa: F403

__all__ = [
    *activations.__all__, *attention.__all__, *batchnorm.__all__, *conv.__all__, *dsc.__all__, *elementwise.__all__, *linear.__all__,
    *lookup.__all__, *ode.__all__, *partition.__all__, *pool.__all__, *resample.__all__, *sumtree.__all__,
    *window.__all__,
]
