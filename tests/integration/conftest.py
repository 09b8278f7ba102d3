"""Integration tests: the bundled kernels in real QEMU, driven by real GDB
through the `isrdbg gdb --batch` launcher.

Every test gets its own TMPDIR, so the launcher's work directory (gdbstub
socket, serial log) is private to it, and afterwards no process may still
refer to that directory: a QEMU or GDB left behind fails the test.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
# $ISRDBG_TARGETS: another qemu_targets tree to build and test against.
TARGETS = Path(os.environ.get("ISRDBG_TARGETS", ROOT / "qemu_targets"))
KERNELS = {"x86_64": TARGETS / "build" / "x86_64" / "kernel.elf",
           "i386": TARGETS / "build" / "i386" / "kernel.elf"}


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in item.nodeid:
            item.add_marker(pytest.mark.qemu)


@pytest.fixture(scope="session")
def kernels() -> Dict[str, Path]:
    """Build the kernels once (a lock keeps parallel workers from racing make)."""
    with open(ROOT / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["make", "-s", "-C", str(TARGETS)], check=True,
                       stdout=subprocess.DEVNULL)
    return KERNELS


@dataclass(frozen=True)
class LinuxTarget:
    """Debian's cloud kernel and isrdbg's own initramfs (qemu_targets/linux/)."""
    vmlinuz: Path          # bzImage, fetched by qemu_targets/linux/fetch-kernel.sh
    initrd: Path           # newc cpio with /init
    init: Path             # the static /init (symbols for user-space addresses)
    version: str           # "<package> <version> <image>" as fetched


LINUX_DIR = TARGETS / "build" / "linux"
LINUX_APPEND = "console=ttyS0 nokaslr panic=-1"


@pytest.fixture(scope="session")
def linux(kernels) -> LinuxTarget:
    """The Linux target; fails (never skips) when the kernel was not fetched."""
    target = LinuxTarget(LINUX_DIR / "vmlinuz", LINUX_DIR / "initramfs.cpio",
                         LINUX_DIR / "init", "")
    version_file = LINUX_DIR / "vmlinuz.version"
    if not target.vmlinuz.is_file() or not version_file.is_file():
        pytest.fail(f"no Linux kernel at {target.vmlinuz}: run ./run setup "
                    "(or qemu_targets/linux/fetch-kernel.sh) to fetch Debian's cloud kernel")
    return LinuxTarget(target.vmlinuz, target.initrd, target.init,
                       version_file.read_text().strip())


TEARDOWN_NOISE = ("Remote communication error.  Target disconnected.",)


@dataclass
class BatchResult:
    returncode: int
    stdout: str
    stderr: str

    def docs(self, kind: str) -> List[dict]:
        found = []
        for line in self.stdout.splitlines():
            if line.startswith('{"schema"'):
                doc = json.loads(line)
                if doc["kind"] == kind:
                    found.append(doc)
        return found

    def doc(self, kind: str) -> dict:
        docs = self.docs(kind)
        assert len(docs) == 1, f"expected one {kind} document:\n{self.stdout}\n{self.stderr}"
        return docs[0]

    @property
    def errors(self) -> List[str]:
        """stderr lines, without the noise of GDB tearing down a dead remote
        (which races with QEMU exiting and appears only sometimes)."""
        return [line for line in self.stderr.splitlines()
                if line.strip() and not line.startswith(TEARDOWN_NOISE)]


def isrdbg(*args, timeout=60, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gdbext.client.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def batch(kernel, append, commands, timeout=60, extra=()) -> BatchResult:
    # --tcg: the bundled scenarios arm more breakpoints than KVM's four debug
    # registers (the KVM tests ask for --kvm themselves).
    accel = () if any(arg in ("--kvm", "--tcg") for arg in map(str, extra)) else ("--tcg",)
    args = ["gdb", kernel, "--append", append, "--batch", "--timeout", timeout, *accel, *extra]
    for command in commands:
        args += ["-ex", command]
    proc = isrdbg(*args, timeout=timeout + 30)
    return BatchResult(proc.returncode, proc.stdout, proc.stderr)


def symbols(kernel: Path) -> Dict[str, int]:
    out = subprocess.run(["nm", str(kernel)], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table[parts[2]] = int(parts[0], 16)
    return table


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def users_qemu(kernel: Path, tmp_path: Path, append="scenario=idle", extra=()):
    """A QEMU started as a user would (`-gdb tcp:...`, paused, scenario=idle
    unless ``append`` says otherwise, ``extra`` arguments), not by isrdbg;
    yields its gdbstub port once it listens, killed at the end."""
    from gdbext.client.qemu import elf32_for_qemu
    elf32 = elf32_for_qemu(kernel, tmp_path)
    port = free_port()
    qemu = subprocess.Popen(["qemu-system-x86_64", "-kernel", str(elf32), "-append",
                             append, "-S", "-gdb", f"tcp:127.0.0.1:{port}",
                             "-display", "none", "-monitor", "none", "-serial", "none",
                             "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                             *extra],
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:    # until QEMU's gdbstub listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        qemu.kill()
        qemu.wait()


def processes_referring_to(text: str) -> List[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.fixture(autouse=True)
def private_tmpdir(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)   # in-process users re-read TMPDIR
    yield tmp_path
    deadline = time.monotonic() + 5
    left = processes_referring_to(str(tmp_path))
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = processes_referring_to(str(tmp_path))
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not left, f"processes outlived the test: {left}"
