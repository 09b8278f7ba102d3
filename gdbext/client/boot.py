"""What to boot and how: one description shared by `isrdbg gdb`, `isrdbg repl`,
the MI ``Session`` and scenario files, validated in one place.

``BootSpec`` is what the user asked for; ``BootSpec.plan()`` checks it and
decides what was left open (architecture, symbol file, memory size, KVM or
TCG), giving the ``BootPlan`` that QEMU's command line and GDB's set-up are
made from.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from gdbext.runs.boot_options import (ACCELS, DEFAULT_MEMORY, MAX_CPUS, accel_problem, cpus_problem,
                            memory_problem)
from ..errors import IsrError, UsageError
from .elf import ARCHES, Arch
from .kernel_image import BZIMAGE, KernelImage, extract_kernel_elf, identify

__all__ = ["ACCELS", "DEFAULT_MEMORY", "MAX_CPUS", "BootPlan", "BootSpec", "kvm_problem"]

# QEMU options through which a user already chose the accelerator.
_USER_ACCEL_OPTIONS = ("-accel", "--accel", "-enable-kvm", "--enable-kvm", "-no-kvm")


@dataclass(frozen=True)
class BootSpec:
    kernel: Optional[Path] = None      # multiboot ELF or bzImage; None: boot from disk
    append: str = ""
    initrd: Optional[Path] = None
    symbols: Optional[Path] = None     # None: the kernel ELF's own symbols, if any
    memory: Optional[str] = None       # QEMU -m; None: DEFAULT_MEMORY
    smp: int = 1
    accel: str = "tcg"                 # "auto": KVM when /dev/kvm is usable
    drives: Tuple[Path, ...] = ()
    cdrom: Optional[Path] = None
    arch: Optional[str] = None         # None: from the kernel, else x86_64
    qemu_args: Tuple[str, ...] = ()

    def plan(self, attaching: bool = False) -> "BootPlan":
        """Validate and fill in the defaults; a one-line UsageError otherwise.
        ``attaching``: QEMU runs already; only the architecture and the symbols
        matter."""
        if attaching:
            self._check_nothing_to_start()
        image = identify(_existing(self.kernel, "kernel")) if self.kernel is not None else None
        if not attaching and image is None and not self.drives and self.cdrom is None \
                and not self.qemu_args:
            raise UsageError("nothing to boot: give a KERNEL, --drive/--cdrom, or QEMU "
                             "arguments (--qemu-arg)")
        if image is None and (self.append or self.initrd is not None):
            what = "--append" if self.append else "--initrd"
            raise UsageError(f"{what} needs a KERNEL (QEMU passes it to the kernel it loads)")
        if self.initrd is not None and image is not None and image.kind != BZIMAGE:
            raise UsageError(f"--initrd is for a Linux bzImage; {image.path} is a "
                             f"{image.kind}")
        _existing(self.initrd, "initrd")
        _existing(self.symbols, "symbol file")
        for drive in self.drives:
            _existing(drive, "disk image")
        _existing(self.cdrom, "CD-ROM image")
        if self.arch is not None and self.arch not in ARCHES:
            raise UsageError(f"unknown architecture {self.arch!r} "
                             f"(known: {', '.join(sorted(ARCHES))})")
        memory = self.memory if self.memory is not None else DEFAULT_MEMORY
        for option, problem in (("--smp", cpus_problem(self.smp)),
                                ("--memory", memory_problem(memory)),
                                ("accel", accel_problem(self.accel))):
            if problem:
                raise UsageError(f"{option} {problem}")
        arch = ARCHES[self.arch] if self.arch else image.arch if image else ARCHES["x86_64"]
        symbols = self.symbols
        if symbols is None and image is not None and image.has_symbols:
            symbols = image.path
        accel = None if attaching else _choose_accel(self)
        return BootPlan(self, image, arch, symbols, str(memory), accel)

    def _check_nothing_to_start(self) -> None:
        given = [option for option, value in (
            ("--initrd", self.initrd), ("--drive", self.drives), ("--cdrom", self.cdrom),
            ("--memory", self.memory), ("--smp", self.smp != 1), ("--append", self.append),
            ("--qemu-arg", self.qemu_args), ("--kvm", self.accel == "kvm")) if value]
        if given:
            raise UsageError(f"{given[0]} configures the QEMU that isrdbg starts; with "
                             f"--attach QEMU is already running")


@dataclass(frozen=True)
class BootPlan:
    spec: BootSpec
    image: Optional[KernelImage]
    arch: Arch
    symbols: Optional[Path]            # what GDB loads with `file`
    memory: str
    accel: Optional[str]               # "kvm", "tcg", or None: the user's QEMU arguments chose

    @property
    def kvm(self) -> bool:
        return self.accel == "kvm"

    def program_file(self, workdir: Path) -> Tuple[Optional[Path], Optional[str]]:
        """The ELF GDB loads with `file`, and a note for the user if any.

        A bzImage without --symbols gets the kernel ELF packed inside it: no
        symbols, but the code, which is how isrdbg finds the `lidt` that makes
        a pending vector armable.  Without it a vector armed at reset waits
        for the next stop after the kernel loaded its IDT."""
        if self.symbols is not None or self.image is None or self.image.kind != BZIMAGE:
            return self.symbols, None
        try:
            return extract_kernel_elf(self.image, Path(workdir) / "vmlinux"), None
        except (IsrError, OSError) as error:
            return None, (f"no symbols and no code for GDB ({error}); vectors armed "
                          f"before the kernel loads its IDT stay pending until the next stop")

    def kaslr_note(self) -> Optional[str]:
        """KASLR moves a Linux kernel away from the addresses in its ELF."""
        if self.image is None or self.image.kind != BZIMAGE:
            return None
        if "nokaslr" in self.spec.append.split():
            return None
        return ("the kernel command line has no `nokaslr`: with KASLR the kernel runs at "
                "random addresses, so its ELF (symbols, `lidt` sites) does not match; "
                "isrdbg still reads the IDT, frames and code from memory")

    def describe(self) -> str:
        """For the launcher's first line: "Linux bzImage, 2 CPUs, 512M, TCG"."""
        parts = [self.image.kind if self.image else "firmware boot"]
        if self.spec.smp > 1:
            parts.append(f"{self.spec.smp} CPUs")
        parts.append(self.memory)
        if self.accel:
            parts.append(self.accel.upper())
        return ", ".join(parts)


def _existing(path: Optional[Path], what: str) -> Optional[Path]:
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} not found: {path}")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory")
    return path


def kvm_problem() -> Optional[str]:
    """Why KVM cannot be used here, or None when /dev/kvm opens for reading and
    writing (what QEMU needs)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return "/dev/kvm does not exist (no KVM on this machine, or the kvm module is not loaded)"
    except OSError as error:
        return f"/dev/kvm cannot be opened: {error.strerror}"
    os.close(fd)
    return None


def _choose_accel(spec: BootSpec) -> Optional[str]:
    if any(arg in _USER_ACCEL_OPTIONS or "accel=" in arg for arg in spec.qemu_args):
        return None
    if spec.accel == "tcg":
        return "tcg"
    problem = kvm_problem()
    if spec.accel == "kvm":
        if problem:
            raise UsageError(f"--kvm: {problem}")
        return "kvm"
    return "tcg" if problem else "kvm"
