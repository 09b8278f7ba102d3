"""Starting QEMU on a kernel, paused, with a private gdbstub socket."""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..errors import IsrError
from . import processes
from ..elf import read_header
from .elf import Arch, kernel_arch

# isa-debug-exit: the kernel writes V to port 0xf4, QEMU exits with (V << 1) | 1.
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"


class QemuError(IsrError):
    """QEMU could not start, or died."""


@dataclass
class QemuConfig:
    kernel: Path                     # the ELF as built (ELF64 kernels are converted)
    append: str = ""
    serial: Optional[Path] = None    # where COM1 goes; default: workdir/serial.log
    memory: str = "128M"
    smp: int = 1
    extra_args: List[str] = field(default_factory=list)
    arch: Optional[Arch] = None      # default: from the ELF header


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


class Qemu:
    """A QEMU process serving its gdbstub on ``workdir/gdb.sock``; stopped with
    the tool.  Use as a context manager."""

    def __init__(self, config: QemuConfig, workdir: Path):
        self.config = config
        self.workdir = Path(workdir)
        self.arch = config.arch or kernel_arch(config.kernel)
        self.socket = self.workdir / "gdb.sock"
        self.serial = config.serial or self.workdir / "serial.log"
        self.stderr_path = self.workdir / "qemu.stderr"
        self.process: Optional[subprocess.Popen] = None

    def command(self, kernel_for_qemu: Path) -> List[str]:
        cfg = self.config
        argv = [self.arch.qemu, "-kernel", str(kernel_for_qemu)]
        if cfg.append:
            argv += ["-append", cfg.append]
        argv += ["-S", "-gdb", f"unix:{self.socket},server=on,wait=off",
                 "-display", "none", "-monitor", "none", "-serial", f"file:{self.serial}",
                 "-no-reboot", "-device", DEBUG_EXIT, "-m", cfg.memory, "-smp", str(cfg.smp)]
        return argv + list(cfg.extra_args)

    def start(self, timeout: float = 10.0) -> "Qemu":
        if shutil.which(self.arch.qemu) is None:
            raise QemuError(f"{self.arch.qemu} not found (install qemu-system-x86, "
                            f"or run ./run setup)")
        argv = self.command(elf32_for_qemu(self.config.kernel, self.workdir))
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
