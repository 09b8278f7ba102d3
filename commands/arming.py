"""Arming vectors: one GDB breakpoint per handler address, shared by every
armed vector that uses it.  Vectors whose gate cannot be resolved yet are
pending and are re-resolved at every stop and right after every `lidt` the
program executes.  Entries are decoded and recorded in the breakpoint's
stop(); whether GDB stops depends on how each vector is armed:
`isr-break` (stop at entry), `isr-watch` (stop at an exit with findings)
or `isr-watch --no-stop` (record only).
"""

from dataclasses import dataclass
from typing import Optional

import gdb

from gdbext.breakpoint_plan import plan, task_gate_entry
from gdbext.disasm import DisassemblerMissing, lidt_sites
from gdbext.elf import code_sections
from gdbext.errors import IsrError
from gdbext.frame_report import locate
from gdbext.gdt import Gdt
from gdbext.idt import read_idt
from gdbext.render.text import render_frame, render_hit_header, render_run
from gdbext.vectors import format_vector_list, vector

from .base import style
from .state import TARGET, TRACKER
from .tracking import TRACKING

BREAK = "break"           # stop at entry
WATCH = "watch"           # stop at an exit that has findings
RECORD = "record"         # never stop

@dataclass
class Arming:
    mode: str = BREAK
    hardware: bool = False
    condition: Optional[str] = None     # GDB expression; stop at entry only when true


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
                self.report = locate(TARGET, TRACKER)
                TRACKING.enter(self.report, self.address)
            except IsrError as error:
                self.problem = str(error)
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


class IdtWriteWatch(gdb.Breakpoint):
    """Internal hardware write watchpoint on the IDT: re-resolve vectors when
    the kernel rewrites a gate (a scenario installing its own handler)."""

    def __init__(self, base, size, registry):
        super().__init__(f"*(char (*)[{size}]) {base:#x}", gdb.BP_WATCHPOINT, gdb.WP_WRITE,
                         internal=True)
        self.span = (base, size)
        self.registry = registry

    def stop(self):
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
        self.idt_watch = None     # IdtWriteWatch over the loaded table
        self.doomed = []          # breakpoints to delete at the next real stop
        self._defer = False

    # -- changes ------------------------------------------------------------------
    def add(self, vectors, mode=BREAK, hardware=False, condition=None):
        for v in vectors:
            previous = self.vectors.get(v, Arming())
            self.vectors[v] = Arming(mode, hardware or previous.hardware, condition)
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
    def _armed_for(self, address, vectors):
        armed = [v for v in self.armed.get(address, ()) if v in self.vectors]
        known = [v for v in vectors if v in armed]
        return known if len(known) == 1 else armed

    def should_stop(self, address, report):
        """At an entry: stop for a vector armed by isr-break whose condition holds."""
        armed = [v for v in self._armed_for(address, report.vectors if report else ())
                 if self.vectors[v].mode == BREAK]
        if not armed:
            return False
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
            self._watch_idt(None)
            return
        view = None
        try:
            view = read_idt(TARGET)
            gdt = Gdt.read(TARGET, view.cpu.gdtr)
            result = plan(view, self.vectors,
                          task_entry=lambda sel: task_gate_entry(TARGET, gdt, sel))
        except IsrError as error:
            result = plan(None, self.vectors, unavailable=str(error))
        self.pending = result.pending
        self._sync(result.armed)
        self._watch_lidt(bool(self.pending) or view is None)
        self._watch_idt(view)

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

    def _watch_idt(self, view):
        """Keep one write watchpoint over the table.  Not under --hw (KVM), where
        debug registers cannot watch 4 KiB."""
        span = None
        if view is not None and not any(a.hardware for a in self.vectors.values()):
            span = (view.cpu.idtr.base, view.entries * view.cpu.mode.gate_size)
        if self.idt_watch is not None and self.idt_watch.span == span:
            return
        if self.idt_watch is not None:
            self._delete(self.idt_watch)
            self.idt_watch = None
        if span is not None:
            try:
                self.idt_watch = IdtWriteWatch(span[0], span[1], self)
            except gdb.error:
                self.idt_watch = None   # the target cannot watch: re-resolve at stops only

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


    def stop_at_exit(self, run):
        """At an exit: stop when a vector armed by isr-watch has a problem finding."""
        if not any(f.is_problem for f in run.findings):
            return False
        return any(self.vectors[v].mode == WATCH
                   for v in self._armed_for(run.handler, run.vectors))


REGISTRY = Registry()
TRACKING.stop_on = REGISTRY.stop_at_exit


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
        if getattr(bp, "tracking", None) is TRACKING and TRACKING.last_stopping_run is not None:
            gdb.write(render_run(TRACKING.last_stopping_run, style()) + "\n")
            TRACKING.last_stopping_run = None
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


def describe_vectors(vectors):
    if len(vectors) == 1:
        return vector(vectors[0]).label
    return format_vector_list(vectors)


def on_breakpoint_deleted(breakpoint):
    if isinstance(breakpoint, HandlerBreakpoint):
        REGISTRY.forget_breakpoint(breakpoint)




def register():
    gdb.events.stop.connect(on_stop)
    gdb.events.breakpoint_deleted.connect(on_breakpoint_deleted)
