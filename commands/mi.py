"""GDB/MI commands: ``-isr-idt``, ``-isr-break``, ... for programs driving GDB
over MI (isrdbg's own Session and REPL, IDE front ends).

Each MI command wraps the CLI command of the same name: it takes the same
arguments, parsed by the same parser, and its result is the document that
``NAME --json`` prints (schema isrdbg/1, encoded for MI by
gdbext.render.mi).  Errors come back as ``^error`` with the one-line message
the CLI prints.  Making another isr command available over MI is one line in
``MI_COMMANDS``: its CLI name (the command must support ``--json``).
"""

import gdb

from gdbext.errors import IsrError
from gdbext.render.mi import to_mi

from .base import COMMANDS

MI_COMMANDS = (
    "isr-idt",
    "isr-break",
    "isr-watch",
    "isr-delete",
    "isr-frame",
    "isr-diff",
    "isr-saved",
    "isr-check",
    "isr-trace",
    "isr-status",
    "isr-interrupt",
    "info isr-breakpoints",
)


def mi_name(cli_name: str) -> str:
    """"isr-idt" -> "-isr-idt"; "info isr-breakpoints" -> "-isr-breakpoints"."""
    return "-" + cli_name.replace("info ", "", 1)


class IsrMiCommand(gdb.MICommand):
    def __init__(self, command):
        self.command = command
        super().__init__(mi_name(command.NAME))

    def invoke(self, argv):
        try:
            return to_mi(self.command.mi_document(argv))
        except IsrError as error:
            raise gdb.GdbError(f"{self.command.NAME}: {error}") from None


def register():
    if not hasattr(gdb, "MICommand"):   # GDB before 13: no Python MI commands
        return
    for name in dict.fromkeys(MI_COMMANDS):
        if name in COMMANDS:
            IsrMiCommand(COMMANDS[name])
