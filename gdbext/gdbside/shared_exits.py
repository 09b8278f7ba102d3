"""Exits other code takes too (Linux's one `iretq`, xv6's `trapret`): each
costs the guest a stop for every interrupt in the system, so such an exit is
armed only while a traced run may leave through it, and, where a handler's
own code can be told from the shared return path, only once its run has
passed the point where it hands over to it (a cut).  The strategy itself is
pure (gdbext.tracking.breakpoint_plan); this is its GDB side: the cut
breakpoints, the marks of runs past their cut, and enabling the shared exits.

SharedExits is a part of Tracking (gdbext.gdbside.run_tracking), which holds
the state it uses: the handlers' analysed code, the exit breakpoints, the
armed handlers and the untraced gates' handlers to compare with."""

from collections import Counter

import gdb

from gdbext.analysis.cfg import explore, successors
from gdbext.errors import IsrError
from gdbext.tracking.breakpoint_plan import ExitArming, exit_strategy, exits_to_arm, tail_cut
from gdbext.tracking.tracker import PTI_USER_BIT, address_space

from gdbext.gdbside.adjacent import breakpoint_addresses, breakpoint_type, crowded
from gdbext.gdbside.state import INTERRUPTS, TARGET, TRACKER, TRACKER_LOCK

# Untraced handlers analysed at most to find the code a traced one shares (see _plan_cuts).
REFERENCE_TRIES = 4


class CutBreakpoint(gdb.Breakpoint):
    """Internal breakpoint where a handler's own code hands over to a return
    path other code shares (gdbext.tracking.breakpoint_plan.tail_cut): the
    run reaching it may leave through the shared exit from now on, so the
    exit is armed now rather than for the whole run."""

    def __init__(self, address, handlers, tracking, hardware=False):
        super().__init__(f"*{address:#x}", type=breakpoint_type(hardware), internal=True)
        self.address = address
        self.handlers = set(handlers)
        self.hardware = hardware
        self.tracking = tracking

    def stop(self):
        if self.tracking.cut_points.get(self.address) is not self:
            return False
        with TARGET.stopped_in_breakpoint():
            try:
                cr3 = TARGET.registers(("cr3",), optional=True, at=self.address).get("cr3")
                self.tracking.leave(self.handlers, cr3)
            except IsrError:
                return False
            except KeyboardInterrupt:
                return self.tracking.interrupt()
            if INTERRUPTS.pending():
                return self.tracking.interrupt()
        return False


class SharedExits:
    """The exit strategy's part of Tracking (see the module's doc)."""

    def __init__(self):
        self.while_open = {}      # exit address -> why it is armed only while a run is open
        self.exit_runs = Counter()     # exit address -> runs it closed
        self.exit_outside = Counter()  # exit address -> stops it took that closed no run
        self.cuts = {}            # handler -> its tail_cut addresses (None: it has none)
        self.recut = set()        # handlers whose cut is to be found (again) in new code
        self.cut_points = {}      # address -> CutBreakpoint
        self.leaving = {}         # sequence of an open run past its handler's cut -> the
                                  # CPUs it may have passed it on (None: not seen; _count_exit)
        self.references = []      # handlers of untraced gates (set by arming; see _plan_cuts)
        self.reference_code = {}  # handler -> HandlerCode, analysed only to compare with

    def _exit_users(self, address):
        """The armed handlers whose analysed exits include ``address``."""
        return [h for h in self.armed_handlers if h in self.code
                and any(a == address for a, _ in self.code[h].exits)]

    def _strategy(self, address):
        """Whether the exit at ``address`` stays in the target or only while a
        run is open (gdbext.tracking.breakpoint_plan.exit_strategy)."""
        users = self._exit_users(address)
        return exit_strategy([v for h in users for v in self.armed_handlers[h]], len(users),
                             self.exit_runs[address], self.exit_outside[address],
                             self.while_open.get(address))

    def _plan_exit(self, address):
        strategy = self._strategy(address)
        if strategy.while_open and address not in self.while_open:
            self.while_open[address] = strategy.reason
        if strategy.while_open:
            self._plan_cuts(address)
        return strategy

    def _plan_cuts(self, exit):
        """For each handler leaving through ``exit`` (armed while a run is
        open): the instructions where its own code hands over to code it
        shares with another handler (tail_cut), compared with another traced
        handler that exits there, or else with an untraced gate's handler."""
        users = self._exit_users(exit)
        for handler in users:
            if (handler in self.cuts and handler not in self.recut) or not self.covers(handler):
                continue
            self.recut.discard(handler)
            prior = self.cuts.get(handler)
            other = next((self.code[h] for h in users if h != handler), None) \
                or self._reference(exit, handler)
            code = self.code[handler]
            cut = None
            if other is not None:
                cut = tail_cut({a: successors(i) for a, i in code.insns.items()}, handler,
                               set(other.insns),
                               {a for a, i in code.insns.items() if i.mnemonic.startswith("call")})
            self.cuts[handler] = cut
            if cut:
                self._place_cut(handler, cut, runs_past=cut != prior)

    def _reference(self, exit, handler):
        """The code of an untraced gate's handler that exits at ``exit`` too."""
        tries = 0
        for candidate in self.references:
            if candidate == handler or tries >= REFERENCE_TRIES:
                continue
            code = self.reference_code.get(candidate)
            if code is None:
                tries += 1
                try:
                    bits = self.code[handler].bits
                    code = explore(TARGET.read_memory, candidate, bits,
                                   self._analyzer(bits).reader)
                except IsrError:
                    continue
                self.reference_code[candidate] = code
            if any(a == exit for a, _ in code.exits):
                return code
        return None

    def _place_cut(self, handler, cut, runs_past=True):
        """Breakpoints on ``cut``; ``runs_past``: the runs of ``handler`` open
        now may be past it already (it is new), so their exits are armed."""
        if runs_past:
            with TRACKER_LOCK:
                for run in TRACKER.open.values():
                    if run.handler == handler:
                        self.leaving.setdefault(run.sequence, set()).add(None)
        taken = breakpoint_addresses() | set(cut)
        for address in cut:
            bp = self.cut_points.get(address)
            if bp is None:
                self.cut_points[address] = CutBreakpoint(address, (handler,), self,
                                                         crowded(address, taken))
            else:
                bp.handlers.add(handler)
        self._placed()

    def leave(self, handlers, cr3=None):
        """A run of one of ``handlers`` reached its cut on this CPU, in the
        address space ``cr3``: all their open runs in that space (all of them
        when none is).  Not only the innermost one the tracker has on this
        CPU: a task that slept in the handler resumes here without a new
        entry (a timer switched tasks, or it moved CPUs), and a run left
        unmarked would miss its exit and stay open, stale, to be paired
        with another run's exit.  Marking too many only keeps the shared
        exit armed until those runs close."""
        cpu = TARGET.cpu
        space = address_space(cr3)
        with TRACKER_LOCK:
            runs = [r for r in TRACKER.open.values() if r.handler in handlers]
            candidates = [r for r in runs if r.space is None or space is None
                          or (r.space | PTI_USER_BIT) == (space | PTI_USER_BIT)] or runs
            for run in candidates:
                self.leaving.setdefault(run.sequence, set()).add(cpu)
        self.arm_exits()

    def arm_exits(self):
        """Put each exit armed only while a run is open in the target exactly
        when an open run may leave through it (enabling or disabling a
        breakpoint inside a stop() takes effect when GDB resumes)."""
        if not self.while_open:
            return
        with TRACKER_LOCK:
            runs = list(TRACKER.open.values())
        open_now = {run.sequence for run in runs}
        self.leaving = {s: c for s, c in self.leaving.items() if s in open_now and c}
        # a run whose handler has a cut needs its exits only once past it
        handlers = {run.handler for run in runs
                    if not self.cuts.get(run.handler) or run.sequence in self.leaving}
        exits_of = {h: [a for a, _ in self.code[h].exits] if self.covers(h) else None
                    for h in handlers if h in self.code}
        needed = exits_to_arm(self.while_open, handlers, exits_of)
        for address in self.while_open:
            bp = self.exits.get(address)
            if bp is not None and bp.is_valid() and bp.enabled != (address in needed):
                bp.enabled = address in needed

    def exit_report(self, symbolize=lambda address: None):
        """How each exit breakpoint is armed (info isr-breakpoints)."""
        found = []
        for address, bp in sorted(self.exits.items()):
            strategy = self._strategy(address)
            vectors = sorted({v for h in self._exit_users(address)
                              for v in self.armed_handlers[h]})
            cuts = sorted({a for h in self._exit_users(address) for a in self.cuts.get(h) or ()})
            found.append(ExitArming(address, bp.kind, tuple(vectors), strategy.while_open,
                                    strategy.reason, bp.is_valid() and bp.enabled,
                                    self.exit_runs[address], self.exit_outside[address],
                                    symbolize(address), tuple(cuts)))
        return tuple(found)

    def _count_exit(self, address, run, sp=None, cr3=None):
        """Count the stop at an exit breakpoint; one taken outside traced runs
        may change its strategy; re-arm the exits armed while a run is open.
        A marked run whose own frame this iret pops (``sp``, in its address
        space ``cr3``: Linux's entry stack holds every task's frame) has left
        even if the tracker did not pair the exit (a rewritten frame...): its
        mark ends, or it would keep the exit armed, stopping at every
        interrupt, until it is dropped.  Nothing else ends a mark: the return path may
        run with interrupts on (a trap gate), so another interrupt's exit
        can come first, through the same shared code, on this CPU."""
        if address in self.while_open and sp is not None:
            space = address_space(cr3)
            with TRACKER_LOCK:
                popped = [r.sequence for r in TRACKER.open.values()
                          if r.sequence in self.leaving and r.frame.rip_slot == sp
                          and (r.space is None or space is None
                               or (r.space | PTI_USER_BIT) == (space | PTI_USER_BIT))]
            for sequence in popped:
                self.leaving.pop(sequence, None)
        if run is None:
            self.exit_outside[address] += 1
            if address not in self.while_open:
                self._plan_exit(address)
        else:
            self.exit_runs[address] += 1
        self.arm_exits()

    @property
    def stops_outside_runs(self):
        """Stops exit breakpoints took that closed no traced run."""
        return sum(self.exit_outside.values())
