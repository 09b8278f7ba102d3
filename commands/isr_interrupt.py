"""isr-interrupt: stop the running target, even while isrdbg's breakpoints keep it busy."""

import gdb

from gdbext.errors import TargetError
from gdbext.render import json as render_json

from .base import ANY_STATE, IsrCommand
from gdbext.gdbside.state import INTERRUPTS


class IsrInterrupt(IsrCommand):
    """Stop the running target, also while isrdbg's breakpoints are hit at a high rate.

Usage: isr-interrupt [--json]

GDB's `interrupt` asks QEMU to stop, and QEMU ignores the request when it
arrives while the VM is halted at a breakpoint: with many vectors armed,
much of the time.  isr-interrupt does what `interrupt` does and also makes
the next isrdbg breakpoint hit stop.  Ctrl-C in a terminal does the same by
itself.  For `continue &` and GDB/MI clients (-isr-interrupt); nothing
happens when the target is already stopped."""

    NAME = "isr-interrupt"
    NEEDS = ANY_STATE
    COMPLETE_WORDS = ("--json",)

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def result(self, args):
        inferior = gdb.selected_inferior()
        thread = gdb.selected_thread()
        if inferior.connection is None or thread is None:
            raise TargetError("no target connected")
        running = thread.is_running()
        if running:
            INTERRUPTS.request()
            gdb.execute("interrupt", to_string=True)
        return running

    def document(self, running, args):
        return render_json.document("interrupt", interrupted=running)

    def text(self, running, args, style):
        return ""


def register():
    IsrInterrupt()
