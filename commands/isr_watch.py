"""isr-watch: track handler entries and exits without stopping at entry."""

import gdb

from gdbext.x86.vectors import parse_specs

from gdbext.gdbside.arming import RECORD, REGISTRY, WATCH
from .base import NOT_RUNNING
from .isr_break import ArmingCommand
from gdbext.gdbside.trace_engine import ENGINE


class IsrWatch(ArmingCommand):
    """Check every run of the given vectors' handlers without stopping at entry.

Usage: isr-watch [--no-stop] [--json] SPEC...

Each entry is recorded (registers, decoded frame) and paired with its exit;
the exit is judged against the interrupt convention.  GDB stops only when a
run has a finding of severity error (a clobbered register, an error code not
popped, ...), showing that run as isr-diff does; with --no-stop it never
stops, and `isr-diff --last K` shows what was recorded.  Undo with isr-delete.

With QEMU's trace plugin loaded (see `isr-trace engine`), --no-stop records
through it, never stopping the guest; a watch that stops at a run with a
finding keeps breakpoints: the plugin's records are judged after the guest
ran on, too late to stop right after that run."""

    NAME = "isr-watch"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    NEEDS = NOT_RUNNING
    COMPLETE_WORDS = ("--no-stop", "--json")
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--no-stop", action="store_true")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("spec", nargs="+")

    def result(self, args):
        vectors = parse_specs(args.spec)
        REGISTRY.add(vectors, RECORD if args.no_stop else WATCH)
        return REGISTRY.report(vectors)

    def text(self, report, args, style):
        text = super().text(report, args, style)
        if ENGINE.active and not args.no_stop:
            text += ("\nisr-watch: engine: breakpoints (it stops right after a run with a "
                     "finding, which the trace plugin cannot; isr-watch --no-stop or isr-trace "
                     "record through the plugin)")
        return text


def register():
    IsrWatch()
