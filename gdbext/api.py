"""A small Python API for GDB scripts, giving the objects the isr commands print.

    (gdb) python
    from gdbext import api
    report = api.frame()            # FrameReport of the handler being entered
    if report.error and report.error.value & 2:
        print("write fault at", hex(report.cr2))
    end

Everything raises ``gdbext.errors.IsrError`` (one-line message) on failure.
Only usable inside GDB with isrdbg loaded.
"""

from typing import Iterable, Optional

from gdbext.decode.frame_report import FrameReport, locate
from gdbext.x86.idt import IdtView, read_idt
from gdbext.x86.vectors import parse_specs


def _state():
    from .gdbside import state    # GDB-bound: imported only when used in GDB
    return state


def idt(specs: Optional[Iterable[str]] = None) -> IdtView:
    """The decoded IDT of the selected CPU (``specs`` as for isr-idt)."""
    return read_idt(_state().TARGET, parse_specs(specs) if specs else None)


def frame(at: Optional[int] = None, vector: Optional[int] = None) -> FrameReport:
    """The interrupt frame isr-frame would show."""
    state = _state()
    return locate(state.TARGET, state.TRACKER, at=at, vector=vector)


def break_on(*specs: str, hardware: bool = False, condition: Optional[str] = None) -> None:
    """What `isr-break SPEC... [if CONDITION]` does."""
    from gdbext.gdbside.arming import BREAK, REGISTRY
    REGISTRY.add(parse_specs(specs), BREAK, hardware, condition)


def active_run(cpu: Optional[int] = None, rsp: Optional[int] = None):
    """The open handler run (entered, not yet exited) enclosing ``rsp`` on ``cpu``."""
    state = _state()
    target = state.TARGET
    if cpu is None:
        cpu = target.cpu
    if rsp is None:
        rsp = target.registers(["rsp" if target.address_bits == 64 else "esp"]).popitem()[1]
    return state.TRACKER.active(cpu, rsp)
