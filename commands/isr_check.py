"""isr-check: static checks of handlers' machine code."""

from gdbext.tracking.breakpoint_plan import task_gate_entry
from gdbext.x86.gdt import Gdt
from gdbext.x86.idt import read_idt
from gdbext.render import json as render_json
from gdbext.render.text import render_checks
from gdbext.analysis.static_check import Analyzer
from gdbext.x86.vectors import format_vector_list, parse_specs
from gdbext.x86.cpu import CpuMode

from .base import TARGET, IsrCommand, style


def check_vectors(specs):
    """(checks, mode, symbols, skipped) for the handlers of ``specs``."""
    view = read_idt(TARGET, parse_specs(specs))
    bits = 64 if view.cpu.mode is CpuMode.LONG else 32
    handlers, skipped, task = {}, [], []
    for gate in view.gates:
        if not gate.valid:
            skipped.append(gate.vector)
        elif gate.type == "task":
            task.append(gate.vector)
        else:
            handlers.setdefault(gate.handler, []).append(gate.vector)
    analyzer = Analyzer(TARGET.read_memory, bits, att=TARGET.att_syntax,
                        symbolize=TARGET.symbolize,
                        control=dict(TARGET.registers(("cr4", "efer"), optional=True)))
    checks = [analyzer.check(address, tuple(vectors)) for address, vectors in
              sorted(handlers.items(), key=lambda item: item[1])]
    addresses = {c.handler for c in checks} | {f.address for c in checks for f in c.findings}
    symbols = {a: TARGET.symbolize(a) for a in addresses if a is not None}
    notes = []
    if skipped:
        notes.append(f"vectors {format_vector_list(skipped)}: gate not present or invalid")
    if task:
        gdt = Gdt.read(TARGET, view.cpu.gdtr)
        entries = {v: task_gate_entry(TARGET, gdt, g.selector) for g in view.gates
                   for v in [g.vector] if v in task}
        notes.append(f"vectors {format_vector_list(task)}: task gates (entry "
                     f"{', '.join(f'{e:#x}' for e in set(entries.values()) if e)}); a task "
                     f"switch saves every register in the old TSS, so the convention checks "
                     f"do not apply")
    if view.beyond_limit:
        notes.append(f"vectors {format_vector_list(view.beyond_limit)}: beyond the IDT limit")
    return checks, view.cpu.mode.value, symbols, notes


class IsrCheck(IsrCommand):
    """Check handlers' machine code against the interrupt convention, without running it.

Usage: isr-check [--json] SPEC...

SPEC as for isr-idt (`isr-check all` checks every vector).  Each gate's
handler is decoded with capstone and executed abstractly along all its
paths, joined where they meet (the work grows with the code, not with the
number of paths).  A call to an ordinary function is summarised by the C
ABI (rbx rbp r12-r15 kept, scratch registers changed); a callee that is not
ordinary (it saves into its caller's frame or returns with RSP moved, like
Linux's error_entry) is followed as part of the handler.  The notes name
both.  Reporting, with the instruction at fault:
  ret-instead-of-iret          a ret on a handler path
  clobbered-register           registers written and not restored before iret
  segment-clobbered            DS/ES/FS/GS loaded and not restored
  unsaved-scratch-across-call  scratch registers (SysV: rax rcx rdx rsi rdi r8-r11;
                               i386: eax ecx edx) not saved before a call
  misaligned-call              RSP not a multiple of 16 at a call (64-bit)
  misaligned-simd-save         movaps/movdqa to a stack slot the depth shows misaligned
  error-code-not-popped        an error-code vector reaching iret with the code on the stack
  stack-imbalance-at-iret      any other wrong stack depth at iret
  simd-clobbered               SSE/x87 use (also in called code) with no fxsave/xsave
  red-zone-use                 stores below RSP (also in called code)
  handler-in-freed-memory      (warning) the gate points at 0xcc bytes (freed init code)
  handler-in-zeroed-memory     (warning) the gate points at zero bytes (no code loaded)
error-code-not-popped for #CP/#VC/#SX is an error only where the CPU pushes
that error code on this target (CET in CR4; SEV-ES; SVM in EFER), else a
warning.  A misaligned call is a note when the kernel's own code calls with
8-byte alignment (Linux) or the callee cannot be read (PTI).
Per handler it shows static stack usage on the deepest path (frame, saves and
the calls it can see) and the instructions on the shortest path to iret.
Indirect jumps end the analysis of that path (shown as notes).  Budgets on
instructions and time end an analysis with a note saying where; a handler
the time budget cuts short gets no verdict."""

    NAME = "isr-check"
    COMPLETE_WORDS = ("--json",)
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument("spec", nargs="+")

    def run(self, args):
        checks, mode, symbols, notes = check_vectors(args.spec)
        if args.json:
            self.write(render_json.dumps(render_json.check_doc(checks, mode, symbols, notes)))
        else:
            self.write(render_checks(checks, mode, symbols, notes, style()))


def register():
    IsrCheck()
