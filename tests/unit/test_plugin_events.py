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
    registers = dict(GPRS, rsp=sp, cs=8, ss=0x10, rip=handler, cr3=CR3)
    registers.update(regs or {})
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


# -- clean runs the plugin folded into one record -------------------------------------------

from gdbext.decode.snapshot import register_set                     # noqa: E402
from dataclasses import replace                                     # noqa: E402
from gdbext.tracking.judge import clean_iret, judge_exit            # noqa: E402
from gdbext.tracking.plugin_events import clean_exit_from, unfold   # noqa: E402
from gdbext.tracking.plugin_ring import KIND_CLEAN, WATCH_FOLD      # noqa: E402
from gdbext.tracking.trace import Trace                             # noqa: E402
from gdbext.tracking.tracker import BY_CONTEXT, context_key         # noqa: E402

TIMER_FRAME = (INTERRUPTED, 0x08, 0x202, STACK_TOP, 0x10)
PF_FRAME = (0x2, INTERRUPTED, 0x08, 0x246, STACK_TOP, 0x10)     # error code first
IRET_SITE = Site(IRET, "iret", "iretq")


def clean_record(plugin, ring, frame_words, exit_sp=None, handler=TIMER, flags=F_MAPPED_Q0,
                 exit_flags=0x46, cpu=0, regs=None):
    """A KIND_CLEAN record as the plugin folds it: the entry's record, and the
    exit's tag, address, RSP (the entry's by default) and RFLAGS."""
    data = frame(*frame_words)
    sp = STACK_TOP - len(data)
    registers = dict(GPRS, rsp=sp, cs=8, ss=0x10, rip=handler, cr3=CR3, eflags=0x2,
                     **(regs or {}))
    plugin.record(handler, 1, registers, sp, data, cpu=cpu, flags=flags, kind=KIND_CLEAN,
                  exit=(2, IRET, sp if exit_sp is None else exit_sp, exit_flags))
    return ring.drain()[-1]


def open_run(tracker, record):
    """What the engine does with an entry record (run_tracking.Tracking.open_run)."""
    entry, live = entry_from(record, view())
    regset = register_set(64)
    f = entry.frame
    context = Context(pick(live, regset.tracked + ("ss",)), f.rip, f.cs, f.rflags, f.rsp, f.ss)
    return tracker.enter(entry.cpu, entry.vectors, entry.handler, entry.gate_type, f, context,
                         cr3=live.get("cr3"))


def traced(tracker):
    trace = Trace()
    trace.start([32, 14], None, tracker)
    tracker.observers.append(trace.record)
    return trace


def judged_in_full(tracker, record, site=IRET_SITE):
    """What the engine does with a clean record the tracker cannot count."""
    entry, exit = unfold(record)
    open_run(tracker, entry)
    observation, cr3 = exit_from(exit, site, 64)
    return tracker.exit(exit.cpu, observation, cr3=cr3, read=exit.read)


def counted_clean(tracker, record, site=IRET_SITE):
    """What the engine does with a clean record first (PluginEngine._count_clean)."""
    entry, live = entry_from(record, view())
    regset = register_set(64)
    f = entry.frame
    context = Context(pick(live, regset.tracked + ("ss",)), f.rip, f.cs, f.rflags, f.rsp, f.ss)
    return tracker.clean_run(entry.cpu, entry.vectors, entry.handler, entry.gate_type, f,
                             context, clean_exit_from(record, site, 64), cr3=live.get("cr3"))


def test_a_clean_record_unfolds_into_the_entry_and_exit_records_the_plugin_would_write():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = clean_record(plugin, ring, TIMER_FRAME)
    entry, exit = unfold(record)
    assert (entry.kind, entry.pc, entry.tag, entry.stack) == \
        (KIND_ENTRY, TIMER, 1, frame(*TIMER_FRAME))
    assert (exit.kind, exit.pc, exit.tag, exit.cpu) == (KIND_EXIT, IRET, 2, 0)
    sp = STACK_TOP - 40
    assert (exit.registers["rip"], exit.registers["rsp"], exit.registers["eflags"]) == \
        (IRET, sp, 0x46)
    assert exit.registers["rbx"] == GPRS["rbx"] and exit.registers["cr3"] == CR3
    observation, _ = exit_from(exit, IRET_SITE, 64)
    assert observation.stack == frame(*TIMER_FRAME)      # the words the iret pops
    assert clean_exit_from(record, IRET_SITE, 64) == \
        replace(observation, registers={"rip": IRET, "rsp": sp, "eflags": 0x46, "cs": 8,
                                        "ss": 0x10})


def test_an_error_code_frames_exit_pops_from_one_word_above_the_entrys_rsp():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    sp = STACK_TOP - 48
    record = clean_record(plugin, ring, PF_FRAME, exit_sp=sp + 8, handler=PAGE_FAULT,
                          flags=F_MAPPED_Q1)
    _, exit = unfold(record)
    assert exit.stack_address == sp + 8 and exit.stack == frame(*PF_FRAME[1:])
    assert clean_exit_from(record, IRET_SITE, 64).stack == frame(*PF_FRAME[1:])


def test_a_clean_run_is_counted_exactly_as_a_judged_one():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    full, fast = Tracker(), Tracker()
    traces = traced(full), traced(fast)
    for tracker, close in ((full, judged_in_full), (fast, counted_clean)):
        for rip in (INTERRUPTED, INTERRUPTED + 4, INTERRUPTED):
            run = close(tracker, clean_record(plugin, ring, (rip,) + TIMER_FRAME[1:]))
            assert run is not None and run.identity == BY_CONTEXT and run.findings == ()
        pf = close(tracker, clean_record(plugin, ring, PF_FRAME, exit_sp=STACK_TOP - 40,
                                         handler=PAGE_FAULT, flags=F_MAPPED_Q1))
        assert pf is not None and pf.findings == ()
    assert full.stats == fast.stats and full.stats[(32,)].runs == 3
    assert [r.digest() for r in full.completed] == [r.digest() for r in fast.completed]
    assert [(r.verdict.changes, r.verdict.findings, r.verdict.unjudged) for r in full.completed] \
        == [(r.verdict.changes, r.verdict.findings, r.verdict.unjudged) for r in fast.completed]
    assert [context_key(r.verdict.resumed) for r in full.completed] == \
        [context_key(r.verdict.resumed) for r in fast.completed]
    assert traces[0].stats == traces[1].stats
    assert (fast.open, fast.running[0], fast.next_sequence) == ({}, [], full.next_sequence)


def test_a_clean_run_nested_in_an_open_one_is_counted_at_its_depth():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    tracker = Tracker()
    outer = open_run(tracker, entry_record(plugin, ring, TIMER_FRAME))
    # the timer again, interrupting the handler (IF set) on its stack, below its frame
    inner_frame = (TIMER + 8, 0x08, 0x202, outer.frame.address - 16, 0x10)
    data = frame(*inner_frame)
    sp = outer.frame.address - 16 - len(data)
    plugin.record(TIMER, 1, dict(GPRS, rsp=sp, cs=8, ss=0x10, rip=TIMER, cr3=CR3, eflags=2),
                  sp, data, flags=F_MAPPED_Q0, kind=KIND_CLEAN, exit=(2, IRET, sp, 0x46))
    inner = counted_clean(tracker, ring.drain()[-1])
    assert inner is not None and inner.depth == 1 and tracker.stats[(32,)].max_depth == 1
    assert outer.enabled_interrupts_at == TIMER + 8     # what the outer run is judged on
    assert list(tracker.open.values()) == [outer] and tracker.running[0] == [outer]


@pytest.mark.parametrize("what, exit_flags, exit_sp, site, finding", [
    ("IF set at an interrupt gate's exit", 0x246, None, IRET_SITE,
     "interrupts-enabled-in-handler"),
    ("the error code left on the stack", 0x46, STACK_TOP - 48, IRET_SITE,
     "error-code-not-popped"),
    ("a ret for an exit", 0x46, None, Site(IRET, "ret", "ret"), "ret-instead-of-iret"),
])
def test_a_clean_record_the_judge_would_find_something_in_is_judged_in_full(
        what, exit_flags, exit_sp, site, finding):
    """The plugin folds on registers and stack alone; the judge's own tests
    decide: a run with a finding is never counted clean, and its record,
    unfolded, is judged as the two records would have been."""
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    pf = exit_sp is not None
    record = clean_record(plugin, ring, PF_FRAME if pf else TIMER_FRAME, exit_sp=exit_sp,
                          handler=PAGE_FAULT if pf else TIMER,
                          flags=F_MAPPED_Q1 if pf else F_MAPPED_Q0, exit_flags=exit_flags)
    tracker = Tracker()
    assert counted_clean(tracker, record, site) is None
    assert (tracker.open, tracker.stats, tracker.next_sequence) == ({}, {}, 1)     # untouched
    run = judged_in_full(tracker, record, site)
    assert run is not None and finding in [f.rule for f in run.findings]


def test_a_clean_run_whose_context_an_open_run_has_is_left_to_exit():
    """Another open run with the same context (another address space, on the
    other CPU): enter() and exit() pair, never clean_run."""
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    tracker = Tracker()
    open_run(tracker, entry_record(plugin, ring, TIMER_FRAME, cpu=1, regs={"cr3": CR3 + 0x2000}))
    record = clean_record(plugin, ring, TIMER_FRAME)
    assert counted_clean(tracker, record) is None
    run = judged_in_full(tracker, record)
    assert run.identity == BY_CONTEXT and run.findings == () and len(tracker.open) == 1


def test_the_judges_clean_verdict_is_judge_exits():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = clean_record(plugin, ring, TIMER_FRAME)
    run = counted_clean(Tracker(), record)
    regset = register_set(64)
    full = judge_exit(regset, run.frame, run.entry, run.gate_type, run.exit, None,
                      {"vector": 32, "cpu": 0, "handler": TIMER})
    assert clean_iret(regset, run.frame, run.entry, run.gate_type, run.exit) == full == \
        run.verdict and full.findings == ()


def test_only_the_entries_named_may_fold():
    sites = Sites()
    watches = sites.update([Site(TIMER, ENTRY), Site(PAGE_FAULT, ENTRY), IRET_SITE],
                           fold={TIMER, IRET})
    assert [(w.address, w.kind) for w in watches] == \
        [(TIMER, KIND_ENTRY | WATCH_FOLD), (IRET, KIND_EXIT), (PAGE_FAULT, KIND_ENTRY)]


# -- batches: clean runs the plugin counted in one record ------------------------------------

from gdbext.tracking.plugin_events import (batch_member, popped_rflags,  # noqa: E402
                                           popped_rflags_of)
from gdbext.tracking.plugin_ring import F_LONG_MODE                       # noqa: E402
from gdbext.tracking.tracker import RunHistory                            # noqa: E402

BATCH_FLAGS = (0x83 & 0x8D5, 0x87 & 0x8D5, 0x83 & 0x8D5, 0x846 & 0x8D5)   # CF, CF PF, CF, PF ZF OF
IDLE_FRAME = (INTERRUPTED, 0x08, 0x283, STACK_TOP, 0x10)


def batch_record(plugin, ring, batch_flags=BATCH_FLAGS, frame_words=IDLE_FRAME):
    data = frame(*frame_words)
    sp = STACK_TOP - len(data)
    registers = dict(GPRS, rsp=sp, cs=8, ss=0x10, rip=TIMER, cr3=CR3, eflags=0x2)
    plugin.record(TIMER, 1, registers, sp, data, flags=F_MAPPED_Q0 | F_LONG_MODE,
                  kind=KIND_CLEAN, exit=(2, IRET, sp, 0x46), count=len(batch_flags),
                  batch_flags=batch_flags)
    return ring.drain()[-1]


def counted_batch(tracker, record):
    """What the engine does with a batch: count its first run as any clean
    run, then the others at once (PluginEngine._feed_clean)."""
    run = counted_clean(tracker, batch_member(record, 0))
    rest = popped_rflags_of(record, 1, record.count)
    return run, tracker.repeat(run, record.count - 1, rest)


def test_a_batch_member_is_the_record_with_its_own_popped_flags():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = batch_record(plugin, ring)
    assert [popped_rflags(record, i) for i in range(4)] == [0x283, 0x287, 0x283, 0xA46 | 0x200]
    assert popped_rflags_of(record, 1, 4) == (0x287, 0x283, 0xA46 | 0x200)
    member = batch_member(record, 1)
    assert member.read(STACK_TOP - 40, 40) == frame(INTERRUPTED, 0x08, 0x287, STACK_TOP, 0x10)
    assert (member.count, member.exit, member.registers) == (1, record.exit, record.registers)


def test_a_batch_is_counted_exactly_as_its_runs_one_by_one():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = batch_record(plugin, ring)
    one_by_one, batched = Tracker(), Tracker()
    traces = traced(one_by_one), traced(batched)
    for i in range(record.count):
        run = judged_in_full(one_by_one, batch_member(record, i))
        assert run is not None and run.findings == ()
    first, rest = counted_batch(batched, record)
    assert (first.repeats, rest.repeats, rest.sequence) == (1, 3, 2)
    assert batched.stats == one_by_one.stats and batched.stats[(32,)].runs == 4
    assert traces[0].stats == traces[1].stats and traces[1].stats[(32,)].last == 4
    assert batched.next_sequence == one_by_one.next_sequence == 5
    assert len(batched.completed) == 4
    assert [r.digest() for r in batched.completed] == [r.digest() for r in one_by_one.completed]
    # each run with the flags it pushed and popped
    assert [(r.entry.rflags, r.frame.rflags, r.verdict.resumed.rflags) for r in
            batched.completed] == [(r.entry.rflags, r.frame.rflags, r.verdict.resumed.rflags)
                                   for r in one_by_one.completed]
    assert [r.exit.stack for r in batched.completed] == \
        [r.exit.stack for r in one_by_one.completed]
    assert [r.entry.rflags for r in batched.completed] == [0x283, 0x287, 0x283, 0xA46]


def test_a_batch_whose_context_an_open_run_has_is_not_counted_at_once():
    """An open run (another address space, on the other CPU) has the context
    one run of the batch pushed: that run must pair with exit(), as alone."""
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    tracker = Tracker()
    other = (INTERRUPTED, 0x08, 0x287, STACK_TOP, 0x10)
    open_run(tracker, entry_record(plugin, ring, other, cpu=1, regs={"cr3": CR3 + 0x2000}))
    first, rest = counted_batch(tracker, batch_record(plugin, ring))
    assert first is not None and rest is None
    assert tracker.stats[(32,)].runs == 1 and tracker.next_sequence == 3


def test_the_history_keeps_the_latest_runs_of_batches_each_with_its_number():
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    tracker = Tracker(history=5)
    for _ in range(3):
        counted_batch(tracker, batch_record(plugin, ring))
    runs = list(tracker.completed)
    assert len(tracker.completed) == 5 and [r.sequence for r in runs] == [8, 9, 10, 11, 12]
    assert [r.repeats for r in runs] == [1] * 5
    assert [r.entry.rflags for r in runs] == [0x283, 0xA46, 0x283, 0x287, 0x283, 0xA46][1:]
    assert [r.sequence for r in tracker.last(2)] == [11, 12]
    tracker.resize(2)
    assert [r.sequence for r in tracker.completed] == [11, 12]


def test_a_trace_limit_inside_a_batch_leaves_room_for_the_runs_up_to_it():
    trace = Trace()
    tracker = Tracker()
    trace.start([32], 3, tracker)
    assert trace.room((32,)) == 3 and trace.room((14,)) is None
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = batch_record(plugin, ring)
    run = counted_clean(tracker, batch_member(record, 0))
    assert not trace.account(run) and trace.room((32,)) == 2
    batch = tracker.repeat(run, trace.room((32,)), (0x287, 0x283))
    assert trace.account(batch) and trace.counted == 3


def test_entries_whose_vectors_push_no_error_code_skip_the_second_words_probe():
    from gdbext.tracking.plugin_events import no_error_code_entries
    from gdbext.tracking.plugin_ring import F_NO_ERROR_CODE, WATCH_NO_ERROR_CODE
    plain = no_error_code_entries([TIMER, PAGE_FAULT, 0x104000], view())
    assert plain == [TIMER]         # #PF pushes one; 0x104000 is no handler: probed
    watches = Sites().update([Site(TIMER, ENTRY), Site(PAGE_FAULT, ENTRY)], fold={TIMER},
                             no_error_code=plain)
    assert [(w.address, w.kind) for w in watches] == \
        [(TIMER, KIND_ENTRY | WATCH_FOLD | WATCH_NO_ERROR_CODE), (PAGE_FAULT, KIND_ENTRY)]
    # the record says the second word was not probed: unknown, the first one decides
    plugin = FakePlugin()
    ring = Ring(plugin.buffer)
    record = entry_record(plugin, ring, TIMER_FRAME,
                          flags=F_MAPPED_Q0 | F_LONG_MODE | F_NO_ERROR_CODE)
    assert record.mapped(INTERRUPTED) is True and record.mapped(0x08) is None
    entry, _ = entry_from(record, view())
    assert not entry.frame.has_error_code and entry.frame.rip == INTERRUPTED
