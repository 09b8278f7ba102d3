"""isr-diff: what a handler changed between its entry and its exit."""

from typing import NamedTuple, Optional, Tuple

from gdbext.errors import IsrError, UsageError
from gdbext.tracking.judge import compare
from gdbext.render import json as render_json
from gdbext.render.text import render_live_diff, render_run
from gdbext.analysis.saved_regs import saved_registers
from gdbext.decode.snapshot import register_set
from gdbext.x86.vectors import parse_one

from .base import ANY_STATE, TARGET, TRACKER, IsrCommand


class DiffResult(NamedTuple):
    runs: Tuple            # completed HandlerRuns, oldest first
    live: Optional[Tuple]  # (open run, registers now, saved copies) inside a handler


def saved_copies(run, now, regset):
    """For each changed register, the stack slot the save analysis proves the
    handler stored its entry value in, while the slot still holds it (never a
    slot found by matching values: two registers holding 0 share none).  None
    when the analysis cannot tell where the CPU is in the handler."""
    if not compare(regset, run.entry, now):
        return {}
    try:
        view = saved_registers(TARGET.read_memory, run.frame.bits, run.handler,
                               run.frame.address, now[regset.pc], now[regset.sp],
                               run.entry.values, now)
    except IsrError:
        return None
    return {slot.register: slot.address for slot in view.slots if slot.matches}


class IsrDiff(IsrCommand):
    """Show which registers a handler changed, and the convention rules it broke.

Usage: isr-diff [--vector SPEC] [--last K] [--all] [--json]

After a handler returned: its last completed run (entry/exit pair) with the
registers side by side, changed ones marked, and the findings.  Stopped
inside a handler: its entry versus now, saying for each changed register
whether a copy of its entry value is on the handler's stack ("saved at
rsp+0x18") or lost.  --vector picks the last run of one vector, --last K
shows K runs, --all also lists unchanged x87/SSE registers.

Runs are recorded for vectors armed with isr-break or isr-watch."""

    NAME = "isr-diff"
    NEEDS = ANY_STATE       # recorded runs need no target; _live asks for a stopped one
    COMPLETE_WORDS = ("--vector", "--last", "--all", "--json")

    def add_arguments(self, parser):
        parser.add_argument("--vector", type=str)
        parser.add_argument("--last", type=int, default=None)
        parser.add_argument("--all", action="store_true")
        parser.add_argument("--json", action="store_true")

    def result(self, args):
        """A DiffResult: the live comparison when stopped inside a tracked
        handler (and no run was asked for), else the completed runs."""
        vector = parse_one(args.vector) if args.vector is not None else None
        if args.last is not None and args.last < 1:
            raise UsageError("--last wants a positive count")
        live = None if args.last or vector is not None else self._live()
        if live is not None:
            return DiffResult((), live)
        runs = TRACKER.last(args.last or 1, vector)
        if not runs:
            which = f" of vector {vector}" if vector is not None else ""
            raise IsrError(f"no completed handler run{which} recorded yet (arm vectors with "
                           f"isr-break or isr-watch and let a handler return)")
        return DiffResult(tuple(runs), None)

    def document(self, result, args):
        if result.live is None:
            return render_json.diff_doc(result.runs)
        run, now, saved = result.live
        doc = render_json.run_dict(run)
        doc["now"] = {k: render_json.hex_or_none(v) for k, v in now.items()}
        doc["saved"] = (None if saved is None else
                        {k: render_json.hex_or_none(v) for k, v in saved.items()})
        return render_json.diff_doc([], live=doc)

    def text(self, result, args, style):
        if result.live is not None:
            return render_live_diff(*result.live, style)
        return "\n\n".join(render_run(run, style, args.all) for run in result.runs)

    def _live(self):
        """(run, registers now, saved copies) when stopped inside a tracked handler."""
        if not TARGET.connected:
            return None         # the target is gone: its recorded runs remain
        TARGET.require_stopped()
        regset = register_set(TARGET.address_bits)
        now = TARGET.registers(regset.at_exit, optional=True)
        run = TRACKER.active(TARGET.cpu, now[regset.sp], now.get("cs", 0) & 3)
        if run is None:
            return None
        return run, now, saved_copies(run, now, regset)


def register():
    IsrDiff()
