"""Pairing handler entries with their exits, on evidence that survives real
kernels, and counting what could not be paired.

A run's identity is what the CPU pushed at the entry - the interrupted
context (RIP, CS, RFLAGS, RSP, SS) - and the address space (CR3 without its
PCID bits).  At an iret the CPU pops a frame: when it is exactly some open
run's context in the same address space, it is that run's exit, whichever CPU
it happens on and however late (a process that slept, migrated, or came back
through a Linux-style copy of its registers to the task stack).  A context can
be interrupted again only after it resumed, so an open run whose context and
address space a new entry repeats had its exit missed and is dropped.

When the popped frame is no open run's context the handler rewrote it (exec,
signal delivery, a fault fix-up) or broke the stack; the exit is then paired
only with the one open run on this CPU and address space whose frame it pops
(or, for a broken handler, whose frame lies intact next to RSP), or, when
there is none on this CPU and the address space is known, with the one run
of that address space that entered on another CPU with its frame there (a
process that migrated while switched out).  Anything
ambiguous is not paired: the run, or the exit, is counted with the reason, and
nothing is judged on it.  CPU numbers and stack proximity never pair.

Not every iret returns from an interrupt: Linux leaves `syscall` and execve
through the same iretq, a kernel may start its first user program with an
iret.  Such an exit has no entry to pair with, and is no unpaired run: it is
counted apart (exits_without_entry), but only when no open run could own it -
none in its address space (any, for a return to kernel code: kernel contexts
are shared), none in any with the context it pops, and no run dropped
unpaired with that context.  When unsure it stays an unpaired exit.

Nesting: an entry from ring 3 nests in nothing; an entry from ring 0 nests in
the innermost run believed to be running on its CPU whose stack holds the
interrupted RSP.  Per-process kernel stacks side by side are told apart by
their spacing, learnt from the frames of entries from ring 3 (which sit at
their stack's top).

Memory is bounded whatever the kernel does: at most ``history`` completed
runs (each compacted once judged: the exit keeps only the registers that
changed), at most ``history`` runs with findings in the findings log plus the
first run per vector and rule, at most MAX_OPEN open runs (the oldest is
dropped as lost), and counters per set of vectors (at most one set per
handler), rule and reason.
"""

import itertools
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from typing import Deque, Dict, Iterator, List, Optional, Tuple

from gdbext.tracking.findings import Finding
from gdbext.decode.frame import InterruptFrame
from gdbext.tracking.judge import (ExitObservation, Verdict, clean_iret, judge_exit,
                                   unpack_words)
from gdbext.decode.snapshot import Context, register_set

MAX_OPEN = 256
DEFAULT_HISTORY = 1000
# How far below its frame a handler's stack may reach and still count as the
# same handler run, when the spacing of kernel stacks is not known yet.
NEST_WINDOW = 16 * 1024
# Stack tops remembered to learn the spacing of per-process kernel stacks.
MAX_STACK_TOPS = 64
# How far from its frame's saved RIP an iret may find RSP and still be judged
# as that run's (unbalanced) exit, when the frame lies there intact.
IMBALANCE_WINDOW = 256
RFLAGS_IF = 1 << 9
PCID_BITS = 0xFFF
PTI_USER_BIT = 1 << 12      # Linux PTI: the user half of an 8 KiB PGD pair

# How an exit was paired with its entry (HandlerRun.identity)
BY_CONTEXT = "context"            # the popped frame is the entry's context, same address space
BY_KERNEL_CONTEXT = "kernel context"   # ring-0 context unique among open runs; CR3 switched
BY_FRAME = "frame"                # the run's own frame, rewritten in memory, popped on its CPU
BY_BROKEN_FRAME = "intact frame"  # RSP off the run's intact frame (error code, imbalance)
BY_RETURN = "return"              # ret / back at the interrupted instruction (no iret)

# Why an entry or an exit was not paired (counters' keys)
NO_CONTEXT = "no open run has the context the exit returns to"
AMBIGUOUS = "several open runs fit the exit"
REENTERED = "its context was interrupted again before it returned (exit missed)"
TOO_MANY = "too many runs open"
FRAME_REUSED = "its frame was reused by a later entry (exit missed)"

# Exits that returned from something no gate entered (Tracker.exits_without_entry)
NO_ENTRY = ("exits with no traced entry (returns from syscall/sysenter or from code not "
            "entered by an interrupt)")
# Exits no traced run owns while handlers that are not traced may leave through
# the same code (Tracker.exits_not_traced): a narrow trace on a kernel with one
# shared iret sees every other handler's return there.  Not unpaired runs.
NOT_TRACED = ("exits no traced run owns, where handlers not traced may leave too (not "
              "every gate is traced)")


def address_space(cr3: Optional[int]) -> Optional[int]:
    """CR3 without the PCID bits (a process may get another PCID when it moves)."""
    return None if cr3 is None else cr3 & ~PCID_BITS


def _same_space(a: Optional[int], b: Optional[int], loose: bool = False) -> bool:
    if a is None or b is None:
        return True
    if loose:
        return (a | PTI_USER_BIT) == (b | PTI_USER_BIT)
    return a == b


def context_key(context: Context) -> Tuple[int, int, int, int, int]:
    return (context.rip, context.cs & 0xFFFF, context.rflags, context.rsp, context.ss & 0xFFFF)


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
    space: Optional[int] = None              # address space at the entry (see address_space)
    identity: str = ""                       # how its exit was paired (BY_*)
    # Identical clean runs this one stands for, numbered sequence .. sequence +
    # repeats - 1 (Tracker.repeat): observers that count add this many.  Their
    # interrupted contexts may differ in RFLAGS (arithmetic flags): then each
    # one's, in order.
    repeats: int = 1
    repeat_rflags: Tuple[int, ...] = ()
    exit_cpu: Optional[int] = None           # where it returned (a process may migrate)

    def member(self, index: int) -> "HandlerRun":
        """Run ``index`` of the runs this one stands for, on its own."""
        run = replace(self, sequence=self.sequence + index, repeats=1, repeat_rflags=())
        rflags = self.repeat_rflags[index] if self.repeat_rflags else self.entry.rflags
        if rflags == self.entry.rflags:
            return run
        # a clean iret pops what was pushed: the frame, the context and what resumes
        slot = self.frame.slot
        run.entry = replace(self.entry, rflags=rflags)
        run.frame = replace(self.frame, rflags=rflags)
        exit = self.exit
        if exit is not None and len(exit.stack) >= 3 * slot:
            run.exit = replace(exit, stack=exit.stack[:2 * slot] +
                               rflags.to_bytes(slot, "little") + exit.stack[3 * slot:])
        if self.verdict is not None and self.verdict.resumed is not None:
            run.verdict = replace(self.verdict,
                                  resumed=replace(self.verdict.resumed, rflags=rflags))
        return run

    @property
    def vector(self) -> Optional[int]:
        return self.vectors[0] if len(self.vectors) == 1 else None

    @property
    def findings(self) -> Tuple[Finding, ...]:
        return self.verdict.findings if self.verdict else ()

    def digest(self) -> "RunDigest":
        return RunDigest(self.sequence, self.cpu, self.vectors, self.handler, self.frame.address,
                         self.entry.rip, self.entry.cs, self.entry.rsp, self.depth,
                         self.findings, self.exit_cpu)


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
    exit_cpu: Optional[int] = None

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
        run.verdict = Verdict(verdict.changes, verdict.findings, resumed, verdict.unjudged)


class RunHistory:
    """The latest ``maxlen`` completed runs, oldest first.  A batch of
    identical runs (HandlerRun.repeats > 1) is kept as one object and read as
    its runs, each with its own number: memory and the cost of accounting a
    batch do not grow with its size."""

    def __init__(self, maxlen: int, runs=()):
        self.maxlen = maxlen
        self._batches: Deque[HandlerRun] = deque()
        self._runs = 0          # runs in _batches; the oldest batch's first ones may be out
        for run in runs:
            self.append(run)

    def append(self, run: HandlerRun) -> None:
        self._batches.append(run)
        self._runs += run.repeats
        while self._runs - self._batches[0].repeats >= self.maxlen:
            self._runs -= self._batches.popleft().repeats

    def __len__(self) -> int:
        return min(self._runs, self.maxlen)

    def __iter__(self) -> Iterator[HandlerRun]:
        skip = self._runs - len(self)      # of the oldest batch, the runs no longer kept
        for run in list(self._batches):
            if run.repeats == 1:
                yield run
                continue
            for i in range(skip, run.repeats):
                yield run.member(i)
            skip = 0

    def clear(self) -> None:
        self._batches.clear()
        self._runs = 0


@dataclass
class VectorStats:
    runs: int = 0                            # paired and judged
    unpaired: Counter = field(default_factory=Counter)    # reason -> runs never paired
    unjudged: Counter = field(default_factory=Counter)    # reason -> runs with a change not judged
    max_depth: int = 0
    findings: Counter = field(default_factory=Counter)
    first: Optional[int] = None              # sequence numbers
    last: Optional[int] = None




class Tracker:
    def __init__(self, history: int = DEFAULT_HISTORY):
        self.open: Dict[int, HandlerRun] = {}          # sequence -> run, oldest first
        self._by_context: Dict[tuple, List[HandlerRun]] = {}
        self.running: Dict[int, List[HandlerRun]] = {}  # cpu -> runs executing, outermost first
        self.completed = RunHistory(history)
        self.stats: Dict[Tuple[int, ...], VectorStats] = {}
        # runs with findings: the latest ``history`` ones, and the first per (vectors, rule)
        self.finding_runs: Deque[RunDigest] = deque(maxlen=history)
        self.first_findings: Dict[Tuple[Tuple[int, ...], str], RunDigest] = {}
        self.unmatched: Counter = Counter()              # reason -> exits paired with no entry
        self.exits_without_entry = 0     # irets no traced entry could own (see NO_ENTRY)
        self.exits_not_traced = 0        # irets untraced handlers may have taken (NOT_TRACED)
        # (address space, context) of runs dropped unpaired: their late exits stay unpaired
        self._dropped: Deque[tuple] = deque(maxlen=MAX_OPEN)
        self._stack_tops: List[int] = []
        self.stack_spacing: Optional[int] = None
        self._sequence = itertools.count(1)
        self.next_sequence = 1
        self.observers = []       # callables(run): a run judged, or dropped unpaired

    @property
    def history(self) -> int:
        return self.completed.maxlen

    @property
    def unmatched_exits(self) -> int:
        return sum(self.unmatched.values())

    @property
    def lost_runs(self) -> int:
        return sum(sum(s.unpaired.values()) for s in self.stats.values())

    def resize(self, history: int) -> None:
        """Keep at most ``history`` completed runs (the latest ones)."""
        if history < 1:
            raise ValueError("the history holds at least one run")
        self.completed = RunHistory(history, self.completed)
        self.finding_runs = deque(self.finding_runs, maxlen=history)

    # -- entry --------------------------------------------------------------------
    def enter(self, cpu: int, vectors, handler: int, gate_type: str, frame: InterruptFrame,
              entry: Context, cr3: Optional[int] = None) -> HandlerRun:
        space = address_space(cr3)
        key = context_key(entry)
        same = self._by_context.get(key)
        if same:        # (rare: no list to build at every entry)
            for stale in [r for r in same if r.space == space]:
                self._drop(stale, REENTERED)
        chain, depth = self._nest(cpu, frame, entry)
        run = HandlerRun(next(self._sequence), cpu, tuple(vectors), handler, gate_type, frame,
                         entry, depth=depth, space=space)
        chain.append(run)
        self.open[run.sequence] = run
        self._by_context.setdefault(key, []).append(run)
        if len(self.open) > MAX_OPEN:
            self._drop(next(iter(self.open.values())), TOO_MANY)
        return run

    def _nest(self, cpu: int, frame: InterruptFrame, entry: Context):
        """An entry's place among the runs executing on ``cpu``: (the CPU's
        chain, cut after the run it nests in, and its depth)."""
        from_user = frame.privilege_change
        if from_user:
            self._learn_stack_top(frame.top)
        chain = self.running.setdefault(cpu, [])
        parent = None if from_user else self._parent(chain, entry.rsp)
        if parent is not None:
            del chain[chain.index(parent) + 1:]
            if entry.rflags & RFLAGS_IF:
                # the handler we interrupted was running with interrupts enabled
                parent.enabled_interrupts_at = parent.enabled_interrupts_at or entry.rip
        else:
            chain.clear()       # what ran on this CPU before was not a handler we know of
        self.next_sequence += 1
        return chain, parent.depth + 1 if parent is not None else 0

    def clean_run(self, cpu: int, vectors, handler: int, gate_type: str, frame: InterruptFrame,
                  entry: Context, observation: ExitObservation,
                  cr3: Optional[int] = None) -> Optional[HandlerRun]:
        """A run whose exit was the very next event after its entry, on its
        CPU, in its address space, accounted as enter() then exit() would
        account it, without opening it or judging it: when exit() would pair
        the two by their context (no open run has that context) and the judge
        would find nothing (judge.clean_iret: ``observation`` holds what the
        exit changed, the trace plugin having found every other register as
        at the entry).  None, and nothing changed, otherwise: the caller then
        enters and exits the run."""
        key = context_key(entry)
        if key in self._by_context or len(self.open) >= MAX_OPEN:
            return None     # enter() would drop a run, or exit() would have to choose
        popped = popped_context(observation)
        if popped != key:
            return None
        verdict = clean_iret(register_set(frame.bits), frame, entry, gate_type, observation)
        if verdict is None:
            return None
        chain, depth = self._nest(cpu, frame, entry)
        if chain and popped[1] & 3:
            chain.clear()       # back to user mode: no handler runs on this CPU
        run = HandlerRun(next(self._sequence), cpu, tuple(vectors), handler, gate_type, frame,
                         entry, depth=depth, exit=observation, verdict=verdict,
                         space=address_space(cr3), identity=BY_CONTEXT, exit_cpu=cpu)
        self._account(run)
        return run

    def repeat(self, run: HandlerRun, count: int,
               rflags: Tuple[int, ...] = ()) -> Optional[HandlerRun]:
        """Account ``count`` more runs like ``run``, a run clean_run just
        accounted, as clean_run would account each of them; ``rflags``: the
        RFLAGS each pushed, when they differ from ``run``'s (only in arithmetic
        flags).  The trace plugin found their records equal to ``run``'s but
        for those flags (plugin/ring.h), which nothing clean_run tests reads
        but the context's identity: when no open run has any of these
        contexts, each would pass clean_run's tests and be judged as ``run``
        was, and clean_run leaves the tracker as it found it (no open run, no
        chain or learnt stack changes a second time).  One HandlerRun stands
        for them all (``repeats``); the observers are told once.  None, and
        nothing changed, when an open run has one of the contexts."""
        if any(context_key(replace(run.entry, rflags=value)) in self._by_context
               for value in set(rflags)):
            return None
        if rflags and all(value == run.entry.rflags for value in rflags):
            rflags = ()
        first = next(self._sequence)
        self._sequence = itertools.count(first + count)
        self.next_sequence += count
        batch = replace(run, sequence=first, repeats=count, repeat_rflags=tuple(rflags))
        self._account(batch)
        return batch

    def _window(self) -> int:
        return min(NEST_WINDOW, self.stack_spacing or NEST_WINDOW)

    def _parent(self, chain, rsp) -> Optional[HandlerRun]:
        """The innermost run executing on this CPU whose stack holds ``rsp``."""
        for run in reversed(chain):
            if self._stack_bottom(run.frame.address) < rsp <= run.frame.address:
                return run
        return None

    def _stack_bottom(self, address: int) -> int:
        """Where the stack holding ``address`` ends below: one spacing under the
        nearest learnt stack top above it (a frame deep in a 4 KiB kernel stack
        is not a window's length from the next stack), else the nesting window."""
        spacing = self.stack_spacing
        if spacing:
            above = [top for top in self._stack_tops if address < top <= address + spacing]
            if above:
                return min(above) - spacing
        return address - self._window()

    def _learn_stack_top(self, top: int) -> None:
        """Entries from ring 3 put their frame at the top of a kernel stack: the
        smallest distance between two tops bounds how deep one stack goes."""
        tops = self._stack_tops
        if top in tops or len(tops) >= MAX_STACK_TOPS:
            return
        gaps = [abs(top - other) for other in tops]
        tops.append(top)
        if gaps and (self.stack_spacing is None or min(gaps) < self.stack_spacing):
            self.stack_spacing = min(gaps)

    def _forget(self, run: HandlerRun) -> None:
        self.open.pop(run.sequence, None)
        key = context_key(run.entry)
        same = self._by_context.get(key)
        if same is not None:
            if run in same:
                same.remove(run)
            if not same:
                del self._by_context[key]
        for chain in self.running.values():
            if run in chain:
                chain.remove(run)

    def _drop(self, run: HandlerRun, why: str) -> None:
        self._forget(run)
        self._dropped.append((run.space, context_key(run.entry)))
        run.lost = why
        self._vector_stats(run).unpaired[why] += 1
        for observer in self.observers:
            observer(run)

    def _vector_stats(self, run: HandlerRun) -> VectorStats:
        stats = self.stats.get(run.vectors)
        if stats is None:       # not setdefault: that would build a VectorStats every run
            stats = self.stats[run.vectors] = VectorStats()
        return stats

    # -- exit ---------------------------------------------------------------------
    def match(self, cpu: int, observation: ExitObservation, cr3: Optional[int] = None,
              read=None) -> Tuple[Optional[HandlerRun], str]:
        """(the open run this exit belongs to, how) or (None, why not)."""
        space = address_space(cr3)
        rsp = observation.sp
        if observation.kind == "iret":
            return self._match_iret(cpu, observation, space, read)
        if observation.kind == "return":
            # back at the interrupted instruction, with the interrupted RSP (or
            # the frame's CS slot: `ret` used): only a run that entered from there
            for run in reversed(list(self.open.values())):
                if run.entry.rip == observation.address and _same_space(run.space, space) and \
                        rsp in (run.entry.rsp, run.frame.rip_slot + run.frame.slot):
                    return run, BY_RETURN
            return None, NO_CONTEXT
        # a `ret` (or sysret...) exit: a handler returning through its own frame
        found = [r for r in self._on_cpu(cpu, space) if r.frame.rip_slot == rsp]
        if len(found) == 1:
            return found[0], BY_RETURN
        return None, AMBIGUOUS if found else NO_CONTEXT

    def _on_cpu(self, cpu, space):
        return [r for r in self.open.values() if r.cpu == cpu and _same_space(r.space, space)]

    def _frame_owners(self, cpu, space, rsp) -> List[HandlerRun]:
        """Open runs whose frame an iret at ``rsp`` pops: those on this CPU, or,
        if none and the address space is known, those of that address space that
        entered on another CPU and were switched out there (the frame's address
        is the same memory on every CPU)."""
        own = [r for r in self._on_cpu(cpu, space) if r.frame.rip_slot == rsp]
        if not own and space is not None:
            own = [r for r in self.open.values() if r.cpu != cpu and r.space == space
                   and r.frame.rip_slot == rsp]
        return own

    def _match_iret(self, cpu, observation, space, read):
        popped = popped_context(observation)
        if popped is not None:
            same = self._by_context.get(popped, ())
            exact = [r for r in same if _same_space(r.space, space)]
            if not exact:
                exact = [r for r in same if _same_space(r.space, space, loose=True)]
                if exact and space is not None:
                    # a run of exactly this address space whose frame the iret pops is
                    # better evidence than a context in a space that only looks like
                    # this one's PTI twin: two processes' top-level tables side by side
                    own = self._frame_owners(cpu, space, observation.sp)
                    if len(own) == 1:
                        return own[0], BY_FRAME
            if len(exact) == 1:
                return exact[0], BY_CONTEXT
            if len(exact) > 1:
                return None, AMBIGUOUS
            if same and popped[1] & 3 == 0:
                # a kernel context (its stack is the same in every address space),
                # resumed after a switch of CR3 (lazy TLB): pair only if unique
                if len(same) == 1:
                    return same[0], BY_KERNEL_CONTEXT
                return None, AMBIGUOUS
        rsp = observation.sp
        mine = self._on_cpu(cpu, space)
        own = self._frame_owners(cpu, space, rsp)
        if len(own) == 1:
            return own[0], BY_FRAME
        if own:
            return None, AMBIGUOUS
        if read is None:
            return None, NO_CONTEXT
        # a broken handler: RSP off by an error code or a few words from a frame
        # that still holds exactly what the CPU pushed
        near = [r for r in mine if abs(rsp - r.frame.rip_slot) <= IMBALANCE_WINDOW
                and _frame_intact(r, read)]
        if len(near) == 1:
            return near[0], BY_BROKEN_FRAME
        return None, AMBIGUOUS if near else NO_CONTEXT

    def _no_entry(self, observation: ExitObservation, space: Optional[int]) -> bool:
        """Whether no run, open or dropped, could own this iret: it returns
        from something no traced gate entered (a syscall, a first start)."""
        popped = popped_context(observation)
        if popped is None:
            return False        # what it returns to is unknown: no evidence
        if popped in self._by_context:
            return False        # some run's very context, if in another address space
        to_kernel = popped[1] & 3 == 0
        for run in self.open.values():
            if to_kernel or _same_space(run.space, space, loose=True):
                return False    # its frame may have been moved and rewritten
        return not any(to_kernel or _same_space(dropped_space, space, loose=True)
                       for dropped_space, key in self._dropped if key == popped)

    def exit(self, cpu: int, observation: ExitObservation, cr3: Optional[int] = None,
             read=None, explain=None, untraced: bool = False) -> Optional[HandlerRun]:
        """Close the run this exit belongs to; None when it belongs to none.
        ``read(address, size)`` reads target memory (to check that a frame is
        intact); ``explain(run, names)`` says why changed registers changed
        (see gdbext.analysis.restored).  ``untraced``: handlers that are not
        traced may leave through this exit too (an exit no run owns is then
        counted apart, see NOT_TRACED)."""
        run, how = self.match(cpu, observation, cr3, read)
        if run is None:
            if observation.kind == "iret":
                # a `ret` or a passage at a resume point that matches no run is
                # ordinary code, not an exit; an iret always returns from something
                if how == NO_CONTEXT and self._no_entry(observation, address_space(cr3)):
                    self.exits_without_entry += 1
                elif how == NO_CONTEXT and untraced:
                    self.exits_not_traced += 1
                else:
                    self.unmatched[how] += 1
            return None
        self._forget(run)
        chain = self.running.get(cpu)
        if chain and observation.kind == "iret":
            popped = popped_context(observation)
            if popped is not None and popped[1] & 3:
                chain.clear()       # back to user mode: no handler runs on this CPU
        run.identity = how
        run.exit = observation
        run.exit_cpu = cpu
        regset = register_set(run.frame.bits)
        run.verdict = judge_exit(regset, run.frame, run.entry, run.gate_type,
                                 observation, run.enabled_interrupts_at,
                                 {"vector": run.vector, "cpu": cpu, "handler": run.handler},
                                 explain=(lambda names: explain(run, names)) if explain else None,
                                 migrated=cpu != run.cpu)
        _compact(run, regset)
        self._account(run)
        return run

    def _account(self, run: HandlerRun) -> None:
        """Counters per vector (per set of vectors when a shared handler hides which)."""
        self.completed.append(run)
        stats = self._vector_stats(run)
        if stats.first is None:
            stats.first = run.sequence
        stats.runs += run.repeats
        if run.depth > stats.max_depth:
            stats.max_depth = run.depth
        stats.last = run.sequence + run.repeats - 1
        verdict = run.verdict
        if verdict.unjudged:
            for reason in verdict.unjudged_reasons:
                stats.unjudged[reason] += run.repeats
        findings = verdict.findings
        if findings:
            stats.findings.update(f.rule for f in findings)
            digest = run.digest()
            self.finding_runs.append(digest)
            for finding in findings:
                self.first_findings.setdefault((run.vectors, finding.rule), digest)
        for observer in self.observers:
            observer(run)

    # -- queries ------------------------------------------------------------------
    def pending(self) -> List[HandlerRun]:
        return list(self.open.values())

    def active(self, cpu: int, rsp: int, cpl: int = 0) -> Optional[HandlerRun]:
        """The innermost run executing on ``cpu`` whose stack holds ``rsp``
        (none in user mode)."""
        if cpl != 0:
            return None
        return self._parent(self.running.get(cpu, []), rsp)

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
            self._by_context.clear()
            self.running.clear()
        self.completed.clear()
        self.stats.clear()
        self.finding_runs.clear()
        self.first_findings.clear()
        self.unmatched.clear()
        self.exits_without_entry = 0
        self.exits_not_traced = 0


def popped_context(observation: ExitObservation) -> Optional[Tuple[int, int, int, int, int]]:
    """The context an iret resumes (as context_key makes it), from the words
    at RSP; None when they were not readable."""
    slot = 8 if "rip" in observation.registers else 4
    values = unpack_words(observation.stack, slot)
    if len(values) < 3:
        return None
    rip, cs, rflags = values[0], values[1] & 0xFFFF, values[2]
    if slot == 8 or (cs & 3) != observation.cpl:
        if len(values) < 5:
            return None
        return (rip, cs, rflags, values[3], values[4] & 0xFFFF)
    # 32-bit, same privilege: ESP is what follows the frame, SS is unchanged
    return (rip, cs, rflags, observation.sp + 3 * slot,
            observation.registers.get("ss", 0) & 0xFFFF)


def _frame_intact(run: HandlerRun, read) -> bool:
    """Whether the run's frame still holds the context the CPU pushed (but
    for RIP, which a fault fix-up advances)."""
    frame = run.frame
    words = 5 if frame.rsp is not None else 3
    try:
        data = read(frame.rip_slot, words * frame.slot)
    except Exception:       # an unreadable frame is no evidence
        return False
    if not data or len(data) < words * frame.slot:
        return False
    values = unpack_words(data[:words * frame.slot], frame.slot)
    found = (values[1] & 0xFFFF, values[2]) + \
        ((values[3], values[4] & 0xFFFF) if words == 5 else ())
    expected = (frame.cs & 0xFFFF, frame.rflags) + \
        ((frame.rsp, frame.ss & 0xFFFF) if words == 5 else ())
    return found == expected
