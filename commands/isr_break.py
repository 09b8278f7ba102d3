"""isr-break, isr-delete, info isr-breakpoints: stop when a vector is delivered."""

import re

import gdb

from gdbext.errors import UsageError
from gdbext.render import json as render_json
from gdbext.render.text import render_arming, render_arming_table
from gdbext.x86.vectors import format_vector_list, parse_specs

from gdbext.gdbside.arming import BREAK, REGISTRY
from .base import ANY_STATE, NOT_RUNNING, IsrCommand

# `if` as a word of the command line: what follows is the condition, as typed.
_IF = re.compile(r"(?:^|\s)if(?:\s|$)")


def _split_condition(words):
    """["14", "if", "$isr_error_code", "&", "2"] -> (["14"], "$isr_error_code & 2")."""
    if "if" in words:
        at = words.index("if")
        return words[:at], _condition(" ".join(words[at + 1:]))
    return words, None


def _condition(text):
    condition = text.strip()
    if not condition:
        raise UsageError("`if` needs a condition")
    return condition


class ArmingCommand(IsrCommand):
    """A command whose result is an ArmingReport (isr-break, isr-watch,
    isr-delete, info isr-breakpoints); JSON kind "breakpoints"."""

    def document(self, report, args):
        return render_json.breakpoints_doc(report)

    def text(self, report, args, style):
        return render_arming(report, style)


class IsrBreak(ArmingCommand):
    """Stop when one of the given vectors is delivered.

Usage: isr-break [--hw] [--json] SPEC... [if CONDITION]

SPEC: a number (14, 0x20), a range (32-47), a name (#PF, pf, page-fault) or a
class (exceptions, irqs, all).  The handler is found in the live IDT and a
breakpoint set on it; --hw uses a hardware breakpoint (under KVM, which the
target reports, every isrdbg breakpoint is one, and arming refuses what does
not fit the CPU's four debug registers).
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
    NEEDS = NOT_RUNNING
    COMPLETE_WORDS = ("--hw", "--json", "if")
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--hw", action="store_true")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("spec", nargs="+")

    def parse(self, argument):
        # The condition is GDB's to parse, quotes and all: string_to_argv
        # would strip them ($_streq("a","a") becoming $_streq(a,a)).
        found = _IF.search(argument)
        if found is None:
            return self.parse_argv(gdb.string_to_argv(argument))
        return self._arguments(gdb.string_to_argv(argument[:found.start()]),
                               _condition(argument[found.end():]))

    def parse_argv(self, argv):
        return self._arguments(*_split_condition(list(argv)))

    def _arguments(self, words, condition):
        args = self.parser.parse_args(words)
        args.condition = condition
        return args

    def result(self, args):
        vectors = parse_specs(args.spec)
        if args.condition is not None:
            _check_condition(args.condition)
        REGISTRY.add(vectors, BREAK, args.hw, args.condition)
        return REGISTRY.report(vectors)


def _check_condition(condition):
    """Reject what can never evaluate (unknown symbols, bad syntax) now; values
    that are void until the first hit are fine."""
    try:
        gdb.parse_and_eval(condition)
    except gdb.error as error:
        text = str(error)
        if "No symbol" in text or "syntax" in text.lower():
            raise UsageError(f"bad condition `{condition}`: {text}") from None


class IsrDelete(ArmingCommand):
    """Stop breaking on vectors.

Usage: isr-delete [--json] [SPEC...]

Without SPEC, every isr breakpoint and pending vector is removed.  --json
prints the vectors still armed and those deleted."""

    NAME = "isr-delete"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    NEEDS = NOT_RUNNING
    COMPLETE_WORDS = ("--json",)
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")
        parser.add_argument("spec", nargs="*")

    def result(self, args):
        vectors = parse_specs(args.spec) if args.spec else list(REGISTRY.vectors)
        if args.spec and not any(v in REGISTRY.vectors for v in vectors):
            raise UsageError(f"no isr breakpoint on vector {format_vector_list(vectors)}")
        deleted = sorted(v for v in vectors if v in REGISTRY.vectors)
        REGISTRY.remove(vectors)
        return REGISTRY.report(deleted=deleted)

    def text(self, report, args, style):
        return ""


class InfoIsrBreakpoints(ArmingCommand):
    """List the vectors isr-break and isr-watch arm: armed (with breakpoint
number and handler address) or pending (with the reason); then the exit
breakpoints of the handlers isr-watch and isr-trace follow: always armed, or
armed only while a run that may leave through them is open (an exit other
code takes too, such as Linux's one iretq), with the runs each closed and the
stops it took outside traced runs.

Usage: info isr-breakpoints [--json]"""

    NAME = "info isr-breakpoints"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    NEEDS = ANY_STATE
    COMPLETE_WORDS = ("--json",)

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def result(self, args):
        return REGISTRY.report()

    def text(self, report, args, style):
        return render_arming_table(report, style)


def register():
    IsrBreak()
    IsrDelete()
    InfoIsrBreakpoints()
