"""isr-trace: record every run of chosen vectors' handlers without stopping,
and report them per vector.

A trace is an arming mode (TRACE: never stop) plus a report over what the
Tracker recorded; the per-interrupt work is the same as isr-watch --no-stop.
"""

import gdb

from gdbext.errors import IsrError, UsageError
from gdbext.render import json as render_json
from gdbext.render.text import render_arming, render_trace
from gdbext.tracking.trace import trace_report
from gdbext.x86.vectors import format_vector_list, parse_specs

from gdbext.gdbside.arming import REGISTRY, TRACE as TRACE_MODE
from .base import ANY_STATE, NOT_RUNNING, IsrCommand
from gdbext.gdbside.state import TRACE, TRACKER
from gdbext.gdbside.trace_engine import ENGINE
from gdbext.gdbside.run_tracking import TRACKING

ACTIONS = ("report", "stop", "clear", "engine")


def _traced_and_armed():
    return [v for v in sorted(TRACE.vectors)
            if v in REGISTRY.vectors and REGISTRY.vectors[v].mode == TRACE_MODE]


def stop_tracing(reason, defer_deletes=False):
    TRACE.stop(reason, TRACKER)
    vectors = _traced_and_armed()
    if ENGINE.draining_live:
        # the plugin's records are read while the guest runs, when GDB may
        # change no breakpoint: the plugin stops watching now, the vectors
        # are disarmed at the next stop
        ENGINE.release([a for a, armed in REGISTRY.armed.items() if set(armed) & set(vectors)])
        ENGINE.later.append((vectors, reason))
        return
    REGISTRY.remove(vectors, defer_deletes=defer_deletes)


def choose_engine(words):
    """isr-trace engine plugin RING | breakpoints"""
    if words[0] == "plugin":
        ENGINE.connect(words[1])
    else:
        ENGINE.disconnect("chosen with `isr-trace engine breakpoints`")
    if REGISTRY.vectors:
        REGISTRY.refresh()      # the handlers move to the engine chosen


def on_run(run):
    """Every completed run (inside a breakpoint's stop()): count it, and stop
    tracing when it reaches the limit."""
    if TRACE.account(run):
        stop_tracing(f"limit of {TRACE.limit} runs reached", defer_deletes=True)


class IsrTrace(IsrCommand):
    """Record every run of the given vectors' handlers without stopping the target.

Usage: isr-trace [--limit N] SPEC...
       isr-trace report [--json]
       isr-trace stop
       isr-trace clear
       isr-trace engine [plugin RING-FILE | breakpoints] [--json]

Each entry and exit is paired and judged as by isr-watch (registers, frame,
nesting, findings), but GDB never stops for it.  --limit N stops tracing
(disarms the vectors) after N runs; the target keeps running.  Ctrl-C stops
the target and keeps the trace.

isr-trace report: per vector the runs, deepest nesting, findings by rule and
the first and last run number, then each finding with the run it came from.
isr-trace stop: disarm the traced vectors, keep what was recorded.
isr-trace clear: forget what was recorded (a running trace goes on).
isr-trace engine: which engine records.  With isrdbg's QEMU trace plugin
(isrdbg gdb/repl/run load it into a QEMU whose plugin API reads registers,
QEMU 9.2 or later) the guest never stops for a traced run: the plugin records
registers and stack at the handlers' entries and exits into a ring file that
isrdbg reads as the guest runs; events lost to a full ring are counted and
reported.  Otherwise breakpoints stop the guest briefly at each entry and
exit.  For a QEMU you start yourself:
  qemu-system-x86_64 -plugin plugin/build/libisrdbg-trace.so,ring=/tmp/isr.ring ...
  (gdb) isr-trace engine plugin /tmp/isr.ring

Counters are exact; the latest runs (`set isr trace-history N`, default
1000) are kept in full for isr-diff --last, and as many runs with findings
plus the first one per vector and rule."""

    NAME = "isr-trace"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    COMPLETE_WORDS = ACTIONS + ("--limit", "--json")
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("spec", nargs="*")

    def parse_argv(self, argv):
        argv = list(argv)
        if argv and argv[0] == "engine":
            words = argv[1:]
            args = self.parser.parse_args(["--json"] if "--json" in words else [])
            args.action, args.engine = "engine", [w for w in words if w != "--json"]
            if args.engine and args.engine != ["breakpoints"] and \
                    not (args.engine[0] == "plugin" and len(args.engine) == 2):
                raise UsageError("isr-trace engine takes `plugin RING-FILE` or `breakpoints` "
                                 "(see `help isr-trace`)")
            return args
        if argv and argv[0] in ACTIONS:
            action, rest = argv[0], argv[1:]
            allowed = ("--json",) if action == "report" else ()
            extra = [word for word in rest if word not in allowed]
            if extra:
                raise UsageError(f"isr-trace {action} takes no argument {extra[0]!r}"
                                 f" (see `help isr-trace`)")
            args = self.parser.parse_args([w for w in rest if w in allowed])
            args.action = action
            return args
        args = self.parser.parse_args(argv)
        if not args.spec:
            raise UsageError("give the vectors to trace, or report, stop or clear "
                             "(see `help isr-trace`)")
        if args.limit is not None and args.limit < 1:
            raise UsageError("--limit wants a positive number of runs")
        args.action = "start"
        return args

    def needs(self, args):
        """Starting and stopping set and delete breakpoints; the rest reads records."""
        if args.action == "engine":
            return NOT_RUNNING if args.engine else ANY_STATE
        return NOT_RUNNING if args.action in ("start", "stop") else ANY_STATE

    def result(self, args):
        with ENGINE.lock:       # the plugin's records may be fed from a thread meanwhile
            return self._result(args)

    def _result(self, args):
        if args.action == "engine":
            if args.engine:
                choose_engine(args.engine)
            return ENGINE.describe()
        ENGINE.drain()      # what the plugin recorded since (nothing without it)
        if args.action == "start":
            vectors = parse_specs(args.spec)
            TRACE.start(vectors, args.limit, TRACKER)
            REGISTRY.add(vectors, TRACE_MODE)
            return REGISTRY.report(vectors)
        if args.action == "stop":
            if not TRACE.active:
                raise IsrError("no trace is running (start one with isr-trace SPEC...)")
            stop_tracing("isr-trace stop")
        elif args.action == "clear":
            TRACKER.clear(keep_open=True)
            TRACE.clear(TRACKER)
        elif not TRACE.vectors and TRACE.state == "off":
            raise IsrError("no trace recorded (start one with isr-trace SPEC...)")
        return trace_report(TRACE, TRACKER)

    def document(self, result, args):
        if args.action == "engine":
            return render_json.document("trace-engine", engine=ENGINE.name, description=result)
        if args.action == "start":
            return render_json.breakpoints_doc(result)
        doc = render_json.trace_doc(result)
        doc["engine"] = ENGINE.as_dict()     # the plugin's losses, never silent
        return doc

    def text(self, result, args, style):
        if args.action == "engine":
            return result
        if args.action == "start":
            limit = f", stopping after {args.limit} runs" if args.limit else ""
            armed = render_arming(result, style)
            traced = format_vector_list(sorted({a.vector for a in result.vectors}))
            return (armed + "\n" if armed else "") + \
                f"isr-trace: recording vector{'s' if len(result.vectors) != 1 else ''} " \
                f"{traced}{limit}; `isr-trace report` shows the runs\n" + self._engine_note(result)
        if args.action == "stop":
            return f"isr-trace: stopped after {result.runs} runs; `isr-trace report` shows them"
        if args.action == "clear":
            return "isr-trace: cleared"
        report = render_trace(result, style)
        return report + ("\n" + ENGINE.describe() if ENGINE.active else "")

    @staticmethod
    def _engine_note(result):
        if not ENGINE.active:
            return (f"isr-trace: engine: breakpoints ({ENGINE.problem}): the guest stops "
                    f"briefly at each entry and exit")
        others = [a.vector for a in result.vectors if a.armed and a.address not in REGISTRY.plugin]
        if not others:
            return "isr-trace: engine: QEMU trace plugin (the guest never stops for a run)"
        return (f"isr-trace: engine: QEMU trace plugin; breakpoints for vector "
                f"{format_vector_list(others)} (its handler's exits are not known, or it stops "
                f"for isr-break or isr-watch)")


def register():
    IsrTrace()
    ENGINE.connect_from_environment()
    gdb.events.cont.connect(ENGINE.resumed)
    gdb.events.exited.connect(ENGINE.stopped)
    gdb.events.inferior_call.connect(ENGINE.registers_may_change)
    gdb.events.gdb_exiting.connect(lambda event: ENGINE.stop_watcher())
    TRACKING.observers.append(on_run)
    TRACKER.observers.append(TRACE.record)     # the trace's own counters
