"""Errors the user sees as one line.

Every failure a user can cause or meet (bad arguments, no target, unreadable
memory, ...) is an ``IsrError``; the GDB command layer turns it into a
``gdb.GdbError`` so GDB prints the message alone, never a traceback.
"""


class IsrError(Exception):
    """A failure explained in one line of text."""


class UsageError(IsrError):
    """The command's arguments are wrong."""


class TargetError(IsrError):
    """The target cannot answer: none connected, running, or gone."""


class TargetMemoryError(IsrError):
    """Memory the command needs cannot be read."""

    def __init__(self, address, size, reason=""):
        self.address = address
        self.size = size
        detail = f": {reason}" if reason else ""
        super().__init__(f"cannot read {size} bytes at {address:#x}{detail}")


class IdtNotLoaded(IsrError):
    """The CPU has no usable IDT yet (e.g. still at the reset state)."""
