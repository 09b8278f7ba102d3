"""Which of isrdbg's breakpoints must be hardware breakpoints.

Under KVM, all of them.  QEMU's software breakpoints there are int3 bytes
written into guest memory that KVM must intercept; on this machine's KVM an
int3 executed by the guest ends the VM ("KVM internal error ... emulation
failure", measured with QEMU 7.2 and 10), and elsewhere they collide with the
guest's own int3 handling.  Hardware breakpoints are the guest CPU's four
debug registers, so under KVM isrdbg counts them before arming
(gdbext/debug_registers).  KVM is detected from the target (`monitor info
kvm`), so it works for a QEMU the user started.

Under TCG: QEMU's stop replies leave the PC on the breakpoint and do not say
that a breakpoint caused the stop (no `swbreak`), so GDB falls back on x86's
decr_pc_after_break: after a SIGTRAP at A it looks for one of its software
breakpoints at A-1 and, finding one, takes the stop for that breakpoint's
int3 and writes A-1 back into the PC (a `P` packet).  On i386 an iret or ret
is one byte, often right before the next handler: with a software breakpoint
on it, every entry to the next handler became a run of that iret instead
(measured: the timer IRQ was never acknowledged and the kernel hung).

GDB never rewinds to a hardware breakpoint, and under TCG QEMU implements
both kinds alike, at no extra cost.  So each of our breakpoints that has any
breakpoint (ours or the user's) on the byte after it is a hardware one.
"""

import gdb

from gdbext.x86.debug_registers import HardwareNeed, refusal
from gdbext.errors import IsrError, UsageError
from gdbext.decode.qemu_monitor import MonitorParseError, parse_info_kvm

from gdbext.gdbside.state import TARGET

CODE_BREAKPOINTS = (gdb.BP_BREAKPOINT, gdb.BP_HARDWARE_BREAKPOINT)
HARDWARE_KINDS = (gdb.BP_HARDWARE_BREAKPOINT, gdb.BP_HARDWARE_WATCHPOINT,
                  gdb.BP_READ_WATCHPOINT, gdb.BP_ACCESS_WATCHPOINT)


class Accelerator:
    """Whether the connected QEMU runs its guest under KVM.  Asked once per
    connection, at arming time (a real stop): never from a Breakpoint.stop(),
    where the cached answer holds (the connection cannot change there)."""

    def __init__(self):
        self.kvm = False
        self._connection = None

    def refresh(self) -> bool:
        inferior = gdb.selected_inferior()
        connection = inferior.connection_num if inferior.is_valid() else None
        if connection is None:
            self.kvm, self._connection = False, None
        elif connection != self._connection and not TARGET.in_stop_handler:
            try:
                self.kvm = parse_info_kvm(TARGET.monitor("info kvm"))
            except (IsrError, MonitorParseError):
                self.kvm = False    # not QEMU, or no answer: breakpoints as under TCG
            self._connection = connection
        return self.kvm

    @property
    def reason(self):
        """Why every isrdbg breakpoint is a hardware one, or None."""
        return "KVM" if self.kvm else None


ACCELERATOR = Accelerator()


def breakpoint_addresses():
    """Every address GDB has a code breakpoint location on."""
    found = set()
    for breakpoint in gdb.breakpoints():
        if breakpoint.is_valid() and breakpoint.type in CODE_BREAKPOINTS:
            found.update(location.address for location in breakpoint.locations
                         if location.address is not None)
    return found


def crowded(address, taken):
    """Whether a breakpoint at ``address`` must be a hardware one: always
    under KVM, else when a breakpoint sits on the next byte."""
    return ACCELERATOR.kvm or address + 1 in taken


def breakpoint_type(hardware):
    return gdb.BP_HARDWARE_BREAKPOINT if hardware else gdb.BP_BREAKPOINT


def hardware_in_use(ours):
    """Debug registers taken by breakpoints and watchpoints ``ours(bp)`` says
    are not isrdbg's (one per location: a watchpoint may take more)."""
    count = 0
    for breakpoint in gdb.breakpoints():
        if (breakpoint.is_valid() and breakpoint.enabled and breakpoint.type in HARDWARE_KINDS
                and not ours(breakpoint)):
            count += max(1, len(getattr(breakpoint, "locations", ()) or ()))
    return count


def check_debug_registers(vectors, armed, analyse, ours):
    """Under KVM, raise UsageError when arming ``vectors`` at the planned
    handler addresses ``armed`` (address -> vectors) would take more debug
    registers than there are.  Every armed handler's exits take one too:
    tracking pairs each entry with its exit, for isr-break as well (isr-diff).
    ``analyse(address)`` is the handler's HandlerCode (None: unreadable)."""
    if not ACCELERATOR.refresh():
        return
    exits, returns = set(), 0
    for address in armed:
        code = analyse(address)
        if code is None or not code.exits or code.stops:
            returns += 1    # tracking watches where the interrupted code resumes
        if code is not None:
            exits.update(exit_address for exit_address, _ in code.exits)
    need = HardwareNeed(len(armed), len(exits), returns, hardware_in_use(ours))
    problem = refusal(vectors, need)
    if problem:
        raise UsageError(problem)
