"""The one parser of QEMU monitor text.

QEMU's gdbstub does not expose IDTR, GDTR, TR or the CPL; ``monitor info
registers`` prints them for the monitor's current CPU.  This module turns that
text into numbers and a ``CpuState``; nothing else in the project reads it.
"""

import re
from dataclasses import dataclass, field
from typing import Dict, Optional

from gdbext.x86.cpu import CpuState, DescriptorTableRegister, cpu_mode

_CPU_LINE = re.compile(r"^CPU#(\d+)", re.M)
# "CS =0008 0000000000000000 00000000 00209a00 DPL=0 CS64 [-R-]"
_SEGMENT_LINE = re.compile(
    r"^(ES|CS|SS|DS|FS|GS|LDT|TR)\s*=([0-9a-f]{4}) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)(.*)$",
    re.M | re.I)
# "IDT=     0000000000103000 00000fff"
_TABLE_LINE = re.compile(r"^(GDT|IDT)=\s+([0-9a-f]+) ([0-9a-f]+)", re.M | re.I)
# Plain "NAME=hex" pairs: RAX=..., EFL=..., CR0=..., EFER=..., CPL=0
# (the register name may be padded: "R8 =0000...")
_PAIR = re.compile(r"\b([A-Z][A-Z0-9]*) ?=([0-9a-f]+)\b", re.I)


CONTROL_REGISTERS = ("CR0", "CR2", "CR3", "CR4", "EFER")
# "0000000000123000: 0x23 0x40 0x12 0x00 ..." (xp /Nbx)
_DUMP_LINE = re.compile(r"^\s*([0-9a-f]+):((?:\s+0x[0-9a-f]{2})+)\s*$", re.M | re.I)


@dataclass(frozen=True)
class SegmentCache:
    """A segment register as QEMU holds it: selector plus cached descriptor."""

    selector: int
    base: int
    limit: int
    flags: int
    notes: str  # QEMU's annotation, e.g. "DPL=0 CS64 [-R-]"


@dataclass
class InfoRegisters:
    """``info registers`` of one CPU, as numbers."""

    cpu: int
    values: Dict[str, int] = field(default_factory=dict)   # "RIP", "CR0", "EFER", "CPL"...
    segments: Dict[str, SegmentCache] = field(default_factory=dict)
    gdtr: Optional[DescriptorTableRegister] = None
    idtr: Optional[DescriptorTableRegister] = None

    def value(self, *names: str, default: Optional[int] = None) -> Optional[int]:
        """The first of ``names`` present (``RIP`` in long mode, ``EIP`` else)."""
        for name in names:
            if name in self.values:
                return self.values[name]
        return default

    def cpu_state(self) -> CpuState:
        cr0 = self.value("CR0", default=0)
        efer = self.value("EFER", default=0)
        control = {name.lower(): self.values[name] for name in CONTROL_REGISTERS
                   if name in self.values}
        return CpuState(cpu=self.cpu, mode=cpu_mode(cr0, efer), cpl=self.value("CPL", default=0),
                        idtr=self.idtr, gdtr=self.gdtr, source="qemu", control=control)


class MonitorParseError(ValueError):
    pass


def parse_info_registers(text: str) -> InfoRegisters:
    """Parse the output of ``info registers`` (one CPU; QEMU 5 to 9 formats)."""
    if "IDT=" not in text:
        first = text.strip().splitlines()[0] if text.strip() else "no output"
        raise MonitorParseError(f"not 'info registers' output: {first}")
    match = _CPU_LINE.search(text)
    regs = InfoRegisters(cpu=int(match.group(1)) if match else 0)
    for m in _SEGMENT_LINE.finditer(text):
        name = m.group(1).upper()
        regs.segments[name] = SegmentCache(int(m.group(2), 16), int(m.group(3), 16),
                                           int(m.group(4), 16), int(m.group(5), 16),
                                           m.group(6).strip())
    for m in _TABLE_LINE.finditer(text):
        dtr = DescriptorTableRegister(int(m.group(2), 16), int(m.group(3), 16))
        if m.group(1).upper() == "IDT":
            regs.idtr = dtr
        else:
            regs.gdtr = dtr
    for line in text.splitlines():
        # Segment and table lines use "NAME =sel base ..." and are parsed above;
        # FPR/XMM lines hold several numbers per name and are not needed here.
        if _SEGMENT_LINE.match(line) or _TABLE_LINE.match(line) or line.startswith(("FPR", "XMM", "YMM", "ZMM")):
            continue
        for name, value in _PAIR.findall(line):
            regs.values.setdefault(name.upper(), int(value, 16))
    return regs


def parse_byte_dump(text: str, address: int, size: int) -> bytes:
    """The bytes of ``xp /{size}bx {address}`` output; MonitorParseError if the
    dump does not cover exactly that range (QEMU reports unreadable memory as
    a message instead of lines)."""
    data = bytearray()
    expected = address
    for match in _DUMP_LINE.finditer(text):
        if int(match.group(1), 16) != expected:
            break
        chunk = bytes(int(b, 16) for b in match.group(2).split())
        data += chunk
        expected += len(chunk)
    if len(data) < size:
        first = text.strip().splitlines()[0] if text.strip() else "no output"
        raise MonitorParseError(f"memory dump of {size} bytes at {address:#x} failed: {first}")
    return bytes(data[:size])


# "kvm support: enabled" / "disabled" / "not compiled" (QEMU 2.x to 10)
_KVM_LINE = re.compile(r"^kvm support:\s*(enabled|disabled|not compiled)\s*$", re.M | re.I)


def parse_info_kvm(text: str) -> bool:
    """Whether ``info kvm`` says the VM runs under KVM (not TCG)."""
    match = _KVM_LINE.search(text)
    if match is None:
        first = text.strip().splitlines()[0] if text.strip() else "no output"
        raise MonitorParseError(f"not 'info kvm' output: {first}")
    return match.group(1).lower() == "enabled"
