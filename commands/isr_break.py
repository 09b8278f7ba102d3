"""isr-break, isr-delete, info isr-breakpoints: stop when a vector is delivered."""

import gdb

from gdbext.errors import UsageError
from gdbext.render.table import format_table
from gdbext.vectors import format_vector_list, parse_specs

from .arming import BREAK, REGISTRY, describe_vectors
from .base import TARGET, IsrCommand

def _split_condition(words):
    """["14", "if", "$isr_error_code", "&", "2"] -> (["14"], "$isr_error_code & 2")."""
    if "if" in words:
        at = words.index("if")
        condition = " ".join(words[at + 1:])
        if not condition:
            raise UsageError("`if` needs a condition")
        return words[:at], condition
    return words, None


class IsrBreak(IsrCommand):
    """Stop when one of the given vectors is delivered.

Usage: isr-break [--hw] SPEC... [if CONDITION]

SPEC: a number (14, 0x20), a range (32-47), a name (#PF, pf, page-fault) or a
class (exceptions, irqs, all).  The handler is found in the live IDT and a
breakpoint set on it; --hw uses hardware breakpoints (needed under KVM).
Vectors whose gate is not usable yet (IDT not loaded, gate not present) stay
pending and are armed as soon as the IDT allows: at every stop and after
every `lidt`.  When several vectors share a handler the hit names them all.

A hit prints the vector and the decoded interrupt frame and sets
$isr_vector, $isr_error_code, $isr_frame and $isr_cpu before the breakpoint's
`commands` run.  CONDITION is a GDB expression evaluated at each hit, e.g.
  isr-break 14 if $isr_error_code & 2
(GDB's own `condition N` does not apply to these breakpoints.)"""

    NAME = "isr-break"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    COMPLETE_WORDS = ("--hw", "if")
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--hw", action="store_true")
        parser.add_argument("spec", nargs="+")

    def parse(self, argument):
        words, condition = _split_condition(gdb.string_to_argv(argument))
        args = self.parser.parse_args(words)
        args.condition = condition
        return args

    def run(self, args):
        vectors = parse_specs(args.spec)
        if args.condition is not None:
            _check_condition(args.condition)
        REGISTRY.add(vectors, BREAK, args.hw, args.condition)
        report_arming(self, vectors)


def report_arming(command, vectors):
    """One line per breakpoint the vectors landed on, one for the pending ones."""
    for address, armed in sorted(REGISTRY.armed.items(), key=lambda item: item[1]):
        mine = [v for v in armed if v in vectors]
        if mine:
            bp = REGISTRY.breakpoints[address]
            symbol = TARGET.symbolize(address)
            where = f" ({symbol.replace('+0', '')})" if symbol else ""
            command.write(f"vector {describe_vectors(mine)}: breakpoint {bp.number}{where}")
    pending = [v for v in vectors if v in REGISTRY.pending]
    if pending:
        reasons = {REGISTRY.pending[v] for v in pending}
        why = reasons.pop() if len(reasons) == 1 else "see info isr-breakpoints"
        command.write(f"vector {describe_vectors(pending)}: pending ({why})")


def _check_condition(condition):
    """Reject what can never evaluate (unknown symbols, bad syntax) now; values
    that are void until the first hit are fine."""
    try:
        gdb.parse_and_eval(condition)
    except gdb.error as error:
        text = str(error)
        if "No symbol" in text or "syntax" in text.lower():
            raise UsageError(f"bad condition `{condition}`: {text}") from None


class IsrDelete(IsrCommand):
    """Stop breaking on vectors.

Usage: isr-delete [SPEC...]

Without SPEC, every isr breakpoint and pending vector is removed."""

    NAME = "isr-delete"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("spec", nargs="*")

    def run(self, args):
        vectors = parse_specs(args.spec) if args.spec else list(REGISTRY.vectors)
        if args.spec and not any(v in REGISTRY.vectors for v in vectors):
            raise UsageError(f"no isr breakpoint on vector {format_vector_list(vectors)}")
        REGISTRY.remove(vectors)


class InfoIsrBreakpoints(IsrCommand):
    """List the vectors isr-break watches: armed (with breakpoint number and
handler address) or pending (with the reason).

Usage: info isr-breakpoints"""

    NAME = "info isr-breakpoints"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS

    def run(self, args):
        if not REGISTRY.vectors:
            self.write("No isr breakpoints.")
            return
        rows = []
        for address, vectors in sorted(REGISTRY.armed.items(), key=lambda item: item[1]):
            bp = REGISTRY.breakpoints[address]
            conditions = {REGISTRY.vectors[v].condition for v in vectors} - {None}
            rows.append([describe_vectors(vectors), "armed", str(bp.number), f"{address:#x}",
                         TARGET.symbolize(address) or "",
                         ("hw " if bp.hardware else "") +
                         " | ".join(f"if {c}" for c in sorted(conditions))])
        by_reason = {}
        for v, reason in sorted(REGISTRY.pending.items()):
            by_reason.setdefault(reason, []).append(v)
        for reason, vectors in by_reason.items():
            rows.append([describe_vectors(vectors), "pending", "-", "-", reason, ""])
        self.write("\n".join(format_table(["VECTOR", "STATE", "BP", "ADDRESS", "SYMBOL/REASON",
                                           ""], rows)))


def register():
    IsrBreak()
    IsrDelete()
    InfoIsrBreakpoints()
