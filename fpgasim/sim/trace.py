"""Trace recording: spans and counters of a run, exported in the Chrome trace-event format.

A span is ``(process, track, name, start_ps, end_ps, args)``: ``process`` is a board or
device (a Perfetto process), ``track`` one hardware resource on it (a thread row). Sim
primitives take ``trace: TraceRecorder | None``; ``None`` or a disabled recorder costs one
``is None`` test per transaction, because primitives keep ``None`` when ``enabled`` is false.
"""

from __future__ import annotations

from typing import Any

from fpgasim.errors import BadArgument
from fpgasim.sim.clock import us_from_ps

__all__ = ["TraceRecorder", "active", "merge_spans"]


def active(trace: "TraceRecorder | None") -> "TraceRecorder | None":
    """Return ``trace`` if it records, else ``None`` (what primitives store and test).

    Args:
        trace: a recorder or None.

    Returns:
        The recorder when it is enabled, otherwise None.
    """
    return trace if trace is not None and trace.enabled else None


def merge_spans(spans: list[tuple[int, int]], gap_ps: int) -> list[tuple[int, int, int]]:
    """Spans sorted and joined when closer than ``gap_ps``: (start, end, spans joined)."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= gap_ps:
            merged[-1][1] = max(merged[-1][1], end)
            merged[-1][2] += 1
        else:
            merged.append([start, end, 1])
    return [(a, b, n) for a, b, n in merged]


class TraceRecorder:
    """Collects spans and counters; exports Chrome/Perfetto JSON.

    Args:
        enabled: when False every method is a no-op and primitives skip recording.
    """

    __slots__ = ("enabled", "_spans", "_counters")

    def __init__(self, *, enabled: bool = True):
        self.enabled = enabled
        self._spans: list[tuple[str, str, str, int, int, dict[str, Any] | None]] = []
        self._counters: list[tuple[str, str, int, int | float]] = []

    def span(
        self,
        track: str,
        name: str,
        start_ps: int,
        end_ps: int,
        *,
        process: str = "fpgasim",
        args: dict[str, Any] | None = None,
    ) -> None:
        """Record that ``track`` of ``process`` did ``name`` during ``[start_ps, end_ps)``.

        Args:
            track: resource name (one thread row), e.g. ``"ddr0"``.
            name: what it did, e.g. a stream name.
            start_ps: start time in integer ps.
            end_ps: end time in integer ps (>= start_ps).
            process: board/device name (one process group).
            args: JSON-serialisable details shown on click.

        Raises:
            BadArgument: ``end_ps < start_ps``.
        """
        if not self.enabled:
            return
        if end_ps < start_ps:
            raise BadArgument(f"trace span {track}/{name}: end_ps={end_ps} < start_ps={start_ps}")
        self._spans.append((process, track, name, start_ps, end_ps, args))

    def counter(self, track: str, t_ps: int, value: int | float, *, process: str = "fpgasim") -> None:
        """Record the value of counter ``track`` (e.g. buffer occupancy) from ``t_ps`` on.

        Args:
            track: counter name.
            t_ps: time in ps.
            value: the new value.
            process: board/device name.
        """
        if not self.enabled:
            return
        self._counters.append((process, track, t_ps, value))

    @property
    def spans(self) -> list[tuple[str, str, str, int, int, dict[str, Any] | None]]:
        """All spans in recording order (a copy)."""
        return list(self._spans)

    @property
    def span_count(self) -> int:
        """Spans recorded so far."""
        return len(self._spans)

    def tracks(self) -> list[tuple[str, str]]:
        """Sorted ``(process, track)`` pairs that have at least one span."""
        return sorted({(s[0], s[1]) for s in self._spans})

    def busy_ps(self, track: str, *, process: str = "fpgasim") -> int:
        """Time in ps during which ``track`` had at least one span (overlaps counted once).

        Args:
            track: track name.
            process: process name.

        Returns:
            The busy time in integer ps.
        """
        intervals = sorted((s[3], s[4]) for s in self._spans if s[0] == process and s[1] == track)
        total = 0
        cur_start = cur_end = None
        for start, end in intervals:
            if cur_end is None or start > cur_end:
                if cur_end is not None:
                    total += cur_end - cur_start
                cur_start, cur_end = start, end
            elif end > cur_end:
                cur_end = end
        if cur_end is not None:
            total += cur_end - cur_start
        return total

    def summary(self, *, max_spans: int) -> "TraceRecorder":
        """At most ``max_spans`` spans: each track's spans merged into ``busy`` intervals.

        Spans of one track closer than a gap are joined; the gap starts at the run's length ÷
        ``max_spans`` and doubles until the total fits. Each merged span's ``args`` count the
        spans it covers. Counters are kept when they fit in ``max_spans`` too, else dropped.

        Raises:
            BadArgument: ``max_spans`` < 1.
        """
        if max_spans < 1:
            raise BadArgument(f"trace summary max_spans={max_spans}: expected >= 1")
        per_track: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for process, track, _name, start, end, _args in self._spans:
            per_track.setdefault((process, track), []).append((start, end))
        end_ps = max((s[4] for s in self._spans), default=0)
        gap = max(end_ps // max_spans, 1)
        while True:
            merged = {key: merge_spans(spans, gap) for key, spans in per_track.items()}
            if sum(len(spans) for spans in merged.values()) <= max_spans or gap > end_ps:
                break
            gap *= 2
        out = TraceRecorder()
        for (process, track), spans in sorted(merged.items()):
            for start, end, count in spans:
                out._spans.append((process, track, "busy", start, end, {"spans": count}))
        if len(self._counters) <= max_spans:
            out._counters = list(self._counters)
        return out

    def to_chrome_trace(self) -> dict[str, Any]:
        """The trace as a Chrome trace-event dict (``json.dump`` it; Perfetto opens it).

        Processes and threads get ids in sorted-name order, events are sorted by
        ``(ts, pid, tid, name)``, so identical runs give identical JSON.

        Returns:
            ``{"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}`` with
            ``ph: "M"`` metadata, ``ph: "X"`` spans (``ts``/``dur`` in microseconds) and
            ``ph: "C"`` counters.
        """
        processes = sorted({s[0] for s in self._spans} | {c[0] for c in self._counters})
        pid = {p: i + 1 for i, p in enumerate(processes)}
        tid = {t: i + 1 for i, t in enumerate(self.tracks())}
        meta: list[dict[str, Any]] = []
        for p in processes:
            meta.append({"ph": "M", "name": "process_name", "pid": pid[p], "tid": 0, "args": {"name": p}})
        for (p, t), i in sorted(tid.items()):
            meta.append({"ph": "M", "name": "thread_name", "pid": pid[p], "tid": i, "args": {"name": t}})
            meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid[p], "tid": i, "args": {"sort_index": i}})
        events: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        for n, (p, t, name, start, end, args) in enumerate(self._spans):
            ev = {
                "ph": "X", "name": name, "cat": t, "pid": pid[p], "tid": tid[(p, t)],
                "ts": us_from_ps(start), "dur": us_from_ps(end - start),
                "args": dict(args or {}, start_ps=start, end_ps=end),
            }
            events.append(((start, pid[p], tid[(p, t)], name, n), ev))
        for n, (p, t, t_ps, value) in enumerate(self._counters):
            ev = {"ph": "C", "name": t, "pid": pid[p], "tid": 0, "ts": us_from_ps(t_ps), "args": {"value": value}}
            events.append(((t_ps, pid[p], 0, t, len(self._spans) + n), ev))
        events.sort(key=lambda item: item[0])
        return {
            "traceEvents": meta + [ev for _, ev in events],
            "displayTimeUnit": "ns",
            "otherData": {"time_unit_of_args": "ps", "schema_version": 1},
        }
