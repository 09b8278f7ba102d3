"""What a KERNEL file is, for the launcher: a multiboot ELF (the bundled
kernels, most hobby kernels) or a Linux bzImage, and for which architecture.

QEMU boots both with ``-kernel``; they differ in what GDB gets (an ELF carries
its own symbols, a bzImage none) and in how the architecture is found (the ELF
header, or the bzImage's setup header).
"""

import bz2
import lzma
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import IsrError, UsageError
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


# -- the kernel ELF inside a bzImage -------------------------------------------------

# Boot protocol >= 2.08: payload_offset (from the protected-mode code, which
# starts after 1 + setup_sects sectors) and payload_length.  The payload ends
# with the uncompressed size (4 bytes) that the decompressor wants.
_SETUP_SECTS_OFFSET = 0x1F1
_PAYLOAD_OFFSET = 0x248
# payload magic -> (name, stdlib module or None, command that decompresses stdin)
_COMPRESSORS = [
    (b"\x1f\x8b", "gzip", "gzip", ["gzip", "-dc"]),
    (b"\xfd7zXZ\x00", "xz", "lzma", ["xz", "-dc"]),
    (b"BZh", "bzip2", "bz2", ["bzip2", "-dc"]),
    (b"\x5d\x00\x00", "lzma", "lzma", ["xz", "-dc", "--format=lzma"]),
    (b"\x02\x21\x4c\x18", "lz4", None, ["lz4", "-dc"]),
    (b"\x28\xb5\x2f\xfd", "zstd", None, ["zstd", "-dc"]),
    (b"\x89\x4c\x5a\x4f", "lzo", None, ["lzop", "-dc"]),
]


def extract_kernel_elf(image: KernelImage, destination: Path) -> Path:
    """The kernel ELF (Linux's vmlinux, without symbols) packed in a bzImage.

    GDB gets it as the program file when no --symbols is given: it holds the
    code, so isrdbg can find the kernel's `lidt` instructions and arm vectors
    before the IDT exists.  IsrError with the reason when it cannot be had."""
    data = image.path.read_bytes()
    start = (data[_SETUP_SECTS_OFFSET] or 4) * 512 + 512
    offset, length = struct.unpack_from("<II", data, _PAYLOAD_OFFSET)
    payload = data[start + offset:start + offset + length - 4]
    for magic, name, module, command in _COMPRESSORS:
        if payload.startswith(magic):
            break
    else:
        raise IsrError(f"{image.path}: unknown compression of the kernel payload "
                       f"(starts {payload[:4].hex()})")
    elf = _decompress(payload, name, module, command)
    if elf[:4] != b"\x7fELF":
        raise IsrError(f"{image.path}: the {name} payload is not an ELF kernel")
    destination.write_bytes(elf)
    return destination


def _decompress(payload: bytes, name: str, module, command) -> bytes:
    if module is not None:
        if name == "gzip":
            return zlib.decompressobj(wbits=31).decompress(payload)
        decompressor = {"bz2": lambda: bz2.BZ2Decompressor(),
                        "lzma": lambda: lzma.LZMADecompressor()}[module]()
        return decompressor.decompress(payload)
    if shutil.which(command[0]) is None:
        raise IsrError(f"the kernel payload is {name}-compressed and `{command[0]}` is not "
                       f"installed (apt-get install {command[0]})")
    result = subprocess.run(command, input=payload, capture_output=True)
    if result.returncode != 0 or not result.stdout:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise IsrError(f"`{' '.join(command)}` failed on the kernel payload"
                       f"{': ' + detail[-1] if detail else ''}")
    return result.stdout
