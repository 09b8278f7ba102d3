"""Per-GDB-session state the isr commands share."""

import threading

from gdbext.decode.entry import EntryCache
from gdbext.gdbside.target import GdbTarget
from gdbext.gdbside.interrupt_requests import InterruptRequests
from gdbext.decode.settings import Settings
from gdbext.tracking.trace import Trace
from gdbext.tracking.tracker import Tracker

SETTINGS = Settings()
TARGET = GdbTarget(SETTINGS)
TRACKER = Tracker()             # handler runs: entries paired with their exits
# Held while the tracker changes: the trace plugin's records are also fed to
# it from a thread while the guest runs (gdbext/gdbside/trace_engine.py).
TRACKER_LOCK = threading.RLock()
ENTRIES = EntryCache()          # per-CPU IDT/GDT views for the entry path
TRACE = Trace()                 # what isr-trace records
INTERRUPTS = InterruptRequests()  # Ctrl-C presses, seen by a watcher process
