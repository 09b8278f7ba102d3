"""What the launcher needs from a kernel ELF: its architecture."""

import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

EM_386 = 3
EM_X86_64 = 62


@dataclass(frozen=True)
class Arch:
    name: str            # "x86_64" or "i386"
    qemu: str            # QEMU system emulator binary
    gdb_architecture: str
    bits: int


ARCHES = {
    "x86_64": Arch("x86_64", "qemu-system-x86_64", "i386:x86-64", 64),
    "i386": Arch("i386", "qemu-system-i386", "i386", 32),
}


@dataclass(frozen=True)
class ElfInfo:
    path: Path
    elf_class: int       # 32 or 64
    machine: int

    @property
    def arch(self) -> Arch:
        if self.machine == EM_X86_64:
            return ARCHES["x86_64"]
        if self.machine == EM_386:
            return ARCHES["i386"]
        raise UsageError(f"{self.path}: not an x86 kernel (ELF machine {self.machine})")

    @property
    def needs_elf32_for_qemu(self) -> bool:
        """QEMU's -kernel loads multiboot ELF32 only."""
        return self.elf_class == 64


def read_elf(path) -> ElfInfo:
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError as error:
        raise UsageError(f"cannot read kernel {path}: {error.strerror}") from None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise UsageError(f"{path}: not an ELF file")
    elf_class = {1: 32, 2: 64}.get(header[4])
    if elf_class is None or header[5] != 1:
        raise UsageError(f"{path}: not a little-endian ELF32/ELF64 file")
    machine = struct.unpack_from("<H", header, 18)[0]
    return ElfInfo(path, elf_class, machine)
