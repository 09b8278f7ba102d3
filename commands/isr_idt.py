"""isr-idt: show the IDT."""

from gdbext.x86.idt import read_idt
from gdbext.render import json as render_json
from gdbext.render.text import render_idt
from gdbext.analysis.static_check import filler_at, no_code_message, no_code_rule
from gdbext.x86.vectors import parse_specs

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

Gates whose handler address holds no code are listed below the table as
warnings: handler-in-freed-memory for int3 bytes (0xcc, as Linux's freed
init code does), handler-in-zeroed-memory for zero bytes.

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
        view = read_idt(TARGET, parse_specs(args.spec) if args.spec else None)
        return view, freed_handlers(view)

    def document(self, result, args):
        view, freed = result
        doc = render_json.idt_doc(view)
        doc["warnings"] = [{"rule": no_code_rule(filler), "vectors": vectors,
                            "message": no_code_message(filler, vectors)}
                           for filler, vectors in freed]
        return doc

    def text(self, result, args, style):
        view, freed = result
        lines = [render_idt(view, fold=not args.all, style=style)]
        lines += [style("bad", "warning") + f" {no_code_rule(filler)}: "
                  f"{no_code_message(filler, vectors)}" for filler, vectors in freed]
        return "\n".join(lines)


def freed_handlers(view):
    """[(filler, vectors)]: the gates whose handler address holds no code (all
    0xcc, or all zero), one group per fill byte."""
    by_handler = {}
    for gate in view.gates:
        if gate.valid and gate.handler is not None:
            by_handler.setdefault(gate.handler, []).append(gate.vector)
    groups = {}
    for handler, vectors in by_handler.items():
        filler = filler_at(TARGET.read_memory, handler)
        if filler is not None:
            groups.setdefault(filler, []).extend(vectors)
    return [(filler, sorted(vectors)) for filler, vectors in sorted(groups.items(), reverse=True)]


def register():
    IsrIdt()
