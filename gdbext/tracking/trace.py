"""isr-trace: which vectors are traced, when tracing stops, and the report.

A trace is not a second tracker.  Tracing arms vectors in a mode that never
stops the target; the Tracker pairs and judges their runs as for isr-watch
and keeps a bounded ring of runs and a bounded log of runs with findings.
This module adds the trace's own state (the traced vectors, the run limit,
whether it is still recording), the trace's own exact counters (runs that an
earlier isr-watch recorded are not the trace's), and builds the report.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Optional, Set, Tuple

from gdbext.tracking.tracker import RunDigest, Tracker, VectorStats

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
    since: int = 0                                    # the first run number that is the trace's
    until: Optional[int] = None                       # the first that is not (once stopped)
    stats: Dict[Tuple[int, ...], VectorStats] = field(default_factory=dict)
    unmatched_before: Counter = field(default_factory=Counter)  # the tracker's, at the start
    no_entry_before: int = 0          # the tracker's exits_without_entry, at the start
    not_traced_before: int = 0        # the tracker's exits_not_traced, at the start

    @property
    def active(self) -> bool:
        return self.state == TRACING

    def start(self, vectors, limit: Optional[int], tracker: Optional[Tracker] = None) -> None:
        """Trace ``vectors`` too; ``limit`` (runs from now on) replaces the previous one.
        A first start (or one after a clear) records from the ``tracker``'s next run on."""
        if self.state == OFF and tracker is not None:
            self._from_now(tracker)
        self.vectors.update(vectors)
        self.until = None
        self.state = TRACING
        self.reason = ""
        self.limit = limit
        self.counted = 0

    def _from_now(self, tracker: Tracker) -> None:
        self.since = tracker.next_sequence
        self.stats = {}
        self.unmatched_before = Counter(tracker.unmatched)
        self.no_entry_before = tracker.exits_without_entry
        self.not_traced_before = tracker.exits_not_traced

    def traces(self, vectors: Tuple[int, ...]) -> bool:
        return not self.vectors.isdisjoint(vectors)     # (twice per run: one C call)

    def owns(self, run) -> bool:
        """A run of a traced vector that entered while this trace recorded."""
        return self.since <= run.sequence and \
            (self.until is None or run.sequence < self.until) and self.traces(run.vectors)

    def record(self, run) -> None:
        """The Tracker's observer: a run it judged (``run.verdict``) or dropped
        unpaired (``run.lost``); counted when it is the trace's own."""
        if self.state == OFF or not self.owns(run):
            return
        stats = self.stats.get(run.vectors)
        if stats is None:
            stats = self.stats[run.vectors] = VectorStats()
        if run.lost:
            stats.unpaired[run.lost] += 1
            return
        repeats = run.repeats       # identical runs it stands for (Tracker.repeat)
        stats.runs += repeats
        stats.first = stats.first or run.sequence
        stats.last = run.sequence + repeats - 1
        if run.depth > stats.max_depth:
            stats.max_depth = run.depth
        verdict = run.verdict
        if verdict.findings:        # Counter.update costs even with nothing to count
            stats.findings.update(f.rule for f in verdict.findings)
        if verdict.unjudged:
            for reason in verdict.unjudged_reasons:
                stats.unjudged[reason] += repeats

    def account(self, run) -> bool:
        """Count a completed run; True when it reaches the limit (stop now)."""
        if not self.active or not self.traces(run.vectors):
            return False
        self.counted += run.repeats
        return self.limit is not None and self.counted >= self.limit

    def room(self, vectors) -> Optional[int]:
        """How many more runs of ``vectors`` this trace counts before its limit
        (None: no limit applies), so that runs counted at once stop there."""
        if not self.active or self.limit is None or not self.traces(vectors):
            return None
        return max(0, self.limit - self.counted)

    def stop(self, reason: str, tracker: Optional[Tracker] = None) -> None:
        """Stop recording: runs that entered until now are still the trace's
        when they complete (their exits are still caught)."""
        self.state = STOPPED
        self.reason = reason
        if tracker is not None:
            self.until = tracker.next_sequence

    def clear(self, tracker: Optional[Tracker] = None) -> None:
        """Forget what was recorded (the Tracker's runs are cleared alongside);
        a running trace goes on recording, its limit counting from now."""
        self.counted = 0
        self.stats = {}
        if tracker is not None:
            self.unmatched_before = Counter(tracker.unmatched)
            self.no_entry_before = tracker.exits_without_entry
            self.not_traced_before = tracker.exits_not_traced


@dataclass(frozen=True)
class VectorRow:
    vectors: Tuple[int, ...]          # one vector, or those sharing a handler
    runs: int                         # paired and judged
    max_depth: int
    findings: Dict[str, int]          # rule -> count
    first: Optional[int]              # run numbers
    last: Optional[int]
    unpaired: Dict[str, int] = field(default_factory=dict)   # reason -> runs not paired
    unjudged: Dict[str, int] = field(default_factory=dict)   # reason -> runs with a change
                                                             # not judged

    @property
    def unpaired_total(self) -> int:
        return sum(self.unpaired.values())


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
    unmatched: Dict[str, int] = field(default_factory=dict)  # reason -> exits with no entry
    # irets that returned from no traced entry (a syscall...): no run, so not unpaired
    exits_without_entry: int = 0
    # irets no traced run owns where untraced handlers may leave too: not unpaired
    exits_not_traced: int = 0

    @property
    def findings_kept(self) -> int:
        return sum(len(d.findings) for d in self.findings)

    @property
    def unpaired(self) -> int:
        """Entries and exits that could not be paired: never judged."""
        return self.lost_runs + self.unmatched_exits

    @property
    def unpaired_share(self) -> float:
        """Of every run seen (judged or not), the share that was not paired
        (exits without an entry are no runs: not counted)."""
        seen = self.runs + self.unpaired
        return self.unpaired / seen if seen else 0.0


def trace_report(trace: Trace, tracker: Tracker) -> TraceReport:
    """The trace's own runs: its counters, and what the tracker keeps of them."""
    rows = []
    for vectors, stats in sorted(trace.stats.items()):
        rows.append(VectorRow(vectors, stats.runs, stats.max_depth,
                              dict(sorted(stats.findings.items())), stats.first, stats.last,
                              dict(stats.unpaired), dict(stats.unjudged)))
    findings = tuple(d for d in tracker.findings_log() if trace.owns(d))
    open_runs = sum(1 for run in tracker.pending() if trace.owns(run))
    kept = sum(1 for run in tracker.completed if trace.owns(run))
    unmatched = Counter(tracker.unmatched)
    unmatched.subtract(trace.unmatched_before)
    unmatched = {reason: n for reason, n in sorted(unmatched.items()) if n > 0}
    return TraceReport(
        state=trace.state, reason=trace.reason, limit=trace.limit, counted=trace.counted,
        vectors=tuple(sorted(trace.vectors)), rows=tuple(rows), findings=findings,
        findings_total=sum(sum(r.findings.values()) for r in rows),
        runs=sum(r.runs for r in rows), kept_runs=kept, history=tracker.history,
        open_runs=open_runs, unmatched_exits=sum(unmatched.values()),
        lost_runs=sum(r.unpaired_total for r in rows), unmatched=unmatched,
        exits_without_entry=tracker.exits_without_entry - trace.no_entry_before,
        exits_not_traced=tracker.exits_not_traced - trace.not_traced_before)
