"""isr-frame: decode the interrupt stack frame."""

import gdb

from gdbext.errors import UsageError
from gdbext.decode.frame_report import locate
from gdbext.render import json as render_json
from gdbext.render.text import render_frame
from gdbext.x86.vectors import parse_one

from .base import TARGET, TRACKER, IsrCommand


def _address(text):
    """An address expression, as GDB evaluates it: 0x1000, $rsp+8, &symbol."""
    try:
        return int(gdb.parse_and_eval(text)) & ((1 << 64) - 1)
    except gdb.error as error:
        raise UsageError(f"--at {text}: {error}") from None


class IsrFrame(IsrCommand):
    """Decode and validate the interrupt stack frame the CPU pushed.

Usage: isr-frame [--at EXPR] [--vector SPEC] [--json]

At a handler's entry the frame is at RSP; further inside a handler, the frame
recorded when isr-break stopped at its entry; --at ADDR decodes a frame at any
address.  The frame is validated (CS/SS against the GDT, RFLAGS reserved
bits, RIP mapped), which also tells whether an error code is on the stack.
Shows the interrupted CS:RIP with symbol and instruction, RFLAGS and the
selectors decoded, the stack switch, and the error code decoded (#PF bits
with CR2 and its page walk; selector codes for #TS #NP #SS #GP).
--vector names the vector when the handler is shared or for --at."""

    NAME = "isr-frame"
    COMPLETE_WORDS = ("--at", "--vector", "--json")
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--at", type=str)
        parser.add_argument("--vector", type=str)
        parser.add_argument("--json", action="store_true")

    def result(self, args):
        at = _address(args.at) if args.at is not None else None
        vector = parse_one(args.vector) if args.vector is not None else None
        return locate(TARGET, TRACKER, at=at, vector=vector)

    def document(self, report, args):
        return render_json.frame_doc(report)

    def text(self, report, args, style):
        return render_frame(report, style)


def register():
    IsrFrame()
