"""Plugin records made into the tracker's inputs (gdbext.tracking.plugin_events): the
same Entry and ExitObservation a breakpoint engine builds, judged by the same
Tracker."""

import struct

import pytest

from gdbext.decode.entry import EntryCache
from gdbext.errors import IsrError
from gdbext.tracking.plugin_events import ENTRY, Site, Sites, entry_from, exit_from, read_word_from
from gdbext.tracking.plugin_ring import (F_MAPPED_D0, F_MAPPED_Q0, F_MAPPED_Q1, KIND_ENTRY, KIND_EXIT,
                                Ring)
from gdbext.decode.snapshot import Context, X86_64, pick
from gdbext.tracking.tracker import Tracker

from .test_entry import PAGE_FAULT, STACK_TOP, TIMER, Target
from .test_plugin_ring import FakePlugin, frame

CR3 = 0x12D000
IRET = TIMER + 0x41
INTERRUPTED = 0x101234
GPRS = {name: 0x1000 + i for i, name in enumerate(X86_64.general)}


def view():
    return EntryCache().view(Target({}), 0)


def entry_record(plugin, ring, frame_words, handler=TIMER, flags=F_MAPPED_Q0, cpu=0, regs=None):
    data = frame(*frame_words)
    sp = STACK_TOP - len(data)
    registers = dict(GPRS, rsp=sp, cs=8, ss=0x10, rip=handler, cr3=CR3, **(regs or {}))
    plugin.record(handler, 1, registers, sp, data, cpu=cpu, flags=flags)
    return ring.drain()[-1]


def exit_record(plugin, ring, sp, popped, below=b"", regs=None, cpu=0, rip=TIMER + 0x20):
    """An exit record at IRET with RSP=sp: ``below`` is what lies under RSP
    (the popped save slots), ``popped`` the words iret takes."""
    registers = dict(GPRS, rsp=sp, cs=8, ss=0x10, rip=rip, cr3=CR3, eflags=0x46,
                     **(regs or {}))
    plugin.record(IRET, 2, registers, sp - len(below), below + frame(*popped), cpu=cpu,
                  kind=KIND_EXIT)
    return ring.drain()[-1]


def test_an_entry_record_decodes_to_the_entry_a_breakpoint_would_see():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = entry_record(plugin, ring, (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10), cpu=1)
    entry, live = entry_from(record, view())
    assert (entry.cpu, entry.handler, entry.vectors, entry.gate_type) == \
        (1, TIMER, (32,), "interrupt")
    f = entry.frame
    assert (f.rip, f.cs, f.rflags, f.rsp, f.ss, f.has_error_code) == \
        (INTERRUPTED, 8, 0x202, STACK_TOP, 0x10, False)
    assert live["rbx"] == GPRS["rbx"] and live["cr3"] == CR3 and live["rsp"] == f.address
    assert "rip" not in live            # stale in QEMU, and the frame has the real one


def test_an_error_code_frame_is_told_apart_by_the_probed_mappings():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    # word 0 is the error code (0x2: not mapped), word 1 the RIP (mapped)
    record = entry_record(plugin, ring, (0x2, INTERRUPTED, 0x08, 0x246, STACK_TOP, 0x10),
                          handler=PAGE_FAULT, flags=F_MAPPED_Q1)
    entry, _ = entry_from(record, view())
    assert entry.frame.has_error_code and entry.frame.error_code == 2
    assert entry.frame.rip == INTERRUPTED


def test_a_rip_the_plugin_found_unmapped_is_no_plausible_frame():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = entry_record(plugin, ring, (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10), flags=0)
    with pytest.raises(IsrError, match="no plausible interrupt frame"):
        entry_from(record, view())


def test_an_entry_at_no_handler_is_refused():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = entry_record(plugin, ring, (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10),
                          handler=0x104000)
    with pytest.raises(IsrError, match="no handler in the IDT"):
        entry_from(record, view())


def test_an_exit_record_is_the_observation_with_the_instructions_own_address():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    sp = STACK_TOP - 40
    record = exit_record(plugin, ring, sp, (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10))
    observation, cr3 = exit_from(record, Site(IRET, "iret", "iretq"), 64)
    assert (observation.kind, observation.address, observation.sp, observation.cpl,
            observation.mnemonic) == ("iret", IRET, sp, 0, "iretq")
    assert observation.registers["rip"] == IRET       # not QEMU's stale RIP
    assert observation.stack == frame(INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10)
    assert cr3 == CR3 and observation.registers["eflags"] == 0x46


def test_an_exit_at_the_top_of_a_stack_takes_the_words_there_are():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    sp = STACK_TOP - 24
    record = exit_record(plugin, ring, sp, (INTERRUPTED, 0x08, 0x202))
    observation, _ = exit_from(record, Site(IRET, "iret", "iretq"), 64)
    assert observation.stack == frame(INTERRUPTED, 0x08, 0x202)


def test_save_slots_read_from_the_exit_record():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    sp = STACK_TOP - 40
    record = exit_record(plugin, ring, sp, (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10),
                         below=struct.pack("<2Q", 0xAAAA, 0xBBBB))
    read_word = read_word_from(record, 8)
    assert read_word(sp - 16) == 0xAAAA and read_word(sp - 8) == 0xBBBB
    assert read_word(sp - 24) is None       # not recorded: no evidence


def test_32_bit_code_under_a_64_bit_qemu_gets_the_low_halves():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = exit_record(plugin, ring, 0x7000, (INTERRUPTED, 0x08, 0x202),
                         regs={"rax": 0xFFFF_FFFF_1234_5678})
    observation, _ = exit_from(record, Site(IRET, "iret", "iret"), 32)
    assert observation.registers["eax"] == 0x1234_5678 and observation.registers["eip"] == IRET
    assert observation.stack[:12] == struct.pack("<3I", INTERRUPTED, 0, 8)


def test_sites_keep_their_tags_and_a_removed_one_still_resolves():
    sites = Sites()
    entry, iret = Site(TIMER, ENTRY), Site(IRET, "iret", "iretq")
    watches = sites.update([iret, entry])
    assert [(w.address, w.kind) for w in watches] == [(TIMER, KIND_ENTRY), (IRET, KIND_EXIT)]
    tags = {w.address: w.tag for w in watches}
    again = sites.update([entry])
    assert [w.tag for w in again] == [tags[TIMER]]
    assert sites.site(tags[IRET]) == iret         # a record still in the ring
    back = sites.update([entry, iret])
    assert {w.address: w.tag for w in back} == tags
    assert sites.site(999) is None


def test_an_entry_wins_over_an_exit_at_the_same_address():
    sites = Sites()
    watches = sites.update([Site(TIMER, "iret"), Site(TIMER, ENTRY)])
    assert [(w.address, w.kind) for w in watches] == [(TIMER, KIND_ENTRY)]


def test_a_lost_register_is_judged_the_same_from_records():
    """End to end through the pure core: the records of a run whose handler
    lost rbx give the clobbered-register finding, naming rbx only."""
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    pushed = (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10)
    entry, live = entry_from(entry_record(plugin, ring, pushed), view())
    tracker = Tracker()
    f = entry.frame
    values = pick(live, X86_64.tracked + ("ss",))
    tracker.enter(entry.cpu, entry.vectors, entry.handler, entry.gate_type, f,
                  Context(values, f.rip, f.cs, f.rflags, f.rsp, f.ss), cr3=live["cr3"])
    record = exit_record(plugin, ring, f.address, pushed, regs={"rbx": 0xDEAD},
                         rip=TIMER)
    observation, cr3 = exit_from(record, Site(IRET, "iret", "iretq"), 64)
    run = tracker.exit(record.cpu, observation, cr3=cr3, read=record.read)
    assert run is not None and run.entry is not None
    assert [f.rule for f in run.findings] == ["clobbered-register"]
    assert [c.name for c in run.verdict.changes] == ["rbx"]


def test_32_bit_probes_are_the_dword_ones():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = entry_record(plugin, ring, (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10),
                          flags=F_MAPPED_D0)
    assert record.mapped(INTERRUPTED & 0xFFFFFFFF) is True


def test_a_record_answers_for_cr2():
    """decode_entry asks the target for CR2 to accept an instruction-fetch #PF
    frame whose RIP is unmapped; a record answers from what the plugin read."""
    from gdbext.tracking.plugin_events import RecordTarget

    class Recorded:
        registers = {"cr2": 0x40100E, "cr3": 0x1000, "rip": None}
    target = RecordTarget(Recorded())
    assert target.registers(("cr2",), optional=True) == {"cr2": 0x40100E}
    assert target.registers(("cr2", "rip", "dr7"), optional=True) == {"cr2": 0x40100E}
