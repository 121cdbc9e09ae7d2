"""Where sweep points run: in process, a local process pool, or a Dask distributed cluster.

Owns: :func:`make_executor` and the three executors. Each offers
``run(evaluate, tasks) -> iterator of results`` yielding results as they finish (any order)
and ``close()``. Workers receive :class:`~fpgasim.study.sweep.evaluate.PointTask` objects
(plain data) and a module-level ``evaluate`` function, so both pickle by reference.
Dask is optional (``pip install fpgasim[distributed]``); an unreachable scheduler is reported
within :data:`CONNECT_TIMEOUT_S` seconds.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

from fpgasim.errors import BadArgument
from fpgasim.study.sweep.evaluate import PointResult, PointTask

__all__ = ["Evaluator", "SerialExecutor", "PoolExecutor", "DaskExecutor", "make_executor", "CONNECT_TIMEOUT_S"]

#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 3.0

Evaluator = Callable[[PointTask], PointResult]


class SerialExecutor:
    """Runs every task in this process, one after another (``--workers 1``)."""

    workers = 1

    def run(self, evaluate: Evaluator, tasks: Iterable[PointTask]) -> Iterator[PointResult]:
        """Yield ``evaluate(task)`` for each task in order."""
        for task in tasks:
            yield evaluate(task)

    def close(self) -> None:
        """Nothing to release."""


class PoolExecutor:
    """A local process pool of ``workers`` processes (fork where available)."""

    def __init__(self, workers: int):
        self.workers = workers
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def run(self, evaluate: Evaluator, tasks: Iterable[PointTask]) -> Iterator[PointResult]:
        """Yield results as workers finish; at most 2 tasks per worker are in flight."""
        pending = set()
        iterator = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * self.workers:
                task = next(iterator, None)
                if task is None:
                    exhausted = True
                    break
                pending.add(self._pool.submit(evaluate, task))
            if not pending:
                return
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: f.result().index):
                yield future.result()

    def close(self) -> None:
        """Stop the workers (cancelling tasks not started)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Submits tasks to a Dask distributed scheduler (``--scheduler tcp://host:port``)."""

    def __init__(self, address: str, *, timeout_s: float = CONNECT_TIMEOUT_S):
        try:
            from distributed import Client
        except ImportError:
            raise BadArgument(f"--scheduler {address}: Dask distributed is not installed; expected "
                              "`pip install 'fpgasim[distributed]'`") from None
        try:
            self._client = Client(address, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise BadArgument(f"--scheduler {address}: cannot reach a Dask scheduler within {timeout_s:g} s "
                              f"({type(exc).__name__}: {exc}); expected a running scheduler at tcp://host:port")
        self.workers = max(1, sum(self._client.nthreads().values()))

    def run(self, evaluate: Evaluator, tasks: Iterable[PointTask]) -> Iterator[PointResult]:
        """Yield results as the cluster finishes them (at most 2 per worker thread in flight)."""
        from distributed import as_completed

        iterator = iter(tasks)
        first = [self._client.submit(evaluate, task, pure=False) for task in _take(iterator, 2 * self.workers)]
        if not first:
            return
        queue = as_completed(first, loop=self._client.loop)
        for future in queue:
            result = future.result()
            future.release()
            for task in _take(iterator, 1):
                queue.add(self._client.submit(evaluate, task, pure=False))
            yield result

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self._client.close()


def _take(iterator: Iterator[PointTask], count: int) -> list[PointTask]:
    out = []
    for _ in range(count):
        task = next(iterator, None)
        if task is None:
            break
        out.append(task)
    return out


def make_executor(*, workers: int | None = None, scheduler: str | None = None):
    """The executor for ``--workers`` / ``--scheduler``.

    Args:
        workers: local processes (default: the CPU count; 1 runs in this process).
        scheduler: a Dask scheduler address; overrides ``workers``.

    Raises:
        BadArgument: workers < 1, or the scheduler is unreachable / Dask is not installed.
    """
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if workers is None:
        workers = os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise BadArgument(f"--workers {workers!r}: expected an integer >= 1")
    return SerialExecutor() if workers == 1 else PoolExecutor(workers)
