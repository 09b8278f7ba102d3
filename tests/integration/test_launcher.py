"""`isrdbg gdb`: QEMU and GDB started, connected, and always cleaned up."""

import re
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, batch, isrdbg, processes_referring_to, users_qemu


def test_batch_connects_with_symbols_and_architecture(kernels):
    result = batch(kernels["x86_64"], "scenario=idle",
                   ["show architecture", "break scenario_start", "continue", "info symbol $pc"])
    assert result.returncode == 0, result.stderr
    assert 'The target architecture is set to "i386:x86-64".' in result.stdout
    assert "scenario_start in section .text" in result.stdout


def test_i386_kernel_gets_i386_architecture(kernels):
    result = batch(kernels["i386"], "scenario=idle", ["show architecture"])
    assert result.returncode == 0, result.stderr
    assert 'The target architecture is set to "i386".' in result.stdout


def test_batch_fails_when_a_command_fails_and_stops_there(kernels):
    result = batch(kernels["x86_64"], "scenario=idle",
                   ["echo one\\n", "no-such-command", "echo two\\n"])
    assert result.returncode == 1
    assert "one" in result.stdout and "two" not in result.stdout
    assert "no-such-command" in result.stderr


def test_kernel_runs_to_its_exit(kernels):
    result = batch(kernels["x86_64"], "scenario=idle", ["continue"])
    # The kernel exits through isa-debug-exit (PASS: value 0); GDB's words for
    # that differ between QEMU versions, isrdbg's do not
    assert "isrdbg: the target exited: QEMU status 1 (isa-debug-exit value 0, or a QEMU error)" in result.stdout.splitlines()


def test_batch_timeout_stops_everything(kernels, private_tmpdir):
    result = batch(kernels["x86_64"], "scenario=timer ticks=100000", ["continue"], timeout=3)
    assert result.returncode == 124
    assert result.errors[-1] == "isrdbg: gave up after 3s: GDB was still running `continue`"


def test_missing_kernel_is_one_line():
    proc = isrdbg("gdb", "/nonexistent/kernel.elf", "--batch")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "isrdbg: kernel not found: /nonexistent/kernel.elf"


def test_not_an_elf(tmp_path):
    bogus = tmp_path / "kernel.bin"
    bogus.write_bytes(b"MZ" + b"\0" * 62)
    proc = isrdbg("gdb", bogus, "--batch")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"isrdbg: {bogus}: neither an ELF kernel nor a Linux "
                                   f"bzImage (for a disk image use --drive or --cdrom)")


def test_bad_attach_address():
    proc = isrdbg("gdb", "--attach", "nowhere", "--batch")
    assert proc.stderr.strip() == "isrdbg: --attach wants HOST:PORT, got 'nowhere'"


def test_attach_to_a_qemu_the_user_started(kernels, tmp_path):
    with users_qemu(kernels["x86_64"], tmp_path) as port:
        proc = isrdbg("gdb", kernels["x86_64"], "--attach", f"127.0.0.1:{port}", "--batch",
                      "-ex", "break scenario_start", "-ex", "continue", "-ex", "isr-idt 14")
    assert proc.returncode == 0, proc.stderr
    assert "isr_page_fault+0" in proc.stdout


def _start_interactive_batch(kernels, tmp_path):
    """An isrdbg whose target runs until it is told to stop.  It starts with
    SIGINT's default action, as from an interactive shell: a suite run as a
    background job (`./run test &`) inherits SIGINT ignored, and so would it."""
    return subprocess.Popen(
        [sys.executable, "-m", "gdbext.client.cli", "gdb", str(kernels["x86_64"]), "--append",
         "scenario=timer ticks=100000", "--tcg", "--batch", "-ex", "continue"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_qemu(tmp_path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any("qemu-system" in open(f"/proc/{pid}/cmdline").read()
               for pid in processes_referring_to(str(tmp_path))):
            return
        time.sleep(0.05)
    raise AssertionError("QEMU did not start")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_process_outlives_isrdbg(kernels, private_tmpdir, sig):
    proc = _start_interactive_batch(kernels, private_tmpdir)
    try:
        _wait_for_qemu(private_tmpdir)
        time.sleep(0.5)  # GDB connected and continuing
        proc.send_signal(sig)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the autouse fixture fails the test if QEMU or GDB is still around
    deadline = time.monotonic() + 5
    while processes_referring_to(str(private_tmpdir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_referring_to(str(private_tmpdir)) == []


def test_demo(kernels):
    proc = isrdbg("demo", timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # Debian's Linux: page faults from /init traced and judged, none accused
    # (the plugin traces every vector; a QEMU without it, 40 runs of 14, 0x80)
    linux = out[out.index("=== Debian's Linux on 2 CPUs"):out.index("$ isrdbg run ")]
    judged = re.search(r"^14 #PF Page Fault +(\d+) +\d+ +\d+ +(\S+)", linux, re.M)
    assert judged and int(judged.group(1)) > 0, linux[-3000:]
    assert judged.group(2) in ("-", "frame-modified"), linux[-3000:]
    assert re.search(r"^\d+ runs? judged", linux, re.M), linux[-3000:]
    assert "(gdb) isr-idt" in out and "33-127   Interrupt (95 identical)" in out
    assert "error code  0x7: user-mode write: protection violation on a present page" in out
    assert "note: vector 14 #PF Page Fault normally pushes an error code" in out
    assert "8    #DF Double Fault             EC  task       0x0030" in out
    # the last step: the bundled scenario suite through `isrdbg run`, with its table
    assert "$ isrdbg run qemu_targets/scenarios" in out
    assert re.search(r"^SCENARIO +ARCH +RUNS +FINDINGS +VERDICT +TIME$", out, re.M), out
    assert re.search(r"^bad-clobber-rbx +x86_64 +82:1 +clobbered-register@82\(sr\) +ok ", out,
                     re.M), out
    assert re.search(r"^(\d+) scenarios: \1 as expected, 0 failed, 0 errors", out, re.M), out
