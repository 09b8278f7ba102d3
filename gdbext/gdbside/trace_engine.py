"""The plugin engine: isr-trace (and isr-watch --no-stop) without stopping
the guest, through isrdbg's QEMU trace plugin (plugin/, gdbext.tracking.plugin_ring).

Arming is unchanged (gdbext/gdbside/arming.py resolves vectors to handlers, follows
`lidt` and gate rewrites); for the handlers whose vectors only record, the
Registry hands the addresses to this engine instead of setting breakpoints.
The engine analyses each handler's exits once (the same walk as the exit
breakpoints'), writes the entries and exits into the plugin's table, and
turns the plugin's records into the Tracker's own inputs
(gdbext.tracking.plugin_events): one tracker pairs, one judge judges, whichever engine
observed.

Records are read (drained) at every stop, before the tables are read again
(so that they decode against the IDT they were recorded under), whenever a
command shows runs, and while the guest runs: a thread watches the ring and
posts a drain to GDB's event loop.  A drain while the guest runs reads
nothing from the target: the records hold the memory the judge needs, and
the handler analyses were made while the guest was stopped.

Clean runs are cheap: the plugin folds a run whose exit changed nothing
into one record (plugin/ring.h); the tracker counts it as a judged run
without opening or judging it when the judge's own tests prove it has
nothing to find (Tracker.clean_run), else the record is unfolded into the
entry and exit records it stands for, fed as any.  The plugin
holds back the latest entry to fold it: at every stop the engine takes that
entry (the vCPUs are stopped), so that a stop sees every entry so far.

Which engine: the plugin when QEMU loaded it (the launcher starts QEMU with
it when QEMU's plugin API has register reads, version 4: QEMU 9.2+, and
tells GDB the ring file in $ISRDBG_TRACE_RING; `isr-trace engine plugin
PATH` for a QEMU started by hand), breakpoints otherwise.
"""

import os
import threading
import time
from collections import Counter

import gdb

from gdbext.errors import IsrError
from gdbext.tracking.plugin_events import (ENTRY, Site, Sites, batch_member, clean_exit_from,
                                           entry_from, exit_from, no_error_code_entries,
                                           popped_rflags_of, read_word_from, unfold)
from gdbext.tracking.plugin_ring import (KIND_CLEAN, RING_ENV, STATE_REFUSED, STATE_RUNNING,
                                         SWITCH_ENV, RingFile)
from gdbext.analysis.restored import explain_changes
from gdbext.decode.snapshot import interrupted_context, pick, register_set

from gdbext.gdbside.state import TRACE, TRACKER, TRACKER_LOCK
from gdbext.gdbside.run_tracking import TRACKING

DRAIN_PERIOD = 0.02     # seconds between looks at the ring while the guest runs
WATCHER_NICE = 10       # the watcher thread's niceness (Linux: per thread)
BREAKPOINTS = "breakpoints"
PLUGIN = "plugin"


def _running():
    try:
        thread = gdb.selected_thread()
        return thread is not None and thread.is_running()
    except gdb.error:
        return False


def _drop_translations(addresses):
    """Make QEMU drop the blocks it translated from ``addresses`` - as it does
    for any write to guest memory, the gdbstub's too - by writing each one's
    first byte back, so that they are translated anew from the plugin's new
    table.  Only GDB's thread, the guest stopped (arming).  False when one
    could not be written: the plugin then flushes every block instead."""
    if threading.current_thread() is not threading.main_thread() or _running():
        return False
    inferior = gdb.selected_inferior()
    try:
        for address in sorted(addresses):
            inferior.write_memory(address, inferior.read_memory(address, 1))
    except (gdb.error, gdb.MemoryError):
        return False
    return True


class PluginEngine:
    def __init__(self):
        self.ring = None
        self.path = None
        self.problem = "QEMU was not started with isrdbg's trace plugin"
        self.sites = Sites()
        self.handlers = {}          # handler address -> HandlerCode, watched by the plugin
        self.view = None            # the CpuView (IDT, GDT) entries decode against
        self.exit_owners = {}       # exit address -> handlers it closes runs of
        self.undecoded = Counter()  # reason -> entry records not decoded
        self.events = 0             # records read
        self.entries = 0            # entries opened as runs
        self.folded = 0             # clean runs the plugin folded into one record
        self.folded_judged = 0      # of those, runs the tracker judged in full after all
        self.later = []             # (vectors, reason): disarm at the next stop
        self.stop_drain_seconds = 0.0
        self.draining_live = False  # a drain runs while the guest runs
        self._watcher = None
        self._quit = threading.Event()
        self.lock = TRACKER_LOCK    # the watcher thread and GDB's both feed the tracker
        self.running = False        # the guest runs (GDB's cont and stop events)

    # -- connection -----------------------------------------------------------------
    def connect(self, path):
        """Use the ring at ``path``; raises IsrError (and keeps the engine as
        it was) when it is no ring a running plugin writes."""
        ring = RingFile(path)
        if ring.state == STATE_REFUSED:
            raise IsrError(f"the trace plugin refused to run in this QEMU (plugin API "
                           f"{ring.api_version}; it needs 4, QEMU 9.2 or later)")
        if ring.state != STATE_RUNNING:
            raise IsrError(f"the trace ring {path} is not being written by a running plugin")
        self.ring, self.path, self.problem = ring, path, None
        self.sites = Sites()
        self.handlers = {}
        self._start_watcher()

    def connect_from_environment(self):
        switch = os.environ.get(SWITCH_ENV, "")
        if switch.lower() in ("off", "0", "no"):
            self.problem = f"turned off by {SWITCH_ENV}={switch}"
        path = os.environ.get(RING_ENV)
        if path and self.ring is None:
            try:
                self.connect(path)
            except IsrError as error:
                self.problem = str(error)

    def disconnect(self, why):
        with self.lock:
            if self.ring is not None:
                self.ring.set_watches([])   # the plugin stops recording at the next resume
                self.ring.request_flush()   # and QEMU drops the instrumented code
            self.ring, self.path, self.problem = None, None, why
            self.handlers = {}

    @property
    def active(self):
        return self.ring is not None

    @property
    def name(self):
        return PLUGIN if self.active else BREAKPOINTS

    def describe(self):
        """One line: which engine traces, and the plugin's counters."""
        if not self.active:
            return f"trace engine: breakpoints ({self.problem})"
        counters = self.ring.counters()
        entries = sum(1 for s in self.sites.current if s.is_entry)
        exits = len(self.sites.current) - entries
        applied = "" if self.ring.applied else ", applied when the guest resumes"
        lost = f"{counters.dropped} lost to a full ring" if counters.dropped else "none lost"
        if counters.unsynced_resumes:
            # a vCPU that resumed before a flush GDB asked for ran code translated
            # before the new table for a moment (plugin/isrdbg_trace.c, vcpu_resume)
            lost += (f", {counters.unsynced_resumes} vCPU resume(s) before a new watch table "
                     "applied (entries then may be unseen)")
        undecoded = sum(self.undecoded.values())
        return (f"trace engine: plugin (QEMU plugin API {self.ring.api_version}, ring "
                f"{self.path}): {entries} entr{'y' if entries == 1 else 'ies'} and {exits} "
                f"exit{'' if exits == 1 else 's'} watched{applied}; {counters.recorded} events, "
                f"{lost}" + (f", {undecoded} entries not decoded" if undecoded else ""))

    def as_dict(self):
        """The engine for JSON: which, and (plugin) what it recorded and lost."""
        if not self.active:
            return {"name": BREAKPOINTS, "reason": self.problem}
        counters = self.ring.counters()
        return {"name": PLUGIN, "ring": self.path, "api": self.ring.api_version,
                "events": counters.recorded, "dropped": counters.dropped,
                "pending": counters.pending, "undecoded": sum(self.undecoded.values()),
                "folded": counters.folded, "folded_judged": self.folded_judged,
                "unsynced_resumes": counters.unsynced_resumes,
                "state_reads": counters.state_reads}

    # -- what the plugin watches ----------------------------------------------------------
    def take(self, candidates, view):
        """Of ``candidates`` (handler address -> vectors that only record),
        the addresses the plugin watches from now on; the Registry sets
        breakpoints for the rest.  Needs the target stopped (the handlers'
        code is analysed here).  ``view``: the CpuView just stored."""
        if not self.active:
            return {}
        with self.lock:     # the watcher thread reads what changes here
            return self._take(candidates, view)

    def _take(self, candidates, view):
        # what was recorded under the previous tables first; inside the
        # Registry's refresh, so a trace limit reached here disarms later
        self._drain(live=True, take_held=True)
        taken = {}
        if view is not None:
            self.view = view
            self.ring.new_view()    # the plugin's mapped pages last as long as the view's
            bits = view.bits
            for address in candidates:
                try:
                    code = TRACKING.analysis(address, bits)
                except IsrError:
                    continue        # not readable yet: breakpoints take it
                if not code.exits or code.stops:
                    continue        # exits unknown: a breakpoint engine watches the return
                TRACKING.save_analysis(address, bits)   # explain() runs without the target
                taken[address] = code
        self.handlers = taken
        self._publish()
        return {address: candidates[address] for address in taken}

    def _publish(self):
        """Entries of the taken handlers; exits of those and of handlers with
        runs still open (their exits must still close them)."""
        busy = {run.handler for run in TRACKER.pending()}
        sites = [Site(address, ENTRY) for address in self.handlers]
        owners = {}
        for handler in set(self.handlers) | busy:
            code = self.handlers.get(handler) or TRACKING.code.get(handler)
            if code is None:
                continue
            sites += [Site(address, kind, code.insns[address].mnemonic)
                      for address, kind in code.exits]
            for address, _ in code.exits:
                owners.setdefault(address, set()).add(handler)
        self.exit_owners = owners
        if self.ring is None:
            return
        # every taken handler was analysed just now, and only records (never
        # stops for a finding): nothing of a clean run needs more than its record
        plain = no_error_code_entries(self.handlers, self.view) if self.view is not None else ()
        watches = self.sites.update(sites, fold=self.handlers, no_error_code=plain)
        before = self.ring.watches()
        if watches == before:
            return
        self.ring.set_watches(watches)
        added = {w.address for w in watches} - {w.address for w in before}
        if not watches:
            self.ring.request_flush()   # nothing watched: the guest runs uninstrumented again
        elif added and not _drop_translations(added):
            self.ring.request_flush()

    def release(self, handlers):
        """Stop watching ``handlers`` at once (a trace reached its limit while
        the guest ran); the Registry disarms them at the next stop."""
        for handler in handlers:
            self.handlers.pop(handler, None)
        self._publish()

    # -- records ------------------------------------------------------------------------
    def drain(self):
        """Feed every record in the ring to the tracker (GDB's thread; while
        the guest runs, as the watcher thread does: nothing touches GDB)."""
        with self.lock:
            running = _running()
            self._drain(live=running, take_held=not running)

    def drain_at_stop(self):
        """drain(), the target stopped (a breakpoint's stop(): GDB may still
        call its thread running): the plugin's held entry too."""
        with self.lock:
            self._drain(live=_running(), take_held=True)

    def _drain(self, live, take_held=False):
        """Feed the ring's records; ``take_held``: and then the entry the plugin
        holds back to fold (only while every vCPU is stopped)."""
        if self.ring is None:
            return
        self.draining_live = live
        try:
            while True:
                records = self.ring.drain(limit=4096)
                if not records:
                    break
                for record in records:
                    self._feed_safely(record)
            if take_held:   # the batch's runs first: the held entry is later
                for held in (self.ring.take_batch(), self.ring.take_held()):
                    if held is not None:
                        self._feed_safely(held)
        finally:
            self.draining_live = False

    def _feed_safely(self, record):
        try:
            if record.kind == KIND_CLEAN:
                self._feed_clean(record)
            else:
                self._feed(record)
        except Exception as error:  # a bug of ours costs this record, counted
            self.undecoded[f"isrdbg internal error ({type(error).__name__}: "
                           f"{error})"] += 1

    def _feed_clean(self, record):
        """Runs the plugin folded (``record.count`` of them in a row, a batch
        when more than one: plugin/ring.h): each counted by the tracker
        without opening or judging it when it proves the judge would find
        nothing (Tracker.clean_run), the rest of a batch at once after a
        counted one (Tracker.repeat) while nothing that decides it changed;
        otherwise its entry and exit are fed as any."""
        self.folded += record.count
        index = 0
        while index < record.count:
            member = batch_member(record, index)
            run = self._count_clean(member)
            index += 1
            if run is None:
                if record.pc in self.handlers:  # (else released: its entry is not opened)
                    self.folded_judged += 1
                for unfolded in unfold(member):
                    self._feed(unfolded)
                continue
            self._counted(run)
            # observers may have ended the trace (a limit): the handler is
            # then no longer watched, and its runs are no longer the trace's
            room = TRACE.room(run.vectors)
            take = record.count - index if room is None else min(record.count - index, room)
            if take and self._may_count(record):
                rflags = ()
                if record.batch_flags:
                    rflags = popped_rflags_of(record, index, index + take)
                batch = TRACKER.repeat(run, take, rflags) if rflags is not None else None
                if batch is not None:
                    self._counted(batch)
                    index += take

    def _counted(self, run):
        self.events += 2 * run.repeats
        self.entries += run.repeats
        for observer in TRACKING.observers:
            observer(run)

    def _may_count(self, record):
        """Whether the engine's own state lets a KIND_CLEAN record be counted
        (what _count_clean checks before the tracker's tests)."""
        exit_site = self.sites.site(record.exit[0])
        site = self.sites.site(record.tag)
        return site is not None and site.is_entry and exit_site is not None and \
            not exit_site.is_entry and self.view is not None and \
            record.pc in self.handlers and self._closes_here(record.exit[1], record.pc)

    def _count_clean(self, record):
        """The run a KIND_CLEAN record stands for, accounted as a judged run
        with no finding; None when _feed would do anything else with it."""
        if not self._may_count(record):
            return None
        exit_site = self.sites.site(record.exit[0])
        try:
            entry, live = entry_from(record, self.view)
        except IsrError:
            return None
        frame = entry.frame
        regset = register_set(frame.bits)
        # what Tracking.open_run makes of an entry
        context = interrupted_context(pick(live, regset.tracked + ("ss",)), frame,
                                      live.get("ss", 0))
        observation = clean_exit_from(record, exit_site, frame.bits)
        return TRACKER.clean_run(entry.cpu, entry.vectors, entry.handler,
                                 entry.gate_type or "interrupt", frame, context, observation,
                                 cr3=live.get("cr3"))

    def _closes_here(self, pc, handler=None):
        """Whether the plugin's record of the exit at ``pc`` is the one that
        closes runs (``handler``: of a run about to close there, which the
        plugin watches)."""
        if pc in TRACKING.exits:
            # an exit breakpoint observes it too (a shared exit of handlers on
            # both engines): the breakpoint closes the run, after feeding the
            # ring's earlier records (TRACKING.before_hit)
            return False
        owners = self.exit_owners.get(pc, ())
        if handler in owners:
            return True
        # no run of its handlers can close here: a released exit breakpoint
        return any(handler in self.handlers for handler in owners) or \
            any(run.handler in owners for run in TRACKER.pending())

    def _feed(self, record):
        """Feed one entry or exit record; the run an entry opened, if any."""
        self.events += 1
        site = self.sites.site(record.tag)
        if site is None or self.view is None:
            self.undecoded["no site for the record's tag"] += 1
            return
        if site.is_entry:
            if record.pc not in self.handlers:
                return      # released since (a trace limit): as a disabled breakpoint
            try:
                entry, live = entry_from(record, self.view)
            except IsrError as error:
                self.undecoded[str(error).split(":")[0]] += 1
                return
            self.entries += 1
            return TRACKING.open_run(entry, live)
        if not self._closes_here(record.pc):
            return
        bits = self.view.bits
        try:
            observation, cr3 = exit_from(record, site, bits)
        except IsrError:
            return
        run = TRACKER.exit(record.cpu, observation, cr3=cr3, read=record.read,
                           explain=lambda run, names: self._explain(run, names, record),
                           untraced=bool(TRACKING.references))
        if run is None:
            return
        if run.handler not in self.handlers:
            self._publish()     # its last open run is done: the plugin may forget its exits
        for observer in TRACKING.observers:
            observer(run)

    def _explain(self, run, names, record):
        """TRACKING.explain with the save slots as the exit record holds them.
        A handler whose save analysis was not made at the last stop (a run
        left open by a handler no longer watched) is not analysed now: that
        would read the target from the watcher thread.  Its changes are then
        not judged (no analysis is no evidence), never accused."""
        bits = run.frame.bits
        read_word = read_word_from(record, bits // 8)
        if not TRACKING.has_save_analysis(run.handler, bits) and \
                threading.current_thread() is not threading.main_thread():
            return explain_changes([], run.frame.address, run.exit.address, names,
                                   run.entry.values, run.exit.registers, read_word)
        return TRACKING.explain(run, names, read_word)

    # -- draining while the guest runs --------------------------------------------------------
    # GDB's own thread waits for the target then, and GDB 13 crashes at exit
    # on a gdb.post_event still queued: the watcher thread drains by itself,
    # only while the guest runs, holding TRACKER_LOCK (as the breakpoints'
    # stop() do when they feed the tracker), and touches nothing of GDB's:
    # the records and the analyses made at the last stop are all it needs.
    def resumed(self, event=None):
        with self.lock:
            self.running = True

    def stopped(self, event=None):
        with self.lock:
            self.running = False

    def registers_may_change(self, event=None):
        """The debugger may write any register now (at a stop; after a call
        from GDB, which puts them back): the plugin reads the registers it
        caches anew at each vCPU's next event."""
        if event is not None and not isinstance(event, getattr(gdb, "InferiorCallPostEvent", ())):
            return
        if self.ring is not None:
            self.ring.debugger_stopped()

    def _start_watcher(self):
        if self._watcher is not None:
            return
        self._quit = threading.Event()
        self._watcher = threading.Thread(target=self._watch, args=(self._quit,),
                                         name="isrdbg-trace-ring", daemon=True)
        self._watcher.start()

    def _watch(self, quit):
        try:    # the guest first: judging takes the CPU QEMU leaves (a full ring is counted)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WATCHER_NICE)
        except (AttributeError, OSError):
            pass
        while not quit.wait(DRAIN_PERIOD):
            with self.lock:
                if self.running and self.ring is not None:
                    try:
                        self._drain(live=True)
                    except Exception as error:      # never a traceback from a thread
                        self.undecoded[f"drain failed: {error}"] += 1

    def stop_watcher(self):
        """Before GDB exits."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            self._quit.set()
            watcher.join(timeout=1)

    # -- at a stop ----------------------------------------------------------------------------
    def at_stop(self, remove):
        """At a real stop: read what was recorded, and disarm what a limit
        reached while the guest ran (``remove(vectors)``)."""
        start = time.perf_counter()
        self.stopped()
        self.registers_may_change()
        self.drain_at_stop()
        # the backlog judged after the guest stopped (bench/plugin_rate.py)
        self.stop_drain_seconds = time.perf_counter() - start
        later, self.later = self.later, []
        for vectors, _ in later:
            remove(vectors)


ENGINE = PluginEngine()


def _before_breakpoint_hit():
    if ENGINE.active:
        ENGINE.drain_at_stop()


TRACKING.before_hit = _before_breakpoint_hit
