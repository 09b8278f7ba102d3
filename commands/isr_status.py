"""isr-status: where isrdbg stands (what the REPL's toolbar shows)."""

import gdb

from gdbext.errors import IsrError
from gdbext.render import json as render_json
from gdbext.render.text import render_status
from gdbext.tracking.status import Status, tracker_totals

from gdbext.gdbside.arming import REGISTRY
from .base import ANY_STATE, TARGET, TRACKER, IsrCommand
from gdbext.gdbside.trace_engine import ENGINE


class IsrStatus(IsrCommand):
    """Show where isrdbg stands.

Usage: isr-status [--json]

The target's state (stopped, running, no target), the selected CPU and its
mode, the handler the CPU is in (innermost recorded handler run enclosing the
stack pointer) with its nesting depth, the handler runs and findings recorded
so far, and which isr breakpoint the last stop was (an isr-break entry or an
isr-watch exit).  Works while the target runs."""

    NAME = "isr-status"
    NEEDS = ANY_STATE
    COMPLETE_WORDS = ("--json",)

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def result(self, args):
        with ENGINE.lock:   # the plugin's records may be fed from a thread meanwhile
            ENGINE.drain()  # the trace plugin's records so far (nothing without it)
            return self._result(args)

    def _result(self, args):
        runs, findings = tracker_totals(TRACKER)
        common = dict(runs=runs, findings=findings, open_runs=len(TRACKER.pending()),
                      unpaired=TRACKER.lost_runs + TRACKER.unmatched_exits,
                      engine=ENGINE.describe(),
                      last_stop=REGISTRY.last_stop)
        inferior = gdb.selected_inferior()
        thread = gdb.selected_thread()
        if not TARGET.connected:
            return Status("no target", **common)
        cpu = TARGET.cpu
        if thread.is_running():
            return Status("running", cpu=cpu, **common)
        mode = problem = None
        handling, depth = (), 0
        try:
            mode = TARGET.cpu_state().mode.value
        except IsrError as error:
            problem = str(error)
        try:
            sp_name = "rsp" if TARGET.address_bits == 64 else "esp"
            now = TARGET.registers([sp_name, "cs"], optional=True)
            # the same identity as the tracker's: the runs executing on this CPU
            # (none in user mode), innermost whose stack holds the stack pointer
            run = TRACKER.active(cpu, now[sp_name], now.get("cs", 0) & 3)
            if run is not None:
                handling, depth = run.vectors, run.depth + 1
        except IsrError as error:
            problem = problem or str(error)
        return Status("stopped", cpu, mode, tuple(handling), depth, problem=problem, **common)

    def document(self, status, args):
        return render_json.status_doc(status)

    def text(self, status, args, style):
        return render_status(status, style)


def register():
    IsrStatus()
