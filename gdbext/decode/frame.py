"""The interrupt stack frame: decoded and validated, never trusted.

At handler entry the CPU has pushed, lowest address first:

  64-bit:                 [error code] RIP CS RFLAGS RSP SS       (8 bytes each, always)
  32-bit, same privilege: [error code] EIP CS EFLAGS              (4 bytes each)
  32-bit, from ring > 0:  [error code] EIP CS EFLAGS ESP SS

Whether an error code is there depends on how the vector was raised (never for
``int N`` or external interrupts), so both layouts are validated against the
GDT, the RFLAGS reserved bits and mapped code, and the one that holds wins.
Only the frame's own bytes are read: a frame at the top of a stack is followed
by unmapped memory.
"""

import struct
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from gdbext.errors import IsrError, TargetMemoryError
from gdbext.x86.gdt import Gdt
from gdbext.x86.vectors import vector as vector_info
from gdbext.x86.cpu import Selector

RFLAGS_FIXED_ONE = 1 << 1
RFLAGS_RESERVED_64 = (1 << 3) | (1 << 5) | (1 << 15) | (~0 << 22 & (2**64 - 1))
RFLAGS_RESERVED_32 = (1 << 3) | (1 << 5) | (1 << 15) | (~0 << 22 & 0xFFFFFFFF)
RFLAGS_VM = 1 << 17

RFLAGS_BITS = [
    (0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"),
    (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"), (17, "VM"), (18, "AC"), (19, "VIF"),
    (20, "VIP"), (21, "ID"),
]


def rflags_names(value: int) -> List[str]:
    """Set flags by name, plus IOPL: ["IF", "ZF", "IOPL=0"]."""
    names = [name for bit, name in RFLAGS_BITS if value >> bit & 1]
    return names + [f"IOPL={value >> 12 & 3}"]


class NoPlausibleFrame(IsrError):
    def __init__(self, address: int, reasons: List[str]):
        self.address = address
        self.reasons = reasons
        super().__init__(f"no plausible interrupt frame at {address:#x}: " + "; ".join(reasons))


@dataclass(frozen=True)
class InterruptFrame:
    address: int
    bits: int                       # 64 or 32
    has_error_code: bool
    error_code: Optional[int]
    rip: int
    cs: int
    rflags: int
    rsp: Optional[int]              # None: 32-bit frame without privilege change
    ss: Optional[int]
    handler_cpl: int
    stack_switch: Optional[str]     # "IST1", "RSP0", "ESP0" or None
    alignment_padding: Optional[int]  # bytes the CPU skipped to align (64-bit, same stack)
    notes: Tuple[str, ...] = ()
    rejected: Tuple[str, ...] = ()  # why the other layout did not hold

    @property
    def slot(self) -> int:
        return self.bits // 8

    @property
    def size(self) -> int:
        words = (1 if self.has_error_code else 0) + 3 + (2 if self.rsp is not None else 0)
        return words * self.slot

    @property
    def rip_slot(self) -> int:
        """Where RIP is saved: what RSP must point at when the handler irets."""
        return self.address + (self.slot if self.has_error_code else 0)

    @property
    def top(self) -> int:
        return self.address + self.size

    @property
    def interrupted_cpl(self) -> int:
        return self.cs & 3

    @property
    def privilege_change(self) -> bool:
        return self.interrupted_cpl != self.handler_cpl


@dataclass
class FrameContext:
    """What validation may consult besides the frame's bytes."""

    read: Callable[[int, int], bytes]          # raises TargetMemoryError
    is_mapped: Callable[[int], bool]
    gdt: Optional[Gdt]
    handler_cpl: int = 0
    gate_ist: int = 0
    long_mode: bool = True
    # CR2 now (read only when needed): a #PF on an instruction fetch has RIP
    # in the page it could not fetch, and 32-bit paging has no I/D bit to say so
    cr2: Optional[Callable[[], Optional[int]]] = None


def _canonical(address: int) -> bool:
    top = address >> 47
    return top == 0 or top == 0x1FFFF


def _check_code_selector(ctx: FrameContext, cs: int, problems: List[str]) -> Optional[bool]:
    """Validate CS; returns whether it is 64-bit code (None when unknown)."""
    sel = Selector(cs & 0xFFFF)
    if cs >> 16:
        problems.append(f"CS slot {cs:#x} has bits above 15 set")
        return None
    if sel.index == 0:
        problems.append(f"CS {cs:#06x} is a null selector")
        return None
    if sel.rpl < ctx.handler_cpl:
        problems.append(f"CS {cs:#06x} has RPL {sel.rpl}, more privileged than the handler")
    if ctx.gdt is None or sel.table != "GDT":
        return None
    desc = ctx.gdt.descriptor(cs)
    if desc is None:
        problems.append(f"CS {cs:#06x}: index {sel.index} is beyond the GDT limit "
                        f"{ctx.gdt.gdtr.limit:#x}")
        return None
    if not desc.is_code:
        problems.append(f"CS {cs:#06x}: GDT entry {sel.index} is {desc.kind()}, not code")
        return None
    if not desc.present:
        problems.append(f"CS {cs:#06x}: GDT entry {sel.index} is not present")
    conforming = bool(desc.type & 4)
    if not conforming and desc.dpl != sel.rpl:
        problems.append(f"CS {cs:#06x}: RPL {sel.rpl} but the segment's DPL is {desc.dpl}")
    return desc.long_mode


def _check_stack_selector(ctx: FrameContext, ss: int, cpl: int, long64: bool,
                          problems: List[str]) -> None:
    sel = Selector(ss & 0xFFFF)
    if ss >> 16:
        problems.append(f"SS slot {ss:#x} has bits above 15 set")
        return
    if sel.index == 0 and sel.table == "GDT":
        if not (ctx.long_mode and long64 and cpl < 3):
            problems.append(f"SS {ss:#06x} is a null selector, allowed only below ring 3 "
                            f"in 64-bit mode")
        return
    if sel.rpl != cpl:
        problems.append(f"SS {ss:#06x} has RPL {sel.rpl} but CS says ring {cpl}")
    if ctx.gdt is None or sel.table != "GDT":
        return
    desc = ctx.gdt.descriptor(ss)
    if desc is None:
        problems.append(f"SS {ss:#06x}: index {sel.index} is beyond the GDT limit "
                        f"{ctx.gdt.gdtr.limit:#x}")
    elif not desc.writable or not desc.present:
        problems.append(f"SS {ss:#06x}: GDT entry {sel.index} is {desc.describe()}, "
                        f"not a present writable data segment")


def _check_flags(value: int, bits: int, problems: List[str]) -> None:
    reserved = RFLAGS_RESERVED_64 if bits == 64 else RFLAGS_RESERVED_32
    if not value & RFLAGS_FIXED_ONE:
        problems.append(f"RFLAGS {value:#x} has bit 1 clear (always set)")
    if value & reserved:
        problems.append(f"RFLAGS {value:#x} has reserved bits set ({value & reserved:#x})")
    if value & RFLAGS_VM:
        problems.append(f"RFLAGS {value:#x} has VM set: virtual-8086 frames are not decoded")


def _check_rip(ctx: FrameContext, rip: int, long64: Optional[bool], problems: List[str]) -> None:
    if long64 is False and rip >> 32:
        problems.append(f"RIP {rip:#x} exceeds 32 bits for 32-bit code")
    elif not _canonical(rip):
        problems.append(f"RIP {rip:#x} is not canonical")
    elif not ctx.is_mapped(rip):
        problems.append(f"RIP {rip:#x} is not mapped")


# Events whose saved RIP is the next instruction, not yet fetched.
NEXT_INSTRUCTION_KINDS = ("interrupt", "trap", "fault/trap")
PF_FETCH = 0x10        # #PF error code I/D: the fault was an instruction fetch


def fetch_fault(ctx: FrameContext, vector: Optional[int], error_code: Optional[int],
                rip: int) -> Optional[str]:
    """Why an unmapped RIP is expected in this frame, or None: only a #PF on
    an instruction fetch faults on RIP's own page (I/D=1 with NX on; without
    NX, 32-bit paging, I/D stays 0 and CR2 = RIP is the sign; an instruction
    crossing into the next page has CR2 a few bytes above RIP)."""
    if vector != 14 or error_code is None:
        return None
    if error_code & PF_FETCH:
        return "instruction fetch (#PF error code I/D=1)"
    cr2 = ctx.cr2() if ctx.cr2 is not None else None
    if cr2 is not None and 0 <= cr2 - rip < 16:
        return "instruction fetch (CR2 = RIP" + (f"+{cr2 - rip}" if cr2 != rip else "") + ")"
    return None


def _try_layout(ctx: FrameContext, address: int, bits: int, with_error_code: bool,
                vector: Optional[int] = None):
    """(fields, problems) for one layout; fields is None when unreadable."""
    slot = bits // 8
    fmt = "<Q" if bits == 64 else "<I"
    base_words = (1 if with_error_code else 0) + 3 + (2 if bits == 64 else 0)
    problems: List[str] = []
    fetch = None
    name = "with error code" if with_error_code else "without error code"
    try:
        data = ctx.read(address, base_words * slot)
    except TargetMemoryError as error:
        return None, [f"{name}: {error}"]
    words = [struct.unpack_from(fmt, data, i * slot)[0] for i in range(base_words)]
    error_code = words.pop(0) if with_error_code else None
    rip, cs, rflags = words[:3]
    rsp = ss = None
    long64 = _check_code_selector(ctx, cs, problems)
    cpl = cs & 3
    _check_flags(rflags, bits, problems)
    if bits == 64:
        rsp, ss = words[3:5]
        if not _canonical(rsp):
            problems.append(f"RSP {rsp:#x} is not canonical")
        _check_stack_selector(ctx, ss, cpl, long64 is not False, problems)
    elif cpl > ctx.handler_cpl and not problems:
        try:
            extra = ctx.read(address + base_words * slot, 2 * slot)
        except TargetMemoryError as error:
            problems.append(f"ESP/SS of a ring-{cpl} frame: {error}")
        else:
            rsp, ss = struct.unpack("<II", extra)
            _check_stack_selector(ctx, ss, cpl, False, problems)
    if not problems:
        _check_rip(ctx, rip, long64, problems)
        if problems and problems[-1].endswith("is not mapped"):
            why = fetch_fault(ctx, vector, error_code, rip)
            if why is not None:
                problems.pop()
                fetch = f"RIP {rip:#x} is not mapped: expected, the fault was an {why}"
            elif cpl == 3 and cpl > ctx.handler_cpl and (
                    vector is None or vector_info(vector).kind in NEXT_INSTRUCTION_KINDS):
                # An interrupt or trap can arrive before the next user
                # instruction's page is mapped (demand paging): its fetch
                # faults afterwards.  A fault's RIP was fetched: mapped.
                problems.pop()
                fetch = f"RIP {rip:#x} is not mapped yet: the interrupted user code's next " \
                        f"instruction will fault on its fetch once this handler returns " \
                        f"(demand paging)"
    if with_error_code and error_code is not None and bits == 64 and error_code >> 32:
        problems.append(f"error code {error_code:#x} is wider than 32 bits")
    fields = dict(error_code=error_code, rip=rip, cs=cs, rflags=rflags, rsp=rsp, ss=ss)
    if fetch is not None:
        fields["notes"] = (fetch,)
    return fields, [f"{name}: {p}" for p in problems]


def decode_frame(ctx: FrameContext, address: int, bits: int,
                 vector: Optional[int] = None) -> InterruptFrame:
    """Decode the frame at ``address``; ``vector`` (when known) says whether the
    CPU would push an error code for an exception on it."""
    expects = vector_info(vector).pushes_error_code if vector is not None else None
    results = {}
    for with_ec in (True, False):
        results[with_ec] = _try_layout(ctx, address, bits, with_ec, vector)
    valid = [ec for ec, (fields, problems) in results.items() if fields and not problems]
    if not valid:
        reasons = [p for ec in (True, False) for p in results[ec][1]]
        raise NoPlausibleFrame(address, reasons)
    notes: List[str] = []
    if len(valid) == 2:
        chosen = expects if expects is not None else False
        if expects is None:
            notes.append("both layouts validate; assuming no error code (vector unknown)")
    else:
        chosen = valid[0]
    label = vector_info(vector).label if vector is not None else ""
    if expects is True and not chosen:
        notes.append(f"vector {label} normally pushes an error code, but none is on the "
                     f"stack: raised by software `int ${vector}` or an external interrupt?")
    elif expects is False and chosen:
        notes.append(f"an error code is on the stack, but vector {label} does not push one")
    fields, _ = results[chosen]
    fields = dict(fields)
    notes += list(fields.pop("notes", ()))
    rejected = tuple(results[not chosen][1])
    frame = InterruptFrame(address=address, bits=bits, has_error_code=chosen, notes=(),
                           handler_cpl=ctx.handler_cpl, stack_switch=None,
                           alignment_padding=None, rejected=rejected, **fields)
    switch, padding = _stack_switch(ctx, frame, notes)
    return InterruptFrame(**{**frame.__dict__, "stack_switch": switch,
                             "alignment_padding": padding, "notes": tuple(notes)})


def _stack_switch(ctx: FrameContext, frame: InterruptFrame, notes: List[str]):
    """Which stack the CPU switched to, and the alignment gap on the same stack."""
    if frame.bits == 64:
        if ctx.gate_ist:
            return f"IST{ctx.gate_ist}", None
        if frame.privilege_change:
            return "RSP0", None
        gap = frame.rsp - frame.top
        if gap in (0, 8):
            return None, gap
        notes.append(f"saved RSP {frame.rsp:#x} is {gap:+d} bytes from the frame's top "
                     f"{frame.top:#x}: not the stack this frame was pushed on?")
        return None, None
    return ("ESP0" if frame.privilege_change else None), None
