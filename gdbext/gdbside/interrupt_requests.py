"""Ctrl-C for a target that isrdbg's breakpoints stop thousands of times a second.

GDB answers Ctrl-C by sending QEMU's gdbstub an interrupt byte (0x03), and
the gdbstub drops that byte when it arrives while the VM is stopped.  With
isrdbg's breakpoints on handlers the VM is stopped much of the time (GDB is
in a breakpoint's stop(), or stepping over a breakpoint), so several Ctrl-C
in a row got lost and stopping the target took up to 11 presses (issue 16).
A Ctrl-C that lands while Python runs arrives as KeyboardInterrupt, but most
land in GDB's own code.

GDB owns SIGINT; Python inside GDB cannot watch it without taking it from
GDB.  So isrdbg starts a tiny watcher process in GDB's process group: the
terminal sends Ctrl-C's SIGINT to the whole foreground group, GDB and the
watcher alike, and the watcher writes one byte to a pipe for each.  Every
isrdbg breakpoint's stop() asks ``pending()`` (one non-blocking read) and
stops the target when a Ctrl-C came.  The watcher exits when GDB closes
its end of the pipe (GDB exiting, however it exits).
"""

import os
import shutil
import subprocess
import sys
from typing import Optional

# The watcher: one byte out per SIGINT; gone at EOF on its input.
WATCHER = """\
import os, signal, sys
def told(*_):
    try:
        os.write(1, b"\\x03")
    except OSError:
        os._exit(0)
signal.signal(signal.SIGINT, told)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
try:
    while os.read(0, 1):
        pass
except OSError:
    pass
"""


def python_executable() -> Optional[str]:
    """A Python to run the watcher: the one GDB embeds (its sys.executable
    may name a file that does not exist, e.g. /usr/bin/python)."""
    for candidate in (sys.executable,
                      os.path.join(sys.base_prefix, "bin",
                                   f"python{sys.version_info[0]}.{sys.version_info[1]}"),
                      shutil.which("python3")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class InterruptRequests:
    """Ctrl-C presses seen by the watcher, read inside GDB."""

    def __init__(self):
        self.watcher: Optional[subprocess.Popen] = None
        self.fd: Optional[int] = None
        self.requested = False      # isr-interrupt asked (GDB/MI clients, `continue &`)

    def request(self) -> None:
        """Stop at the next isrdbg breakpoint hit (isr-interrupt)."""
        self.requested = True

    def start(self) -> bool:
        """Start the watcher (once); False where it cannot run."""
        if self.watcher is not None:
            return self.fd is not None
        python = python_executable()
        if python is None:
            return False
        try:
            self.watcher = subprocess.Popen([python, "-S", "-c", WATCHER],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL)
        except OSError:
            return False
        self.fd = self.watcher.stdout.fileno()
        os.set_blocking(self.fd, False)
        return True

    def pending(self) -> bool:
        """Whether Ctrl-C was pressed (or isr-interrupt asked) since the last
        call (or drain())."""
        if self.requested:
            self.requested = False
            return True
        if self.fd is None:
            return False
        try:
            data = os.read(self.fd, 256)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:            # the watcher is gone
            self.fd = None
        return bool(data)

    def drain(self) -> None:
        """Forget presses: the target stopped, so they are answered."""
        while self.pending():
            pass
