"""Per-GDB-session state the isr commands share."""

from gdbext.gdb_target import GdbTarget
from gdbext.settings import Settings
from gdbext.tracker import Tracker

SETTINGS = Settings()
TARGET = GdbTarget(SETTINGS)
TRACKER = Tracker()             # handler runs: entries paired with their exits
