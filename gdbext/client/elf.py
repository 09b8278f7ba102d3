"""What the launcher needs from a kernel ELF: its architecture."""

from dataclasses import dataclass

from gdbext.decode.elf import ElfHeader, read_header
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


def arch_of(header: ElfHeader) -> Arch:
    if header.machine == EM_X86_64:
        return ARCHES["x86_64"]
    if header.machine == EM_386:
        return ARCHES["i386"]
    raise UsageError(f"{header.path}: not an x86 kernel (ELF machine {header.machine})")


def kernel_arch(path) -> Arch:
    return arch_of(read_header(path))
