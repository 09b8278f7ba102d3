"""isr-saved: the registers a handler has saved on its stack."""

from gdbext.errors import IsrError
from gdbext.render import json as render_json
from gdbext.render.text import render_saved
from gdbext.analysis.saved_regs import saved_registers
from gdbext.decode.snapshot import register_set
from gdbext.analysis.static_check import Analyzer

from .base import TARGET, TRACKER, IsrCommand, style


def saved_view():
    TARGET.require_stopped()
    bits = TARGET.address_bits
    regset = register_set(bits)
    now = TARGET.registers(regset.at_exit, optional=True)
    sp, rip = now[regset.sp], now[regset.pc]
    run = TRACKER.active(TARGET.cpu, sp)
    if run is None:
        # RSP may be on another stack than the frame (Linux moves to the task
        # stack): the innermost entry still open on this CPU, which the
        # analysis then locates from the live stack (or says it cannot).
        running = getattr(TRACKER, "running", None)
        still_open = (running if running is not None else TRACKER.open).get(TARGET.cpu) or []
        run = still_open[-1] if still_open else None
    if run is None:
        returned = [r for r in TRACKER.completed if r.cpu == TARGET.cpu]
        if returned:
            raise IsrError(f"no handler entry is open on CPU {TARGET.cpu}: the last one recorded "
                           f"(vector {returned[-1].vectors[0]}, frame "
                           f"{returned[-1].frame.address:#x}) has returned")
        raise IsrError(f"no handler entry recorded on CPU {TARGET.cpu}: arm the vector with "
                       f"isr-break or isr-watch before it is delivered")
    analyzer = Analyzer(TARGET.read_memory, run.frame.bits, att=TARGET.att_syntax,
                        symbolize=TARGET.symbolize, call_depth=1)
    view = saved_registers(TARGET.read_memory, run.frame.bits, run.handler, run.frame.address,
                           rip, sp, run.entry.values, now, analyzer,
                           error_code=run.frame.has_error_code, interrupted_rip=run.frame.rip)
    symbols = {a: TARGET.symbolize(a) for a in (view.handler,)}
    return view, run.frame.bits, symbols


class IsrSaved(IsrCommand):
    """Show the registers the current handler saved on its stack.

Usage: isr-saved [--json]

Stopped anywhere inside a handler whose entry isr-break or isr-watch recorded
(also inside a C function the handler's stub called, or at its exit): the
save area found by executing the handler's code from its entry to here
(push, pushal, mov to stack slots, fxsave/xsave areas), read back from the
live stack, ordered by address: slot, offset from the interrupt frame,
register, saved value, whether it equals the interrupted context's value,
and the instruction that saved it.  Registers that changed and have no copy
are listed below.  Needs no symbols.

When the handler moved to another stack (Linux copies pt_regs from the entry
stack to the task stack), the slots are found from the handler's call whose
return address is on the live stack, and shown in the copy once the copied
frame's RIP equals the interrupted RIP; a note says where they are."""

    NAME = "isr-saved"
    COMPLETE_WORDS = ("--json",)

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def run(self, args):
        view, bits, symbols = saved_view()
        if args.json:
            self.write(render_json.dumps(render_json.saved_doc(view)))
        else:
            self.write(render_saved(view, bits, symbols, style()))


def register():
    IsrSaved()
