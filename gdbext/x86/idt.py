"""Decoding the IDT: gates in every CPU mode, reading the table from a target,
and folding runs of identical entries for display."""

import struct
from dataclasses import dataclass, replace
from typing import Iterable, List, Optional, Sequence, Tuple

from gdbext.errors import IdtNotLoaded
from gdbext.x86.vectors import NUM_VECTORS, Vector, vector
from gdbext.x86.cpu import CpuMode, CpuState

RESET_IDT_LIMIT = 0xFFFF

# Gate type field -> our name, per mode.  Anything else is an invalid gate that
# raises #GP when the vector is delivered.
_PROTECTED_TYPES = {0x5: "task", 0x6: "interrupt16", 0x7: "trap16",
                    0xE: "interrupt", 0xF: "trap"}
_LONG_TYPES = {0xE: "interrupt", 0xF: "trap"}


@dataclass(frozen=True)
class Gate:
    """One decoded IDT entry."""

    vector: int
    mode: CpuMode
    type: str                  # "interrupt", "trap", "task", "interrupt16", "trap16", "ivt", "invalid"
    type_code: int
    selector: int              # code segment (TSS selector for a task gate)
    handler: Optional[int]     # linear address of the handler; None for a task gate
    ist: int                   # IST index, 0 = none (long mode only)
    dpl: int
    present: bool
    raw: bytes
    symbol: Optional[str] = None

    @property
    def info(self) -> Vector:
        return vector(self.vector)

    @property
    def valid(self) -> bool:
        return self.present and self.type != "invalid"

    @property
    def clears_if(self) -> bool:
        """Interrupt gates clear RFLAGS.IF on entry; trap gates leave it."""
        return self.type in ("interrupt", "interrupt16")

    def same_target(self, other: "Gate") -> bool:
        """Equal in everything but the vector: what makes a foldable run."""
        return (self.type, self.selector, self.handler, self.ist, self.dpl, self.present) == \
            (other.type, other.selector, other.handler, other.ist, other.dpl, other.present)

    def same_target_but_handler(self, other: "Gate") -> bool:
        return (self.type, self.selector, self.ist, self.dpl, self.present) == \
            (other.type, other.selector, other.ist, other.dpl, other.present)

    def problems(self) -> List[str]:
        """Why delivering this vector would not reach a handler."""
        found = []
        if not self.present:
            found.append("not present: delivering it raises #NP")
        if self.type == "invalid":
            found.append(f"invalid gate type {self.type_code:#x}: delivering it raises #GP")
        if self.present and self.type != "ivt" and self.selector & ~3 == 0:
            found.append("null code selector: delivering it raises #GP")
        return found


def decode_gate(vector_number: int, raw: bytes, mode: CpuMode) -> Gate:
    """Decode one gate of ``mode.gate_size`` bytes."""
    if len(raw) != mode.gate_size:
        raise ValueError(f"a {mode.value}-mode gate is {mode.gate_size} bytes, got {len(raw)}")
    if mode is CpuMode.REAL:
        offset, segment = struct.unpack("<HH", raw)
        return Gate(vector_number, mode, "ivt", 0, segment, (segment << 4) + offset,
                    0, 0, True, bytes(raw))
    off_lo, selector, ist_byte, attrs, off_mid = struct.unpack_from("<HHBBH", raw)
    type_code = attrs & 0xF
    dpl = attrs >> 5 & 3
    present = bool(attrs & 0x80)
    if mode is CpuMode.LONG:
        off_hi = struct.unpack_from("<I", raw, 8)[0]
        handler = off_lo | off_mid << 16 | off_hi << 32
        kind = _LONG_TYPES.get(type_code, "invalid")
        return Gate(vector_number, mode, kind, type_code, selector, handler,
                    ist_byte & 7, dpl, present, bytes(raw))
    kind = _PROTECTED_TYPES.get(type_code, "invalid")
    handler = None if kind == "task" else off_lo | off_mid << 16
    return Gate(vector_number, mode, kind, type_code, selector, handler, 0, dpl,
                present, bytes(raw))


def entry_count(limit: int, mode: CpuMode) -> int:
    """How many whole gates fit under ``limit``, clamped to 256."""
    return min(NUM_VECTORS, (limit + 1) // mode.gate_size)


@dataclass(frozen=True)
class IdtView:
    """The requested part of one CPU's IDT."""

    cpu: CpuState
    gates: Tuple[Gate, ...]
    beyond_limit: Tuple[int, ...]   # requested vectors the limit does not cover

    @property
    def entries(self) -> int:
        return entry_count(self.cpu.idtr.limit, self.cpu.mode)


def check_loaded(cpu: CpuState) -> None:
    """Raise ``IdtNotLoaded`` when the CPU has no IDT worth decoding."""
    idtr = cpu.idtr
    if idtr is None:
        raise IdtNotLoaded(f"IDTR of CPU {cpu.cpu} is unknown")
    if cpu.mode is CpuMode.REAL and idtr.base == 0 and idtr.limit == RESET_IDT_LIMIT:
        raise IdtNotLoaded(
            f"IDT not loaded yet: CPU {cpu.cpu} is in real mode with IDTR at its reset "
            f"value (base 0x0, limit 0xffff); run until the kernel executes lidt")
    if entry_count(idtr.limit, cpu.mode) == 0:
        raise IdtNotLoaded(f"IDT not loaded yet: IDTR limit {idtr.limit:#x} holds no "
                           f"{cpu.mode.gate_size}-byte gate")


def read_idt(target, vectors: Optional[Sequence[int]] = None, cpu: Optional[CpuState] = None,
             symbols: bool = True) -> IdtView:
    """Read and decode ``vectors`` (default: all) from the target's current CPU
    (``cpu``: its state, when the caller read it already); ``symbols``: name
    each handler (a GDB lookup per distinct handler).

    The covered span is read in one memory access: a target round trip costs far
    more than the bytes.
    """
    cpu = cpu or target.cpu_state()
    check_loaded(cpu)
    count = entry_count(cpu.idtr.limit, cpu.mode)
    # "All" means all the table holds; vectors named explicitly are reported
    # even when the limit does not cover them.
    wanted = sorted(set(range(count) if vectors is None else vectors))
    inside = [v for v in wanted if v < count]
    beyond = tuple(v for v in wanted if v >= count)
    gates: List[Gate] = []
    if inside:
        size = cpu.mode.gate_size
        first, last = inside[0], inside[-1]
        span = target.read_memory(cpu.idtr.base + first * size, (last - first + 1) * size)
        names = {}
        for v in inside:
            gate = decode_gate(v, span[(v - first) * size:(v - first + 1) * size], cpu.mode)
            if symbols and gate.handler is not None:
                if gate.handler not in names:
                    names[gate.handler] = target.symbolize(gate.handler)
                gate = replace(gate, symbol=names[gate.handler])
            gates.append(gate)
    return IdtView(cpu, tuple(gates), beyond)


MAX_STUB_STRIDE = 64     # bytes between the entry stubs of a stub array


def fold_runs(gates: Iterable[Gate]) -> List[Tuple[Gate, Gate]]:
    """Group consecutive vectors into runs: [(first, last), ...].

    A run is either identical gates, or a stub array: gates equal but for
    handlers a fixed number of bytes apart (Linux's irq_entries_start, one
    small stub per vector), at least three long and with no names of their own
    to hide.  A gate that breaks the pattern stands alone, which is what makes
    it visible."""
    runs: List[List[Gate]] = []
    for gate in gates:
        if runs and _continues(runs[-1], gate):
            runs[-1].append(gate)
        else:
            runs.append([gate])
    folded: List[Tuple[Gate, Gate]] = []
    for run in runs:
        if len(run) == 2 and stub_stride(run[0], run[1]):
            folded += [(run[0], run[0]), (run[1], run[1])]     # two stubs are not an array
        else:
            folded.append((run[0], run[-1]))
    return folded


def stub_stride(first: Gate, last: Gate) -> int:
    """Bytes between consecutive handlers of a run (0: identical gates)."""
    if first.vector == last.vector or first.handler is None or last.handler is None:
        return 0
    return (last.handler - first.handler) // (last.vector - first.vector)


def _continues(run: List[Gate], gate: Gate) -> bool:
    first, last = run[0], run[-1]
    if gate.vector != last.vector + 1:
        return False
    if gate.same_target(first):
        return len(run) == 1 or run[1].same_target(first)
    if not gate.same_target_but_handler(first) or gate.handler is None or last.handler is None:
        return False
    stride = gate.handler - last.handler
    if not 0 < stride <= MAX_STUB_STRIDE or not _unnamed_alike(first, gate):
        return False
    return len(run) == 1 or stub_stride(first, last) == stride


def _unnamed_alike(first: Gate, gate: Gate) -> bool:
    """Stubs fold only when folding hides no names: none, or one base symbol."""
    if not first.symbol and not gate.symbol:
        return True
    base = lambda symbol: (symbol or "").split("+")[0]
    return base(first.symbol) == base(gate.symbol) != ""


def handler_vectors(view: IdtView, handler: int) -> List[int]:
    """Every vector whose gate points at ``handler`` (shared handlers)."""
    return [g.vector for g in view.gates if g.valid and g.handler == handler]

