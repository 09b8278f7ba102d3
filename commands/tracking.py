"""Entry and exit tracking inside GDB: the glue between breakpoints and the
pure Tracker.  All per-interrupt work runs in Breakpoint.stop(), which
returns False unless the user asked to stop, so a handler run that needs no
attention never round-trips to a client."""

import gdb

from gdbext.cfg import explore
from gdbext.errors import IsrError
from gdbext.judge import ExitObservation
from gdbext.snapshot import interrupted_context, register_set

from .state import TARGET, TRACKER

MAX_RETURN_WATCHES = 64


def _bits():
    return TARGET.address_bits


def read_registers(names):
    return TARGET.registers(names, optional=True)


def _read_stack(sp, slot):
    """The words an iret pops: five, or three for a 32-bit same-privilege
    frame that may sit at the very top of its stack."""
    for words in (5, 3, 1):
        try:
            return TARGET.read_memory(sp, words * slot)
        except IsrError:
            continue
    return b""


class ExitBreakpoint(gdb.Breakpoint):
    """Internal breakpoint on an exit instruction (iret, ret, ...) of a tracked handler."""

    def __init__(self, address, kind, mnemonic, tracking):
        super().__init__(f"*{address:#x}", internal=True)
        self.address, self.kind, self.mnemonic = address, kind, mnemonic
        self.tracking = tracking

    def stop(self):
        with TARGET.stopped_in_breakpoint():
            return self.tracking.on_exit(self.kind, self.address, self.mnemonic)


class ReturnWatch(gdb.Breakpoint):
    """Safety net for handlers whose exits the static walk could not find:
    a breakpoint where the interrupted code resumes."""

    def __init__(self, address, tracking):
        super().__init__(f"*{address:#x}", internal=True)
        self.address = address
        self.tracking = tracking

    def stop(self):
        with TARGET.stopped_in_breakpoint():
            return self.tracking.on_exit("return", self.address, "")


class Tracking:
    def __init__(self):
        self.code = {}            # handler address -> HandlerCode
        self.exits = {}           # address -> ExitBreakpoint
        self.returns = {}         # address -> ReturnWatch
        self.stop_on = None       # callable(run) -> bool: stop at this exit?
        self.last_stopping_run = None

    def enter(self, report, handler):
        """Record an entry decoded at ``handler``; returns the open HandlerRun."""
        regset = register_set(report.frame.bits)
        live = read_registers(regset.tracked + ("ss",))
        context = interrupted_context(live, report.frame, live.get("ss", 0))
        run = TRACKER.enter(report.cpu, report.vectors, handler, report.gate_type or "interrupt",
                            report.frame, context)
        code = self._analyse(handler, report.frame.bits)
        if (not code.exits or code.stops) and len(self.returns) < MAX_RETURN_WATCHES:
            self._watch_return(report.frame.rip)
        return run

    def _analyse(self, handler, bits):
        code = self.code.get(handler)
        if code is None:
            code = explore(TARGET.read_memory, handler, bits)
            self.code[handler] = code
            for address, kind in code.exits:
                if address not in self.exits:
                    mnemonic = code.insns[address].mnemonic
                    self.exits[address] = ExitBreakpoint(address, kind, mnemonic, self)
        return code

    def _watch_return(self, address):
        if address not in self.returns:
            self.returns[address] = ReturnWatch(address, self)

    def on_exit(self, kind, address, mnemonic):
        """At an exit instruction (or a resume point): close the run, maybe stop."""
        try:
            bits = _bits()
            regset = register_set(bits)
            regs = read_registers(regset.at_exit + ("cs", "ss"))
            sp = regs[regset.sp]
            slot = bits // 8
            stack = _read_stack(sp, slot) if kind != "return" else b""
            observation = ExitObservation(kind, address, regs, stack, sp, regs.get("cs", 0) & 3,
                                          mnemonic)
            run = TRACKER.exit(TARGET.cpu, observation)
        except IsrError:
            return False
        if run is not None and self.stop_on is not None and self.stop_on(run):
            self.last_stopping_run = run
            return True
        return False

    def clear(self):
        """Forget analysed code (the kernel may have changed) but keep breakpoints' state."""
        self.code.clear()


TRACKING = Tracking()
