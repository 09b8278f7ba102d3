"""isr-trace on synthetic runs: what the report says, and that a long trace
stays within its memory bound."""

import gc
import json
import tracemalloc

from gdbext.render import json as render_json
from gdbext.render.text import render_trace
from gdbext.decode.snapshot import X86_64
from gdbext.tracking.trace import Trace, trace_report
from gdbext.tracking.tracker import MAX_OPEN, NO_CONTEXT, REENTERED, Tracker

from .test_judge_tracker import ENTRY_REGS, context, frame, iret_at

TIMER = (32,)
BROKEN = (0x52,)


def run(tracker, vectors=TIMER, changes=None, f=None, cpu=0):
    f = f or frame()
    tracker.enter(cpu, vectors, 0x102000, "interrupt", f, context(f))
    return tracker.exit(cpu, iret_at(f, changes=changes))


def traced(vectors, limit=None):
    tracker, trace = Tracker(), Trace()
    tracker.observers.append(trace.record)
    trace.start(vectors, limit, tracker)
    return tracker, trace


def test_report_counts_findings_per_vector_with_their_run():
    tracker, trace = traced([32, 0x52])
    for _ in range(3):
        run(tracker)
    bad = run(tracker, BROKEN, changes={"rbx": 0xDEAD})
    run(tracker)
    run(tracker, (0x60,))                          # not traced
    report = trace_report(trace, tracker)
    rows = {r.vectors: r for r in report.rows}
    assert set(rows) == {TIMER, BROKEN}
    assert (rows[TIMER].runs, rows[TIMER].first, rows[TIMER].last) == (4, 1, 5)
    assert rows[TIMER].findings == {} and rows[TIMER].max_depth == 0
    assert rows[BROKEN].findings == {"clobbered-register": 1}
    assert [d.sequence for d in report.findings] == [bad.sequence] == [4]
    assert report.findings[0].findings[0].rule == "clobbered-register"
    assert report.runs == 5 and report.findings_total == 1

    text = render_trace(report)
    assert "82 Interrupt  1       0         0            clobbered-register 1  #4     #4" in text
    assert "  run #4: vector 82 Interrupt on CPU 0, frame 0x8fd0" in text
    assert "    error clobbered-register: registers changed: rbx 0x1001 -> 0xdead" in text

    doc = json.loads(render_json.dumps(render_json.trace_doc(report)))
    assert doc["kind"] == "trace" and doc["state"] == "tracing"
    assert [(r["vector"], r["runs"]) for r in doc["per_vector"]] == [(32, 4), (0x52, 1)]
    finding = doc["findings"][0]
    assert finding["rule"] == "clobbered-register" and finding["run"]["run"] == 4
    assert finding["run"]["vector"] == 0x52 and finding["run"]["rip"] == "0x101000"


def test_a_trace_counts_only_its_own_runs():
    """Issue 16: runs an earlier isr-watch recorded on the same vector are not the trace's."""
    tracker, trace = Tracker(), Trace()
    tracker.observers.append(trace.record)
    for _ in range(3):
        run(tracker, BROKEN, changes={"rbx": 1})     # isr-watch 0x52 before the trace
    tracker.exit(0, iret_at(frame(address=0x7000 - 40, rsp=0x7000)))   # an exit with no entry
    trace.start([0x52], None, tracker)
    run(tracker, BROKEN)
    report = trace_report(trace, tracker)
    assert report.runs == 1 and report.findings_total == 0 and report.findings == ()
    assert report.kept_runs == 1 and report.unmatched_exits == 0
    assert [(r.vectors, r.runs, r.first) for r in report.rows] == [(BROKEN, 1, 4)]


def test_unpaired_runs_are_counted_per_vector_with_the_reason():
    tracker, trace = traced([32])
    f = frame()
    tracker.enter(0, TIMER, 0x102000, "interrupt", f, context(f))
    tracker.enter(0, TIMER, 0x102000, "interrupt", f, context(f))   # same context: exit missed
    tracker.exit(0, iret_at(frame(address=0x7000, rip=0x5555)))    # may be the open run's
    tracker.exit(0, iret_at(f))
    report = trace_report(trace, tracker)
    (row,) = report.rows
    assert row.runs == 1 and row.unpaired == {REENTERED: 1}
    assert report.unmatched == {NO_CONTEXT: 1} and report.unpaired == 2
    assert abs(report.unpaired_share - 2 / 3) < 1e-9
    text = render_trace(report)
    assert "32 Interrupt  1       1         0            -         #2     #2" in text
    assert f"unpaired entries, {REENTERED}: 32 Interrupt: 1" in text
    assert f"unpaired exits, {NO_CONTEXT}: 1" in text
    assert "1 run judged" in text and "unpaired: 1 entry, 1 exit (66.67% of runs)" in text
    doc = json.loads(render_json.dumps(render_json.trace_doc(report)))
    assert doc["per_vector"][0]["unpaired"] == {REENTERED: 1}
    assert doc["unmatched"] == {NO_CONTEXT: 1} and doc["unpaired"] == 2


def test_limit_and_stop():
    tracker, trace = traced([32], 3)
    assert [trace.account(run(tracker)) for _ in range(3)] == [False, False, True]
    f = frame(address=0x7000 - 48, rsp=0x7000)
    tracker.enter(0, TIMER, 0x102000, "interrupt", f, context(f))    # open at the stop
    trace.stop("limit of 3 runs reached", tracker)
    assert not trace.account(run(tracker))        # no longer counted
    tracker.exit(0, iret_at(f))                   # entered while tracing: the trace's
    report = trace_report(trace, tracker)
    assert report.state == "stopped" and report.counted == 3 and report.runs == 4
    assert "isr-trace: stopped (limit of 3 runs reached)" in render_trace(report)


def test_clear_keeps_runs_in_progress():
    tracker, trace = traced([32])
    run(tracker)
    f = frame()
    tracker.enter(0, TIMER, 0x102000, "interrupt", f, context(f))
    tracker.clear(keep_open=True)
    trace.clear(tracker)
    assert trace_report(trace, tracker).runs == 0 and len(tracker.pending()) == 1
    assert tracker.exit(0, iret_at(f)).sequence == 2       # still pairs; numbers go on
    assert trace_report(trace, tracker).rows[0].first == 2


def test_exit_keeps_only_what_changed():
    tracker = Tracker()
    done = run(tracker, changes={"rbx": 0xDEAD})
    assert set(done.exit.registers) == {"rbx", "rip", "rsp", "eflags"}
    assert len(done.entry.values) == len(X86_64.tracked)


def test_a_modified_frame_keeps_the_exit_address():
    tracker = Tracker()
    f = frame()
    tracker.enter(0, TIMER, 0x102000, "interrupt", f, context(f))
    done = tracker.exit(0, iret_at(f, words=[f.rip + 2, f.cs, f.rflags, f.rsp, f.ss]))
    assert [c.name for c in done.verdict.changes] == ["rip"]
    assert done.exit.registers["rip"] == 0x103000          # where the iret was


def test_resize_keeps_the_latest_runs():
    tracker = Tracker(history=10)
    for _ in range(25):
        run(tracker)
    tracker.resize(4)
    assert [r.sequence for r in tracker.completed] == [22, 23, 24, 25]
    assert tracker.stats[TIMER].runs == 25


def _trace_many(tracker, count, start=0):
    for i in range(start, start + count):
        if i % 7 == 0:
            run(tracker, BROKEN, changes={"rbx": i})
        else:
            run(tracker)


def test_a_long_trace_stays_within_its_memory_bound():
    """10,000 runs, one in seven with a finding, through a 100-run history:
    counters stay exact, what is kept is bounded, and memory stops growing."""
    tracemalloc.start()
    try:
        tracker = Tracker(history=100)
        _trace_many(tracker, 2000)          # the ring and the findings log are full
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        _trace_many(tracker, 8000, start=2000)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    growth = after - before
    assert tracker.stats[TIMER].runs + tracker.stats[BROKEN].runs == 10_000
    assert tracker.stats[BROKEN].findings["clobbered-register"] == 1429
    assert len(tracker.completed) == 100 and len(tracker.finding_runs) == 100
    assert len(tracker.first_findings) == 1
    log = tracker.findings_log()
    assert log[0].sequence == 1 and len(log) == 101        # the first one, then the latest
    assert growth < 64 * 1024, f"grew by {growth} bytes over 8,000 runs"


def test_runs_that_never_exit_are_bounded():
    tracker = Tracker(history=10)
    for i in range(10_000):
        f = frame(address=0x9000 - 48 - 64 * (i % 5000), rsp=0x9000 - 64 * (i % 5000))
        tracker.enter(i % 2, TIMER, 0x102000, "interrupt", f, context(f))
    assert len(tracker.open) <= MAX_OPEN
    assert tracker.lost_runs == 10_000 - MAX_OPEN
    assert len(tracker.completed) == 0


def test_entry_context_is_what_the_handler_must_restore():
    tracker = Tracker()
    done = run(tracker)
    assert done.entry.values == ENTRY_REGS


def test_exits_without_entry_are_reported_apart_from_unpaired_runs():
    tracker, trace = traced([32])
    f = frame()
    tracker.exit(0, iret_at(frame(rip=0x5555)))     # before the trace: not the trace's
    trace.clear(tracker)
    tracker.enter(0, TIMER, 0x102000, "interrupt", f, context(f))
    tracker.exit(0, iret_at(f))
    tracker.exit(0, iret_at(frame(rip=0x6666)))     # nothing open: no run owns it
    tracker.exit(0, iret_at(frame(rip=0x7777)))
    report = trace_report(trace, tracker)
    assert report.exits_without_entry == 2 and report.unpaired == 0
    assert report.unpaired_share == 0.0 and report.runs == 1
    text = render_trace(report)
    assert ("exits with no traced entry (returns from syscall/sysenter or from code not "
            "entered by an interrupt): 2") in text
    assert "unpaired: 0 entries, 0 exits (0.00% of runs)" in text
    doc = json.loads(render_json.dumps(render_json.trace_doc(report)))
    assert doc["exits_without_entry"] == 2 and doc["unpaired"] == 0


def test_runs_repeating_one_finding_are_shown_once_with_their_count():
    tracker, trace = traced([32, 0x52])
    for _ in range(3):
        run(tracker, BROKEN, changes={"rbx": 0xDEAD})
    run(tracker, BROKEN, changes={"rbx": 0xBEEF})       # another value: another finding
    run(tracker, BROKEN, changes={"rbx": 0xDEAD})
    text = render_trace(trace_report(trace, tracker))
    shown = [line.split(":")[0].strip() for line in text.splitlines()
             if line.startswith("  run #")]
    assert shown == ["run #1", "run #4", "run #5"], text
    assert "    and 2 more runs (#2..#3) of this vector with the same finding" in text
    assert text.count("more run") == 1, text


def test_a_run_that_returned_on_another_cpu_says_where():
    tracker, trace = traced([0x52])
    f = frame()
    tracker.enter(1, BROKEN, 0x102000, "interrupt", f, context(f))
    tracker.exit(0, iret_at(f, changes={"rbx": 0xDEAD}))
    report = trace_report(trace, tracker)
    assert "  run #1: vector 82 Interrupt on CPU 1 (returned on CPU 0), frame" in \
        render_trace(report)
    doc = json.loads(render_json.dumps(render_json.trace_doc(report)))
    assert (doc["findings"][0]["run"]["cpu"], doc["findings"][0]["run"]["exit_cpu"]) == (1, 0)
