"""Pairing handler entries with their exits, per CPU, by frame address.

An exit is matched to the open run whose frame it returns through: at an
iret RSP points at that frame's saved RIP.  So nested interrupts, an
exception inside a handler and a handler that switches tasks and irets on
another stack (xv6-style scheduling) all pair correctly.  Completed runs are
kept in a bounded ring; counters are exact.

Memory is bounded whatever the kernel does: at most ``history`` completed
runs (each compacted once judged: the exit keeps only the registers that
changed), at most ``history`` runs with findings in the findings log plus the
first run per vector and rule, at most MAX_OPEN_PER_CPU open runs per CPU
(an entry that never exits is dropped as lost), and counters per set of
vectors (at most one set per handler) and rule.
"""

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Deque, Dict, List, Optional, Tuple

from .findings import Finding
from .frame import InterruptFrame
from .judge import ExitObservation, Verdict, judge_exit
from .snapshot import Context, register_set

MAX_OPEN_PER_CPU = 64
DEFAULT_HISTORY = 1000
# How far below its frame a handler's stack may reach and still count as the
# same handler run (kernel stacks are 4-16 KiB; IST stacks smaller).
STACK_WINDOW = 64 * 1024
# How far from its frame's saved RIP an iret may find RSP and still be judged
# as that run's (unbalanced) exit.
IMBALANCE_WINDOW = 256
# An entry whose interrupted RSP lies this far below an open run's frame is
# nested in it; farther away it is on another thread's stack.
NEST_WINDOW = 16 * 1024
RFLAGS_IF = 1 << 9


@dataclass
class HandlerRun:
    sequence: int
    cpu: int
    vectors: Tuple[int, ...]
    handler: int
    gate_type: str
    frame: InterruptFrame
    entry: Context
    depth: int                               # runs this one is nested in
    exit: Optional[ExitObservation] = None
    enabled_interrupts_at: Optional[int] = None   # where a nested entry saw IF set
    verdict: Optional[Verdict] = None
    lost: str = ""                           # why it was dropped unmatched

    @property
    def vector(self) -> Optional[int]:
        return self.vectors[0] if len(self.vectors) == 1 else None

    @property
    def findings(self) -> Tuple[Finding, ...]:
        return self.verdict.findings if self.verdict else ()

    def digest(self) -> "RunDigest":
        return RunDigest(self.sequence, self.cpu, self.vectors, self.handler, self.frame.address,
                         self.entry.rip, self.entry.cs, self.entry.rsp, self.depth,
                         self.findings)


@dataclass(frozen=True)
class RunDigest:
    """What a trace keeps of one handler run."""

    sequence: int
    cpu: int
    vectors: Tuple[int, ...]
    handler: int
    frame: int                   # frame address
    rip: int                     # the interrupted context
    cs: int
    rsp: int
    depth: int
    findings: Tuple[Finding, ...]

    @property
    def vector(self) -> Optional[int]:
        return self.vectors[0] if len(self.vectors) == 1 else None


def _compact(run: HandlerRun, regset) -> None:
    """Drop what judging no longer needs: of the exit's registers, those that
    equal their entry value (a display falls back to the entry's)."""
    exit = run.exit
    verdict = run.verdict
    old = exit.registers
    if hasattr(old, "raw"):
        return      # a RawRegisters: its packet's bytes are smaller than the dict would be
    registers = {name: old[name] for name in (regset.pc, regset.sp, regset.flags, "cs", "ss")
                 if name in old}
    for change in verdict.changes:
        if change.group not in ("frame", "stack") and change.name in old:
            registers[change.name] = change.after       # == old[name], as a plain int
    run.exit = ExitObservation(exit.kind, exit.address, registers, exit.stack, exit.sp,
                               exit.cpl, exit.mnemonic)
    resumed = verdict.resumed
    if resumed is not None and resumed.values is old:
        resumed = Context(registers, resumed.rip, resumed.cs, resumed.rflags, resumed.rsp,
                          resumed.ss)
        run.verdict = Verdict(verdict.changes, verdict.findings, resumed)


@dataclass
class VectorStats:
    runs: int = 0
    max_depth: int = 0
    findings: Counter = field(default_factory=Counter)
    first: Optional[int] = None              # sequence numbers
    last: Optional[int] = None


class Tracker:
    def __init__(self, history: int = DEFAULT_HISTORY):
        self.open: Dict[int, List[HandlerRun]] = {}
        self.completed: Deque[HandlerRun] = deque(maxlen=history)
        self.stats: Dict[Tuple[int, ...], VectorStats] = {}
        # runs with findings: the latest ``history`` ones, and the first per (vectors, rule)
        self.finding_runs: Deque[RunDigest] = deque(maxlen=history)
        self.first_findings: Dict[Tuple[Tuple[int, ...], str], RunDigest] = {}
        self.unmatched_exits = 0
        self.lost_runs = 0
        self._sequence = itertools.count(1)

    @property
    def history(self) -> int:
        return self.completed.maxlen

    def resize(self, history: int) -> None:
        """Keep at most ``history`` completed runs (the latest ones)."""
        if history < 1:
            raise ValueError("the history holds at least one run")
        self.completed = deque(self.completed, maxlen=history)
        self.finding_runs = deque(self.finding_runs, maxlen=history)

    # -- entry --------------------------------------------------------------------
    def enter(self, cpu: int, vectors, handler: int, gate_type: str, frame: InterruptFrame,
              entry: Context) -> HandlerRun:
        runs = self.open.setdefault(cpu, [])
        # a run whose frame is re-used by this entry has returned unseen
        for stale in [r for r in runs if r.frame.address == frame.address]:
            self._drop(runs, stale, "its frame was reused by a later entry")
        parents = [r for r in runs if r.frame.address - NEST_WINDOW <= entry.rsp <= r.frame.address]
        if parents and entry.rflags & RFLAGS_IF:
            # the handler we interrupted was running with interrupts enabled
            parents[-1].enabled_interrupts_at = parents[-1].enabled_interrupts_at or entry.rip
        run = HandlerRun(next(self._sequence), cpu, tuple(vectors), handler, gate_type, frame,
                         entry, depth=len(parents))
        runs.append(run)
        if len(runs) > MAX_OPEN_PER_CPU:
            self._drop(runs, runs[0], "too many runs open on this CPU")
        return run

    def _drop(self, runs, run, why):
        runs.remove(run)
        run.lost = why
        self.lost_runs += 1

    # -- exit ---------------------------------------------------------------------
    def match(self, cpu: int, rsp: int, kind: str, rip: int = 0) -> Optional[HandlerRun]:
        runs = self.open.get(cpu, [])
        if kind == "return":
            # back at the interrupted instruction: only a run that entered from there
            for run in reversed(runs):
                if run.entry.rip == rip and run.frame.address - STACK_WINDOW <= rsp:
                    return run
            return None
        for run in reversed(runs):
            if run.frame.rip_slot == rsp:
                return run
        if kind != "iret":
            return None   # a `ret` elsewhere is an ordinary return, not this run's exit
        for run in reversed(runs):
            if run.frame.has_error_code and run.frame.address == rsp:
                return run
        near = [r for r in runs if abs(rsp - r.frame.rip_slot) <= IMBALANCE_WINDOW]
        return min(near, key=lambda r: abs(rsp - r.frame.rip_slot)) if near else None

    def exit(self, cpu: int, observation: ExitObservation) -> Optional[HandlerRun]:
        """Close the run this exit belongs to; None when it belongs to none."""
        rsp = observation.sp
        run = self.match(cpu, rsp, observation.kind, observation.address)
        if run is None:
            self.unmatched_exits += 1
            return None
        if observation.kind == "return" and \
                rsp not in (run.entry.rsp, run.frame.rip_slot + run.frame.slot):
            return None   # same RIP, another context (recursion, other thread)
        self.open[cpu].remove(run)
        run.exit = observation
        regset = register_set(run.frame.bits)
        run.verdict = judge_exit(regset, run.frame, run.entry, run.gate_type,
                                 observation, run.enabled_interrupts_at,
                                 {"vector": run.vector, "cpu": cpu, "handler": run.handler})
        _compact(run, regset)
        self._account(run)
        return run

    def _account(self, run: HandlerRun) -> None:
        """Counters per vector (per set of vectors when a shared handler hides which)."""
        self.completed.append(run)
        stats = self.stats.get(run.vectors)
        if stats is None:       # not setdefault: that would build a VectorStats every run
            stats = self.stats[run.vectors] = VectorStats(first=run.sequence)
        stats.runs += 1
        if run.depth > stats.max_depth:
            stats.max_depth = run.depth
        stats.last = run.sequence
        findings = run.findings
        if findings:
            stats.findings.update(f.rule for f in findings)
            digest = run.digest()
            self.finding_runs.append(digest)
            for finding in findings:
                self.first_findings.setdefault((run.vectors, finding.rule), digest)

    # -- queries ------------------------------------------------------------------
    def pending(self) -> List[HandlerRun]:
        return [run for runs in self.open.values() for run in runs]

    def active(self, cpu: int, rsp: int) -> Optional[HandlerRun]:
        """The innermost open run on ``cpu`` whose stack holds ``rsp``."""
        for run in reversed(self.open.get(cpu, [])):
            if run.frame.address - STACK_WINDOW <= rsp <= run.frame.address:
                return run
        return None

    def last(self, count: int = 1, vector: Optional[int] = None) -> List[HandlerRun]:
        runs = [r for r in self.completed if vector is None or vector in r.vectors]
        return runs[-count:]

    def findings_log(self) -> List[RunDigest]:
        """Runs with findings that are kept, in run order: the first one per
        vector and rule, and the latest ``history``."""
        runs = {d.sequence: d for d in self.first_findings.values()}
        runs.update((d.sequence, d) for d in self.finding_runs)
        return [runs[s] for s in sorted(runs)]

    def clear(self, keep_open: bool = False) -> None:
        """Forget completed runs and counters; ``keep_open`` keeps the runs
        still in progress, so that their exits pair (run numbers go on)."""
        if not keep_open:
            self.open.clear()
        self.completed.clear()
        self.stats.clear()
        self.finding_runs.clear()
        self.first_findings.clear()
        self.unmatched_exits = self.lost_runs = 0
