"""The target's lifecycle inside GDB: connecting, and the target going away.

When the kernel ends (isa-debug-exit, a triple fault or reset under
-no-reboot) or QEMU dies, GDB's own words differ between QEMU and GDB
versions; isrdbg says once, in its words, what ended and with which status
(QEMU's, which the launcher writes to $ISRDBG_QEMU_STATUS).  What the target
was doing becomes history: a running trace is stopped with the reason, armed
vectors go back to pending, and recorded runs stay reportable.
"""

import os
import time

import gdb

from gdbext.decode.target_end import read_status, target_exited

from gdbext.gdbside.state import TARGET

# Set by the launcher (gdb_launch.gdb_environment) when it started QEMU.
STATUS_ENV = "ISRDBG_QEMU_STATUS"
PID_ENV = "ISRDBG_QEMU_PID"

_quitting = False
_announced = False       # once per target


class IsrConnect(gdb.Command):
    """Connect to a gdbstub: `target remote REMOTE`, failing with one line.

Usage: isr-connect REMOTE

What isrdbg's launcher runs to connect GDB to the QEMU it started (or to
HOST:PORT with --attach): a batch run stops at a connection that fails."""

    NAME = "isr-connect"

    def __init__(self):
        super().__init__(self.NAME, gdb.COMMAND_OBSCURE)

    def invoke(self, argument, from_tty):
        remote = argument.strip()
        if not remote:
            raise gdb.GdbError(f"{self.NAME}: give the gdbstub to connect to (HOST:PORT or "
                               f"a socket path)")
        try:
            gdb.execute(f"target remote {remote}", from_tty)
        except gdb.error as error:
            text = str(error).strip()
            detail = text.splitlines()[0] if text else "failed"
            raise gdb.GdbError(f"{self.NAME}: cannot connect to the target at {remote}: "
                               f"{detail}") from None


def _qemu_ended() -> bool:
    """Whether the launcher's QEMU has exited (a zombie counts)."""
    try:
        pid = int(os.environ[PID_ENV])
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in "ZX"
    except (KeyError, ValueError, OSError, IndexError):
        return True


def _launcher_status():
    """QEMU's exit status when the launcher started it and it has ended (the
    connection closes as QEMU exits; the launcher writes the status moments
    later); None otherwise (QEMU lives on: GDB let go of it)."""
    path = os.environ.get(STATUS_ENV)
    if not path:
        return None
    start = time.monotonic()
    while True:
        status = read_status(path)
        waited = time.monotonic() - start
        if status is not None or waited > 2.0:
            return status
        if waited > 0.5 and not _qemu_ended():
            return None
        time.sleep(0.01)


def _target_gone(gdb_exit_code=None):
    global _announced
    TARGET.forget_connection()
    if _quitting or _announced:
        return
    _announced = True
    status = _launcher_status()
    why = target_exited(status, gdb_exit_code)
    TARGET.gone = why
    if status is not None or gdb_exit_code is not None:
        gdb.write(f"isrdbg: {why}\n")
    _make_history(why)


def _make_history(why):
    """Nothing isrdbg set up on the target is live any more: say so where
    the state is shown (isr-trace report, info isr-breakpoints)."""
    from gdbext.gdbside.arming import REGISTRY
    from gdbext.commands.isr_trace import stop_tracing
    from gdbext.gdbside.state import TRACE
    from gdbext.gdbside.trace_engine import ENGINE
    try:
        if ENGINE.active:
            ENGINE.drain()  # what QEMU's trace plugin recorded before the end (no stop drains it)
    except Exception:   # noqa: see below
        pass
    try:
        if TRACE.active:
            stop_tracing(why)
        elif REGISTRY.vectors:
            REGISTRY.refresh()      # every armed vector pending: no target
    except Exception:   # noqa: an event handler must never print a raw Python error;
        pass            # the next command meets the missing target in its own words


def on_connection_removed(event):
    if os.environ.get(STATUS_ENV):
        _target_gone()          # QEMU's status says more than GDB's exit code
    else:
        TARGET.forget_connection()      # on_exited follows when the target ended


def on_exited(event):
    code = getattr(event, "exit_code", None)
    if not _announced:
        _target_gone(code)


def on_stop(event):
    """A stop means a target is connected (again)."""
    global _announced
    _announced = False
    TARGET.gone = None


def on_exiting(event):
    global _quitting
    _quitting = True


def register():
    IsrConnect()
    events = gdb.events
    events.stop.connect(on_stop)
    events.exited.connect(on_exited)
    for name, handler in (("connection_removed", on_connection_removed),
                          ("gdb_exiting", on_exiting)):     # GDB 11 and 12 on
        registry = getattr(events, name, None)
        if registry is not None:
            registry.connect(handler)
