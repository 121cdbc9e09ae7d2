"""The released ScissionTL predictor reproduced exactly from its benchmark data, and the model's rules."""

from dataclasses import replace
from pathlib import Path

import pytest

from fpgasim.errors import BadArgument
from fpgasim.study.scission.predict import Candidate, Constraints, Link, Predictor, best, breakdown
from fpgasim.study.scission.released import read_released, released_candidates

CSV = Path(__file__).parents[3] / "experiments" / "data" / "scissionlite-densenet169-triton.csv"

#: qub-blesson/ScissionTL@7cebb25 ScissionTL(Triton)/README.md, densenet169, tx2_gpu -> ampere (printed, 4 digits)
README_TOP5 = [(0.0839, "1", 0.1588), (0.1520, "51", 0.4015), (0.1766, "2", 0.8029), (0.1772, "139", 0.2008),
               (0.1776, "3", 0.8029)]
README_TRANSFER = (0.0493, 0.1150)       # with TL vs without, best split
README_SIZES_MB = (0.1588, 0.6349)


def _ranking(candidates, link, predictor):
    return sorted((breakdown(c, link, tl=not c.local, predictor=predictor) for c in candidates
                   if c.local or c.tl_nbytes is not None), key=lambda s: s.latency_s)


def _readme_bandwidth_mbps() -> float:
    """The bandwidth both printed transfer times imply (ping 27.4 ms): (bytes / (t - ping)) / 125000."""
    rates = [size * 1e6 / (t - 0.0274) / 125_000 for t, size in zip(README_TRANSFER, README_SIZES_MB)]
    assert abs(rates[0] - rates[1]) < 0.5          # the two printed numbers agree on one bandwidth
    return round(sum(rates) / 2)


def test_the_released_predictor_reproduces_the_printed_top5_exactly() -> None:
    data = read_released(CSV)
    candidates = released_candidates(data, "tx2_gpu", "ampere")
    link = Link(bandwidth_mbps=_readme_bandwidth_mbps(), ping_ms=27.4)
    assert link.bandwidth_mbps == 58
    ranked = _ranking(candidates, link, Predictor.RELEASED)
    assert [(round(s.latency_s, 4), s.label, round(s.nbytes / 1e6, 4)) for s in ranked[:5]] == README_TOP5
    first = next(c for c in candidates if c.label == "1")
    assert (round(link.transfer_s(first.tl_nbytes), 4), round(link.transfer_s(first.nbytes), 4)) == README_TRANSFER
    assert (round(first.tl_nbytes / 1e6, 4), round(first.nbytes / 1e6, 4)) == README_SIZES_MB


def test_the_paper_equation_does_not_reproduce_the_printed_latency() -> None:
    """The corrected model counts the device TL once: 0.0832 s, not the printed 0.0839 s."""
    candidates = released_candidates(read_released(CSV), "tx2_gpu", "ampere")
    link = Link(bandwidth_mbps=58, ping_ms=27.4)
    corrected = _ranking(candidates, link, Predictor.CORRECTED)[0]
    released = _ranking(candidates, link, Predictor.RELEASED)[0]
    first = next(c for c in candidates if c.label == "1")
    assert round(corrected.latency_s, 4) == 0.0832
    assert released.latency_s - corrected.latency_s == pytest.approx(first.tl_device_s + first.convert_s, abs=1e-15)


def test_released_data_at_60mbps_local_best_and_speedups() -> None:
    """seed-papers.md §c recomputation: local 0.9166 / 0.3904 s, best with TL 0.0852 / 0.0825 s,
    without 0.1459 / 0.1453 s (10.8x / 4.7x over local, 1.71x / 1.76x over no TL)."""
    data = read_released(CSV)
    link = Link(bandwidth_mbps=60, ping_ms=27.4)
    expected = {"tx2_cpu": (0.9166, 0.0852, 0.1459), "tx2_gpu": (0.3904, 0.0825, 0.1453)}
    for device, (local, with_tl, without) in expected.items():
        candidates = released_candidates(data, device, "ampere")
        tl, plain = best(candidates, link, tl=True), best(candidates, link, tl=False)
        assert round(next(c for c in candidates if c.local).device_s, 4) == local
        assert (round(tl.latency_s, 4), tl.label, round(plain.latency_s, 4), plain.label) == (with_tl, "1", without, "1")


def test_privacy_constraints_move_the_split() -> None:
    data = read_released(CSV)
    link = Link(bandwidth_mbps=60, ping_ms=27.4)
    candidates = released_candidates(data, "tx2_gpu", "ampere", positions={1: 0, 2: 1, 51: 30})
    first = best(candidates, link, tl=True, constraints=Constraints(first_split_forbidden=True))
    keep = best(candidates, link, tl=True, constraints=Constraints(keep_position=1))
    assert first.label == keep.label == "51"          # conv1 must stay: the first split goes
    assert best(candidates, link, tl=False, constraints=Constraints(first_split_forbidden=True)).label == "139"


def test_upload_and_time_caps() -> None:
    candidates = released_candidates(read_released(CSV), "tx2_gpu", "ampere")
    link = Link(bandwidth_mbps=60, ping_ms=27.4)
    capped = best(candidates, link, tl=True, constraints=Constraints(upload_cap_bytes=150_000))
    assert capped.nbytes <= 150_000 and capped.label == "367"   # 125,568 B after the TL
    # under a 100 kB cap only the 60 kB split after layer 592 fits, and it is slower than local
    assert best(candidates, link, tl=True, constraints=Constraints(upload_cap_bytes=100_000)).label == "596"
    nothing = best(candidates, link, tl=False, constraints=Constraints(upload_cap_bytes=1, device_time_cap_s=0.1))
    assert nothing is None                                      # only local fits the cap, and it takes 0.39 s
    edge = best(candidates, link, tl=True, constraints=Constraints(edge_time_cap_s=0.02))
    assert edge.edge_s <= 0.02 and edge.label == "50"           # the edge row after layer 50: 0.0139 s


def test_link_refuses_zero_bandwidth_and_the_tl_where_it_does_not_apply() -> None:
    with pytest.raises(BadArgument, match="bandwidth_mbps=0: expected a bandwidth > 0"):
        Link(bandwidth_mbps=0, ping_ms=1)
    candidate = Candidate(index=0, label="a", position=0, device_s=1, edge_s=1, local=False, nbytes=8, tl_nbytes=None)
    with pytest.raises(BadArgument, match="split a: the transfer layer does not apply"):
        breakdown(candidate, Link(bandwidth_mbps=1, ping_ms=0), tl=True)
    assert breakdown(replace(candidate, transfer_s=0.5), Link(bandwidth_mbps=1, ping_ms=0), tl=False).latency_s == 2.5


@pytest.mark.parametrize(("edit", "fragment"), [
    (lambda lines: lines.__setitem__(10, lines[10].replace("0,1,", "0,2,", 1)), r":12: device 'tx2_cpu' block 2-2: expected a block starting at layer 3"),
    (lambda lines: lines.__setitem__(10, lines[10].replace(",device,", ",host,", 1)), r":11: column side='host'"),
    (lambda lines: lines.__setitem__(9, lines[9].replace("block_time_s", "time")), r":10: columns"),
    (lambda lines: lines.__setitem__(12, lines[12].replace("0.0032977", "fast")), r":13: column block_time_s="),
])
def test_a_broken_csv_is_refused_at_its_line(tmp_path, edit, fragment) -> None:
    lines = CSV.read_text().splitlines()
    edit(lines)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadArgument, match=fragment):
        read_released(path)


def test_an_edge_row_that_pairs_with_no_block_is_refused(tmp_path) -> None:
    text = CSV.read_text().replace("ampere,edge,49,596", "ampere,edge,47,596")
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(BadArgument, match=r"edge 'ampere' row 47-596: expected a row from just after a block"):
        released_candidates(read_released(path), "tx2_cpu", "ampere")
