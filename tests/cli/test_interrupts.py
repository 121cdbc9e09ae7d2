"""SIGINT / SIGTERM at a random moment end ``fpgasim run`` and ``fpgasim sweep`` cleanly.

Each example starts a real ``python -m fpgasim.cli.main`` in its own session, sends the drawn
signal after the drawn delay (to the process, or to its whole group as a terminal's Ctrl-C does)
and checks: exit 128 + signo (or 0 if the command finished first), gone within
:data:`SIGNAL_TO_EXIT_S`, no process of its group left, no traceback, exactly one line on stderr
saying what was kept, and nothing half-written in ``--out``. Delays start at 0.5 s: before the
interpreter reaches fpgasim's ``main`` (the first ~0.1 s) a signal gets Python's own behaviour.
The default run keeps to a few examples (each is a real process); ``-m slow`` draws more, over
every shipped study and a Dask cluster.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.strategies.cli import Interrupt, interrupts
from tests.study.sweep.test_sweep_helpers import KERNEL_16, write_sweep

REPO = Path(__file__).resolve().parents[2]
#: The promise: a signalled command is gone this many seconds after the signal.
SIGNAL_TO_EXIT_S = 2.0
LINE = re.compile(r"fpgasim: interrupted by SIG(INT|TERM); (.+)")
SWEEP_KEPT = re.compile(r"the store keeps (.+) result\(s\); run the sweep again to resume")

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")
RANDOM_MOMENTS = settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MORE_MOMENTS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    elapsed_s: float
    stderr: str
    left_alive: list[int]


def _alive_in_group(pgid: int) -> list[int]:
    """Processes of process group ``pgid`` that are not zombies (from /proc/*/stat)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(int(stat.parent.name))
    return alive


def _interrupt(argv: list[str], interrupt: Interrupt, cwd: Path) -> Outcome:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "fpgasim.cli.main", *argv], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(interrupt.delay_s)
        (os.killpg if interrupt.whole_group else os.kill)(proc.pid, interrupt.signo)
        start = time.monotonic()
        _, err = proc.communicate(timeout=60)
        return Outcome(proc.returncode, time.monotonic() - start, err, _alive_in_group(proc.pid))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _kept(outcome: Outcome, interrupt: Interrupt) -> str | None:
    """Check the common promises; return what the command says it kept (None if it finished first)."""
    assert outcome.left_alive == [], f"still running: {outcome.left_alive}"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    if outcome.code == 0:
        return None
    assert outcome.code == interrupt.exit_code, outcome.stderr
    assert outcome.elapsed_s <= SIGNAL_TO_EXIT_S, f"exit {outcome.elapsed_s:.2f} s after the signal"
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and (match := LINE.fullmatch(lines[0])), outcome.stderr
    assert match.group(1) == signal.Signals(interrupt.signo).name[3:]
    return match.group(2)


def _no_temporary_files(out: Path) -> None:
    if out.exists():
        assert not [p.name for p in out.rglob(".*.tmp")]


def _check_run(outcome: Outcome, interrupt: Interrupt, out: Path) -> None:
    kept = _kept(outcome, interrupt)
    _no_temporary_files(out)
    if kept == "nothing was written":
        assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())
    elif kept is not None:
        assert kept == f"the files in {out} are complete"
        assert {"results.json", "report.md"} <= {p.name for p in out.iterdir()}


def _stored(out: Path) -> Counter:
    if not (out / "store.sqlite").exists():
        return Counter()
    with contextlib.closing(sqlite3.connect(out / "store.sqlite")) as db:
        return Counter(dict(db.execute("SELECT fidelity, count(*) FROM results GROUP BY fidelity")))


def _check_sweep(outcome: Outcome, interrupt: Interrupt, out: Path) -> None:
    kept = _kept(outcome, interrupt)
    _no_temporary_files(out)
    stored = _stored(out)
    if kept is None:
        return
    if match := SWEEP_KEPT.fullmatch(kept):
        said = Counter({phase: int(n) for n, phase in (part.split() for part in match.group(1).split(" and "))})
        assert said and all(stored[phase] >= n for phase, n in said.items()), (kept, stored)
    else:
        assert kept in ("nothing was written", "no point was evaluated (an existing store is unchanged)"), kept
        assert not stored
    assert not (out / "report.md").exists()  # reports are written once every point is done


def _slow_sweep(folder: Path) -> Path:
    """A sweep whose emulator re-check (VGG16 on 1–2 boards) takes minutes: always interrupted."""
    return write_sweep(folder, axes=[{"key": "experiment.cluster.boards", "values": [1, 2]},
                                     {"key": "kernel.parallelism.tm", "values": [16, 32]}],
                       extra={"recheck": {"top_k": 4},
                              "experiment": {"name": "vgg", "network": {"zoo": "vgg16_conv"}, "board": "zcu102",
                                             "kernel": str(KERNEL_16), "memory": {"channel": "ps_ddr4"},
                                             "cluster": {"boards": 1, "link": "aurora64b66b_10g"}}})


def _fresh(tmp_path: Path, stem: str) -> Path:
    """A new, not yet existing path per hypothesis example."""
    for n in range(1000):
        path = tmp_path / f"{stem}-{n}"
        if not path.exists():
            return path
    raise AssertionError("too many examples")


@RANDOM_MOMENTS
@given(interrupt=interrupts(0.5, 6.0))
def test_comparison_run_with_a_process_pool(tmp_path, interrupt):
    out = _fresh(tmp_path, "out")
    argv = ["run", str(REPO / "experiments" / "superlip-alexnet.yaml"), "--workers", "2", "--out", str(out)]
    _check_run(_interrupt(argv, interrupt, tmp_path), interrupt, out)


@RANDOM_MOMENTS
@given(interrupt=interrupts(0.5, 5.0))
def test_sweep_with_a_process_pool(tmp_path, interrupt):
    out = _fresh(tmp_path, "out")
    argv = ["sweep", str(_slow_sweep(tmp_path / "sweep")), "--workers", "2", "--out", str(out)]
    _check_sweep(_interrupt(argv, interrupt, tmp_path), interrupt, out)


@RANDOM_MOMENTS
@given(interrupt=interrupts(0.5, 4.0))
def test_single_experiment_in_process(tmp_path, interrupt):
    out = _fresh(tmp_path, "out")
    argv = ["run", str(REPO / "experiments" / "alexnet-zcu102.yaml"), "--out", str(out)]
    _check_run(_interrupt(argv, interrupt, tmp_path), interrupt, out)


def test_resumed_sweep_after_an_interrupt_gives_the_uninterrupted_results(tmp_path):
    """What an interrupted sweep kept is valid: resuming ends with the same store as one clean run."""
    path = write_sweep(tmp_path / "sweep", axes=[{"key": "kernel.parallelism.tm", "values": [16, 32, 64]}])
    clean, resumed = tmp_path / "clean", tmp_path / "resumed"
    outcome = _interrupt(["sweep", str(path), "--workers", "2", "--out", str(resumed)],
                         Interrupt(delay_s=2.5, signo=signal.SIGINT, whole_group=True), tmp_path)
    _check_sweep(outcome, Interrupt(delay_s=2.5, signo=signal.SIGINT, whole_group=True), resumed)
    for out in (clean, resumed):
        done = subprocess.run([sys.executable, "-m", "fpgasim.cli.main", "sweep", str(path), "--workers", "2",
                               "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert _stored(resumed) == _stored(clean)
    assert (resumed / "points.csv").read_bytes() == (clean / "points.csv").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("document", sorted(p.name for p in (REPO / "experiments").glob("*.yaml")))
@MORE_MOMENTS
@given(interrupt=interrupts(0.5, 8.0))
def test_every_shipped_study(tmp_path, document, interrupt):
    out = _fresh(tmp_path, "out")
    argv = ["run", str(REPO / "experiments" / document), "--out", str(out)]
    _check_run(_interrupt(argv, interrupt, tmp_path), interrupt, out)


@pytest.mark.slow
@MORE_MOMENTS
@given(interrupt=interrupts(0.5, 8.0))
def test_sweep_on_a_process_pool_more_moments(tmp_path, interrupt):
    out = _fresh(tmp_path, "out")
    argv = ["sweep", str(_slow_sweep(tmp_path / "sweep")), "--workers", "2", "--out", str(out)]
    _check_sweep(_interrupt(argv, interrupt, tmp_path), interrupt, out)


@pytest.fixture(scope="module")
def dask_scheduler():
    distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp://",
                                  host="127.0.0.1", scheduler_port=0, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(interrupt=interrupts(0.5, 6.0))
def test_sweep_on_dask(tmp_path, dask_scheduler, interrupt):
    out = _fresh(tmp_path, "out")
    argv = ["sweep", str(_slow_sweep(tmp_path / "sweep")), "--scheduler", dask_scheduler, "--out", str(out)]
    _check_sweep(_interrupt(argv, interrupt, tmp_path), interrupt, out)
