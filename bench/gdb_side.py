"""The GDB half of bench/trace_rate.py: sourced into GDB (by the isrdbg
launcher, so QEMU, the gdbstub socket and GDB are those of a normal session).

bench_rate(config) arms one configuration at scenario_start, runs the timer
scenario to scenario_done with the wall clock running, and prints one line
``BENCH {json}``.  bench_latency() stops at the timer handler's entry and
times commands there.  Not a test, not part of the extension.
"""

import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time

import gdb


class BareBreakpoint(gdb.Breakpoint):
    """The baseline: GDB calls stop(), which does nothing and does not stop."""

    def stop(self):
        return False


class FloorBreakpoint(gdb.Breakpoint):
    """What any tracer that diffs registers and checks the frame must do at a
    hit, and nothing else: one `g` packet and one read of the frame's words."""

    def stop(self):
        inferior = gdb.selected_inferior()
        raw = bytes.fromhex(inferior.connection.send_packet("g").decode())
        wide = "64" in inferior.architecture().name()
        sp = int.from_bytes(raw[56:64] if wide else raw[16:20], "little")
        inferior.read_memory(sp, 48 if wide else 24)
        return False


def _iret_addresses(handler):
    found = []
    for line in gdb.execute(f"disassemble {handler}", to_string=True).splitlines():
        words = line.replace("=>", "").split()
        if len(words) >= 3 and words[2].startswith("iret"):
            found.append(int(words[0], 16))
    if not found:
        raise gdb.GdbError(f"bench: no iret in {handler}")
    return found


def _emit(**fields):
    gdb.write("BENCH " + json.dumps(fields) + "\n")
    gdb.flush()


def _to_scenario_start():
    gdb.execute("break scenario_start", to_string=True)
    gdb.execute("continue", to_string=True)
    gdb.execute("delete", to_string=True)


def _stop_clock():
    """A list that gets the time isrdbg's stop handling reached the trace
    engine at the next stop (arming.py calls ENGINE.at_stop at every stop,
    before it reads the IDT again for the armed vectors): the guest had
    stopped by then, and what GDB does next (judging the ring's backlog,
    re-reading tables) is no time of the guest's."""
    from gdbext.gdbside.trace_engine import ENGINE
    times = []
    at_stop = ENGINE.at_stop

    def timed(remove):
        if not times:
            times.append(time.perf_counter())
        return at_stop(remove)
    ENGINE.at_stop = timed
    return times


def _stop_timer(classes):
    """[seconds, calls]: the wall time GDB spent in the stop() methods of
    ``classes`` (wrapped here): the breakpoints' own Python and the packets
    it sends, apart from GDB's own handling of each hit."""
    spent = [0.0, 0]
    clock = time.perf_counter
    for cls in classes:
        inner = cls.stop

        def timed(self, inner=inner):
            start = clock()
            try:
                return inner(self)
            finally:
                spent[0] += clock() - start
                spent[1] += 1
        cls.stop = timed
    return spent


def _our_breakpoint_classes():
    from gdbext.gdbside.arming import HandlerBreakpoint
    from gdbext.gdbside.run_tracking import TRACKING_BREAKPOINTS
    return (HandlerBreakpoint,) + TRACKING_BREAKPOINTS


def _bytecode_counter(classes):
    """[bytecodes, Python calls]: what the stop() methods of ``classes``
    (wrapped here) execute, counted with an opcode tracer.  Unlike times,
    these counts do not move with the machine's load: they say whether a
    change made the per-hit Python shorter (the tracer slows the run down)."""
    counts = [0, 0]

    def tracer(frame, event, arg):
        if event == "call":
            frame.f_trace_opcodes = True
            counts[1] += 1
        elif event == "opcode":
            counts[0] += 1
        return tracer
    for cls in classes:
        inner = cls.stop

        def traced(self, inner=inner):
            sys.settrace(tracer)
            try:
                return inner(self)
            finally:
                sys.settrace(None)
        cls.stop = traced
    return counts


def bench_rate(config, vector=32, handler="isr_timer", profile=None, bytecodes=False):
    _to_scenario_start()
    if config in ("baseline", "floor"):
        kind = BareBreakpoint if config == "baseline" else FloorBreakpoint
        entry = int(gdb.parse_and_eval(f"(long)&{handler}"))
        for address in [entry] + _iret_addresses(handler):
            kind(f"*{address:#x}", internal=True)
    elif config == "trace":
        gdb.execute(f"isr-trace {vector}", to_string=True)
    elif config == "trace-nowatch":
        gdb.execute("set isr idt-watch off", to_string=True)
        gdb.execute(f"isr-trace {vector}", to_string=True)
    elif config == "watch":
        gdb.execute(f"isr-watch {vector}", to_string=True)
    elif config == "untraced":
        pass        # the guest alone (bench/plugin_rate.py: the plugin engine's reference)
    else:
        raise gdb.GdbError(f"bench: unknown configuration {config}")
    gdb.execute("break scenario_done", to_string=True)
    ours = ((BareBreakpoint, FloorBreakpoint) if config in ("baseline", "floor")
            else _our_breakpoint_classes())
    in_stop = _stop_timer(ours)
    counted = _bytecode_counter(ours) if bytecodes else None
    stopped = _stop_clock()
    profiler = cProfile.Profile() if profile else None
    start, cpu_start = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    gdb.execute("continue", to_string=True)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    fields = dict(config=config, elapsed=elapsed, cpu=cpu, in_stop=in_stop[0], stops=in_stop[1],
                  handled=int(gdb.parse_and_eval("timer_ticks")))
    if stopped:
        fields["guest_elapsed"] = stopped[0] - start
    if counted is not None:
        fields.update(bytecodes=counted[0], calls=counted[1])
    if config not in ("baseline", "floor", "untraced"):
        from gdbext.gdbside.state import TRACKER
        from gdbext.gdbside.trace_engine import ENGINE
        from gdbext.gdbside.run_tracking import TRACKING
        fields.update(recorded=sum(s.runs for s in TRACKER.stats.values()),
                      lost=TRACKER.lost_runs, unmatched=TRACKER.unmatched_exits,
                      repeats=TRACKING.repeats, engine=ENGINE.name)
        if ENGINE.active:
            counters = ENGINE.ring.counters()
            fields.update(events=counters.recorded, dropped=counters.dropped,
                          backlog=ENGINE.stop_drain_seconds, callback_ns=counters.callback_ns,
                          state_reads=counters.state_reads)
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(profile).print_stats(45)
        stats.sort_stats("cumulative").print_stats(45)     # where the own time comes from
        with open(os.environ["BENCH_PROFILE_OUT"], "w") as f:
            f.write(out.getvalue())
    _emit(**fields)


def _time(command, repeats, flush):
    samples = []
    for _ in range(repeats):
        if flush:
            gdb.execute("maint flush register-cache", to_string=True)
        start = time.perf_counter()
        gdb.execute(command, to_string=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_latency(vector=32, repeats=30):
    """At the timer handler's entry (a real stop): median latency of
    isr-frame and isr-diff against GDB's own `info registers`, with GDB's
    register cache flushed before each (cold) and without (warm)."""
    gdb.execute(f"isr-break {vector}", to_string=True)
    gdb.execute("continue", to_string=True)
    commands = ["info registers", "isr-frame", "isr-diff"]
    result = {}
    for command in commands:
        _time(command, 3, False)      # warm up caches of the command itself
        result[command] = {"cold": _time(command, repeats, True),
                           "warm": _time(command, repeats, False)}
    _emit(latency=result)
