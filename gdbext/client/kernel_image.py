"""What a KERNEL file is, for the launcher: a multiboot ELF (the bundled
kernels, most hobby kernels) or a Linux bzImage, and for which architecture.

QEMU boots both with ``-kernel``; they differ in what GDB gets (an ELF carries
its own symbols, a bzImage none) and in how the architecture is found (the ELF
header, or the bzImage's setup header).
"""

import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from .elf import ARCHES, Arch, EM_386, EM_X86_64

MULTIBOOT_ELF = "multiboot ELF"
BZIMAGE = "Linux bzImage"

# Linux boot protocol (Documentation/arch/x86/boot.rst): the setup header's
# magic "HdrS" at 0x202, the protocol version at 0x206 and, from 2.12 on,
# xloadflags at 0x236 whose bit 0 (XLF_KERNEL_64) says the kernel is 64-bit.
_HDRS_OFFSET = 0x202
_VERSION_OFFSET = 0x206
_XLOADFLAGS_OFFSET = 0x236
_XLF_KERNEL_64 = 0x1


@dataclass(frozen=True)
class KernelImage:
    path: Path
    kind: str            # MULTIBOOT_ELF or BZIMAGE
    arch: Arch

    @property
    def has_symbols(self) -> bool:
        return self.kind == MULTIBOOT_ELF


def identify(path) -> KernelImage:
    """The kind and architecture of ``path``; a one-line UsageError otherwise."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(0x240)
    except IsADirectoryError:
        raise UsageError(f"kernel {path} is a directory, not a kernel file") from None
    except OSError as error:
        raise UsageError(f"cannot read kernel {path}: {error.strerror}") from None
    if head[:4] == b"\x7fELF":
        return KernelImage(path, MULTIBOOT_ELF, _elf_arch(path, head))
    if head[_HDRS_OFFSET:_HDRS_OFFSET + 4] == b"HdrS":
        return KernelImage(path, BZIMAGE, _bzimage_arch(head))
    raise UsageError(f"{path}: neither an ELF kernel nor a Linux bzImage "
                     f"(for a disk image use --drive or --cdrom)")


def _elf_arch(path: Path, head: bytes) -> Arch:
    if len(head) < 20 or head[4] not in (1, 2) or head[5] != 1:
        raise UsageError(f"{path}: not a little-endian ELF32/ELF64 file")
    machine, = struct.unpack_from("<H", head, 18)
    if machine == EM_X86_64:
        return ARCHES["x86_64"]
    if machine == EM_386:
        return ARCHES["i386"]
    raise UsageError(f"{path}: not an x86 kernel (ELF machine {machine})")


def _bzimage_arch(head: bytes) -> Arch:
    version, = struct.unpack_from("<H", head, _VERSION_OFFSET)
    if version >= 0x20C and len(head) > _XLOADFLAGS_OFFSET:
        if head[_XLOADFLAGS_OFFSET] & _XLF_KERNEL_64:
            return ARCHES["x86_64"]
    return ARCHES["i386"]
