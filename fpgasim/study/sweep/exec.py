"""Where sweep points run: in process, a local process pool, or a Dask distributed cluster.

Owns: :func:`make_executor` and the three executors. Each offers
``run(evaluate, tasks) -> iterator of results`` yielding results as they finish (any order)
and ``close()``. Workers receive :class:`~fpgasim.study.sweep.evaluate.PointTask` objects
(plain data) and a module-level ``evaluate`` function, so both pickle by reference.
Dask is optional (``pip install fpgasim[distributed]``); an unreachable scheduler is reported
within :data:`CONNECT_TIMEOUT_S` seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait

from fpgasim.errors import BadArgument
from fpgasim.study.common.interrupts import WorkerPool
from fpgasim.study.sweep.evaluate import PointResult, PointTask

__all__ = ["Evaluator", "SerialExecutor", "PoolExecutor", "DaskExecutor", "make_executor", "CONNECT_TIMEOUT_S",
           "CLOSE_TIMEOUT_S"]

#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 3.0
#: Seconds to wait for the scheduler to acknowledge a disconnect (an interrupted sweep ends within 2 s).
CLOSE_TIMEOUT_S = 1.0

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
    """A local process pool of ``workers`` processes (:class:`~fpgasim.study.common.interrupts.WorkerPool`)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = WorkerPool(workers)
        self._pending: set[Future] = set()

    def run(self, evaluate: Evaluator, tasks: Iterable[PointTask]) -> Iterator[PointResult]:
        """Yield results as workers finish; at most 2 tasks per worker are in flight."""
        iterator = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(self._pending) < 2 * self.workers:
                task = next(iterator, None)
                if task is None:
                    exhausted = True
                    break
                self._pending.add(self._pool.submit(evaluate, task))
            if not self._pending:
                return
            finished, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: f.result().index):
                yield future.result()

    def close(self) -> None:
        """Stop the workers; if tasks are still in flight (an interrupt, a failed write), kill them."""
        if any(not future.done() for future in self._pending):
            self._pool.abort()
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Submits tasks to a Dask distributed scheduler (``--scheduler tcp://host:port``)."""

    def __init__(self, address: str, *, timeout_s: float = CONNECT_TIMEOUT_S):
        try:
            from distributed import Client
            from distributed.comm import get_address_host_port
        except ImportError:
            raise BadArgument(f"--scheduler {address}: Dask distributed is not installed; expected "
                              "`pip install 'fpgasim[distributed]'`") from None
        try:  # before connecting: a Client that fails on a malformed address blocks 6 s in its __del__
            get_address_host_port(address)
        except ValueError as exc:
            raise BadArgument(f"--scheduler {address!r}: not a scheduler address ({exc}); expected "
                              "tcp://host:port") from None
        try:
            self._client = Client(address, timeout=timeout_s, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise BadArgument(f"--scheduler {address}: cannot reach a Dask scheduler within {timeout_s:g} s "
                              f"({type(exc).__name__}: {exc}); expected a running scheduler at tcp://host:port")
        self.workers = max(1, sum(self._client.nthreads().values()))
        self._pending: set = set()

    def run(self, evaluate: Evaluator, tasks: Iterable[PointTask]) -> Iterator[PointResult]:
        """Yield results as the cluster finishes them (at most 2 per worker thread in flight)."""
        from distributed import as_completed

        iterator = iter(tasks)
        first = [self._submit(evaluate, task) for task in _take(iterator, 2 * self.workers)]
        if not first:
            return
        queue = as_completed(first, loop=self._client.loop)
        for future in queue:
            result = future.result()
            self._pending.discard(future)
            future.release()
            for task in _take(iterator, 1):
                queue.add(self._submit(evaluate, task))
            yield result

    def _submit(self, evaluate: Evaluator, task: PointTask):
        """Submit one task, remembered until its result is taken (to cancel it on close)."""
        future = self._client.submit(evaluate, task, pure=False)
        self._pending.add(future)
        return future

    def close(self) -> None:
        """Cancel the tasks still in flight (an interrupt, a failed write) and disconnect (the cluster keeps running)."""
        if self._pending:
            self._client.cancel(list(self._pending))
        self._client.close(timeout=CLOSE_TIMEOUT_S)


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
