"""From the trace plugin's records to what the Tracker consumes.

A breakpoint engine reads registers and the frame from a stopped target; the
plugin engine gets the same from a record (gdbext.tracking.plugin_ring) taken while
the guest ran on.  This module makes the *same* inputs out of a record: an
entry (gdbext.decode.entry.Entry, decoded by the same decode_entry, plus the
registers the tracker keeps) and an exit (gdbext.tracking.judge.ExitObservation), so
that one Tracker pairs and one judge judges whichever engine observed.

What a record cannot answer is no evidence: memory it does not hold reads as
unreadable (TargetMemoryError), an address the plugin did not probe reads as
unmapped, and the judge then leaves the question open rather than accuse.
"""

import itertools
from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Optional, Tuple

from gdbext.decode.entry import CpuView, Entry, decode_entry
from gdbext.errors import IsrError, TargetMemoryError
from gdbext.tracking.judge import ExitObservation
from gdbext.tracking.plugin_ring import KIND_ENTRY, KIND_EXIT, Record, Watch
from gdbext.x86.register_file import RawRegisters
from gdbext.decode.snapshot import register_set

ENTRY = "entry"


@dataclass(frozen=True)
class Site:
    """A watched instruction: a handler's first one, or an exit instruction
    (``kind`` as the static walk names it: "iret", "ret", ...)."""

    address: int
    kind: str
    mnemonic: str = ""

    @property
    def is_entry(self) -> bool:
        return self.kind == ENTRY


class Sites:
    """The watched instructions and the tags the plugin hands back with each
    record.  A site keeps its tag while it stays watched, and a tag is never
    given to another site: records still in the ring when the set changed
    resolve to what they were recorded for."""

    def __init__(self):
        self.by_tag: Dict[int, Site] = {}
        self._tag_of: Dict[Site, int] = {}
        self._tags = itertools.count(1)
        self.current: Tuple[Site, ...] = ()

    def update(self, sites: Iterable[Site]) -> List[Watch]:
        """Make ``sites`` the watched set; the plugin's table for it.  One site
        per address (an entry wins over an exit at the same address)."""
        chosen: Dict[int, Site] = {}
        for site in sites:
            if site.address not in chosen or site.is_entry:
                chosen[site.address] = site
        watches = []
        for address in sorted(chosen):
            site = chosen[address]
            tag = self._tag_of.get(site)
            if tag is None:
                tag = self._tag_of[site] = next(self._tags)
                self.by_tag[tag] = site
            watches.append(Watch(address, tag, KIND_ENTRY if site.is_entry else KIND_EXIT))
        self.current = tuple(chosen[a] for a in sorted(chosen))
        return watches

    def site(self, tag: int) -> Optional[Site]:
        return self.by_tag.get(tag)


class RecordTarget:
    """The target protocol decode_entry needs, answered from one record."""

    def __init__(self, record: Record):
        self.record = record

    def read_memory(self, address: int, size: int) -> bytes:
        return self.record.read(address, size)

    def is_mapped(self, address: int) -> bool:
        return bool(self.record.mapped(address))

    def registers(self, names, optional: bool = False, at=None):
        """What the plugin recorded of ``names`` (CR2 tells an instruction
        fetch #PF's unmapped RIP from a bad frame)."""
        recorded = self.record.registers
        return {name: recorded[name] for name in names if recorded.get(name) is not None}


def entry_from(record: Record, view: CpuView) -> Tuple[Entry, Dict[str, int]]:
    """(the Entry, the registers at it) of an entry record, decoded against
    ``view`` (the IDT and GDT as last read while the guest was stopped).
    Raises IsrError as decode_entry does (no handler there, no plausible frame)."""
    regset = register_set(view.bits)
    registers = record.registers        # 32-bit names too, as the low halves
    sp = registers.get(regset.sp)
    if sp is None:
        raise IsrError("the trace plugin recorded no stack pointer")
    entry = decode_entry(RecordTarget(record), view, record.pc, sp, registers.get("cs", 0))
    if entry.cpu != record.cpu:
        entry = replace(entry, cpu=record.cpu)      # the view may be another CPU's
    return entry, registers.only(regset.at_entry)


def iret_words(read, sp: int, slot: int) -> bytes:
    """The words an iret pops: five, or three for a 32-bit same-privilege
    frame that may sit at the very top of its stack (or one, at least)."""
    for words in (5, 3, 1):
        try:
            return read(sp, words * slot)
        except IsrError:
            continue
    return b""


def exit_from(record: Record, site: Site, bits: int) -> Tuple[ExitObservation, Optional[int]]:
    """(the ExitObservation, CR3) of an exit record.  The program counter is
    the watched instruction's address: QEMU's RIP is stale inside a block."""
    regset = register_set(bits)
    regs = _with_pc(record.registers, regset.pc, record.pc).only(regset.at_exit)
    sp = regs.get(regset.sp)
    if sp is None:
        raise IsrError("the trace plugin recorded no stack pointer")
    stack = iret_words(record.read, sp, bits // 8)
    observation = ExitObservation(site.kind, record.pc, regs, stack, sp,
                                  regs.get("cs", 0) & 3, site.mnemonic)
    return observation, regs.get("cr3")


def _with_pc(registers: RawRegisters, name: str, pc: int) -> RawRegisters:
    """``registers`` with the program counter ``name`` set to ``pc``."""
    offset, size = registers.layout.slots.get(name, (None, 0))
    if offset is None or registers.get(name) == pc:
        return registers        # (the plugin writes the watched address there itself)
    raw = bytearray(registers.raw)
    raw[offset:offset + size] = (pc & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
    return RawRegisters(registers.layout, bytes(raw), registers.names)


def read_word_from(record: Record, slot: int):
    """A save slot's value as the exit record holds it (None when it does
    not): what gdbext.analysis.restored asks of memory at the exit."""
    def read_word(address: int) -> Optional[int]:
        try:
            return int.from_bytes(record.read(address, slot), "little")
        except TargetMemoryError:
            return None
    return read_word
