"""Arming vectors: one GDB breakpoint per handler address, shared by every
armed vector that uses it.  Vectors whose gate cannot be resolved yet are
pending and are re-resolved at every stop and right after every `lidt` the
program executes.  Entries are decoded and recorded in the breakpoint's
stop(); whether GDB stops depends on how each vector is armed:
`isr-break` (stop at entry), `isr-watch` (stop at an exit with findings)
or `isr-watch --no-stop` and `isr-trace` (record only).

The entry path is the debugger's interrupt latency: it reads the registers
GDB already holds and the frame's bytes, and takes everything else (IDT,
GDT, CPU mode) from the EntryCache, which is refreshed here at every real
stop, after every `lidt` and after every write to the watched gates.  The
full frame report (monitor, symbols, disassembly, page walk) is built only
when a stop shows it.
"""

import itertools
import os
from dataclasses import dataclass
from typing import Optional

import gdb

from gdbext.tracking.breakpoint_plan import ArmingReport, VectorArming, plan, task_gate_entry
from gdbext.analysis.cfg import explore
from gdbext.x86.debug_registers import DEBUG_REGISTERS
from gdbext.decode.disasm import DisassemblerMissing, lidt_sites
from gdbext.decode.elf import code_sections
from gdbext.decode.entry import decode_entry
from gdbext.errors import IsrError
from gdbext.decode.frame_report import locate
from gdbext.x86.gdt import Gdt
from gdbext.x86.idt import read_idt
from gdbext.render.text import render_frame, render_hit_header, render_run
from gdbext.decode.snapshot import register_set
from gdbext.tracking.status import LastStop

from gdbext.gdbside.adjacent import (ACCELERATOR, breakpoint_addresses, breakpoint_type,
                       check_debug_registers, crowded, hardware_in_use)
from gdbext.commands.base import style
from gdbext.gdbside.state import ENTRIES, INTERRUPTS, SETTINGS, TARGET, TRACKER
from gdbext.gdbside.trace_engine import ENGINE
from gdbext.gdbside.run_tracking import TRACKING, TRACKING_BREAKPOINTS

BREAK = "break"           # stop at entry
WATCH = "watch"           # stop at an exit that has findings
RECORD = "record"         # never stop
TRACE = "trace"           # never stop; isr-trace reports the runs

@dataclass
class Arming:
    mode: str = BREAK
    hardware: bool = False
    condition: Optional[str] = None     # GDB expression; stop at entry only when true


class HandlerBreakpoint(gdb.Breakpoint):
    """A breakpoint on a handler.  Its stop() decodes the entry before GDB
    runs the breakpoint's `commands`, so $isr_* are set there.  User-visible
    (numbered) when a vector on it is armed by isr-break; internal for
    vectors that are only watched or traced, which never stop at the entry:
    GDB does more work at every hit of a user breakpoint (hit counts and
    their notifications), ~0.1 ms per hit."""

    def __init__(self, address, hardware, registry, visible=True):
        super().__init__(f"*{address:#x}", type=breakpoint_type(hardware), internal=not visible)
        self.address = address
        self.hardware = hardware
        self.registry = registry
        self.entry = None           # what the last stop decoded (gdbext.decode.entry.Entry)
        self.problem = None         # or why it could not
        self._report = None

    def stop(self):
        with TARGET.stopped_in_breakpoint():
            self.entry, self.problem, self._report = None, None, None
            if self.registry.breakpoints.get(self.address) is not self:
                return False    # disarmed during a stop(); deleted at the next real stop
            try:
                view, live, sp, cs = read_entry_registers(self.address)
                if TRACKING.repeated(TARGET.cpu, self.address, sp, TRACKING.covers(self.address),
                                     live):
                    return False    # the same entry again (see Tracking.repeated)
                self.entry = read_entry(view, self.address, sp, cs)
                TRACKING.enter(self.entry, live)
            except IsrError as error:
                self.problem = str(error)
            except KeyboardInterrupt:
                return TRACKING.interrupt()
            if INTERRUPTS.pending():    # a Ctrl-C QEMU may have dropped (interrupt_requests)
                return TRACKING.interrupt()
            if self.address not in self.registry.stopping:
                return False    # only watched or traced here: never stops at the entry
            try:
                return self.registry.should_stop(self.address, self.entry)
            except KeyboardInterrupt:
                return TRACKING.interrupt()

    @property
    def report(self):
        """The full FrameReport of the last entry, built when first asked for
        (at a real stop: it reads the monitor, symbols and the page walk)."""
        if self._report is None and self.problem is None and self.entry is not None:
            try:
                self._report = locate(TARGET, TRACKER)
            except IsrError as error:
                self.problem = str(error)
        return self._report


def _settings_key():
    return (SETTINGS.idt_base, SETTINGS.idt_limit, SETTINGS.mode)


_ENTRY_NAMES = {}       # (CPU mode's bits, GDB's address bits) -> (names to read, sp's name)


def _entry_names(bits, address_bits):
    """What an entry reads: the CPU's mode picks the registers (32-bit code
    under a 64-bit GDB reads eax...), GDB's architecture the stack pointer."""
    found = _ENTRY_NAMES.get((bits, address_bits))
    if found is None:
        names = register_set(bits).at_entry
        sp_name = "rsp" if address_bits == 64 else "esp"
        found = _ENTRY_NAMES[bits, address_bits] = (
            names if sp_name in names else names + (sp_name,), sp_name)
    return found


def read_entry_registers(handler):
    """(CpuView, live registers, sp, cs) at a handler's entry: the tables from
    the EntryCache, the registers GDB holds for this stop."""
    view = ENTRIES.view(TARGET, TARGET.cpu, _settings_key(), task_gate_entry)
    names, sp_name = _entry_names(view.bits, TARGET.address_bits)
    live = TARGET.registers(names, optional=True, at=handler)
    return view, live, live[sp_name], live.get("cs", 0)


def read_entry(view, handler, sp, cs):
    """The Entry at ``handler``: one read of the frame's bytes."""
    if handler not in view.handlers and not view.reread:
        # the table changed since it was read: read it again, once per view
        view = ENTRIES.read(TARGET, _settings_key(), task_gate_entry)
        view.reread = True
    return decode_entry(TARGET, view, handler, sp, cs)


class IdtLoadWatch(gdb.Breakpoint):
    """Internal breakpoint right after a `lidt`: re-resolve pending vectors
    without stopping."""

    def __init__(self, address, registry, hardware=False):
        super().__init__(f"*{address:#x}", type=breakpoint_type(hardware), internal=True)
        self.hardware = hardware
        self.registry = registry

    def stop(self):
        # GDB must not delete breakpoints (least of all this one) while it
        # evaluates a stop(): removals wait for the next real stop.
        with TARGET.stopped_in_breakpoint():
            self.registry.refresh(defer_deletes=True)
        return False


# The IDT write watch.  GDB re-evaluates a hardware watchpoint's expression
# each time it inserts breakpoints, twice per handler breakpoint hit, and a
# plain `*(char (*)[16]) GATE` costs a memory read each time: four packets
# per traced handler run, as many as the run's own reads.  The expression
# isrdbg watches instead is `$_isr_gate_word(W, 0), ..., $_isr_watch_token()`:
# each gate word comes from Python as the value read when the watch was set
# (a memory lvalue, so GDB still places a hardware watchpoint on its
# address, but reads nothing), and the token is a new number at every
# evaluation, so that when QEMU reports a write to a word GDB always finds
# the value changed and calls stop() (a plain watch would ignore a write of
# the bytes it last read back); the words' contents are never compared.  GDB passes a convenience function's
# arguments by value outside the expression's value chain, hence the
# comma list rather than one function of the words.  One call per gate, so
# this is for a few gates: more than WORD_LIMIT, and the whole span from the
# first to the last armed gate is watched the plain way.
WORD_LIMIT = 8          # about where the calls cost GDB what one read of the span would
WATCH_WORDS = {}        # watch key -> [gdb.Value]: the words it watches, as read when set
_WATCH_KEYS = itertools.count(1)
_TOKENS = itertools.count(1)


class _GateWord(gdb.Function):
    """$_isr_gate_word(WATCH, N): word N of isrdbg's IDT write watch WATCH, as
read when the watch was set (isrdbg's own watch expressions use it)."""

    def __init__(self):
        super().__init__("_isr_gate_word")

    def invoke(self, watch, index):
        words = WATCH_WORDS.get(int(watch), ())
        index = int(index)
        # never an error: GDB evaluates this while it inserts breakpoints
        return words[index] if 0 <= index < len(words) else 0


class _WatchToken(gdb.Function):
    """$_isr_watch_token(): a new number at each call (see isrdbg's IDT write watch)."""

    def __init__(self):
        super().__init__("_isr_watch_token")

    def invoke(self):
        return next(_TOKENS)


_GateWord()
_WatchToken()


def _word_type(size):
    """A scalar type of ``size`` bytes (a whole gate in one word: one call
    per gate at each evaluation), else 8-byte words."""
    for name in ("long double", "unsigned long long"):     # 16 bytes on x86-64, 8
        kind = gdb.lookup_type(name)
        if kind.sizeof == size:
            return kind
    return gdb.lookup_type("unsigned long long")


def _read_words(spans):
    """The words of ``spans`` as memory lvalues, one read per span (their
    contents never matter: see WATCH_WORDS)."""
    words = []
    for base, size in spans:
        word = _word_type(size)
        count = max(1, size // word.sizeof)
        span = gdb.Value(base).cast(word.array(count - 1).pointer()).dereference()
        span.fetch_lazy()
        words.extend(span[i] for i in range(count))
    return words


class IdtWriteWatch(gdb.Breakpoint):
    """Internal hardware write watchpoint on armed gates: re-resolve vectors
    when the kernel rewrites a gate (a scenario installing its own handler).
    ``spans``: (address, size) of each gate watched; a single span when there
    are too many gates to watch word by word (see WORD_LIMIT)."""

    def __init__(self, spans, registry):
        self.spans = spans
        self.registry = registry
        self.key = None
        if len(spans) > WORD_LIMIT or spans[0][1] > 16:
            base, size = spans[0]
            expression = f"*(char (*)[{size}]) {base:#x}"
        else:
            self.key = next(_WATCH_KEYS)
            WATCH_WORDS[self.key] = _read_words(spans)
            expression = ", ".join([f"$_isr_gate_word({self.key}, {i})"
                                    for i in range(len(WATCH_WORDS[self.key]))]
                                   + ["$_isr_watch_token()"])
        try:
            super().__init__(expression, gdb.BP_WATCHPOINT, gdb.WP_WRITE, internal=True)
        except gdb.error:
            WATCH_WORDS.pop(self.key, None)
            raise

    def stop(self):
        with TARGET.stopped_in_breakpoint():
            self.registry.refresh(defer_deletes=True)
        return False


# what `commands`, `disable` and `ignore` set on a breakpoint (GDB refuses a
# `condition` on one with a Python stop(): isr-break's own is in its Arming)
USER_SETTINGS = ("commands", "enabled", "ignore_count", "silent")


class Registry:
    def __init__(self):
        self.vectors = {}         # vector -> Arming
        self.breakpoints = {}     # address -> HandlerBreakpoint
        self.armed = {}           # address -> vectors armed there
        self.stopping = set()     # addresses where a vector armed by isr-break may stop
        self.pending = {}         # vector -> reason
        self.lidt_watches = []
        self.idt_watch = None     # IdtWriteWatch over the loaded table
        self.doomed = []          # breakpoints to delete at the next real stop
        self.plugin = {}          # address -> vectors the trace plugin watches (no breakpoint)
        self.last_stop = None     # LastStop: what the last stop was, if one of ours
        self.watch_writes = True  # `set isr idt-watch`: follow writes to armed gates at once
        self._defer = False

    # -- changes ------------------------------------------------------------------
    def add(self, vectors, mode=BREAK, hardware=False, condition=None):
        wanted = dict(self.vectors)
        for v in vectors:
            previous = wanted.get(v, Arming())
            if previous.mode == BREAK and v in wanted and mode in (RECORD, TRACE):
                # recording never stops: a vector isr-break stops at keeps stopping
                # (its runs are recorded all the same)
                wanted[v] = Arming(BREAK, hardware or previous.hardware,
                                   previous.condition)
                continue
            wanted[v] = Arming(mode, hardware or previous.hardware, condition)
        self._check_debug_registers(wanted)     # under KVM; a refusal changes nothing
        self.vectors = wanted
        self.refresh()

    def _check_debug_registers(self, wanted):
        if not ACCELERATOR.refresh():
            return
        try:
            view = read_idt(TARGET, symbols=False)   # no handler names needed here
            gdt = Gdt.read(TARGET, view.cpu.gdtr)
        except IsrError:
            return      # nothing resolves yet: vectors stay pending
        armed = plan(view, wanted, task_entry=lambda sel: task_gate_entry(TARGET, gdt, sel)).armed

        def analyse(address):
            try:
                return explore(TARGET.read_memory, address, view.cpu.mode.address_bits)
            except IsrError:
                return None
        check_debug_registers(wanted, armed, analyse, lambda bp: isinstance(bp, OURS))

    def remove(self, vectors, defer_deletes=False):
        for v in vectors:
            self.vectors.pop(v, None)
        self.refresh(defer_deletes)

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
        _set_convenience(report)    # for the condition and the breakpoint's commands
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
        ACCELERATOR.refresh()     # a new connection may be KVM (cached per connection)
        if not defer_deletes:
            self._delete_doomed()
        if not self.vectors:
            self.plugin = ENGINE.take({}, None)
            self._sync({})
            self.pending = {}
            self._watch_lidt(False)
            self._watch_idt(None)
            return
        view = stored = None
        ENTRIES.invalidate()
        try:
            view = read_idt(TARGET, symbols=False)   # no handler names needed here
            gdt = Gdt.read(TARGET, view.cpu.gdtr)
            result = plan(view, self.vectors,
                          task_entry=lambda sel: task_gate_entry(TARGET, gdt, sel))
            stored = ENTRIES.store(view, gdt, lambda sel: task_gate_entry(TARGET, gdt, sel),
                                   _settings_key())
        except IsrError as error:
            result = plan(None, self.vectors, unavailable=str(error))
        self.pending = result.pending
        if view is not None:    # what traced handlers are compared with (Tracking._plan_cuts)
            TRACKING.references = list(dict.fromkeys(
                g.handler for g in view.gates
                if g.valid and g.handler is not None and g.handler not in result.armed))
        # handlers whose vectors only record: the trace plugin's, when QEMU loaded it
        self.plugin = ENGINE.take({address: vectors for address, vectors in result.armed.items()
                                   if all(self.vectors[v].mode in (RECORD, TRACE)
                                          for v in vectors)}, stored)
        self._sync(result.armed)
        if stored is not None:
            # isr-break stops at the entry anyway; the others must not pay at a hit
            TRACKING.prepare([address for address, vectors in result.armed.items()
                              if any(self.vectors[v].mode != BREAK for v in vectors)
                              and address not in self.plugin],
                             stored.bits)
        self.keep_apart()
        self._watch_lidt(bool(self.pending) or view is None)
        self._watch_idt(view)

    def _delete(self, breakpoint):
        if self._defer or TARGET.in_stop_handler:    # GDB forbids deleting in a stop()
            self.retire(breakpoint)
        elif breakpoint.is_valid():
            breakpoint.delete()

    def retire(self, breakpoint):
        """Delete ``breakpoint`` at the next real stop: inside a stop() GDB must
        not delete breakpoints.  Disabling it takes it out of the target at
        once (a trace that reached its --limit costs nothing more)."""
        if breakpoint.is_valid():
            breakpoint.enabled = False
        self.doomed.append(breakpoint)

    def _delete_doomed(self):
        doomed, self.doomed = self.doomed, []
        for breakpoint in doomed:
            if breakpoint.is_valid():
                breakpoint.delete()

    def _sync(self, armed):
        for address in list(self.breakpoints):
            if address not in armed or address in self.plugin:
                self._delete(self.breakpoints.pop(address))
        taken = breakpoint_addresses() | set(armed)
        for address, vectors in armed.items():
            if address in self.plugin:
                continue
            hardware = (any(self.vectors[v].hardware for v in vectors)
                        or crowded(address, taken))
            visible = any(self.vectors[v].mode == BREAK for v in vectors)
            bp = self.breakpoints.get(address)
            if bp is not None and (not bp.is_valid() or bp.hardware != hardware
                                   or bp.visible != visible):
                # out of the table first: deleting it must not read as the
                # user deleting it (which disarms its vectors)
                del self.breakpoints[address]
                self._delete(bp)
                bp = None
            if bp is None:
                self.breakpoints[address] = HandlerBreakpoint(address, hardware, self, visible)
        self.armed = dict(armed)
        # read at every entry: the others return without asking should_stop
        self.stopping = {address for address, vectors in armed.items()
                         if any(self.vectors[v].mode == BREAK for v in vectors)}
        TRACKING.release({a: v for a, v in armed.items() if a not in self.plugin}, self._delete)

    def keep_apart(self):
        """Make each of our breakpoints that has a breakpoint on the next byte
        a hardware one (see adjacent): after new exits or return watches, and
        at every refresh (the user may have set breakpoints)."""
        taken = breakpoint_addresses()
        for address, old in list(self.breakpoints.items()):
            if not old.hardware and crowded(address, taken):
                del self.breakpoints[address]   # first: not the user deleting it
                new = self.breakpoints[address] = HandlerBreakpoint(address, True, self,
                                                                    old.visible)
                if old.visible:     # isr-break's: what the user set on it carries over
                    for attribute in USER_SETTINGS:
                        value = getattr(old, attribute)
                        if value is not None:       # GDB takes no None for commands
                            setattr(new, attribute, value)
                self._delete(old)
        TRACKING.keep_apart(taken, self._delete)

    def _watch_idt(self, view):
        """Keep one write watchpoint over the gates of the armed vectors: each
        gate apart when they are few (no memory read at a hit, see
        IdtWriteWatch), else the span from the first to the last.  Not under
        --hw (KVM), where debug registers cannot watch 4 KiB."""
        spans = None
        inside = sorted(v for v in self.vectors if view is not None and v < view.entries)
        if (inside and self.watch_writes and not ACCELERATOR.kvm
                and not any(a.hardware for a in self.vectors.values())):
            size = view.cpu.mode.gate_size
            base = view.cpu.idtr.base
            if len(inside) <= WORD_LIMIT:
                spans = tuple((base + v * size, size) for v in inside)
            else:
                first, last = inside[0], inside[-1]
                spans = ((base + first * size, (last - first + 1) * size),)
        if self.idt_watch is not None and self.idt_watch.spans == spans:
            return
        if self.idt_watch is not None:
            self._delete(self.idt_watch)
            self.idt_watch = None
        self._forget_watch_words()
        if spans is not None:
            try:
                self.idt_watch = IdtWriteWatch(spans, self)
            except gdb.error:
                self.idt_watch = None   # the target cannot watch: re-resolve at stops only

    def _forget_watch_words(self):
        """Drop the words of watches GDB has deleted (a retired one still
        evaluates its expression until then)."""
        live = {bp.key for bp in [self.idt_watch] + self.doomed
                if isinstance(bp, IdtWriteWatch) and bp.is_valid()}
        for key in [k for k in WATCH_WORDS if k not in live]:
            del WATCH_WORDS[key]

    def _watch_lidt(self, wanted):
        if self.lidt_watches and (not wanted or
                                  any(w.hardware != ACCELERATOR.kvm for w in self.lidt_watches)):
            for watch in self.lidt_watches:
                self._delete(watch)
            self.lidt_watches = []
        if not wanted or self.lidt_watches:
            return
        progspace = gdb.current_progspace()
        path = progspace.filename if progspace is not None else None
        if not path:
            return
        try:
            sites = lidt_sites(code_sections(path), TARGET.address_bits)
        except (OSError, ValueError, DisassemblerMissing):
            return
        if ACCELERATOR.kvm and len(sites) + hardware_in_use(lambda bp: False) > DEBUG_REGISTERS:
            return      # no debug registers left: pending vectors re-resolve at stops only
        self.lidt_watches = [IdtLoadWatch(address, self, ACCELERATOR.kvm) for address in sites]


    def report(self, vectors=None, deleted=()) -> ArmingReport:
        """How ``vectors`` (default: every armed one) are armed, for printing."""
        wanted = sorted(self.vectors if vectors is None else
                        [v for v in vectors if v in self.vectors])
        at = {v: address for address, armed in self.armed.items() for v in armed}
        symbols = {}
        found = []
        for v in wanted:
            arming = self.vectors[v]
            address = at.get(v)
            bp = self.breakpoints.get(address) if address is not None else None
            if bp is None and address in self.plugin:
                if address not in symbols:
                    symbols[address] = TARGET.symbolize(address)
                found.append(VectorArming(v, arming.mode, False, arming.condition, PLUGIN_BP,
                                          address, symbols[address]))
            elif bp is not None:
                if address not in symbols:
                    symbols[address] = TARGET.symbolize(address)
                found.append(VectorArming(v, arming.mode, bp.hardware, arming.condition,
                                          bp.number, address, symbols[address],
                                          hardware_reason=self._hardware_reason(bp, address)))
            else:
                found.append(VectorArming(v, arming.mode, arming.hardware, arming.condition,
                                          reason=self.pending.get(v, "not resolved yet")))
        exits = TRACKING.exit_report(TARGET.symbolize) if vectors is None else ()
        return ArmingReport(tuple(found), tuple(deleted), exits)

    def _hardware_reason(self, bp, address):
        if not bp.hardware:
            return None
        if ACCELERATOR.reason:
            return ACCELERATOR.reason
        if any(self.vectors[v].hardware for v in self.armed.get(address, ())):
            return "--hw"
        return "next to a breakpoint"

    def stop_at_exit(self, run):
        """At an exit: stop when a vector armed by isr-watch has a problem finding."""
        findings = run.findings
        if not findings or not any(f.is_problem for f in findings):
            return False    # (nearly every run has none: no generator for them)
        return any(self.vectors[v].mode == WATCH
                   for v in self._armed_for(run.handler, run.vectors))


REGISTRY = Registry()
PLUGIN_BP = 0           # VectorArming.breakpoint of a vector the trace plugin watches
OURS = (HandlerBreakpoint, IdtLoadWatch, IdtWriteWatch) + TRACKING_BREAKPOINTS
TRACKING.stop_on = REGISTRY.stop_at_exit
TRACKING.retire = REGISTRY.retire
TRACKING.placed = REGISTRY.keep_apart


def _set_convenience(report):
    """$isr_* describe the last entry an isr-break breakpoint decoded (void if
    none); entries of vectors that are only watched or traced leave them."""
    frame = report.frame if report is not None else None
    gdb.set_convenience_variable("isr_vector", report.vector if report else None)
    gdb.set_convenience_variable("isr_cpu", report.cpu if report else None)
    gdb.set_convenience_variable("isr_frame", frame.address if frame else None)
    gdb.set_convenience_variable("isr_error_code", frame.error_code if frame else None)


def on_stop(event):
    """Show what our breakpoints decoded, and re-resolve pending vectors."""
    REGISTRY.last_stop = None
    ENTRIES.invalidate()      # a real stop: the user may change anything now
    INTERRUPTS.drain()        # whatever Ctrl-C asked for, this stop answers
    if TRACKING.interrupted:
        TRACKING.interrupted = False
        gdb.write("isrdbg: interrupted (Ctrl-C) at a handler breakpoint; recorded runs are "
                  "kept\n")
    for bp in getattr(event, "breakpoints", ()):
        if getattr(bp, "tracking", None) is TRACKING and TRACKING.last_stopping_run is not None:
            run = TRACKING.last_stopping_run
            REGISTRY.last_stop = LastStop("exit", bp.number, run.cpu, run.vectors, run.handler,
                                          run.sequence, sum(f.is_problem for f in run.findings))
            gdb.write(render_run(run, style()) + "\n")
            TRACKING.last_stopping_run = None
        if isinstance(bp, HandlerBreakpoint) and bp.is_valid():
            report = bp.report
            vectors = (report.vectors if report else
                       bp.entry.vectors if bp.entry else REGISTRY.armed.get(bp.address, ()))
            REGISTRY.last_stop = LastStop("entry", bp.number, TARGET.cpu, tuple(vectors),
                                          bp.address)
            gdb.write(render_hit_header(vectors, TARGET.cpu, bp.address,
                                        TARGET.symbolize(bp.address), style()) + "\n")
            if report is not None:
                gdb.write(render_frame(report, style()) + "\n")
            elif bp.problem is not None:    # None: Ctrl-C came before the entry was read
                gdb.write(f"isr-frame: {bp.problem}\n", gdb.STDERR)
    ENGINE.at_stop(REGISTRY.remove)     # a trace limit reached while the guest ran
    if REGISTRY.vectors or REGISTRY.doomed:
        try:
            REGISTRY.refresh()
        except gdb.error:
            pass  # the target went away with this stop


def on_breakpoint_created(breakpoint):
    """The user's breakpoint may sit right after one of ours (see adjacent)."""
    if REGISTRY.vectors and not isinstance(breakpoint, OURS):
        REGISTRY.keep_apart()


def on_breakpoint_deleted(breakpoint):
    if isinstance(breakpoint, HandlerBreakpoint):
        REGISTRY.forget_breakpoint(breakpoint)




def register():
    gdb.events.stop.connect(on_stop)
    if os.isatty(0):          # Ctrl-C can come from a terminal: watch for it
        INTERRUPTS.start()
        gdb.events.before_prompt.connect(INTERRUPTS.drain)   # Ctrl-C at the prompt
    gdb.events.breakpoint_created.connect(on_breakpoint_created)
    gdb.events.breakpoint_deleted.connect(on_breakpoint_deleted)
