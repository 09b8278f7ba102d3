"""isr-idt: show the IDT."""

from gdbext.idt import read_idt
from gdbext.render import json as render_json
from gdbext.render.text import render_idt
from gdbext.vectors import parse_specs

from .base import TARGET, IsrCommand


class IsrIdt(IsrCommand):
    """Show the interrupt descriptor table of the selected CPU.

Usage: isr-idt [--all] [--json] [SPEC...]

SPEC picks vectors: a number (14, 0x20), a range (32-47), a name (#PF, pf,
page-fault) or a class (exceptions, irqs, all).  Default: all 256.

For each gate: vector and name, EC when the CPU pushes an error code for it,
gate type (interrupt/trap/task), code selector, handler address and symbol,
IST index, DPL and present bit.  Runs of identical gates are folded into one
line; --all shows every vector.  --json prints the same data as one JSON line.

IDTR comes from QEMU's monitor for the CPU of the selected thread; on other
targets give it with `set isr idt-base ADDR` and `set isr idt-limit N`."""

    NAME = "isr-idt"
    COMPLETE_WORDS = ("--all", "--json")
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("spec", nargs="*")

    def result(self, args):
        return read_idt(TARGET, parse_specs(args.spec) if args.spec else None)

    def document(self, view, args):
        return render_json.idt_doc(view)

    def text(self, view, args, style):
        return render_idt(view, fold=not args.all, style=style)


def register():
    IsrIdt()
