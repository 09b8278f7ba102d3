"""`isr-saved`: the registers a handler keeps on its stack, found by executing
its code abstractly from the entry to where the CPU is now, then read back
from the live stack.

Where the handler's stack is not the entry stack any more (Linux copies
pt_regs from the per-CPU entry stack to the task stack and switches to it),
the slots are located from the live stack: the return address of the
handler's call into the C function below RSP tells which depth RSP was at
the call, and the copied interrupt frame (its RIP equal to the interrupted
RIP) proves the copy before any slot is shown there.
"""

import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from gdbext.errors import IsrError, TargetMemoryError
from gdbext.analysis.stack_machine import SWITCHED, MachineState
from gdbext.analysis.static_check import Analyzer

SEARCH_BYTES = 16 * 1024        # how far above RSP a return address into the handler is sought


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
    notes: Tuple[str, ...] = ()      # where the slots were found when the stack moved


@dataclass
class _Where:
    """The abstract state at the CPU's position, and how depths map to addresses."""
    state: MachineState
    via_call: Optional[int]
    rsp_depth: Optional[int] = None     # the depth (or mirrored depth) live RSP stands at
    rsp: Optional[int] = None           # ... and its address
    hop: Optional[int] = None           # the stack pointer found at the top of RSP's own stack


def _stack_words(read, sp: int, slot: int) -> Tuple[Dict[int, int], Optional[int]]:
    """({value: lowest address} of the words from RSP up, the last word when
    the stack ends in unreadable memory (a guard page) before the search
    limit: where Linux keeps the previous RSP at the top of an IRQ stack)."""
    fmt = "<Q" if slot == 8 else "<I"
    found: Dict[int, int] = {}
    last = None
    address = sp
    while address < sp + SEARCH_BYTES:
        size = min(0x1000 - address % 0x1000, sp + SEARCH_BYTES - address)
        try:
            data = read(address, size)
        except TargetMemoryError:
            return found, last
        for i in range(0, len(data) - slot + 1, slot):
            last = struct.unpack_from(fmt, data, i)[0]
            found.setdefault(last, address + i)
        address += size
    return found, None


def _handler_calls(flow, on_stack):
    """The handler's own calls whose return address is on the stack, the
    innermost (nearest RSP: C code sits below it) first."""
    calls = [insn for insn in flow.insns.values()
             if insn.mnemonic.startswith("call") and insn.next in on_stack
             and insn.target not in flow.followed]
    return sorted(calls, key=lambda i: on_stack[i.next])


def _position(analyzer: Analyzer, flow, states, frame: int, rip: int, sp: int, read) -> _Where:
    """The handler's abstract state where the CPU is: at RIP with the live
    stack depth, or at the call whose return address is on the live stack."""
    slot = analyzer.machine.slot
    depth = frame - sp
    here = states.get(rip, [])
    for state in here:
        if state.depth == depth:
            return _Where(state, None, depth, sp)
    for state in here:
        if state.depth is None and state.relocated is not None:
            return _Where(state, None, state.relocated[0], sp)
    if here:
        return _Where(here[0], None)
    on_stack, saved_sp = _stack_words(read, sp, slot)
    calls = _handler_calls(flow, on_stack)
    hop = None
    if not calls and saved_sp is not None and saved_sp != sp:
        # RSP is on a stack of its own (Linux runs IRQ handlers on the per-CPU
        # IRQ stack, the previous RSP saved in its top word): search there
        on_stack, _ = _stack_words(read, saved_sp, slot)
        calls = _handler_calls(flow, on_stack)
        hop = saved_sp
    for insn in calls:
        at = on_stack[insn.next]
        candidates = states.get(insn.address, [])
        for state in candidates:
            if state.depth is not None and frame - state.depth - slot == at:
                return _Where(state, insn.address, state.depth, at + slot, hop)
        for state in candidates:
            if state.depth is None and state.relocated is not None:
                return _Where(state, insn.address, state.relocated[0], at + slot, hop)
        if candidates:
            return _Where(candidates[0], insn.address, hop=hop)
    raise IsrError(f"RIP {rip:#x} is neither in the handler's code at {flow.entry:#x} nor below "
                   f"one of its calls on the stack (searched {SEARCH_BYTES // 1024} KiB above "
                   f"RSP {sp:#x}): cannot tell what it saved")


def saved_registers(read, bits: int, handler: int, frame: int, rip: int, sp: int,
                    interrupted: Dict[str, int], now: Dict[str, int],
                    analyzer: Optional[Analyzer] = None, error_code: Optional[bool] = None,
                    interrupted_rip: Optional[int] = None) -> SavedView:
    analyzer = analyzer or Analyzer(read, bits)
    flow, states = analyzer.states_at(handler, error_code)
    where = _position(analyzer, flow, states, frame, rip, sp, read)
    state = where.state
    slot = analyzer.machine.slot
    fmt = "<Q" if slot == 8 else "<I"
    notes: List[str] = []
    if where.hop is not None:
        notes.append(f"RSP {sp:#x} is on a stack of its own (an IRQ stack): the handler's call "
                     f"was found on the stack whose pointer {where.hop:#x} is saved at its top")

    def word(address):
        try:
            return struct.unpack(fmt, read(address, slot))[0]
        except TargetMemoryError:
            return None

    # depth -> address on the stack the slots are on now
    switched = state.depth is None and state.relocated is not None and where.rsp is not None
    mirrored = False
    if switched:
        mirror = where.rsp + where.rsp_depth
        rip_depth = -slot if error_code else 0
        copied_rip = word(mirror - rip_depth)
        mirrored = interrupted_rip is not None and copied_rip == interrupted_rip
        insn = flow.insns.get(state.relocated[1])
        switch = f"`{analyzer.text(insn)}` at {state.relocated[1]:#x}" if insn else \
            f"{state.relocated[1]:#x}"
        if mirrored and mirror == frame:
            pass        # the "other" stack was this one (Linux's error_entry from the kernel)
        elif mirrored:
            notes.append(f"the handler switched stacks at {switch} to a copy of its entry "
                         f"stack (the interrupt frame is copied at {mirror - rip_depth:#x}, "
                         f"RIP {copied_rip:#x} as interrupted): the saved registers are shown "
                         f"in the copy, frame offsets as on the entry stack")
        else:
            notes.append(f"the handler switched stacks at {switch}; the registers it saved "
                         f"before are shown where it saved them, on the entry stack below the "
                         f"frame at {frame:#x} (no copy of the frame was found on the new stack)")
    slots: List[SavedSlot] = []
    holding = set()
    for depth, token in state.slots:
        if token[0] != "orig" or depth <= 0:
            continue
        if depth >= SWITCHED // 2:       # pushed after the switch, on the new stack
            if not switched:
                continue
            address = where.rsp + where.rsp_depth - (depth - SWITCHED)
            offset = -(depth - SWITCHED)
        elif mirrored:
            address = where.rsp + where.rsp_depth - depth
            offset = -depth
        else:
            address = frame - depth
            offset = -depth
        insn = flow.insns.get(token[2])
        slots.append(SavedSlot(address, offset, token[1], word(address), interrupted.get(token[1]),
                               token[2], analyzer.text(insn) if insn else "", slot))
        holding.add(token[1])
    if state.simd_saved is not None:
        insn = flow.insns.get(state.simd_saved)
        depth = state.simd_save_depth
        slots.append(SavedSlot(frame - depth if depth is not None else 0,
                               -depth if depth is not None else 0, "x87/SSE state", None, None,
                               state.simd_saved, analyzer.text(insn) if insn else "", 512))
    lost = tuple((name, value, now[name]) for name, value in interrupted.items()
                 if name in now and now[name] != value and name not in holding
                 and name in analyzer.machine.gprs + ("ds", "es", "fs", "gs"))
    return SavedView(handler, frame, rip, where.via_call,
                     tuple(sorted(slots, key=lambda s: s.address)), lost, tuple(notes))
