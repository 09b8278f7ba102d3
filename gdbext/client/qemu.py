"""Starting QEMU on a kernel, paused, with a private gdbstub socket."""

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import List, Optional

from ..errors import IsrError
from . import processes, trace_plugin
from gdbext.decode.elf import read_header
from .boot import BootPlan
from .kernel_image import MULTIBOOT_ELF

# isa-debug-exit: the kernel writes V to port 0xf4, QEMU exits with (V << 1) | 1.
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"


class QemuError(IsrError):
    """QEMU could not start, or died."""


def qemu_option_value(text) -> str:
    """``text`` inside a QEMU ``key=value,...`` option: commas are doubled."""
    return str(text).replace(",", ",,")


def elf32_for_qemu(kernel: Path, workdir: Path) -> Path:
    """A multiboot ELF64 kernel as the ELF32 that QEMU's -kernel accepts."""
    if read_header(kernel).elf_class == 32:
        return kernel
    converted = workdir / (kernel.stem + ".elf32")
    result = subprocess.run(["objcopy", "-O", "elf32-i386", "--strip-debug", str(kernel), str(converted)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        raise QemuError(f"cannot convert {kernel} to the ELF32 QEMU's -kernel needs: {detail}")
    return converted


def disk_format(path: Path) -> str:
    """qcow2 when the image says so, else raw (QEMU warns when it has to guess)."""
    try:
        with open(path, "rb") as handle:
            return "qcow2" if handle.read(4) == b"QFI\xfb" else "raw"
    except OSError:
        return "raw"


class Qemu:
    """A QEMU process serving its gdbstub on ``workdir/gdb.sock``, paused at
    reset; stopped with the tool.  Use as a context manager."""

    def __init__(self, plan: BootPlan, workdir: Path, serial: Optional[Path] = None):
        self.plan = plan
        self.workdir = Path(workdir)
        self.arch = plan.arch
        self.socket = self.workdir / "gdb.sock"
        self.serial = Path(serial) if serial else self.workdir / "serial.log"
        self.stderr_path = self.workdir / "qemu.stderr"
        self.process: Optional[subprocess.Popen] = None

    def command(self, kernel_for_qemu: Optional[Path]) -> List[str]:
        plan, spec = self.plan, self.plan.spec
        argv = [self.arch.qemu]
        if kernel_for_qemu is not None:
            argv += ["-kernel", str(kernel_for_qemu)]
            if spec.initrd is not None:
                argv += ["-initrd", str(spec.initrd)]
            if spec.append:
                argv += ["-append", spec.append]
        for drive in spec.drives:
            argv += ["-drive", f"file={qemu_option_value(drive)},format={disk_format(drive)},"
                               f"if=ide,media=disk"]
        if spec.cdrom is not None:
            argv += ["-drive", f"file={qemu_option_value(spec.cdrom)},format=raw,if=ide,"
                               f"index=2,media=cdrom"]
        if spec.drives or spec.cdrom is not None:
            argv += ["-boot", "order=cd" if spec.drives else "order=d"]
        # -S: paused at reset, so breakpoints can be set before the kernel runs.
        argv += ["-S", "-gdb", f"unix:{qemu_option_value(self.socket)},server=on,wait=off",
                 "-display", "none", "-monitor", "none", "-serial", f"file:{self.serial}",
                 "-no-reboot", "-device", DEBUG_EXIT, "-m", plan.memory]
        # SeaBIOS lists every CPU in the MP table only when each is its own socket:
        # with a plain -smp N a kernel that reads that table sees one CPU.
        argv += ["-smp", f"{spec.smp},sockets={spec.smp}" if spec.smp > 1 else "1"]
        if plan.accel is not None:
            argv += ["-accel", plan.accel]
        if plan.accel == "tcg":     # isr-trace records through the trace plugin if QEMU runs it
            argv += trace_plugin.qemu_args(self.arch.qemu, self.workdir)
        return argv + list(spec.qemu_args)

    def start(self, timeout: float = 10.0) -> "Qemu":
        if shutil.which(self.arch.qemu) is None:
            raise QemuError(f"{self.arch.qemu} not found (install qemu-system-x86, "
                            f"or run ./run setup)")
        image = self.plan.image
        kernel = None
        if image is not None:
            kernel = elf32_for_qemu(image.path, self.workdir) if image.kind == MULTIBOOT_ELF \
                else image.path
        argv = self.command(kernel)
        (self.workdir / "qemu.cmdline").write_text(" ".join(argv) + "\n")
        with open(self.stderr_path, "wb") as stderr:
            # Own session: Ctrl-C at the terminal is for GDB, never for QEMU.
            self.process = processes.spawn(argv, own_session=True, stdin=subprocess.DEVNULL,
                                           stdout=stderr, stderr=stderr)
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.process.poll() is not None:
                raise QemuError(f"QEMU exited with status {self.process.returncode} before "
                                f"its gdbstub was up: {self.stderr_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise QemuError(f"QEMU's gdbstub did not appear within {timeout:g}s")
            time.sleep(0.01)
        return self

    def stderr_tail(self, lines: int = 3) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace").strip()
        except OSError:
            return ""
        return " | ".join(text.splitlines()[-lines:]) or "(no output)"

    @property
    def returncode(self) -> Optional[int]:
        return None if self.process is None else self.process.poll()

    def stop(self) -> Optional[int]:
        return processes.stop(self.process)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self.socket.exists():
            os.unlink(self.socket)
