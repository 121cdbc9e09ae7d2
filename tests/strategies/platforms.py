"""Hypothesis strategies for platforms: random connected graphs of compute devices.

``connected_platforms()`` draws a :class:`~fpgasim.hw.Platform` whose devices are compute devices
from the shipped library (no port limits), named in a random order unrelated to their declaration
order, joined by a random spanning tree plus random extra cables (at most one per pair), the cables
in a random order with random link types and lengths. ``compute_specs()`` draws valid CPU and GPU
:class:`~fpgasim.hw.ComputeSpec` objects.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fpgasim.hw import (
    Cable, ComputeDevice, ComputeKind, ComputeSpec, Efficiency, Platform, load_compute_devices, load_link_types,
)

__all__ = ["connected_platforms", "compute_specs", "COMPUTE", "LINKS"]

COMPUTE = load_compute_devices()
LINKS = load_link_types()


@st.composite
def connected_platforms(draw, *, min_devices: int = 1, max_devices: int = 7) -> Platform:
    """A connected platform of ``min_devices``..``max_devices`` compute devices."""
    count = draw(st.integers(min_devices, max_devices))
    names = draw(st.permutations([f"dev{k}" for k in range(count)]))
    pairs = {frozenset((names[child], names[draw(st.integers(0, child - 1))])) for child in range(1, count)}
    all_pairs = [frozenset((names[a], names[b])) for a in range(count) for b in range(a + 1, count)]
    if all_pairs:
        pairs |= set(draw(st.lists(st.sampled_from(all_pairs), max_size=count)))
    ordered = draw(st.permutations(sorted(pairs, key=sorted)))
    specs = sorted(COMPUTE)
    devices = tuple(ComputeDevice(id=name, spec=COMPUTE[spec_id], spec_id=spec_id)
                    for name, spec_id in zip(names, draw(st.lists(st.sampled_from(specs), min_size=count,
                                                                   max_size=count))))
    cables = []
    for index, pair in enumerate(ordered):
        a, b = sorted(pair) if draw(st.booleans()) else sorted(pair, reverse=True)
        link_id = draw(st.sampled_from(sorted(LINKS)))
        cables.append(Cable(index=index, a=a, b=b, link_id=link_id, link=LINKS[link_id],
                            length_m=draw(st.floats(0, 100, allow_nan=False))))
    return Platform(devices=devices, cables=tuple(cables))


_FRACTIONS = st.floats(0.01, 1.0, allow_nan=False)


@st.composite
def compute_specs(draw) -> ComputeSpec:
    """A valid CPU or GPU spec with random positive numbers and efficiencies in (0, 1]."""
    efficiency = Efficiency(**{name: draw(_FRACTIONS) for name in
                               ("dense_conv", "depthwise", "pointwise", "fc", "elementwise", "pool")})
    common = dict(name="drawn", clock_mhz=draw(st.floats(100, 5000, allow_nan=False)),
                  memory_gb_per_s=draw(st.floats(0.1, 1000, allow_nan=False)),
                  dispatch_overhead_us=draw(st.floats(0, 1000, allow_nan=False)), efficiency=efficiency)
    if draw(st.booleans()):
        return ComputeSpec(kind=ComputeKind.CPU, cores=draw(st.integers(1, 64)),
                           simd_bits=draw(st.sampled_from([64, 128, 256, 512])),
                           simd_issue_fraction=draw(_FRACTIONS), **common)
    peaks = draw(st.dictionaries(st.sampled_from([8, 16, 32]), st.floats(1, 1e5, allow_nan=False), min_size=1))
    return ComputeSpec(kind=ComputeKind.GPU, peak_gmacs=peaks, **common)
