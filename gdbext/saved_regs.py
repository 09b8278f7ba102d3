"""`isr-saved`: the registers a handler keeps on its stack, found by executing
its code abstractly from the entry to where the CPU is now, then read back
from the live stack."""

import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .errors import IsrError, TargetMemoryError
from .static_check import Analyzer


@dataclass(frozen=True)
class SavedSlot:
    address: int             # where on the stack
    frame_offset: int        # relative to the interrupt frame (negative: below it)
    register: str            # "rbx", or "x87/SSE state" for an fxsave/xsave area
    value: Optional[int]     # what the slot holds now
    interrupted: Optional[int]   # the register's value in the interrupted context
    saved_by: int            # the instruction that stored it
    instruction: str
    size: int = 8

    @property
    def matches(self) -> Optional[bool]:
        if self.value is None or self.interrupted is None:
            return None
        return self.value == self.interrupted


@dataclass(frozen=True)
class SavedView:
    handler: int
    frame: int                       # interrupt frame address
    rip: int
    via_call: Optional[int]          # the handler's call site when RIP is in a callee
    slots: Tuple[SavedSlot, ...]
    lost: Tuple[Tuple[str, int, int], ...]   # (register, interrupted value, now)


def _choose_state(analyzer: Analyzer, handler: int, frame: int, rip: int, sp: int, read):
    """The handler's abstract state where the CPU is: at RIP with the live
    stack depth, or at the call whose return address is on the live stack."""
    code, states = analyzer.states_at(handler)
    depth = frame - sp
    for state in states.get(rip, []):
        if state.depth == depth:
            return state, None, code
    if rip in states and states[rip]:
        return states[rip][0], None, code
    slot = analyzer.machine.slot
    fmt = "<Q" if slot == 8 else "<I"
    try:
        stack = read(sp, max(0, frame - sp))
    except TargetMemoryError:
        stack = b""
    on_stack = {struct.unpack_from(fmt, stack, i)[0]: sp + i
                for i in range(0, len(stack) - slot + 1, slot)}
    calls = [insn for insn in code.insns.values()
             if insn.mnemonic.startswith("call") and insn.next in on_stack]
    # the outermost: the handler's own call, nearest its frame
    for insn in sorted(calls, key=lambda i: -on_stack[i.next]):
        candidates = states.get(insn.address, [])
        for state in candidates:
            if state.depth is not None and frame - state.depth - slot == on_stack[insn.next]:
                return state, insn.address, code
        if candidates:
            return candidates[0], insn.address, code
    raise IsrError(f"RIP {rip:#x} is neither in the handler's code at {handler:#x} nor below "
                   f"one of its calls on the stack: cannot tell what it saved")


def saved_registers(read, bits: int, handler: int, frame: int, rip: int, sp: int,
                    interrupted: Dict[str, int], now: Dict[str, int],
                    analyzer: Optional[Analyzer] = None) -> SavedView:
    analyzer = analyzer or Analyzer(read, bits)
    state, via_call, code = _choose_state(analyzer, handler, frame, rip, sp, read)
    slot = analyzer.machine.slot
    fmt = "<Q" if slot == 8 else "<I"
    slots: List[SavedSlot] = []
    holding = set()
    for depth, token in state.slots:
        if token[0] != "orig" or depth <= 0:
            continue
        address = frame - depth
        try:
            value = struct.unpack(fmt, read(address, slot))[0]
        except TargetMemoryError:
            value = None
        insn = code.insns.get(token[2])
        slots.append(SavedSlot(address, -depth, token[1], value, interrupted.get(token[1]),
                               token[2], analyzer.text(insn) if insn else "", slot))
        holding.add(token[1])
    if state.simd_saved is not None:
        insn = code.insns.get(state.simd_saved)
        depth = state.simd_save_depth
        slots.append(SavedSlot(frame - depth if depth is not None else 0,
                               -depth if depth is not None else 0, "x87/SSE state", None, None,
                               state.simd_saved, analyzer.text(insn) if insn else "", 512))
    lost = tuple((name, value, now[name]) for name, value in interrupted.items()
                 if name in now and now[name] != value and name not in holding
                 and name in analyzer.machine.gprs + ("ds", "es", "fs", "gs"))
    return SavedView(handler, frame, rip, via_call,
                     tuple(sorted(slots, key=lambda s: s.address)), lost)
