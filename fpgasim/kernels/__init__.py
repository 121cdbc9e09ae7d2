"""fpgasim.kernels layer: hardware kernel designs, their on-chip resources, and the fit verdict.

One module per kernel type (:mod:`.tiled_conv`, :mod:`.dsc_ode`), the shared resource model
(:mod:`.resources`), the tiled-conv schedule with the one :class:`Tiling` and the tile input
window (:mod:`.conv_schedule`), YAML loading (:mod:`.loader`) and the fit check (:mod:`.fit`).
"""

from fpgasim.kernels.conv_schedule import Tiling, window_extent, window_outputs
from fpgasim.kernels.design import (
    AccumulatorSpec, BufferOptions, FixedSpec, KernelType, LogicEstimate, NumberKind, PrecisionSpec,
)
from fpgasim.kernels.dsc_ode import DscOdeDesign, OnChipLayer, OnChipLayerKind
from fpgasim.kernels.fit import (
    FINN_FRACTIONS, FitLimits, FitResult, Resource, ResourceRow, check_fit, evaluate_fit,
)
from fpgasim.kernels.loader import KERNELS_DIR, KernelDesign, kernel_path, load_kernel, load_kernel_file
from fpgasim.kernels.resources import (
    BufferSpec, BufferUse, MemoryKind, MemoryPreference, bram18_blocks, bram36_blocks, buffer_bram18,
    dsp_count, lutram_luts, map_buffer, released_bram18, released_bram18_parts, released_dsp, uram_blocks,
)
from fpgasim.kernels.tiled_conv import TiledConvDesign, tiled_conv_bram18, tiled_conv_resources

__all__ = [
    "AccumulatorSpec", "BufferOptions", "FixedSpec", "KernelType", "LogicEstimate", "NumberKind", "PrecisionSpec",
    "DscOdeDesign", "OnChipLayer", "OnChipLayerKind",
    "FINN_FRACTIONS", "FitLimits", "FitResult", "Resource", "ResourceRow", "check_fit", "evaluate_fit",
    "KERNELS_DIR", "KernelDesign", "kernel_path", "load_kernel", "load_kernel_file",
    "BufferSpec", "BufferUse", "MemoryKind", "MemoryPreference", "bram18_blocks", "bram36_blocks", "buffer_bram18",
    "dsp_count", "lutram_luts", "map_buffer", "released_bram18", "released_bram18_parts", "released_dsp",
    "uram_blocks", "TiledConvDesign", "tiled_conv_bram18", "tiled_conv_resources",
    "Tiling", "window_extent", "window_outputs",
]
