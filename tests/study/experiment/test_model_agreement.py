"""The link-aware model against the emulator on random multi-board configurations.

2–8 boards, every topology the platform supports for that many, two link types (Aurora
64B/66B, 10G Ethernet with a 1 µs endpoint), random small chained conv networks (with pooling
between layers). The model's whole-network latency (layers + the redistribution it predicts)
must be within 5 % of the emulator's wherever the emulator adds only effects the model names.
Effects the model does not name are detected per layer and named in the failure message:

- *edge tiles*: the Zhang model counts every tile full; a dimension not divisible by its tile
  (or a partition piece shorter than the others) makes the emulator faster;
- *uneven parts*: partition pieces of different tile counts do not share by XFER (the model
  knows) and leave boards idle;
- *short steps*: every DMA transfer waits a few cycles for the DDR channel and the next clock
  edge, which the closed form leaves out; beside an inner step under 20 pipeline depths that
  is no longer small. (The MAC pipeline's fill at every step, and the last step's shorter
  input-channel slice, are in the closed form.)

- *balanced terms*: two per-tile terms within 10 % of each other; the max of terms hides how
  they interleave step by step (e.g. a weight read and an XFER exchange that waits for peers).

Layers are unpadded here: the closed form loads every tile's full input window, the emulator
no zero padding at the borders (a border effect of the single-board model, not of the links).

With any of them the gap must still be within 30 %, and the resource the emulator names as the
bottleneck of the worst layer is reported. Where that resource is a link direction shared by
several XFER flows, the model's round-robin fair share (mapping/link_model.py) is an
approximation: measured −8.5 … +6.4 % on such cases (+0.6 … +4.3 % on 120 seeded configurations
since a message's packets pipeline on the links), so they are held to 10 %.
"""

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fpgasim.hw import load_link_types
from fpgasim.hw.platform import Platform
from fpgasim.mapping.device import stream_rates
from fpgasim.mapping.layer_plan import LayerKind, plan_layers
from fpgasim.mapping.link_model import LinkModel
from fpgasim.nn import Conv2d, Network, Pool, PoolKind
from fpgasim.study.experiment.experiment import Mode, load_experiment
from fpgasim.study.experiment.runner import run_setup
from fpgasim.study.experiment.setup import build_setup

ROOT = Path(__file__).resolve().parents[3]
LINKS = load_link_types()
TOLERANCE = 0.05
NAMED_TOLERANCE = 0.30
LINK_TOLERANCE = 0.10


@st.composite
def configurations(draw):
    boards = draw(st.integers(2, 8))
    topology = draw(st.sampled_from(["chain", "ring", "fully_connected"] + (["pair"] if boards == 2 else [])))
    link = draw(st.sampled_from(["aurora64b66b_10g", "eth10g_udp_hw"]))
    channels, size = draw(st.sampled_from([16, 32, 48])), draw(st.sampled_from([14, 26]))
    layers = []
    for index in range(draw(st.integers(2, 3))):
        out = draw(st.sampled_from([16, 32, 48, 64, 96]))
        layers.append(Conv2d(name=f"conv{index}", in_channels=channels, out_channels=out, in_h=size, in_w=size,
                             kernel=3))
        channels, size = out, size - 2
        if size == 24 and draw(st.booleans()):
            layers.append(Pool(name=f"pool{index}", kind=PoolKind.MAX, channels=out, in_h=size, in_w=size,
                               kernel=2, stride=2))
            size //= 2
    network = Network(name="random", input_shape=(layers[0].in_channels, layers[0].in_h, layers[0].in_w),
                      layers=tuple(layers), batch=1)
    return boards, topology, link, network


_BASE = []


def _setup(boards, topology, link, network):
    if not _BASE:
        _BASE.append(build_setup(load_experiment(ROOT / "experiments" / "superlip-alexnet.yaml")))
    base = _BASE[0]
    spec = base.experiment.spec
    platform = Platform.homogeneous(boards=boards, board=base.board, kernel_path=base.experiment.resolve(spec.kernel),
                                    memory_channel=spec.memory.channel, burst_bytes=spec.memory.burst_bytes,
                                    topology=topology, link_id=link, link=LINKS[link])
    rates = stream_rates(base.design, base.ddr_bytes_per_s, LINKS[link])
    layers, skipped = plan_layers(network, design=base.design, rates=rates, bounds=base.bounds,
                                  ddr_bytes_per_s=base.ddr_bytes_per_s, burst_bytes=spec.memory.burst_bytes,
                                  boards=boards, search_all_tiles=True, partition=None, pooling=False,
                                  links=LinkModel.for_design(platform, base.design))
    return dataclasses.replace(base, network=network, layers=layers, skipped=skipped, rates=rates, link=LINKS[link],
                               boards=boards, platform=platform)


def _pieces(n: int, parts: int) -> list[int]:
    size = -(-n // parts)
    return [max(min(size, n - index * size), 0) for index in range(parts)]


def named_effects(setup) -> list[str]:
    """The effects of the plan that the closed form leaves out (see the module docstring)."""
    found = set()
    depth = setup.design.pipeline_depth_cycles
    for item in setup.layers:
        if item.kind is LayerKind.POOL:
            continue
        shape, t, p = item.shape, item.tiling, item.partition
        dims = ((shape.out_h, p.pr, t.tr), (shape.out_w, p.pc, t.tc), (shape.out_channels, p.pm, t.tm))
        for n, parts, tile in dims:
            pieces = _pieces(n, parts)
            if min(pieces) == 0 or len({-(-piece // tile) for piece in pieces}) > 1:
                found.add("uneven parts")
            if any(piece % tile for piece in pieces if piece > tile) or len(set(pieces)) > 1:
                found.add("edge tiles")
        if item.analytical.t_c_cycles < 20 * depth:
            found.add("short steps")
        terms = sorted(item.analytical.tile_terms_cycles().values(), reverse=True)
        if terms[1] > 0.9 * terms[0]:
            found.add("balanced terms")
    return sorted(found)


def _check(boards, topology, link, network):
    setup = _setup(boards, topology, link, network)
    run = run_setup(setup, mode=Mode.TIMING)
    gap = run.analytical_cycles / run.cycles - 1
    effects = named_effects(setup)
    worst = max(run.layers, key=lambda layer: abs(layer.plan.analytical.cycles / max(layer.emulated.cycles, 1) - 1))
    message = (f"{boards} boards, {topology}, {link}: model {run.analytical_cycles:.0f} vs emulator {run.cycles} "
               f"cycles ({100 * gap:+.1f} %); named effects: {effects or 'none'}; worst layer {worst.plan.layer.name} "
               f"bottleneck {worst.emulated.bottleneck}")
    if effects:
        bound = NAMED_TOLERANCE
    elif worst.emulated.bottleneck.startswith("link"):
        bound = LINK_TOLERANCE  # the busiest resource is a shared link direction
    else:
        bound = TOLERANCE
    assert abs(gap) <= bound, message


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations())
def test_model_agrees_with_the_emulator(configuration):
    _check(*configuration)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations())
def test_model_agrees_with_the_emulator_long(configuration):
    _check(*configuration)
