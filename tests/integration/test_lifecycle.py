"""The target's lifecycle (issues 13 and 16): the kernel exiting, QEMU dying,
a connection that fails, and isrdbg ended by signals or its timeout at every
stage, with no core file, no process left and no raw Python output."""

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import ROOT, batch, isrdbg, processes_referring_to

RAW = ("Traceback", "Python Exception", "Exception ignored", "internal-error")
# python: the same as `continue`, but the batch script goes on when the
# connection closes under it (GDB's error for that differs between versions)
CONTINUE = "python exec(\"try: gdb.execute('continue')\\nexcept gdb.error: pass\")"


def assert_clean(text: str, where: Path):
    for raw in RAW:
        assert raw not in text, f"{raw!r} in output:\n{text}"
    assert not [p.name for p in where.iterdir() if p.name.startswith("core")]


# -- the kernel ends -------------------------------------------------------------------

def test_kernel_exit_is_announced_with_qemu_status(kernels):
    # an unknown scenario panics: isa-debug-exit value 1, QEMU status 3
    result = batch(kernels["x86_64"], "scenario=no-such-scenario", [CONTINUE])
    assert "isrdbg: the target exited: QEMU status 3 (isa-debug-exit value 1)" \
        in result.stdout.splitlines()


def test_triple_fault_is_announced(kernels):
    result = batch(kernels["i386"], "scenario=triple-fault", [CONTINUE])
    assert ("isrdbg: the target exited: QEMU status 0 (QEMU ended without an error: a triple "
            "fault, reset or power-off under -no-reboot, or GDB's `kill`)") \
        in result.stdout.splitlines()


def test_recorded_runs_outlive_the_target(kernels):
    """After the kernel exited: the trace says it stopped and why, armed
    vectors are pending for that reason, recorded runs are still reportable."""
    gone = "the target exited: QEMU status 1 (isa-debug-exit value 0, or a QEMU error)"
    result = batch(kernels["x86_64"], "scenario=timer ticks=5",
                   ["isr-trace 32", "isr-watch --no-stop 3", CONTINUE,
                    "isr-trace report", "info isr-breakpoints", "isr-diff", "isr-idt 3"])
    out = result.stdout.splitlines()
    assert f"isr-trace: stopped ({gone}); traced vectors 32" in out
    # info isr-breakpoints: the watched vector is pending because the target is gone
    assert any(line.split()[:4] == ["3", "#BP", "Breakpoint", "pending"]
               and line.endswith(f"no target connected ({gone})") for line in out)
    assert any(line.startswith("handler run #") and "vector 32" in line for line in out)
    assert result.errors[-1] == f"isr-idt: no target connected ({gone})"
    assert_clean(result.stdout + result.stderr, ROOT)


def test_qemu_killed_is_announced(kernels, private_tmpdir):
    kill = f"shell pkill -KILL -f '^qemu-system-x86_64 .*{private_tmpdir}'"
    result = batch(kernels["x86_64"], "scenario=idle", ["isr-trace 32", kill, "isr-idt 3"])
    # the isr command that met the closed connection says why
    assert result.errors[-1] == ("isr-idt: lost the connection to the target: the target "
                                 "exited: QEMU was killed by SIGKILL")


# -- connecting ------------------------------------------------------------------------

def test_attach_that_fails_is_an_error(tmp_path):
    """A gdbstub that hangs up at once: the batch run stops there, non-zero."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def hang_up():
        try:
            while True:
                connection, _ = server.accept()
                connection.close()
        except OSError:
            pass
    threading.Thread(target=hang_up, daemon=True).start()
    try:
        proc = isrdbg("gdb", "--attach", f"127.0.0.1:{port}", "--batch", "-ex", "isr-status")
    finally:
        server.close()
    assert proc.returncode != 0
    assert [line for line in proc.stderr.splitlines() if line.startswith("isr-connect")] \
        and proc.stderr.splitlines()[-1].startswith(
            f"isr-connect: cannot connect to the target at 127.0.0.1:{port}: ")
    assert "no target" not in proc.stdout      # isr-status never ran


# -- ending isrdbg ---------------------------------------------------------------------

def test_timeout_says_which_command_gdb_was_running(kernels, private_tmpdir):
    result = batch(kernels["x86_64"], "scenario=idle",
                   ["isr-status", f"shell sleep 60; echo {private_tmpdir}"], timeout=4)
    assert result.returncode == 124
    assert result.errors[-1] == (f"isrdbg: gave up after 4s: GDB was still running "
                                 f"`shell sleep 60; echo {private_tmpdir}`")
    # the shell GDB started is gone too (private_tmpdir's check)


def _start(args, cwd):
    """isrdbg in its own process group (a terminal's Ctrl-C reaches the group),
    allowed to dump core in ``cwd`` so that a crash would leave a file."""
    def allow_core():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    return subprocess.Popen([sys.executable, "-m", "gdbext.client.cli", *map(str, args)],
                            cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=allow_core,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))


def _wait_for(predicate, what, seconds=30):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.02)


def _child(tmp: Path, name: str):
    return lambda: any(name in open(f"/proc/{pid}/cmdline").read()
                       for pid in processes_referring_to(str(tmp))
                       if os.path.exists(f"/proc/{pid}/cmdline"))


class _Output:
    """What a process prints, read as it comes."""

    def __init__(self, proc):
        self.text = ""
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.text += line

    def join(self):
        self._thread.join(timeout=10)


STAGES = ("qemu-starting", "gdb-loading", "connected-idle", "tracing-running")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("stage", STAGES)
def test_signal_at_every_stage(kernels, private_tmpdir, stage, sig):
    """SIGTERM to isrdbg, or Ctrl-C (SIGINT to its process group), at each
    stage: isrdbg and everything it started end (Ctrl-C only interrupts an
    interactive GDB: closing its input ends it), no core, nothing raw."""
    work = private_tmpdir / "cwd"
    work.mkdir()
    interactive = stage != "tracing-running"
    ready = private_tmpdir / "ready"        # GDB's output to a pipe comes late: a file
    args = ["gdb", kernels["x86_64"], "--tcg"]
    if interactive:
        args += ["--append", "scenario=idle", "-ex", "break scenario_start", "-ex", "continue",
                 "-ex", "isr-idt 3", "-ex", f"shell touch {ready}"]
    else:
        args += ["--append", "scenario=timer ticks=1000000", "--batch", "-ex", "isr-trace 32",
                 "-ex", f"shell touch {ready}", "-ex", "continue"]
    proc = _start(args, work)
    out = _Output(proc)
    try:
        if stage == "qemu-starting":
            _wait_for(_child(private_tmpdir, "qemu-system"), "QEMU started")
        elif stage == "gdb-loading":
            _wait_for(_child(private_tmpdir, "gdb"), "GDB started")
        else:
            _wait_for(ready.exists, "isr commands done")
            time.sleep(0.5 if interactive else 1.5)     # idle / tracing while running
        if sig == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        time.sleep(1)
        proc.stdin.close()      # an interactive GDB that took Ctrl-C ends at EOF
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out.join()
    assert_clean(out.text, work)
    assert not processes_referring_to(str(private_tmpdir))


def test_timeout_while_tracing(kernels, private_tmpdir):
    work = private_tmpdir / "cwd"
    work.mkdir()
    proc = _start(["gdb", kernels["x86_64"], "--tcg", "--append", "scenario=timer ticks=1000000",
                   "--batch", "--timeout", "4", "-ex", "isr-trace 32", "-ex", "continue"], work)
    text, _ = proc.communicate(timeout=40)
    assert proc.returncode == 124
    assert "isrdbg: gave up after 4s: GDB was still running `continue`" in text.splitlines()
    assert_clean(text, work)


def test_mi_session_ends_cleanly_after_qemu_dies(kernels, private_tmpdir, monkeypatch):
    """QEMU killed under an MI session, then the session closed: GDB quits
    without an internal error or a core (GDB's cwd is where it would dump)."""
    from gdbext.client.session import CommandError, Session, SessionError
    work = private_tmpdir / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    limits = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (limits[1], limits[1]))
    try:
        session = Session(kernels["x86_64"], "scenario=idle", keep=True)
        try:
            session.console("break scenario_start")
            session.cont(timeout=30)
            assert session.idt(3)["entries"][0]["symbol"] == "isr_breakpoint+0"
            session.qemu.process.kill()
            with pytest.raises((CommandError, SessionError)):
                session.idt(3)
        finally:
            session.close()
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, limits)
    assert_clean((session.workdir / "gdb.stderr").read_text(errors="replace"), work)
