"""Ending a command promptly on SIGINT / SIGTERM, with no worker process left behind.

Owns: :class:`Interrupted` (the exception a signal becomes), :func:`handle_interrupts` (the
parent's handlers, installed by the CLI), :func:`deferred_interrupts` (a section a signal must
not split, e.g. renaming a set of result files into place) and :class:`WorkerPool` (the one
process pool every study uses). Workers ignore both signals: the parent owns their lifetime. On
a signal the parent raises :class:`Interrupted` in its main thread; leaving a :class:`WorkerPool`
by an exception cancels what has not started and kills the workers instead of waiting for them.
"""

from __future__ import annotations

import _thread
import contextlib
import multiprocessing
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from types import FrameType

__all__ = ["Interrupted", "handle_interrupts", "deferred_interrupts", "WorkerPool", "kill_workers",
           "INTERRUPT_SIGNALS", "REAP_TIMEOUT_S"]

#: The signals that end a command: Ctrl-C and a polite ``kill``.
INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Seconds to wait for a killed worker to be reaped.
REAP_TIMEOUT_S = 1.0
#: Seconds after a destructor swallowed a signal's exception before it is raised again.
_AGAIN_S = 0.05

# Signals received inside deferred_interrupts(), or None outside it (main thread only).
_deferred: list[int] | None = None


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived. A ``BaseException`` so that ``except Exception`` does not swallow it.

    Attributes:
        signo: the signal number; the command exits with ``128 + signo`` (130, 143).
        kept: what the interrupted command leaves behind, for its one line on stderr.
    """

    def __init__(self, signo: int, kept: str = "nothing was written"):
        super().__init__(signo, kept)
        self.signo = signo
        self.kept = kept

    @property
    def exit_code(self) -> int:
        """The shell convention for death by a signal: ``128 + signo``."""
        return 128 + self.signo

    def __str__(self) -> str:
        return f"interrupted by {signal.Signals(self.signo).name}; {self.kept}"


def _raise_interrupted(signo: int, frame: FrameType | None) -> None:
    if _deferred is not None:
        _deferred.append(signo)
        return
    _ignore_interrupts()  # the first signal wins; a second one must not cut the clean-up short
    raise Interrupted(signo)


def _dropped(unraisable: object) -> None:
    """``sys.unraisablehook`` while interrupts are handled: Python drops an exception raised in a
    destructor ("Exception ignored in ..."), so a signal that lands while one runs (a library's
    ``__del__``) would be lost and the command would run on. Raise it again, once the destructor
    has returned, as the same signal arriving now."""
    error = getattr(unraisable, "exc_value", None)
    if isinstance(error, Interrupted) and threading.current_thread() is threading.main_thread():
        signal.signal(error.signo, _raise_interrupted)
        # a moment later, from another thread: the main thread then takes it past the destructor
        again = threading.Timer(_AGAIN_S, _thread.interrupt_main, args=(error.signo,))
        again.daemon = True
        again.start()
        return
    sys.__unraisablehook__(unraisable)


@contextlib.contextmanager
def handle_interrupts(*, then_exit: bool = False) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` in this (main) thread; restore on exit.

    Args:
        then_exit: the process ends right after the block (the ``fpgasim`` program): the
            signals are then ignored instead of restored, so a late signal cannot turn a
            finished command into a death by signal while the interpreter shuts down.

    A signal that the invoking shell set to "ignore" (e.g. ``nohup``) stays ignored. Outside
    the main thread nothing is installed (Python delivers signals to the main thread only). A
    signal whose exception a destructor swallowed is raised again (:func:`_dropped`).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signo: signal.getsignal(signo) for signo in INTERRUPT_SIGNALS}
    for signo, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signo, _raise_interrupted)
    hook, sys.unraisablehook = sys.unraisablehook, _dropped
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for signo, handler in previous.items():
            if then_exit:
                handler = signal.SIG_IGN
            signal.signal(signo, signal.SIG_DFL if handler is None else handler)  # None: set outside Python


@contextlib.contextmanager
def deferred_interrupts(*, kept: str) -> Iterator[None]:
    """Hold back :class:`Interrupted` until the block ends, then raise it saying ``kept``.

    For short sections that must happen whole (renaming result files into place); ``kept``
    says what the completed block leaves behind. Nested use and use outside the main thread
    run the block unchanged.
    """
    global _deferred
    if _deferred is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferred = []
    try:
        yield
    finally:
        received, _deferred = _deferred, None
    if received:
        _ignore_interrupts()
        raise Interrupted(received[0], kept)


def _ignore_interrupts() -> None:
    """Ignore SIGINT and SIGTERM: in a worker (a Ctrl-C reaches the whole process group, but only
    the parent decides) and in the parent once it is cleaning up after the first signal."""
    for signo in INTERRUPT_SIGNALS:
        signal.signal(signo, signal.SIG_IGN)


def kill_workers(processes: Iterable[multiprocessing.process.BaseProcess] | None = None) -> None:
    """Kill ``processes`` (default: every live multiprocessing child of this process) and reap them.

    Waits at most :data:`REAP_TIMEOUT_S` per process for the kernel to report it dead.
    """
    children = list(multiprocessing.active_children() if processes is None else processes)
    for child in children:
        child.kill()
    for child in children:
        child.join(REAP_TIMEOUT_S)


class WorkerPool(ProcessPoolExecutor):
    """The process pool of every study: ``workers`` processes (fork where available) that ignore SIGINT/SIGTERM.

    As a context manager, leaving the block normally waits for the workers; leaving it by an
    exception (:class:`Interrupted`, a failed write) calls :meth:`abort`, so no worker outlives
    the command and nobody waits for a result that will not be read.
    """

    def __init__(self, workers: int):
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._others = set(multiprocessing.active_children())
        super().__init__(max_workers=workers, mp_context=context, initializer=_ignore_interrupts)

    def abort(self) -> None:
        """Cancel the tasks not started and kill the workers (running tasks are lost)."""
        self.shutdown(wait=False, cancel_futures=True)
        kill_workers(child for child in multiprocessing.active_children() if child not in self._others)

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc_type is not None:
            self.abort()
            return False
        return super().__exit__(exc_type, exc, traceback)
