"""isr-break, isr-delete, info isr-breakpoints: stop when a vector is delivered.

A vector is armed as a GDB breakpoint on its handler (one per handler address,
shared by every armed vector that uses it).  Vectors whose gate cannot be
resolved yet are pending and are re-resolved at every stop and right after
every `lidt` the program executes.
"""

from dataclasses import dataclass
from typing import Optional

import gdb

from gdbext.breakpoint_plan import plan, task_gate_entry
from gdbext.disasm import DisassemblerMissing, lidt_sites
from gdbext.elf import code_sections
from gdbext.entries import HandlerEntry
from gdbext.errors import IsrError, UsageError
from gdbext.frame_report import locate
from gdbext.gdt import Gdt
from gdbext.idt import read_idt
from gdbext.render.table import format_table
from gdbext.render.text import render_frame, render_hit_header
from gdbext.vectors import format_vector_list, parse_specs, vector

from .base import ENTRIES, TARGET, IsrCommand, style


@dataclass
class Arming:
    hardware: bool = False
    condition: Optional[str] = None     # GDB expression; stop only when true


class HandlerBreakpoint(gdb.Breakpoint):
    """A user-visible breakpoint on a handler.  Its stop() decodes the entry
    before GDB runs the breakpoint's `commands`, so $isr_* are set there."""

    def __init__(self, address, hardware, registry):
        kind = gdb.BP_HARDWARE_BREAKPOINT if hardware else gdb.BP_BREAKPOINT
        super().__init__(f"*{address:#x}", type=kind)
        self.address = address
        self.hardware = hardware
        self.registry = registry
        self.report = None          # what the last stop decoded
        self.problem = None         # or why it could not

    def stop(self):
        with TARGET.stopped_in_breakpoint():
            self.report, self.problem = None, None
            try:
                self.report = locate(TARGET, ENTRIES)
            except IsrError as error:
                self.problem = str(error)
            else:
                ENTRIES.record(HandlerEntry(self.report.cpu, self.report.vectors,
                                            self.address, self.report.frame))
            _set_convenience(self.report)
            return self.registry.should_stop(self.address, self.report)


class IdtLoadWatch(gdb.Breakpoint):
    """Internal breakpoint right after a `lidt`: re-resolve pending vectors
    without stopping."""

    def __init__(self, address, registry):
        super().__init__(f"*{address:#x}", internal=True)
        self.registry = registry

    def stop(self):
        # GDB must not delete breakpoints (least of all this one) while it
        # evaluates a stop(): removals wait for the next real stop.
        with TARGET.stopped_in_breakpoint():
            self.registry.refresh(defer_deletes=True)
        return False


class Registry:
    def __init__(self):
        self.vectors = {}         # vector -> Arming
        self.breakpoints = {}     # address -> HandlerBreakpoint
        self.armed = {}           # address -> vectors armed there
        self.pending = {}         # vector -> reason
        self.lidt_watches = []
        self.doomed = []          # breakpoints to delete at the next real stop
        self._defer = False

    # -- changes ------------------------------------------------------------------
    def add(self, vectors, hardware, condition):
        for v in vectors:
            previous = self.vectors.get(v, Arming())
            self.vectors[v] = Arming(hardware or previous.hardware, condition)
        self.refresh()

    def remove(self, vectors):
        for v in vectors:
            self.vectors.pop(v, None)
        self.refresh()

    def forget_breakpoint(self, breakpoint):
        """The user deleted one of our breakpoints: its vectors are disarmed."""
        for address, bp in list(self.breakpoints.items()):
            if bp is breakpoint:
                del self.breakpoints[address]
                for v in self.armed.pop(address, ()):
                    self.vectors.pop(v, None)

    # -- at a hit -----------------------------------------------------------------
    def should_stop(self, address, report):
        """Stop unless every armed vector here has a condition and none holds."""
        armed = [v for v in self.armed.get(address, ()) if v in self.vectors]
        if report is not None and report.vector is not None and report.vector in armed:
            armed = [report.vector]
        conditions = [self.vectors[v].condition for v in armed]
        if not conditions or any(c is None for c in conditions):
            return True
        for condition in dict.fromkeys(conditions):
            try:
                if bool(gdb.parse_and_eval(condition)):
                    return True
            except gdb.error as error:
                gdb.write(f"isr-break: condition `{condition}`: {error}\n", gdb.STDERR)
                return True
        return False

    # -- resolution ---------------------------------------------------------------
    def refresh(self, defer_deletes=False):
        self._defer = defer_deletes
        if not defer_deletes:
            self._delete_doomed()
        if not self.vectors:
            self._sync({})
            self.pending = {}
            self._watch_lidt(False)
            return
        try:
            view = read_idt(TARGET)
            gdt = Gdt.read(TARGET, view.cpu.gdtr)
            result = plan(view, self.vectors,
                          task_entry=lambda sel: task_gate_entry(TARGET, gdt, sel))
        except IsrError as error:
            result = plan(None, self.vectors, unavailable=str(error))
        self.pending = result.pending
        self._sync(result.armed)
        self._watch_lidt(bool(self.pending))

    def _delete(self, breakpoint):
        if self._defer:
            self.doomed.append(breakpoint)
        elif breakpoint.is_valid():
            breakpoint.delete()

    def _delete_doomed(self):
        doomed, self.doomed = self.doomed, []
        for breakpoint in doomed:
            if breakpoint.is_valid():
                breakpoint.delete()

    def _sync(self, armed):
        for address in list(self.breakpoints):
            if address not in armed:
                self._delete(self.breakpoints.pop(address))
        for address, vectors in armed.items():
            hardware = any(self.vectors[v].hardware for v in vectors)
            bp = self.breakpoints.get(address)
            if bp is not None and (not bp.is_valid() or bp.hardware != hardware):
                self._delete(bp)
                bp = None
            if bp is None:
                self.breakpoints[address] = HandlerBreakpoint(address, hardware, self)
        self.armed = dict(armed)

    def _watch_lidt(self, wanted):
        if not wanted:
            for watch in self.lidt_watches:
                self._delete(watch)
            self.lidt_watches = []
            return
        if self.lidt_watches:
            return
        progspace = gdb.current_progspace()
        path = progspace.filename if progspace is not None else None
        if not path:
            return
        try:
            sites = lidt_sites(code_sections(path), TARGET.address_bits)
        except (OSError, ValueError, DisassemblerMissing):
            return
        self.lidt_watches = [IdtLoadWatch(address, self) for address in sites]


REGISTRY = Registry()


def _set_convenience(report):
    """$isr_* describe the last entry an isr breakpoint decoded (void if none)."""
    frame = report.frame if report is not None else None
    gdb.set_convenience_variable("isr_vector", report.vector if report else None)
    gdb.set_convenience_variable("isr_cpu", report.cpu if report else None)
    gdb.set_convenience_variable("isr_frame", frame.address if frame else None)
    gdb.set_convenience_variable("isr_error_code", frame.error_code if frame else None)


def on_stop(event):
    """Show what our breakpoints decoded, and re-resolve pending vectors."""
    for bp in getattr(event, "breakpoints", ()):
        if isinstance(bp, HandlerBreakpoint) and bp.is_valid():
            report = bp.report
            vectors = report.vectors if report else REGISTRY.armed.get(bp.address, ())
            gdb.write(render_hit_header(vectors, TARGET.cpu, bp.address,
                                        TARGET.symbolize(bp.address), style()) + "\n")
            if report is not None:
                gdb.write(render_frame(report, style()) + "\n")
            else:
                gdb.write(f"isr-frame: {bp.problem}\n", gdb.STDERR)
    if REGISTRY.vectors or REGISTRY.doomed:
        try:
            REGISTRY.refresh()
        except gdb.error:
            pass  # the target went away with this stop


def on_breakpoint_deleted(breakpoint):
    if isinstance(breakpoint, HandlerBreakpoint):
        REGISTRY.forget_breakpoint(breakpoint)


def _split_condition(words):
    """["14", "if", "$isr_error_code", "&", "2"] -> (["14"], "$isr_error_code & 2")."""
    if "if" in words:
        at = words.index("if")
        condition = " ".join(words[at + 1:])
        if not condition:
            raise UsageError("`if` needs a condition")
        return words[:at], condition
    return words, None


class IsrBreak(IsrCommand):
    """Stop when one of the given vectors is delivered.

Usage: isr-break [--hw] SPEC... [if CONDITION]

SPEC: a number (14, 0x20), a range (32-47), a name (#PF, pf, page-fault) or a
class (exceptions, irqs, all).  The handler is found in the live IDT and a
breakpoint set on it; --hw uses hardware breakpoints (needed under KVM).
Vectors whose gate is not usable yet (IDT not loaded, gate not present) stay
pending and are armed as soon as the IDT allows: at every stop and after
every `lidt`.  When several vectors share a handler the hit names them all.

A hit prints the vector and the decoded interrupt frame and sets
$isr_vector, $isr_error_code, $isr_frame and $isr_cpu before the breakpoint's
`commands` run.  CONDITION is a GDB expression evaluated at each hit, e.g.
  isr-break 14 if $isr_error_code & 2
(GDB's own `condition N` does not apply to these breakpoints.)"""

    NAME = "isr-break"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    COMPLETE_WORDS = ("--hw", "if")
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("--hw", action="store_true")
        parser.add_argument("spec", nargs="+")

    def parse(self, argument):
        words, condition = _split_condition(gdb.string_to_argv(argument))
        args = self.parser.parse_args(words)
        args.condition = condition
        return args

    def run(self, args):
        vectors = parse_specs(args.spec)
        if args.condition is not None:
            _check_condition(args.condition)
        REGISTRY.add(vectors, args.hw, args.condition)
        for address, armed in sorted(REGISTRY.armed.items(), key=lambda item: item[1]):
            mine = [v for v in armed if v in vectors]
            if mine:
                bp = REGISTRY.breakpoints[address]
                symbol = TARGET.symbolize(address)
                where = f" ({symbol.replace('+0', '')})" if symbol else ""
                self.write(f"vector {_describe(mine)}: breakpoint {bp.number}{where}")
        pending = [v for v in vectors if v in REGISTRY.pending]
        if pending:
            reasons = {REGISTRY.pending[v] for v in pending}
            why = reasons.pop() if len(reasons) == 1 else "see info isr-breakpoints"
            self.write(f"vector {_describe(pending)}: pending ({why})")


def _check_condition(condition):
    """Reject what can never evaluate (unknown symbols, bad syntax) now; values
    that are void until the first hit are fine."""
    try:
        gdb.parse_and_eval(condition)
    except gdb.error as error:
        text = str(error)
        if "No symbol" in text or "syntax" in text.lower():
            raise UsageError(f"bad condition `{condition}`: {text}") from None


def _describe(vectors):
    if len(vectors) == 1:
        return vector(vectors[0]).label
    return format_vector_list(vectors)


class IsrDelete(IsrCommand):
    """Stop breaking on vectors.

Usage: isr-delete [SPEC...]

Without SPEC, every isr breakpoint and pending vector is removed."""

    NAME = "isr-delete"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS
    COMPLETES_VECTORS = True

    def add_arguments(self, parser):
        parser.add_argument("spec", nargs="*")

    def run(self, args):
        vectors = parse_specs(args.spec) if args.spec else list(REGISTRY.vectors)
        if args.spec and not any(v in REGISTRY.vectors for v in vectors):
            raise UsageError(f"no isr breakpoint on vector {format_vector_list(vectors)}")
        REGISTRY.remove(vectors)


class InfoIsrBreakpoints(IsrCommand):
    """List the vectors isr-break watches: armed (with breakpoint number and
handler address) or pending (with the reason).

Usage: info isr-breakpoints"""

    NAME = "info isr-breakpoints"
    COMMAND_CLASS = gdb.COMMAND_BREAKPOINTS

    def run(self, args):
        if not REGISTRY.vectors:
            self.write("No isr breakpoints.")
            return
        rows = []
        for address, vectors in sorted(REGISTRY.armed.items(), key=lambda item: item[1]):
            bp = REGISTRY.breakpoints[address]
            conditions = {REGISTRY.vectors[v].condition for v in vectors} - {None}
            rows.append([_describe(vectors), "armed", str(bp.number), f"{address:#x}",
                         TARGET.symbolize(address) or "",
                         ("hw " if bp.hardware else "") +
                         " | ".join(f"if {c}" for c in sorted(conditions))])
        by_reason = {}
        for v, reason in sorted(REGISTRY.pending.items()):
            by_reason.setdefault(reason, []).append(v)
        for reason, vectors in by_reason.items():
            rows.append([_describe(vectors), "pending", "-", "-", reason, ""])
        self.write("\n".join(format_table(["VECTOR", "STATE", "BP", "ADDRESS", "SYMBOL/REASON",
                                           ""], rows)))


def register():
    IsrBreak()
    IsrDelete()
    InfoIsrBreakpoints()
    gdb.events.stop.connect(on_stop)
    gdb.events.breakpoint_deleted.connect(on_breakpoint_deleted)
