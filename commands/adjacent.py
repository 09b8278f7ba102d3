"""Which of isrdbg's breakpoints must be hardware breakpoints.

QEMU's stop replies leave the PC on the breakpoint and do not say that a
breakpoint caused the stop (no `swbreak`), so GDB falls back on x86's
decr_pc_after_break: after a SIGTRAP at A it looks for one of its software
breakpoints at A-1 and, finding one, takes the stop for that breakpoint's
int3 and writes A-1 back into the PC (a `P` packet).  On i386 an iret or ret
is one byte, often right before the next handler: with a software breakpoint
on it, every entry to the next handler became a run of that iret instead
(measured: the timer IRQ was never acknowledged and the kernel hung).

GDB never rewinds to a hardware breakpoint, and under TCG QEMU implements
both kinds alike, at no extra cost.  So each of our breakpoints that has any
breakpoint (ours or the user's) on the byte after it is a hardware one.
Under KVM that takes a debug register, of which there are four.
"""

import gdb

CODE_BREAKPOINTS = (gdb.BP_BREAKPOINT, gdb.BP_HARDWARE_BREAKPOINT)


def breakpoint_addresses():
    """Every address GDB has a code breakpoint location on."""
    found = set()
    for breakpoint in gdb.breakpoints():
        if breakpoint.is_valid() and breakpoint.type in CODE_BREAKPOINTS:
            found.update(location.address for location in breakpoint.locations
                         if location.address is not None)
    return found


def crowded(address, taken):
    """Whether a breakpoint at ``address`` must be a hardware one."""
    return address + 1 in taken


def breakpoint_type(hardware):
    return gdb.BP_HARDWARE_BREAKPOINT if hardware else gdb.BP_BREAKPOINT
