"""isr-trace: which vectors are traced, when tracing stops, and the report.

A trace is not a second tracker.  Tracing arms vectors in a mode that never
stops the target; the Tracker pairs and judges their runs as for isr-watch
and keeps exact counters, a bounded ring of runs and a bounded log of runs
with findings.  This module adds the trace's own state (the traced vectors,
the run limit, whether it is still recording) and builds the report from
the Tracker.
"""

from dataclasses import dataclass, field
from typing import Dict, Optional, Set, Tuple

from .tracker import RunDigest, Tracker

TRACING = "tracing"
STOPPED = "stopped"
OFF = "off"


@dataclass
class Trace:
    vectors: Set[int] = field(default_factory=set)   # every vector traced since the last clear
    state: str = OFF
    reason: str = ""                                  # why it stopped
    limit: Optional[int] = None                       # runs to record, then stop
    counted: int = 0                                  # runs recorded toward the limit

    @property
    def active(self) -> bool:
        return self.state == TRACING

    def start(self, vectors, limit: Optional[int]) -> None:
        """Trace ``vectors`` too; ``limit`` (runs from now on) replaces the previous one."""
        self.vectors.update(vectors)
        self.state = TRACING
        self.reason = ""
        self.limit = limit
        self.counted = 0

    def traces(self, vectors: Tuple[int, ...]) -> bool:
        return any(v in self.vectors for v in vectors)

    def account(self, run) -> bool:
        """Count a completed run; True when it reaches the limit (stop now)."""
        if not self.active or not self.traces(run.vectors):
            return False
        self.counted += 1
        return self.limit is not None and self.counted >= self.limit

    def stop(self, reason: str) -> None:
        self.state = STOPPED
        self.reason = reason

    def clear(self) -> None:
        """Forget what was recorded (the Tracker's runs are cleared alongside);
        a running trace goes on recording, its limit counting from now."""
        self.counted = 0


@dataclass(frozen=True)
class VectorRow:
    vectors: Tuple[int, ...]          # one vector, or those sharing a handler
    runs: int
    max_depth: int
    findings: Dict[str, int]          # rule -> count
    first: Optional[int]              # run numbers
    last: Optional[int]


@dataclass(frozen=True)
class TraceReport:
    state: str
    reason: str
    limit: Optional[int]
    counted: int
    vectors: Tuple[int, ...]                     # traced vectors
    rows: Tuple[VectorRow, ...]
    findings: Tuple[RunDigest, ...]              # runs with findings that are kept, in order
    findings_total: int                          # findings counted (exact)
    runs: int                                    # runs counted (exact)
    kept_runs: int                               # completed runs in the ring
    history: int
    open_runs: int
    unmatched_exits: int
    lost_runs: int

    @property
    def findings_kept(self) -> int:
        return sum(len(d.findings) for d in self.findings)


def trace_report(trace: Trace, tracker: Tracker) -> TraceReport:
    """The trace's vectors as the tracker counted them."""
    rows = []
    for vectors, stats in sorted(tracker.stats.items()):
        if not trace.traces(vectors):
            continue
        rows.append(VectorRow(vectors, stats.runs, stats.max_depth,
                              dict(sorted(stats.findings.items())), stats.first, stats.last))
    findings = tuple(d for d in tracker.findings_log() if trace.traces(d.vectors))
    open_runs = sum(1 for run in tracker.pending() if trace.traces(run.vectors))
    kept = sum(1 for run in tracker.completed if trace.traces(run.vectors))
    return TraceReport(
        state=trace.state, reason=trace.reason, limit=trace.limit, counted=trace.counted,
        vectors=tuple(sorted(trace.vectors)), rows=tuple(rows), findings=findings,
        findings_total=sum(sum(r.findings.values()) for r in rows),
        runs=sum(r.runs for r in rows), kept_runs=kept, history=tracker.history,
        open_runs=open_runs, unmatched_exits=tracker.unmatched_exits,
        lost_runs=tracker.lost_runs)
