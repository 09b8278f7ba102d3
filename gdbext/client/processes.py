"""Child processes that never outlive the tool: they die with their parent
(Linux PR_SET_PDEATHSIG) even if the tool itself is killed, and are ended
with a signal then KILL when the tool stops them."""

import ctypes
import os
import resource
import signal
import subprocess
import threading
from pathlib import Path
from typing import Optional

_PR_SET_PDEATHSIG = 1

# How to end GDB.  SIGTERM sets GDB's quit flag before it quits, and GDB 13
# then skips forgetting the Python object of a connection that is still up:
# it aborts (py-connection.c: connpy_connection_dealloc assertion) and dumps
# core once any Python code (isrdbg's first command) asked for
# `inferior.connection`, and Python prints a raw KeyboardInterrupt.  SIGHUP
# takes the same way out (detach, close the connection) without the flag.
GDB_END_SIGNAL = signal.SIGHUP


def _die_with_parent(sig, core=True):
    def hook():
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # not Linux: the tool's own cleanup still ends the child
        if not core:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return hook


def spawn(argv, *, own_session=False, death_signal=signal.SIGKILL, core=True,
          **kwargs) -> subprocess.Popen:
    """Start ``argv``; ``own_session`` keeps it out of the terminal's Ctrl-C
    (and makes it a process group that ``stop(group=True)`` ends whole);
    ``core=False``: it dumps no core file."""
    return subprocess.Popen(argv, start_new_session=own_session,
                            preexec_fn=_die_with_parent(death_signal, core), **kwargs)


def spawn_gdb(argv, **kwargs) -> subprocess.Popen:
    """Start GDB so that it can be ended cleanly (see GDB_END_SIGNAL), also
    when this process dies.  Without core files: GDB 13 still aborts on an
    internal error when QEMU dies while it handles a breakpoint whose Python
    stop() lets the target go on (`inferior_thread: Assertion
    current_thread_ != nullptr`; reproduced with plain GDB and a six-line
    gdb.Breakpoint, about one run in four), and a 60-200 MB core in the
    user's directory helps nobody; GDB's message says what happened."""
    return spawn(argv, death_signal=GDB_END_SIGNAL, core=False, **kwargs)


def stop(process: Optional[subprocess.Popen], grace: float = 3.0,
         first: signal.Signals = signal.SIGTERM, group: bool = False) -> Optional[int]:
    """End ``process`` (``first``, then KILL after ``grace`` seconds); its exit
    status.  ``group``: the process leads its own session (spawn's
    own_session); what it started there (a `shell` command's children) is
    killed too."""
    if process is None:
        return None
    if process.poll() is None:
        try:
            process.send_signal(first)
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except ProcessLookupError:
            pass
    if group:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass    # nothing left in the group
    return process.returncode


def stop_gdb(process: Optional[subprocess.Popen], grace: float = 3.0,
             group: bool = False) -> Optional[int]:
    return stop(process, grace, GDB_END_SIGNAL, group)


def record_exit_status(process: subprocess.Popen, path: Path) -> threading.Thread:
    """Write ``process``'s exit status to ``path`` as soon as it exits (a
    decimal number; negative: killed by that signal), for GDB's isrdbg to say
    why the target went away.  Written whole (rename), never half."""
    def wait():
        status = process.wait()
        partial = path.with_name(path.name + ".part")
        try:
            partial.write_text(f"{status}\n")
            os.replace(partial, path)
        except OSError:
            pass    # the work directory is gone: nobody is asking any more
    thread = threading.Thread(target=wait, name="isrdbg-exit-status", daemon=True)
    thread.start()
    return thread
