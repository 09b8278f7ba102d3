"""How a target ended, in isrdbg's words: the same on every QEMU and GDB.

GDB's own report of a kernel's end differs between versions (QEMU 7.2's
gdbstub closes the connection when isa-debug-exit ends QEMU, QEMU 10's may
report an exit code first, and GDB words a closed connection in several
ways); QEMU's exit status, which the launcher sees, does not.
"""

import signal
from pathlib import Path
from typing import Optional

# -no-reboot turns a triple fault, a reset and a power-off into QEMU exiting with 0.
# GDB's `kill` ends QEMU with 0 too: which one it was, the status cannot tell.
SHUTDOWN = ("QEMU ended without an error: a triple fault, reset or power-off "
            "under -no-reboot, or GDB's `kill`")


def describe_qemu_status(status: int) -> str:
    """``status`` as subprocess reports it (negative: killed by that signal)."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"QEMU was killed by {name}"
    if status == 0:
        return f"QEMU status 0 ({SHUTDOWN})"
    if status == 1:     # also what QEMU exits with when it fails
        return "QEMU status 1 (isa-debug-exit value 0, or a QEMU error)"
    if status & 1:
        # isa-debug-exit: the kernel wrote V, QEMU exits with (V << 1) | 1
        return f"QEMU status {status} (isa-debug-exit value {status >> 1})"
    return f"QEMU status {status} (QEMU failed)"


def target_exited(status: Optional[int], gdb_exit_code: Optional[int] = None) -> str:
    """The line isrdbg prints when the target went away: from QEMU's status
    when the launcher knows it, else from the exit code GDB was told."""
    if status is not None:
        return f"the target exited: {describe_qemu_status(status)}"
    if gdb_exit_code is not None:
        return f"the target exited: its gdbstub reported exit code {gdb_exit_code}"
    return "the connection to the target was closed"


def read_status(path: Path) -> Optional[int]:
    """The status the launcher wrote (processes.record_exit_status), or None."""
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None
