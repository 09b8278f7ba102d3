"""Pairing handler entries with their exits, per CPU, by frame address.

An exit is matched to the open run whose frame it returns through: at an
iret RSP points at that frame's saved RIP.  So nested interrupts, an
exception inside a handler and a handler that switches tasks and irets on
another stack (xv6-style scheduling) all pair correctly.  Completed runs are
kept in a bounded ring; counters are exact.
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


@dataclass
class VectorStats:
    runs: int = 0
    max_depth: int = 0
    findings: Counter = field(default_factory=Counter)
    first: Optional[int] = None              # sequence numbers
    last: Optional[int] = None


class Tracker:
    def __init__(self, history: int = 1000):
        self.open: Dict[int, List[HandlerRun]] = {}
        self.completed: Deque[HandlerRun] = deque(maxlen=history)
        self.stats: Dict[Tuple[int, ...], VectorStats] = {}
        self.unmatched_exits = 0
        self.lost_runs = 0
        self._sequence = itertools.count(1)

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
        run.verdict = judge_exit(register_set(run.frame.bits), run.frame, run.entry, run.gate_type,
                                 observation, run.enabled_interrupts_at,
                                 {"vector": run.vector, "cpu": cpu, "handler": run.handler})
        self._account(run)
        return run

    def _account(self, run: HandlerRun) -> None:
        """Counters per vector (per set of vectors when a shared handler hides which)."""
        self.completed.append(run)
        stats = self.stats.setdefault(run.vectors, VectorStats())
        stats.runs += 1
        stats.max_depth = max(stats.max_depth, run.depth)
        stats.findings.update(f.rule for f in run.findings)
        stats.first = stats.first or run.sequence
        stats.last = run.sequence

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

    def clear(self) -> None:
        self.open.clear()
        self.completed.clear()
        self.stats.clear()
        self.unmatched_exits = self.lost_runs = 0
