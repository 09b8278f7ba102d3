"""The per-interrupt entry path: what a handler breakpoint needs to record an
entry, read as cheaply as the target allows.

A handler breakpoint fires on every interrupt, so its work is the debugger's
interrupt latency.  What does not change from one interrupt to the next --
the CPU mode, IDTR and GDTR (QEMU's monitor), the decoded IDT, the GDT, which
vectors lead to which handler, which code pages are mapped -- is read once
per *view* and kept in an ``EntryCache``.  A view is dropped at every real
stop, after every `lidt` the kernel executes and after every write to the
watched IDT (gdbext/gdbside/arming.py re-reads the table there), and when the
``set isr`` settings change.  The *IDT generation* counts how often the
table's contents actually changed; analyses keyed by handler address (exit
sites) stay valid within one generation.

At an entry the frame is then decoded from the registers GDB already holds
and one read of the frame's bytes: no monitor command, no IDT or GDT read,
no symbol lookup, no disassembly, no page walk.  The full ``FrameReport``
(frame_report.locate) is built only when something is shown.
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Set, Tuple

from gdbext.errors import IdtNotLoaded, IsrError, TargetMemoryError
from gdbext.decode.frame import FrameContext, InterruptFrame, decode_frame
from gdbext.x86.gdt import Gdt
from gdbext.x86.idt import IdtView, read_idt
from gdbext.x86.vectors import format_vector_list
from gdbext.x86.cpu import CpuMode, CpuState

PAGE_SHIFT = 12
# Decoded frames remembered per view: an interrupt that arrives with the same
# frame bytes at the same place decodes the same (the idle loop, a polling
# loop); the memo is bounded and dropped with its view.
MAX_REMEMBERED_FRAMES = 256
# The largest frame either layout may need: error code + RIP CS RFLAGS RSP SS.
FRAME_WORDS = 6


@dataclass(frozen=True)
class HandlerGates:
    """The gates that lead to one handler address."""

    vectors: Tuple[int, ...]
    gate_type: Optional[str]     # when all of them agree
    ist: int                     # when all of them agree, else 0
    task_only: bool = False      # reached through task gates only: no frame is pushed
    selector: int = 0            # the TSS selector of the first task gate


@dataclass
class CpuView:
    """One CPU's tables as read at one moment."""

    cpu: CpuState
    view: Optional[IdtView]
    gdt: Optional[Gdt]
    handlers: Dict[int, HandlerGates]
    settings: tuple = ()
    mapped_pages: Set[int] = field(default_factory=set)
    frames: Dict[tuple, "Entry"] = field(default_factory=dict)   # see decode_entry
    reread: bool = False         # read again because a handler was missing from it

    @property
    def bits(self) -> int:
        return 64 if self.cpu.mode is CpuMode.LONG else 32

    def is_mapped(self, target, address: int) -> bool:
        """Whether ``address`` is readable; a page found mapped stays so for the view."""
        page = address >> PAGE_SHIFT
        if page in self.mapped_pages:
            return True
        if target.is_mapped(address):
            self.mapped_pages.add(page)
            return True
        return False


def handler_gates(view: Optional[IdtView], task_entry=None) -> Dict[int, HandlerGates]:
    """Handler address -> the gates leading there (task gates through their TSS's EIP)."""
    found: Dict[int, list] = {}
    if view is None:
        return {}
    for gate in view.gates:
        if not gate.valid:
            continue
        address = gate.handler
        if address is None and gate.type == "task" and task_entry is not None:
            address = task_entry(gate.selector)
        if address is not None:
            found.setdefault(address, []).append(gate)
    result = {}
    for address, gates in found.items():
        types = {g.type for g in gates}
        ists = {g.ist for g in gates}
        result[address] = HandlerGates(
            tuple(g.vector for g in gates), types.pop() if len(types) == 1 else None,
            ists.pop() if len(ists) == 1 else 0,
            task_only=all(g.type == "task" for g in gates), selector=gates[0].selector)
    return result


def _fingerprint(view: Optional[IdtView], gdt: Optional[Gdt]):
    if view is None:
        return None
    cpu = view.cpu
    return (cpu.mode, cpu.idtr, cpu.gdtr, tuple(g.raw for g in view.gates),
            gdt.data if gdt is not None else None)


class EntryCache:
    """Per-CPU ``CpuView``s, valid until ``invalidate``; ``generation`` counts
    changes of the tables' contents."""

    def __init__(self):
        self.generation = 0
        self.reads = 0               # how often a view was read from the target
        self._views: Dict[int, CpuView] = {}
        self._fingerprints: Dict[int, object] = {}

    def invalidate(self) -> None:
        self._views.clear()

    def store(self, view: Optional[IdtView], gdt: Optional[Gdt], task_entry=None,
              settings: tuple = (), cpu: Optional[CpuState] = None) -> CpuView:
        """Keep what was just read for ``view.cpu`` (or ``cpu`` when the IDT is
        not loaded); bump the generation when the tables changed."""
        state = view.cpu if view is not None else cpu
        entry = CpuView(state, view, gdt, handler_gates(view, task_entry), settings)
        fingerprint = _fingerprint(view, gdt)
        if self._fingerprints.get(state.cpu, object()) != fingerprint:
            self.generation += 1
            self._fingerprints[state.cpu] = fingerprint
        self._views[state.cpu] = entry
        return entry

    def view(self, target, cpu: int, settings: tuple = (), task_entry=None) -> CpuView:
        """The view of ``cpu`` (the target's selected CPU), read when missing."""
        entry = self._views.get(cpu)
        if entry is not None and entry.settings == settings:
            return entry
        return self.read(target, settings, task_entry)

    def read(self, target, settings: tuple = (), task_entry=None) -> CpuView:
        """Read the selected CPU's tables now (monitor, IDT, GDT)."""
        self.reads += 1
        try:
            view = read_idt(target, symbols=False)     # entries need no handler names
        except IdtNotLoaded:
            state = target.cpu_state()
            return self.store(None, Gdt.read(target, state.gdtr), settings=settings, cpu=state)
        gdt = Gdt.read(target, view.cpu.gdtr)
        entry_of = (lambda selector: task_entry(target, gdt, selector)) if task_entry else None
        return self.store(view, gdt, entry_of, settings)


class FrameBytes:
    """A reader that fetches the largest frame in one access and serves both
    layouts' reads from it; where that access fails (a frame at the very top
    of a stack) each read goes to the target, for exactly its own bytes."""

    def __init__(self, read: Callable[[int, int], bytes], address: int, size: int):
        self._read = read
        self.address = address
        try:
            self.data = read(address, size)
        except TargetMemoryError:
            self.data = b""

    def __call__(self, address: int, size: int) -> bytes:
        offset = address - self.address
        if 0 <= offset and offset + size <= len(self.data):
            return self.data[offset:offset + size]
        return self._read(address, size)


@dataclass(frozen=True)
class Entry:
    """What a handler breakpoint decoded at one entry."""

    cpu: int
    handler: int
    vectors: Tuple[int, ...]
    gate_type: Optional[str]
    frame: InterruptFrame

    @property
    def vector(self) -> Optional[int]:
        return self.vectors[0] if len(self.vectors) == 1 else None


def task_gate_problem(vectors, selector: int) -> str:
    return (f"vector {format_vector_list(vectors)} is delivered through a task gate "
            f"(TSS {selector:#06x}): the CPU pushes no interrupt frame; "
            f"the interrupted context is in the previous task's TSS")


def decode_entry(target, view: CpuView, handler: int, sp: int, cs: int) -> Entry:
    """The entry at ``handler`` with stack pointer ``sp`` and (live) ``cs``.

    Raises ``IsrError`` when ``handler`` is no handler in ``view`` (the caller
    re-reads the view once) or when no plausible frame is at ``sp``.
    """
    gates = view.handlers.get(handler)
    if gates is None:
        raise IsrError(f"{handler:#x} is no handler in the IDT of CPU {view.cpu.cpu}")
    if gates.task_only:
        raise IsrError(task_gate_problem(gates.vectors, gates.selector))
    bits = view.bits
    slot = bits // 8
    data = FrameBytes(target.read_memory, sp, FRAME_WORDS * slot)
    key = (handler, sp, cs & 3, data.data) if data.data else None
    found = view.frames.get(key) if key is not None else None
    if found is not None:
        return found        # the same entry as one decoded before (the Entry is frozen)
    ctx = FrameContext(data, lambda address: view.is_mapped(target, address), view.gdt,
                       handler_cpl=cs & 3, gate_ist=gates.ist,
                       long_mode=view.cpu.mode is CpuMode.LONG,
                       cr2=lambda: target.registers(("cr2",), optional=True).get("cr2"))
    single = gates.vectors[0] if len(gates.vectors) == 1 else None
    frame = decode_frame(ctx, sp, bits, vector=single)
    entry = Entry(view.cpu.cpu, handler, gates.vectors, gates.gate_type, frame)
    if key is not None:
        if len(view.frames) >= MAX_REMEMBERED_FRAMES:
            view.frames.clear()
        view.frames[key] = entry
    return entry
