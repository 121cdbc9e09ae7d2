"""LCP's 32x64 systolic array (kernels/lcp-systolic-32x64-pynq-z1.yaml) on the PYNQ-Z1: the block
model's verdict against the paper's 96 DSP48E (44 %), and how the planner times it."""

import pytest

from fpgasim.errors import DoesNotFit
from fpgasim.hw import FpgaDevice, Platform, load_board, load_dsp_types
from fpgasim.kernels import KERNELS_DIR, evaluate_fit, load_kernel
from fpgasim.mapping.graph_plan import plan_graph
from fpgasim.nn import zoo_graph

KERNEL = KERNELS_DIR / "lcp-systolic-32x64-pynq-z1.yaml"


def test_the_published_array_needs_2048_dsp_not_96():
    board, design = load_board("pynq_z1"), load_kernel(KERNEL)
    result = evaluate_fit(board, design, dsp_types=load_dsp_types())
    dsp = result.row("DSP")
    # 32 x 64 = 2048 16-bit MACs per cycle at one DSP48E1 each; LCP reports 96 of 220 (44 %),
    # which at one DSP per 16-bit multiplier is 96 multipliers (the paper's 44 % is 96 / 220)
    assert (design.macs, dsp.used, dsp.available) == (2048, 2048, 220)
    assert not result.fits and round(96 / dsp.available * 100) == 44
    assert design.pipeline_depth_cycles == 3 + 6  # multiplier + ceil(log2(32 + 1)) adder levels


def _platform() -> Platform:
    return Platform(devices=(FpgaDevice(id="f", board=load_board("pynq_z1"), memory_channel="ps_ddr3",
                                        kernel_path=KERNEL),))


def test_planner_refuses_it_unless_asked_to_time_it_as_published():
    graph, design = zoo_graph("cifarnet"), load_kernel(KERNEL)
    with pytest.raises(DoesNotFit, match="DSP needs 2048"):
        plan_graph(graph, _platform(), {"f": design}, {}, default="f")
    plan = plan_graph(graph, _platform(), {"f": design}, {}, default="f", enforce_fit=False)
    conv2 = plan.plan_of("conv2")
    # the design's own tile, capped at the layer: Tm x Tn = 64 x 32, Tr = Tc = min(28, 16)
    assert (conv2.tiling.tm, conv2.tiling.tn, conv2.tiling.tr, conv2.tiling.tc) == (64, 32, 16, 16)
    assert conv2.analytical_cycles > 0
