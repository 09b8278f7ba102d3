"""The pure parts of the target's lifecycle: what isrdbg says when a target
ends, and the batch script that tells a launcher which command GDB ran."""

import signal
import sys
import time

from gdbext.client import processes
from gdbext.client.gdb_launch import batch_script, running_command
from gdbext.decode.target_end import describe_qemu_status, read_status, target_exited


def test_qemu_status_in_isrdbg_words():
    assert describe_qemu_status(3) == "QEMU status 3 (isa-debug-exit value 1)"
    assert describe_qemu_status(7) == "QEMU status 7 (isa-debug-exit value 3)"
    assert describe_qemu_status(1) == "QEMU status 1 (isa-debug-exit value 0, or a QEMU error)"
    assert describe_qemu_status(0).startswith("QEMU status 0 (QEMU ended without an error: ")
    assert describe_qemu_status(2) == "QEMU status 2 (QEMU failed)"
    assert describe_qemu_status(-signal.SIGKILL) == "QEMU was killed by SIGKILL"


def test_target_exited_prefers_qemu_status():
    assert target_exited(3, 0) == "the target exited: QEMU status 3 (isa-debug-exit value 1)"
    assert target_exited(None, 1) == "the target exited: its gdbstub reported exit code 1"
    assert target_exited(None) == "the connection to the target was closed"


def test_read_status(tmp_path):
    assert read_status(tmp_path / "missing") is None
    (tmp_path / "s").write_text("-9\n")
    assert read_status(tmp_path / "s") == -9
    (tmp_path / "s").write_text("")
    assert read_status(tmp_path / "s") is None


def test_batch_script_numbers_top_level_commands_only(tmp_path):
    progress = tmp_path / "progress"
    commands = ["break f", "commands 1", "silent", "end", "python", "x = 1", "end",
                "python print(x)", "continue"]
    lines = batch_script(commands, progress).splitlines()
    marker = f"python open({str(progress)!r}, 'w').write"
    markers = [line for line in lines if line.startswith(marker)]
    assert [m[len(marker):] for m in markers] == ["('0')", "('1')", "('4')", "('7')", "('8')"]
    # nothing inside the raw python block but its code
    assert lines[lines.index("python") + 1] == "x = 1"
    progress.write_text("8")
    assert running_command(commands, progress) == "continue"
    # a block given as one command of several lines (one -ex)
    lines = batch_script(["commands 1\nsilent\nend", "continue"], progress).splitlines()
    assert [line[len(marker):] for line in lines if line.startswith(marker)] == ["('0')", "('1')"]
    progress.unlink()
    assert running_command(commands, progress) is None



def test_exit_status_is_recorded_whole(tmp_path):
    child = processes.spawn([sys.executable, "-c", "raise SystemExit(3)"])
    path = tmp_path / "status"
    processes.record_exit_status(child, path).join(timeout=10)
    assert read_status(path) == 3
    assert not (tmp_path / "status.part").exists()


def _gone(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_stop_group_ends_what_the_child_started(tmp_path):
    """As GDB's `shell sleep 60` would: the grandchild dies with the group."""
    marker = tmp_path / "grandchild"
    child = processes.spawn(["sh", "-c", f"sleep 60 & echo $! > {marker}; wait"],
                            own_session=True)
    deadline = time.monotonic() + 10
    while not (marker.exists() and marker.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    grandchild = int(marker.read_text())
    processes.stop(child, grace=5, group=True)
    deadline = time.monotonic() + 5
    while not _gone(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived stop(group=True)"
        time.sleep(0.05)
