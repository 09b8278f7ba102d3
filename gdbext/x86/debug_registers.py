"""Counting x86 debug registers before arming, for targets that run under KVM.

Under KVM QEMU backs every hardware breakpoint and watchpoint with one of the
guest CPU's four debug registers (DR0-DR3).  The fifth one fails only when GDB
resumes the target, in GDB's words and with the VM half armed, so isrdbg
counts what an arming would take and refuses it whole, in one line.
"""

from dataclasses import dataclass
from typing import Iterable, Optional

from gdbext.x86.vectors import format_vector_list

DEBUG_REGISTERS = 4


@dataclass(frozen=True)
class HardwareNeed:
    """The hardware breakpoints a set of armed vectors takes."""

    entries: int        # one per handler address
    exits: int = 0      # the exits of watched or traced handlers
    returns: int = 0    # watched handlers whose exits are unknown: a return watch at least
    others: int = 0     # hardware breakpoints and watchpoints that are not isrdbg's

    @property
    def total(self) -> int:
        return self.entries + self.exits + self.returns + self.others

    def describe(self) -> str:
        """"2 entries + 3 exits"."""
        parts = [(self.entries, "entry", "entries"), (self.exits, "exit", "exits"),
                 (self.returns, "return watch", "return watches"),
                 (self.others, "other hardware breakpoint",
                  "other hardware breakpoints or watchpoints")]
        return " + ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


def refusal(vectors: Iterable[int], need: HardwareNeed,
            available: int = DEBUG_REGISTERS) -> Optional[str]:
    """Why arming ``vectors`` cannot work under KVM, or None when it fits."""
    if need.total <= available:
        return None
    wanted = sorted(set(vectors))
    noun = "vector" if len(wanted) == 1 else "vectors"
    return (f"KVM gives {available} hardware breakpoints; arming {noun} "
            f"{format_vector_list(wanted)} needs {need.total} ({need.describe()}); "
            f"arm fewer vectors, or run QEMU with TCG")
