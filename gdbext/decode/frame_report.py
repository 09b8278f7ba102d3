"""Everything `isr-frame` shows about one interrupt frame, gathered from a
target: where the frame is, its decoded and validated contents, the error
code, CR2 with its page walk, and the interrupted instruction."""

from dataclasses import dataclass
from typing import Optional, Tuple

from gdbext.tracking.breakpoint_plan import task_gate_entry
from gdbext.decode.disasm import DisassemblerMissing, Instruction, disassemble
from gdbext.x86.error_codes import ErrorCode, decode_error_code
from gdbext.errors import IdtNotLoaded, IsrError, TargetMemoryError
from gdbext.decode.frame import FrameContext, InterruptFrame, decode_frame
from gdbext.x86.gdt import Gdt
from gdbext.x86.idt import IdtView, read_idt
from gdbext.x86.paging import PageWalk, walk
from gdbext.x86.vectors import EC_PAGE_FAULT, EC_SELECTOR, format_vector_list, vector as vector_info
from gdbext.x86.cpu import CpuMode, CpuState

MAX_INSN = 15


@dataclass(frozen=True)
class FrameReport:
    cpu: int
    source: str                       # "entry", "recorded" or "address"
    vectors: Tuple[int, ...]          # vectors whose gate leads here (one when known)
    handler: Optional[int]
    handler_symbol: Optional[str]
    frame: InterruptFrame
    error: Optional[ErrorCode]
    cr2: Optional[int]
    cr2_symbol: Optional[str]
    page_walk: Optional[PageWalk]
    rip_symbol: Optional[str]
    instruction: Optional[Instruction]
    cs_descriptor: str
    ss_descriptor: Optional[str]
    notes: Tuple[str, ...] = ()
    gate_type: Optional[str] = None   # "interrupt", "trap", ... when all its vectors agree

    @property
    def vector(self) -> Optional[int]:
        return self.vectors[0] if len(self.vectors) == 1 else None


def register_names(target) -> Tuple[str, str]:
    """Names in GDB's register set (fixed for the session, whatever the CPU mode)."""
    return ("rip", "rsp") if target.address_bits == 64 else ("eip", "esp")


def _idt_or_none(target, cpu: CpuState) -> Optional[IdtView]:
    """The IDT of ``cpu``; the frame report needs no handler names from it."""
    try:
        return read_idt(target, cpu=cpu, symbols=False)
    except IdtNotLoaded:
        return None


def handler_vectors(view: Optional[IdtView], address: int, task_entry=None) -> Tuple[int, ...]:
    """Vectors whose gate leads to ``address`` (task gates through their TSS's EIP)."""
    if view is None:
        return ()
    found = []
    for gate in view.gates:
        if not gate.valid:
            continue
        if gate.handler == address or (gate.type == "task" and task_entry is not None and
                                       task_entry(gate.selector) == address):
            found.append(gate.vector)
    return tuple(found)


def instruction_at(target, address: int, bits: int, att: bool) -> Optional[Instruction]:
    """The instruction at ``address``; reads stop at an unmapped page."""
    for size in (MAX_INSN, 0x1000 - (address & 0xFFF)):
        try:
            code = target.read_memory(address, min(size, MAX_INSN))
        except TargetMemoryError:
            continue
        found = disassemble(code, address, bits, count=1, att=att)
        return found[0] if found else None
    return None


def locate(target, runs, at: Optional[int] = None,
           vector: Optional[int] = None) -> FrameReport:
    """Find and decode the frame for the current stop (or at ``at``).

    ``runs`` (the Tracker) answers ``active(cpu, rsp)`` with the open handler
    run whose stack holds RSP: the frame recorded at its entry.
    """
    cpu = target.cpu_state()
    rip_name, rsp_name = register_names(target)
    regs = target.registers([rip_name, rsp_name])
    rip, rsp = regs[rip_name], regs[rsp_name]
    view = _idt_or_none(target, cpu)
    gdt = Gdt.read(target, cpu.gdtr)
    at_entry = handler_vectors(view, rip, lambda selector: task_gate_entry(target, gdt, selector))
    if at is not None:
        source, address, handler = "address", at, None
        vectors = (vector,) if vector is not None else ()
    elif at_entry:
        source, address, handler, vectors = "entry", rsp, rip, at_entry
    else:
        recorded = runs.active(cpu.cpu, rsp)
        if recorded is None:
            raise IsrError(f"not at a handler's entry (RIP {rip:#x} is no IDT handler) and no "
                           f"handler entry recorded on CPU {cpu.cpu} encloses RSP {rsp:#x}; "
                           f"use --at ADDR")
        source, address, handler = "recorded", recorded.frame.address, recorded.handler
        vectors = recorded.vectors
    if vector is not None:
        if vectors and vector not in vectors and source != "address":
            raise IsrError(f"vector {vector} does not use this handler (vectors "
                           f"{format_vector_list(vectors)} do)")
        vectors = (vector,)
    return describe_frame(target, cpu, view, source, address, vectors, handler, gdt)


def describe_frame(target, cpu: CpuState, view: Optional[IdtView], source: str, address: int,
                   vectors: Tuple[int, ...], handler: Optional[int],
                   gdt: Optional[Gdt] = None) -> FrameReport:
    """``gdt``: the CPU's GDT, when the caller read it already."""
    bits = 64 if cpu.mode is CpuMode.LONG else 32
    gdt = gdt or Gdt.read(target, cpu.gdtr)
    gates = [g for g in (view.gates if view else ()) if g.vector in vectors]
    if source != "address" and gates and all(g.type == "task" for g in gates):
        raise IsrError(f"vector {format_vector_list(vectors)} is delivered through a task gate "
                       f"(TSS {gates[0].selector:#06x}): the CPU pushes no interrupt frame; "
                       f"the interrupted context is in the previous task's TSS")
    ists = {g.ist for g in gates}
    ctx = FrameContext(target.read_memory, target.is_mapped, gdt, handler_cpl=cpu.cpl,
                       gate_ist=ists.pop() if len(ists) == 1 else 0,
                       long_mode=cpu.mode is CpuMode.LONG, cr2=lambda: cpu.control.get("cr2"))
    single = vectors[0] if len(vectors) == 1 else None
    frame = decode_frame(ctx, address, bits, vector=single)
    notes = list(frame.notes)
    if len(vectors) > 1:
        notes.append(f"this handler serves vectors {format_vector_list(vectors)}: which one was "
                     f"delivered cannot be told from the handler address")
    error = None
    if frame.has_error_code:
        layouts = {vector_info(v).error_code for v in vectors} - {None}
        layout_vector = single if single is not None else (
            next(v for v in vectors if vector_info(v).error_code) if len(layouts) == 1 else None)
        if layout_vector is not None:
            error = decode_error_code(layout_vector, frame.error_code,
                                      gdt.describe if gdt else None)
            notes += _qemu_quirks(error, cpu)
        else:
            error = decode_error_code(32, frame.error_code)
    cr2 = page_walk = None
    if error is not None and error.layout == EC_PAGE_FAULT:
        cr2 = cpu.control.get("cr2")
        if cr2 is not None and {"cr0", "cr3", "cr4", "efer"} <= set(cpu.control):
            c = cpu.control
            page_walk = walk(target.read_physical, cr2, c["cr0"], c["cr3"], c["cr4"], c["efer"])
    try:
        instruction = instruction_at(target, frame.rip, bits if not _compat(frame, gdt) else 32,
                                     target.att_syntax)
    except DisassemblerMissing as missing:
        instruction = None
        notes.append(str(missing))
    gate_types = {g.type for g in gates}
    return FrameReport(
        cpu=cpu.cpu, source=source, vectors=tuple(vectors), handler=handler,
        handler_symbol=target.symbolize(handler) if handler is not None else None,
        frame=frame, error=error, cr2=cr2,
        cr2_symbol=target.symbolize(cr2) if cr2 is not None else None, page_walk=page_walk,
        rip_symbol=target.symbolize(frame.rip), instruction=instruction,
        cs_descriptor=gdt.describe(frame.cs) if gdt else "GDT unknown",
        ss_descriptor=(gdt.describe(frame.ss) if gdt else "GDT unknown")
        if frame.ss is not None else None,
        notes=tuple(notes), gate_type=gate_types.pop() if len(gate_types) == 1 else None)


def _compat(frame: InterruptFrame, gdt: Optional[Gdt]) -> bool:
    """The interrupted code is 32-bit code under a 64-bit kernel."""
    if frame.bits != 64 or gdt is None:
        return False
    desc = gdt.descriptor(frame.cs)
    return desc is not None and desc.is_code and not desc.long_mode


def _qemu_quirks(error: ErrorCode, cpu: CpuState):
    """QEMU's 64-bit interrupt delivery encodes an IDT index x16 instead of x8
    (error code ``vector * 16 + 2``), so such a code names twice the vector."""
    if error.layout != EC_SELECTOR or cpu.mode is not CpuMode.LONG or cpu.source != "qemu":
        return []
    code = error.value
    if code & 2 and not code & 0xF & ~3 and (code >> 3) % 2 == 0:
        return [f"under QEMU this IDT error code means vector {code >> 4} (QEMU encodes "
                f"64-bit IDT indexes as vector*16+2)"]
    return []

