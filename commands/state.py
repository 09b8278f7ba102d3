"""Per-GDB-session state the isr commands share."""

from gdbext.entries import EntryLog
from gdbext.gdb_target import GdbTarget
from gdbext.settings import Settings

SETTINGS = Settings()
TARGET = GdbTarget(SETTINGS)
ENTRIES = EntryLog()            # handler entries seen at isr breakpoints
