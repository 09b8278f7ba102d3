"""Where to break for a set of vectors: handler addresses from the IDT, and
why the others cannot be armed yet (pending)."""

import struct
from dataclasses import dataclass, field
from typing import Dict, Iterable, Optional, Tuple

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


@dataclass(frozen=True)
class ArmingReport:
    """What isr-break, isr-watch, isr-delete and info isr-breakpoints report."""

    vectors: Tuple[VectorArming, ...]
    deleted: Tuple[int, ...] = ()
