"""The platform strategies draw valid, connected platforms and valid compute specs."""

from collections import deque

from hypothesis import given

from fpgasim.hw import ComputeKind
from tests.strategies.platforms import compute_specs, connected_platforms


@given(connected_platforms(min_devices=2))
def test_drawn_platforms_are_connected_with_one_cable_per_pair(platform) -> None:
    pairs = [frozenset((c.a, c.b)) for c in platform.cables]
    assert len(set(pairs)) == len(pairs) and all(len(p) == 2 for p in pairs)
    assert [c.index for c in platform.cables] == list(range(len(platform.cables)))
    reached, queue = {platform.devices[0].id}, deque([platform.devices[0].id])
    while queue:
        node = queue.popleft()
        for pair in pairs:
            if node in pair:
                (other,) = pair - {node}
                if other not in reached:
                    reached.add(other)
                    queue.append(other)
    assert reached == {d.id for d in platform.devices}


@given(compute_specs())
def test_drawn_specs_have_the_fields_of_their_kind(spec) -> None:
    if spec.kind is ComputeKind.CPU:
        assert spec.peak_gmacs is None and spec.cores and spec.simd_bits in (64, 128, 256, 512)
    else:
        assert spec.peak_gmacs and spec.cores is None
