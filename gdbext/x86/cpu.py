"""Architectural facts of x86 that the decoders share: CPU modes, control
register bits, selectors and segment descriptors."""

import enum
import struct
from dataclasses import dataclass, field
from typing import Mapping, Optional

CR0_PE = 1 << 0
CR0_WP = 1 << 16
CR0_PG = 1 << 31
EFER_LME = 1 << 8
EFER_LMA = 1 << 10
EFER_NXE = 1 << 11

# Flag bits of a segment descriptor's high dword (as QEMU prints the cached
# descriptor: "00209a00" for a 64-bit ring-0 code segment).
DESC_L = 1 << 21
DESC_DB = 1 << 22


_GATE_SIZES = {"real": 4, "protected": 8, "long": 16}


class CpuMode(enum.Enum):
    """How the CPU interprets the IDT.

    ``LONG`` is IA-32e mode, both 64-bit and compatibility sub-modes: the IDT
    holds 16-byte gates in either.
    """

    REAL = "real"
    PROTECTED = "protected"
    LONG = "long"

    @property
    def gate_size(self) -> int:
        # by value: a dict of members built per call hashed 4 enums, 256 times per IDT read
        return _GATE_SIZES[self._value_]

    @property
    def address_bits(self) -> int:
        return 64 if self is CpuMode.LONG else 32

    @classmethod
    def parse(cls, text: str) -> "CpuMode":
        aliases = {"real": cls.REAL, "protected": cls.PROTECTED, "32": cls.PROTECTED,
                   "long": cls.LONG, "64": cls.LONG, "ia-32e": cls.LONG}
        try:
            return aliases[text.lower()]
        except KeyError:
            raise ValueError(f"unknown CPU mode {text!r} (real, protected, long)") from None


def cpu_mode(cr0: int, efer: int) -> CpuMode:
    """The mode that decides the IDT format, from CR0.PE and EFER.LMA."""
    if not cr0 & CR0_PE:
        return CpuMode.REAL
    if efer & EFER_LMA:
        return CpuMode.LONG
    return CpuMode.PROTECTED


@dataclass(frozen=True)
class Selector:
    """A segment selector: index, table indicator, requested privilege level."""

    value: int

    @property
    def index(self) -> int:
        return self.value >> 3

    @property
    def table(self) -> str:
        return "LDT" if self.value & 4 else "GDT"

    @property
    def rpl(self) -> int:
        return self.value & 3

    def describe(self) -> str:
        return f"{self.value:#06x} (index {self.index}, {self.table}, RPL {self.rpl})"


@dataclass(frozen=True)
class SegmentDescriptor:
    """An 8-byte code/data/system descriptor from the GDT or LDT."""

    raw: int

    @classmethod
    def from_bytes(cls, data: bytes) -> "SegmentDescriptor":
        return cls(struct.unpack_from("<Q", data)[0])

    @property
    def present(self) -> bool:
        return bool(self.raw >> 47 & 1)

    @property
    def dpl(self) -> int:
        return self.raw >> 45 & 3

    @property
    def is_system(self) -> bool:
        """S bit clear: TSS, LDT, gates."""
        return not self.raw >> 44 & 1

    @property
    def type(self) -> int:
        return self.raw >> 40 & 0xF

    @property
    def is_code(self) -> bool:
        return not self.is_system and bool(self.type & 8)

    @property
    def is_data(self) -> bool:
        return not self.is_system and not self.type & 8

    @property
    def writable(self) -> bool:
        return self.is_data and bool(self.type & 2)

    @property
    def long_mode(self) -> bool:
        return bool(self.raw >> 53 & 1)

    @property
    def default_32(self) -> bool:
        return bool(self.raw >> 54 & 1)

    @property
    def base(self) -> int:
        r = self.raw
        return (r >> 16 & 0xFFFFFF) | (r >> 56 & 0xFF) << 24

    @property
    def limit(self) -> int:
        r = self.raw
        limit = (r & 0xFFFF) | (r >> 48 & 0xF) << 16
        if r >> 55 & 1:  # granularity: 4 KiB units
            limit = limit << 12 | 0xFFF
        return limit

    def kind(self) -> str:
        if self.is_system:
            return SYSTEM_TYPES.get(self.type, f"system type {self.type:#x}")
        if self.is_code:
            bits = 64 if self.long_mode else 32 if self.default_32 else 16
            return f"code{bits}"
        return "data"

    def describe(self) -> str:
        if not self.present:
            return f"{self.kind()}, not present"
        return f"{self.kind()}, DPL {self.dpl}"


SYSTEM_TYPES = {
    0x1: "tss16 (available)", 0x2: "ldt", 0x3: "tss16 (busy)", 0x4: "call gate16",
    0x5: "task gate", 0x6: "interrupt gate16", 0x7: "trap gate16",
    0x9: "tss (available)", 0xB: "tss (busy)", 0xC: "call gate",
    0xE: "interrupt gate", 0xF: "trap gate",
}


@dataclass(frozen=True)
class DescriptorTableRegister:
    """IDTR or GDTR: where the table is and its limit (size - 1)."""

    base: int
    limit: int

    @property
    def size(self) -> int:
        return self.limit + 1


@dataclass(frozen=True)
class CpuState:
    """What the decoders need to know about one CPU beyond its registers."""

    cpu: int
    mode: CpuMode
    cpl: int
    idtr: Optional[DescriptorTableRegister]
    gdtr: Optional[DescriptorTableRegister]
    source: str = "qemu"   # where IDTR came from: "qemu" monitor or "settings"
    control: Mapping[str, int] = field(default_factory=dict)   # cr0 cr2 cr3 cr4 efer, when known
