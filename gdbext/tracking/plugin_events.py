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

A clean run the plugin folded into one record (plugin/ring.h) is unfolded
into the two records it stands for (unfold): the plugin found every register
it records unchanged at the exit but the program counter, the stack pointer
and RFLAGS, and the words the iret pops equal to those the entry record
holds, so the exit record is the entry's registers and stack with those
three put back.  Only the exit's save slots below RSP are missing, which the
judge reads only to explain changed registers.

A batch (a KIND_CLEAN record with ``count`` > 1) stands for that many such
runs in a row whose records differed at most in the arithmetic flags of the
RFLAGS word the iret pops (plugin/ring.h); batch_member is the record of one
of them, with its own flags.
"""

import itertools
from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Optional, Tuple

from gdbext.decode.entry import CpuView, Entry, decode_entry
from gdbext.errors import IsrError, TargetMemoryError
from gdbext.tracking.judge import ExitObservation
from gdbext.tracking.plugin_ring import (F_LONG_MODE, KIND_CLEAN, KIND_ENTRY, KIND_EXIT,
                                         RFLAGS_ARITH, WATCH_FOLD, WATCH_NO_ERROR_CODE, Record,
                                         Watch)
from gdbext.x86.vectors import vector as vector_facts
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

    def update(self, sites: Iterable[Site], fold: Iterable[int] = (),
               no_error_code: Iterable[int] = ()) -> List[Watch]:
        """Make ``sites`` the watched set; the plugin's table for it.  One site
        per address (an entry wins over an exit at the same address).  The
        plugin may fold the clean runs of the entries at ``fold``, and need
        not probe the second frame word of the entries at ``no_error_code``
        (no_error_code_entries)."""
        fold = frozenset(fold)
        no_error_code = frozenset(no_error_code)
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
            kind = KIND_EXIT
            if site.is_entry:
                kind = KIND_ENTRY | (WATCH_FOLD if address in fold else 0) | \
                    (WATCH_NO_ERROR_CODE if address in no_error_code else 0)
            watches.append(Watch(address, tag, kind))
        self.current = tuple(chosen[a] for a in sorted(chosen))
        return watches

    def site(self, tag: int) -> Optional[Site]:
        return self.by_tag.get(tag)


def no_error_code_entries(handlers: Iterable[int], view: CpuView) -> List[int]:
    """Of ``handlers``, those whose every vector in ``view``'s IDT is one the
    CPU never pushes an error code for: a frame there starts with RIP, so the
    plugin need not probe whether the second word is mapped code (a page
    walk per entry).  A handler shared with an error-code vector is probed."""
    found = []
    for handler in handlers:
        gates = view.handlers.get(handler)
        if gates is not None and gates.vectors and \
                not any(vector_facts(v).pushes_error_code for v in gates.vectors):
            found.append(handler)
    return found


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


def unfold(record: Record) -> Tuple[Record, Record]:
    """(the entry record, the exit record) a KIND_CLEAN record stands for."""
    exit_tag, exit_pc, exit_sp, exit_flags = record.exit
    entry = Record(record.position, record.pc, record.tag, record.cpu, KIND_ENTRY,
                   record.flags, record.registers, record.stack_address, record.stack)
    registers = record.registers
    if hasattr(registers, "raw"):
        # the wide names first: a 32-bit one under a 64-bit QEMU is a low half
        registers = _with_values(registers, {"rip": exit_pc, "eip": exit_pc, "rsp": exit_sp,
                                             "esp": exit_sp, "eflags": exit_flags})
    start = max(0, exit_sp - record.stack_address)
    exit = Record(record.position, exit_pc, exit_tag, record.cpu, KIND_EXIT, 0, registers,
                  record.stack_address + start, record.stack[start:])
    return entry, exit


def popped_flags_offset(record: Record) -> Optional[int]:
    """Where, in a KIND_CLEAN record's stack bytes, the RFLAGS word its iret
    pops lies (the entry pushed the same word there); None if not held."""
    slot = 8 if record.flags & F_LONG_MODE else 4
    offset = record.exit[2] + 2 * slot - record.stack_address
    return offset if 0 <= offset and offset + slot <= len(record.stack) else None


def popped_rflags(record: Record, index: int) -> Optional[int]:
    """The RFLAGS word run ``index`` of a batch popped (and pushed): the
    record's own, with that run's arithmetic flags; None if not held."""
    words = popped_rflags_of(record, index, index + 1)
    return None if words is None else words[0]


def popped_rflags_of(record: Record, start: int, stop: int) -> Optional[Tuple[int, ...]]:
    """popped_rflags of runs ``start`` to ``stop`` - 1 of a batch, the word
    read once (a batch holds up to 192 runs, counted at 100,000 a second)."""
    offset = popped_flags_offset(record)
    if offset is None:
        return None
    slot = 8 if record.flags & F_LONG_MODE else 4
    word = int.from_bytes(record.stack[offset:offset + slot], "little")
    if not record.batch_flags:
        return (word,) * (stop - start)
    kept = word & ~RFLAGS_ARITH
    return tuple(kept | (flags & RFLAGS_ARITH) for flags in record.batch_flags[start:stop])


def batch_member(record: Record, index: int) -> Record:
    """Run ``index`` of a batch as the KIND_CLEAN record the plugin would have
    written for it alone."""
    if index == 0 and not record.batch_flags:
        return record
    offset = popped_flags_offset(record)
    stack = record.stack
    if offset is not None:
        slot = 8 if record.flags & F_LONG_MODE else 4
        stack = stack[:offset] + popped_rflags(record, index).to_bytes(slot, "little") + \
            stack[offset + slot:]
    return Record(record.position, record.pc, record.tag, record.cpu, KIND_CLEAN,
                  record.flags, record.registers, record.stack_address, stack, record.exit)


def clean_exit_from(record: Record, site: Site, bits: int) -> ExitObservation:
    """The exit of a KIND_CLEAN record as the tracker keeps a judged exit (see
    tracker._compact): the registers the exit may change - program counter,
    stack pointer, flags, and cs and ss - the others being the entry's (the
    plugin compared them), and the words the iret pops, which the plugin found
    equal to those the entry record holds."""
    regset = register_set(bits)
    _, pc, sp, flags = record.exit
    if bits == 32:
        sp &= 0xFFFF_FFFF       # as the exit record's esp: the low half of rsp
    registers = {regset.pc: pc, regset.sp: sp, regset.flags: flags}
    for name in ("cs", "ss"):
        value = record.registers.get(name)
        if value is not None:
            registers[name] = value
    return ExitObservation(site.kind, pc, registers, iret_words(record.read, sp, bits // 8), sp,
                           registers.get("cs", 0) & 3, site.mnemonic)


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
    if registers.get(name, pc) == pc:
        return registers        # (the plugin writes the watched address there itself)
    return _with_values(registers, {name: pc})


def _with_values(registers: RawRegisters, values: Dict[str, int]) -> RawRegisters:
    """``registers`` with ``values`` (name -> value) in place of theirs (for
    the names the record has; a 32-bit name under a 64-bit QEMU is the low
    half of the 64-bit one, and its slot sets only that half)."""
    raw = bytearray(registers.raw)
    for name, value in values.items():
        offset, size = registers.layout.slots.get(name, (None, 0))
        if offset is not None:
            raw[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
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
