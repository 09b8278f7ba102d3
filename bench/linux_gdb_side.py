"""The GDB half of bench/linux_progress.py: sourced into isrdbg's GDB (by the
launcher, so QEMU, the gdbstub and GDB are those of a normal session).

bench_progress(arm, seconds, serial) runs ``arm`` (an isrdbg command, or
nothing), lets the guest run for ``seconds`` of wall time while a thread
samples /init's progress lines in the serial log, stops the guest as Ctrl-C
does, and prints one line ``BENCH {json}``: loops per second, how long the
arming took (wall and GDB's CPU) and how much GDB's memory grew, and the
tracker's counters.
Not a test, not part of the extension.
"""

import json
import os
import re
import signal
import threading
import time

import gdb

LOOP = re.compile(rb"isrdbg-init: loop (\d+) ")


class BareBreakpoint(gdb.Breakpoint):
    """A breakpoint whose stop() does nothing: what one silent hit costs the
    guest whatever the extension does (GDB's step over it, QEMU's side)."""

    def stop(self):
        return False


def _last_loop(serial):
    """The loop number of the last complete progress line in the serial log."""
    try:
        with open(serial, "rb") as f:
            data = f.read()
    except OSError:
        return 0
    found = LOOP.findall(data[:data.rfind(b"\n") + 1])
    return int(found[-1]) if found else 0


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _engine_fields(tracker):
    """Which trace engine recorded, what it lost, and the findings by rule
    (bench/linux_plugin.py compares the engines on them)."""
    from gdbext.gdbside.trace_engine import ENGINE
    findings = {}
    for stats in tracker.stats.values():
        for rule, count in stats.findings.items():
            findings[rule] = findings.get(rule, 0) + count
    fields = dict(engine=ENGINE.name, findings=findings,
                  exits_without_entry=getattr(tracker, "exits_without_entry", 0))
    if ENGINE.active:
        counters = ENGINE.ring.counters()
        fields.update(events=counters.recorded, dropped=counters.dropped,
                      callback_ns=counters.callback_ns)
    return fields


def bench_progress(arm, seconds, serial):
    rss_before = _rss_kib()
    start, cpu_start = time.perf_counter(), time.process_time()
    if arm:
        gdb.execute(arm, to_string=True)
    arming = time.perf_counter() - start
    arming_cpu = time.process_time() - cpu_start    # GDB's own work (the wall time adds QEMU's)
    rss_armed = _rss_kib()
    window = {}
    stopped = threading.Event()
    gdb.events.stop.connect(lambda event: stopped.set())

    def sample():
        # The loop count when the guest starts running and after ``seconds``;
        # then interrupt GDB as Ctrl-C does, again until the target stopped
        # (QEMU drops a request that arrives while the guest is halted at a
        # breakpoint).
        window["start"] = (time.perf_counter(), _last_loop(serial))
        time.sleep(seconds)
        window["end"] = (time.perf_counter(), _last_loop(serial))
        while not stopped.is_set():
            os.kill(os.getpid(), signal.SIGINT)
            stopped.wait(0.5)

    cpu_start = time.process_time()
    threading.Thread(target=sample, daemon=True).start()
    gdb.execute("continue", to_string=True)
    cpu = time.process_time() - cpu_start
    (t0, n0), (t1, n1) = window["start"], window["end"]
    fields = dict(arm=arm, loops=n1 - n0, elapsed=t1 - t0, rate=(n1 - n0) / (t1 - t0),
                  arming=arming, arming_cpu=arming_cpu,
                  rss_added_mib=(rss_armed - rss_before) / 1024,
                  rss_end_mib=_rss_kib() / 1024, gdb_cpu=cpu)
    if arm:
        from gdbext.gdbside.state import TRACKER
        from gdbext.gdbside.run_tracking import TRACKING
        fields.update(recorded=sum(s.runs for s in TRACKER.stats.values()),
                      lost=TRACKER.lost_runs, unmatched=TRACKER.unmatched_exits,
                      repeats=TRACKING.repeats,
                      outside=getattr(TRACKING, "stops_outside_runs", None),
                      **_engine_fields(TRACKER))
    gdb.write("BENCH " + json.dumps(fields) + "\n")
    gdb.flush()
