"""Register state at a handler's entry and exit, and what it means for the
interrupted context.

At entry the CPU has changed only RIP, CS, RFLAGS, RSP and SS (and pushed
their old values in the frame); every other register still holds the
interrupted code's value.  The interrupted context is therefore the live
registers with those five replaced by the frame's.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Tuple

from gdbext.decode.frame import InterruptFrame


@dataclass(frozen=True)
class RegisterSet:
    """Names in GDB's register set for one architecture, grouped by rule."""

    general: Tuple[str, ...]
    segments: Tuple[str, ...]
    bases: Tuple[str, ...]
    simd: Tuple[str, ...]
    pc: str
    sp: str
    flags: str = "eflags"

    # cached: the per-interrupt paths ask for these at every breakpoint hit
    @cached_property
    def tracked(self) -> Tuple[str, ...]:
        return self.general + self.segments + self.bases + self.simd

    @cached_property
    def tracked_names(self) -> frozenset:
        return frozenset(self.tracked)

    @cached_property
    def at_exit(self) -> Tuple[str, ...]:
        """What an exit reads: the tracked registers plus pc, sp, flags (and cs,
        ss), and CR3 (which address space the exit returns in)."""
        return self.tracked + (self.pc, self.sp, self.flags, "cs", "ss", "cr3")

    @cached_property
    def at_entry(self) -> Tuple[str, ...]:
        """What an entry reads: the tracked registers plus ss, cs and sp, and
        CR3 (the address space a run belongs to)."""
        return self.tracked + ("ss", "cs", self.sp, "cr3")


X86_64 = RegisterSet(
    general=("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"),
    segments=("ds", "es", "fs", "gs"),
    bases=("fs_base", "gs_base", "k_gs_base"),
    simd=tuple(f"xmm{i}" for i in range(16)) + ("mxcsr", "fctrl", "fstat"),
    pc="rip", sp="rsp")

I386 = RegisterSet(
    general=("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp"),
    segments=("ds", "es", "fs", "gs"),
    bases=(),
    simd=tuple(f"xmm{i}" for i in range(8)) + ("mxcsr", "fctrl", "fstat"),
    pc="eip", sp="esp")


def register_set(bits: int) -> RegisterSet:
    return X86_64 if bits == 64 else I386


@dataclass(frozen=True)
class Context:
    """Register values of the interrupted code (or of the code being resumed)."""

    values: Mapping[str, int]
    rip: int
    cs: int
    rflags: int
    rsp: int
    ss: int = field(default=0)

    def __init__(self, values, rip, cs, rflags, rsp, ss=0):
        # Two are built per handler run: the generated init of a frozen
        # dataclass sets each field through object.__setattr__, a call per
        # field (~4x the bytecodes of writing the instance's dict at once).
        self.__dict__.update(values=values, rip=rip, cs=cs, rflags=rflags, rsp=rsp, ss=ss)


def pick(registers: Mapping[str, int], names: Tuple[str, ...]) -> Mapping[str, int]:
    """The ``names`` ``registers`` has; a RawRegisters stays undecoded."""
    only = getattr(registers, "only", None)
    if only is not None:
        return only(names)
    return {name: registers[name] for name in names if name in registers}


def interrupted_context(live: Mapping[str, int], frame: InterruptFrame,
                        live_ss: int) -> Context:
    """The context the handler must give back, from entry registers + frame
    (``live`` is kept, not copied)."""
    if frame.rsp is not None:
        rsp, ss = frame.rsp, frame.ss
    else:   # 32-bit, no privilege change: the CPU pushed onto the interrupted stack
        rsp, ss = frame.top, live_ss
    return Context(live, frame.rip, frame.cs, frame.rflags, rsp, ss)
