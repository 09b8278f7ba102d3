"""Per-GDB-session state the isr commands share."""

from gdbext.entry import EntryCache
from gdbext.gdb_target import GdbTarget
from gdbext.interrupt_requests import InterruptRequests
from gdbext.settings import Settings
from gdbext.trace import Trace
from gdbext.tracker import Tracker

SETTINGS = Settings()
TARGET = GdbTarget(SETTINGS)
TRACKER = Tracker()             # handler runs: entries paired with their exits
ENTRIES = EntryCache()          # per-CPU IDT/GDT views for the entry path
TRACE = Trace()                 # what isr-trace records
INTERRUPTS = InterruptRequests()  # Ctrl-C presses, seen by a watcher process
