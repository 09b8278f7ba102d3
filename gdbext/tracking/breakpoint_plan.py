"""Where to break for a set of vectors: handler addresses from the IDT, and
why the others cannot be armed yet (pending); and when to arm each exit
breakpoint of the handlers a trace follows (exit_strategy)."""

import struct
from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping, Optional, Set, Tuple

from gdbext.errors import TargetMemoryError
from gdbext.x86.gdt import Gdt
from gdbext.x86.idt import IdtView

TSS32_EIP = 0x20


@dataclass
class Plan:
    armed: Dict[int, Tuple[int, ...]] = field(default_factory=dict)   # address -> vectors
    pending: Dict[int, str] = field(default_factory=dict)             # vector -> why


def task_gate_entry(target, gdt: Optional[Gdt], selector: int) -> Optional[int]:
    """EIP of the 32-bit TSS a task gate switches to: where its handler starts."""
    if gdt is None:
        return None
    desc = gdt.descriptor(selector)
    if desc is None or not desc.is_system or desc.type not in (0x9, 0xB):
        return None
    try:
        return struct.unpack("<I", target.read_memory(desc.base + TSS32_EIP, 4))[0]
    except TargetMemoryError:
        return None


def plan(view: Optional[IdtView], vectors: Iterable[int], unavailable: str = "",
         task_entry=lambda selector: None) -> Plan:
    """Group ``vectors`` by handler address; ``unavailable`` explains a missing view."""
    result = Plan()
    wanted = sorted(set(vectors))
    if view is None:
        for v in wanted:
            result.pending[v] = unavailable or "IDT unavailable"
        return result
    gates = {g.vector: g for g in view.gates}
    by_address: Dict[int, list] = {}
    for v in wanted:
        gate = gates.get(v)
        if gate is None:
            result.pending[v] = "beyond the IDT limit"
        elif not gate.present:
            result.pending[v] = "gate not present"
        elif gate.type == "invalid":
            result.pending[v] = f"invalid gate type {gate.type_code:#x}"
        else:
            address = gate.handler if gate.handler is not None else task_entry(gate.selector)
            if address is None:
                result.pending[v] = f"task gate {gate.selector:#06x}: TSS unreadable"
            else:
                by_address.setdefault(address, []).append(v)
    result.armed = {a: tuple(vs) for a, vs in by_address.items()}
    return result


@dataclass(frozen=True)
class VectorArming:
    """How one vector is armed: on a breakpoint, or pending with the reason."""

    vector: int
    mode: str                        # "break", "watch" or "record"
    hardware: bool
    condition: Optional[str]
    breakpoint: Optional[int] = None   # GDB breakpoint number, when armed
    address: Optional[int] = None      # the handler it is armed at
    symbol: Optional[str] = None
    reason: Optional[str] = None       # why it is pending
    hardware_reason: Optional[str] = None   # why hardware: "KVM", "--hw", "next to a breakpoint"

    @property
    def armed(self) -> bool:
        return self.breakpoint is not None


# An exit breakpoint that stopped this many times for no traced run, and more
# often than for one, sits on a path the rest of the kernel takes too.
OUTSIDE_EVIDENCE = 16


@dataclass(frozen=True)
class ExitStrategy:
    """When an exit breakpoint is in the target: always, or only while a run
    of a handler that exits there is open.  Every stop costs the guest far
    more than its packets (QEMU flushes its translated code at each one:
    ~150 ms of Linux's progress per hit measured, bench/linux_progress.py),
    so an exit that other code takes too (Linux's one `iretq`, xv6's
    `trapret`) is armed only while it can close a run."""

    while_open: bool
    reason: str


def exit_strategy(vectors: Iterable[int], handlers: int, inside: int, outside: int,
                  previous: Optional[str] = None) -> ExitStrategy:
    """The strategy of one exit: ``vectors`` and ``handlers`` (traced) exit
    there; it closed ``inside`` runs and stopped ``outside`` times for none.
    ``previous``: why it is already armed only while a run is open (it stays
    so: the evidence does not go away)."""
    if previous is not None:
        return ExitStrategy(True, previous)
    if handlers > 1:
        return ExitStrategy(True, f"shared by {handlers} traced handlers "
                                  f"({len(set(vectors))} vectors)")
    if outside >= OUTSIDE_EVIDENCE and outside > inside:
        return ExitStrategy(True, f"taken outside traced runs ({outside} stops, {inside} runs "
                                  "closed)")
    return ExitStrategy(False, "taken by traced runs only" if inside or outside else
                        "no stop yet")


def exits_to_arm(while_open: Iterable[int], open_handlers: Iterable[int],
                 exits_of: Mapping[int, Iterable[int]]) -> Set[int]:
    """Of the exits armed only while a run is open, those an open run of
    ``open_handlers`` may leave through (``exits_of``: handler -> its exits,
    None when the analysis did not find them all: its run may leave through
    any of them)."""
    wanted = set(while_open)
    needed = set()
    for handler in set(open_handlers):
        exits = exits_of.get(handler)
        if exits is None:
            return wanted
        needed.update(a for a in exits if a in wanted)
    return needed


def tail_cut(successors: Mapping[int, Iterable[int]], entry: int, shared: Set[int],
             calls: Set[int]) -> Optional[Set[int]]:
    """Where a handler's own code hands over to code other handlers run too
    (Linux's `jmp error_return` after exc_page_fault): the handler's
    instructions (``successors``: address -> where execution goes next) that
    are not ``shared`` and lead into shared code.  Every path from the entry
    to a shared exit passes one, so a shared exit need only be armed from
    there.  None when there is no such point worth a breakpoint: the entry
    is shared already, or the shared part the handler reaches makes a call
    (an IRQ stub's common code runs the whole handler: no shorter than from
    the entry)."""
    if entry in shared:
        return None
    tail = {a for a in successors if a in shared}
    cut = {a for a, nexts in successors.items()
           if a not in shared and any(n in shared for n in nexts)}
    if not cut or tail & calls:
        return None
    return cut


@dataclass(frozen=True)
class ExitArming:
    """One exit breakpoint of the traced handlers, for info isr-breakpoints."""

    address: int
    kind: str                      # "iret", "ret", ...
    vectors: Tuple[int, ...]       # traced vectors whose handlers exit there
    while_open: bool
    reason: str
    armed: bool                    # in the target now
    runs: int = 0                  # runs it closed
    outside: int = 0               # stops it took that closed no traced run
    symbol: Optional[str] = None
    cuts: Tuple[int, ...] = ()     # armed from these instructions on (see tail_cut)


@dataclass(frozen=True)
class ArmingReport:
    """What isr-break, isr-watch, isr-delete and info isr-breakpoints report."""

    vectors: Tuple[VectorArming, ...]
    deleted: Tuple[int, ...] = ()
    exits: Tuple[ExitArming, ...] = ()
