"""Reading ELF files: the header (class, machine) and the executable sections."""

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import List

from gdbext.errors import UsageError

SHF_EXECINSTR = 0x4
SHT_NOBITS = 8


@dataclass(frozen=True)
class ElfHeader:
    path: Path
    elf_class: int      # 32 or 64
    machine: int


@dataclass(frozen=True)
class CodeSection:
    name: str
    address: int
    data: bytes


def read_header(path) -> ElfHeader:
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
    return ElfHeader(path, elf_class, struct.unpack_from("<H", header, 18)[0])


def code_sections(path) -> List[CodeSection]:
    """Executable sections with their load addresses and bytes."""
    data = Path(path).read_bytes()
    is64 = data[4] == 2
    if is64:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        entry_fmt = "<IIQQQQIIQQ"
    else:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
        entry_fmt = "<IIIIIIIIII"
    headers = [struct.unpack_from(entry_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx] if shstrndx < len(headers) else None
    sections = []
    for name_off, kind, flags, address, offset, size, *_ in headers:
        if not flags & SHF_EXECINSTR or kind == SHT_NOBITS or not size:
            continue
        name = ""
        if strtab is not None:
            start = strtab[4] + name_off
            name = data[start:data.index(b"\0", start)].decode(errors="replace")
        sections.append(CodeSection(name, address, data[offset:offset + size]))
    return sections
