"""Entry and exit tracking inside GDB: the glue between breakpoints and the
pure Tracker.  All per-interrupt work runs in Breakpoint.stop(), which
returns False unless the user asked to stop, so a handler run that needs no
attention never round-trips to a client.  Exits other code takes too are
armed only while a run may leave through them: gdbext.gdbside.shared_exits."""

import gdb

from gdbext.analysis.cfg import explore
from gdbext.errors import IsrError
from gdbext.tracking.judge import ExitObservation
from gdbext.tracking.plugin_events import iret_words
from gdbext.analysis.restored import explain_changes
from gdbext.analysis.static_check import Analyzer
from gdbext.decode.snapshot import Context, interrupted_context, pick, register_set

from gdbext.gdbside.adjacent import breakpoint_addresses, breakpoint_type, crowded
from gdbext.gdbside.shared_exits import CutBreakpoint, SharedExits
from gdbext.gdbside.state import ENTRIES, INTERRUPTS, TARGET, TRACKER, TRACKER_LOCK

MAX_RETURN_WATCHES = 64
# Handlers analysed when armed (see Tracking.prepare); more wait for their first entry.
PREPARE_LIMIT = 16


_TRACKED_AND_SS = {}


def _tracked_and_ss(bits):
    """What an entry keeps of its registers (one tuple per mode: every entry asks)."""
    names = _TRACKED_AND_SS.get(bits)
    if names is None:
        names = _TRACKED_AND_SS[bits] = register_set(bits).tracked + ("ss",)
    return names


class ExitBreakpoint(gdb.Breakpoint):
    """Internal breakpoint on an exit instruction (iret, ret, ...) of a tracked handler."""

    def __init__(self, address, kind, mnemonic, tracking, hardware=False):
        super().__init__(f"*{address:#x}", type=breakpoint_type(hardware), internal=True)
        self.hardware = hardware
        # When it does stop (isr-watch found a problem) the run shown by the
        # stop handler says where; GDB's "Breakpoint -3, ..." would only confuse.
        self.silent = True
        self.address, self.kind, self.mnemonic = address, kind, mnemonic
        self.tracking = tracking

    def stop(self):
        if self.tracking.exits.get(self.address) is not self:
            return False    # released during a stop(); deleted at the next real stop
        with TARGET.stopped_in_breakpoint():
            try:
                stop = self.tracking.on_exit(self.kind, self.address, self.mnemonic)
            except KeyboardInterrupt:
                return self.tracking.interrupt()
            if INTERRUPTS.pending():    # a Ctrl-C QEMU may have dropped (interrupt_requests)
                return self.tracking.interrupt()
            return stop


class ReturnWatch(gdb.Breakpoint):
    """Safety net for handlers whose exits the static walk could not find:
    a breakpoint where the interrupted code resumes."""

    def __init__(self, address, tracking, hardware=False):
        super().__init__(f"*{address:#x}", type=breakpoint_type(hardware), internal=True)
        self.address = address
        self.hardware = hardware
        self.tracking = tracking

    def stop(self):
        if self.tracking.returns.get(self.address) is not self:
            return False
        with TARGET.stopped_in_breakpoint():
            try:
                stop = self.tracking.on_exit("return", self.address, "")
            except KeyboardInterrupt:
                return self.tracking.interrupt()
            if INTERRUPTS.pending():
                return self.tracking.interrupt()
            return stop


TRACKING_BREAKPOINTS = (ExitBreakpoint, ReturnWatch, CutBreakpoint)


class Tracking(SharedExits):
    def __init__(self):
        SharedExits.__init__(self)
        self.code = {}            # handler address -> HandlerCode
        self.code_generation = {} # handler address -> IDT generation it was analysed in
        self.exits = {}           # address -> ExitBreakpoint
        self.returns = {}         # address -> ReturnWatch
        self.stop_on = None       # callable(run) -> bool: stop at this exit?
        self.observers = []       # callables(run) told of every completed run
        self.last_stopping_run = None
        self.last_hit = {}        # cpu -> (pc, sp) of the last tracking breakpoint hit
        self.repeats = 0          # hits ignored as repeats
        self.armed_handlers = {}  # handler address -> its armed vectors (see release)
        self.interrupted = False  # the last stop is a Ctrl-C caught in a stop()
        self.retire = None        # callable(bp): delete at the next real stop (set by arming)
        self.placed = None        # callable(): new breakpoints were set (see adjacent; arming)
        self.analyzer = None      # (bits, IDT generation, Analyzer): the save analysis
        self.save_states = {}     # handler -> {address: [MachineState]} (see explain)
        self.before_hit = None    # callable(): at each hit, first (the plugin's records)

    def repeated(self, cpu, pc, sp, certain=True, registers=None):
        """Whether this hit repeats the previous one on ``cpu`` (same PC and
        stack pointer, and every register the same when ``registers`` came
        from a `g` packet; no tracking breakpoint hit in between).  QEMU
        sometimes ends the single-step GDB uses to step over a breakpoint
        without executing the instruction; GDB then reports the same
        breakpoint again, and recording it twice would open (or close) one
        handler run twice.  The registers keep genuine hits apart that share
        PC and stack pointer: Linux enters every interrupt from user mode on
        one per-CPU entry stack, and a run may exit on the other CPU.
        ``certain``: no genuine hit can look like this (an entry of a handler
        whose every exit has a breakpoint, which a run must hit in between)."""
        hit = (pc, sp, getattr(registers, "raw", None))
        if certain and self.last_hit.get(cpu) == hit:
            self.repeats += 1
            return True
        self.last_hit[cpu] = hit
        return False

    def interrupt(self):
        """Ctrl-C arrived while a tracking breakpoint's stop() ran (GDB hands
        it to Python then): stop the target here; what was recorded stays."""
        self.interrupted = True
        return True

    def covers(self, handler):
        """Every run of ``handler`` leaves through an exit breakpoint."""
        code = self.code.get(handler)
        return code is not None and bool(code.exits) and not code.stops

    def enter(self, entry, live):
        """Record an entry (a gdbext.decode.entry.Entry) with the registers read at it
        (the tracked set and ss); returns the open HandlerRun."""
        frame = entry.frame
        if self.before_hit is not None:
            self.before_hit()
        run = self.open_run(entry, live)
        code = self._analyse(entry.handler, frame.bits)
        if (not code.exits or code.stops) and len(self.returns) < MAX_RETURN_WATCHES:
            self._watch_return(frame.rip)
        self.arm_exits()
        return run

    def open_run(self, entry, live):
        """The run an entry opens in the tracker (no breakpoint is set: the
        plugin engine, gdbext/gdbside/trace_engine.py, watches its exits itself)."""
        frame = entry.frame
        values = pick(live, _tracked_and_ss(frame.bits))
        if frame.rsp is not None:
            context = Context(values, frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss)
        else:       # see snapshot.interrupted_context
            context = interrupted_context(values, frame, live.get("ss", 0))
        with TRACKER_LOCK:
            return TRACKER.enter(entry.cpu, entry.vectors, entry.handler,
                                 entry.gate_type or "interrupt", frame, context,
                                 cr3=live.get("cr3"))

    def prepare(self, handlers, bits):
        """Analyse ``handlers`` and arm their exits now, while the target is
        stopped, so that the first run is not the one that pays for the
        disassembler (~50 ms to load) and the walk.  What cannot be read yet
        is left to the first entry, and so is everything when there are more
        than PREPARE_LIMIT handlers: most of a kernel's 256 vectors never
        fire, and walking them all cost Linux 11-18 s and ~400 MB of GDB
        (each IRQ stub's walk covers the common entry code again)."""
        if len(handlers) > PREPARE_LIMIT:
            return
        for handler in handlers:
            try:
                self._analyse(handler, bits)
            except IsrError:
                pass

    def analysis(self, handler, bits):
        """The handler's code, analysed once per handler address and IDT generation."""
        code = self.code.get(handler)
        if code is None or self.code_generation.get(handler) != ENTRIES.generation:
            # one decoder for every handler: Linux's 200-odd IRQ stubs all
            # jump into the same code, decoded once
            analyzer = self._analyzer(bits)
            code = explore(TARGET.read_memory, handler, bits, analyzer.reader, analyzer.tails)
            self.code[handler] = code
            self.code_generation[handler] = ENTRIES.generation
        return code

    def _analyse(self, handler, bits):
        """The handler's code (see analysis), with a breakpoint on each of its exits."""
        before = self.code.get(handler)
        code = self.analysis(handler, bits)
        if code is before and all(address in self.exits for address, _ in code.exits):
            return code     # analysed, armed and planned already (what every entry finds)
        self.recut.add(handler)         # new code (first analysis, or the IDT/GDT changed)
        new = [(address, kind) for address, kind in code.exits if address not in self.exits]
        if new:
            taken = breakpoint_addresses() | {address for address, _ in new}
            for address, kind in new:
                self.exits[address] = ExitBreakpoint(address, kind, code.insns[address].mnemonic,
                                                     self, crowded(address, taken))
            self._placed()
        for address, _ in code.exits:
            self._plan_exit(address)
        return code

    def _watch_return(self, address):
        if address not in self.returns:
            self.returns[address] = ReturnWatch(address, self,
                                                crowded(address, breakpoint_addresses()))
            self._placed()

    def _placed(self):
        if self.placed is not None:
            self.placed()

    def keep_apart(self, taken, delete):
        """Replace each exit breakpoint, return watch and cut that is a
        software breakpoint with a breakpoint on the next byte (see adjacent)."""
        for address, old in list(self.exits.items()):
            if not old.hardware and crowded(address, taken):
                delete(old)
                self.exits[address] = ExitBreakpoint(address, old.kind, old.mnemonic, self, True)
        for address, old in list(self.returns.items()):
            if not old.hardware and crowded(address, taken):
                delete(old)
                self.returns[address] = ReturnWatch(address, self, True)
        for address, old in list(self.cut_points.items()):
            if not old.hardware and crowded(address, taken):
                delete(old)
                self.cut_points[address] = CutBreakpoint(address, old.handlers, self, True)
        self.arm_exits()

    def on_exit(self, kind, address, mnemonic):
        """At an exit instruction (or a resume point): close the run, maybe stop."""
        if self.before_hit is not None:
            self.before_hit()       # entries the plugin recorded before this exit, first
        try:
            bits = TARGET.address_bits
            regset = register_set(bits)
            regs = TARGET.registers(regset.at_exit, optional=True, at=address)
            sp = regs[regset.sp]
            cpu = TARGET.cpu
            if self.repeated(cpu, address, sp, registers=regs):
                return False
            stack = iret_words(TARGET.read_memory, sp, bits // 8) if kind != "return" else b""
            cr3 = regs.get("cr3")
            observation = ExitObservation(kind, address, regs, stack, sp, regs.get("cs", 0) & 3,
                                          mnemonic)
            with TRACKER_LOCK:
                run = TRACKER.exit(cpu, observation, cr3=cr3,
                                   read=TARGET.read_memory, explain=self.explain,
                                   untraced=bool(self.references))
        except IsrError:
            return False
        if kind != "return" and address in self.exits:
            if run is not None and not self.while_open:
                self.exit_runs[address] += 1    # all _count_exit does for this common case
            else:
                self._count_exit(address, run, sp, cr3)
        if run is None:
            return False
        if run.handler not in self.armed_handlers and self.retire is not None:
            self.release(self.armed_handlers, self.retire)   # its last open run is done
        with TRACKER_LOCK:
            for observer in self.observers:
                observer(run)
        if self.stop_on is not None and self.stop_on(run):
            self.last_stopping_run = run
            return True
        return False

    def explain(self, run, names, read_word=None):
        """Why ``names`` changed in ``run`` (gdbext.analysis.restored): the save
        analysis' states at its exit and the save slots' values now (or as
        ``read_word(address)`` gives them: a plugin record's).  Asked only
        when registers changed; the analysis runs once per handler."""
        exit = run.exit
        slot = run.frame.slot

        def read_target_word(address):
            try:
                return int.from_bytes(TARGET.read_memory(address, slot), "little")
            except IsrError:
                return None
        read_word = read_word or read_target_word
        same_stack = exit.kind != "iret" or exit.sp == run.frame.rip_slot
        states = (self._save_states(run.handler, run.frame.bits).get(exit.address, [])
                  if same_stack else [])
        return explain_changes(states, run.frame.address, exit.address, names,
                               run.entry.values, exit.registers, read_word, same_stack)

    def has_save_analysis(self, handler, bits):
        """Whether explain() for ``handler`` needs nothing from the target."""
        analyzer = self.analyzer
        return analyzer is not None and analyzer[:2] == (bits, ENTRIES.generation) \
            and handler in self.save_states

    def save_analysis(self, handler, bits):
        """Run the save analysis of ``handler`` now, while the target is
        stopped (a plugin engine explains changes while the guest runs)."""
        self._save_states(handler, bits)

    def _analyzer(self, bits):
        """The save analysis (and code decoder) of this IDT generation."""
        analyzer = self.analyzer
        if analyzer is None or analyzer[:2] != (bits, ENTRIES.generation):
            analyzer = self.analyzer = (bits, ENTRIES.generation,
                                        Analyzer(TARGET.read_memory, bits, states_only=True))
            self.save_states = {}
        return analyzer[2]

    def _save_states(self, handler, bits):
        analyzer = self._analyzer(bits)
        states = self.save_states.get(handler)
        if states is None:
            try:
                analyzer.start_clock()
                _, states = analyzer.states_at(handler)
            except Exception:       # no analysis is no evidence: the change is not judged
                states = {}
            self.save_states[handler] = states
        return states

    def release(self, armed_handlers, delete):
        """Remove the exit breakpoints (and return watches) no armed handler
        needs any more, unless a run of their handler is still open.
        ``delete(bp)`` deletes now or at the next real stop."""
        self.armed_handlers = {h: tuple(v) for h, v in dict(armed_handlers).items()}
        busy = {run.handler for run in TRACKER.pending()}
        keep = set(self.armed_handlers) | busy
        needed = {address for handler in keep if handler in self.code
                  for address, _ in self.code[handler].exits}
        for address in [a for a in self.exits if a not in needed]:
            delete(self.exits.pop(address))
            self.while_open.pop(address, None)
        for handler in [h for h in self.cuts if h not in keep]:
            for address in self.cuts.pop(handler) or ():
                bp = self.cut_points.get(address)
                if bp is not None:
                    bp.handlers.discard(handler)
                    if not bp.handlers:
                        delete(self.cut_points.pop(address))
        self.arm_exits()
        if not keep:
            for address in list(self.returns):
                delete(self.returns.pop(address))

    def clear(self):
        """Forget analysed code (the kernel may have changed) but keep breakpoints' state."""
        self.code.clear()
        self.code_generation.clear()
        self.analyzer = None
        self.save_states = {}


TRACKING = Tracking()
