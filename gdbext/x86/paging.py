"""Walking the page tables for an address (what CR2 names after a #PF).

Covers 32-bit paging (with PSE), PAE and 4/5-level long-mode paging.  Entries
are read from physical memory, since page tables need not be mapped.
"""

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

from gdbext.errors import TargetMemoryError
from gdbext.x86.cpu import CR0_PG, EFER_LMA, EFER_NXE

CR4_PSE = 1 << 4
CR4_PAE = 1 << 5
CR4_LA57 = 1 << 12

_FLAG_BITS = [(0, "P"), (1, "RW"), (2, "US"), (3, "PWT"), (4, "PCD"), (5, "A"), (6, "D"),
              (7, "PS"), (8, "G")]


@dataclass(frozen=True)
class WalkStep:
    level: str            # "PML4E", "PDPTE", "PDE", "PTE"
    index: int
    entry_address: int    # physical
    value: int
    nx_capable: bool

    @property
    def present(self) -> bool:
        return bool(self.value & 1)

    @property
    def flags(self) -> List[str]:
        names = [name for bit, name in _FLAG_BITS if self.value >> bit & 1]
        if self.nx_capable and self.value >> 63 & 1:
            names.append("NX")
        return names


@dataclass(frozen=True)
class PageWalk:
    address: int
    scheme: str                      # "4-level", "PAE", "32-bit", "none"
    steps: Tuple[WalkStep, ...]
    physical: Optional[int]          # None: not mapped
    writable: bool = False
    user: bool = False
    executable: bool = False
    stopped: str = ""                # why the walk ended early

    @property
    def summary(self) -> str:
        if self.scheme == "none":
            return "paging is off: linear = physical"
        if self.physical is None:
            return self.stopped
        rights = ("user" if self.user else "supervisor") + \
            (", writable" if self.writable else ", read-only") + \
            ("" if self.executable else ", no-execute")
        return f"maps to physical {self.physical:#x} ({rights})"


def _levels(cr4: int, efer: int):
    """[(name, shift, index bits)] from the top level, entry size, scheme."""
    if efer & EFER_LMA:
        names = ["PML5E", "PML4E", "PDPTE", "PDE", "PTE"] if cr4 & CR4_LA57 else \
            ["PML4E", "PDPTE", "PDE", "PTE"]
        shifts = [48, 39, 30, 21, 12][-len(names):]
        return [(n, s, 9) for n, s in zip(names, shifts)], 8, \
            "5-level" if cr4 & CR4_LA57 else "4-level"
    if cr4 & CR4_PAE:
        return [("PDPTE", 30, 2), ("PDE", 21, 9), ("PTE", 12, 9)], 8, "PAE"
    return [("PDE", 22, 10), ("PTE", 12, 10)], 4, "32-bit"


def walk(read_physical: Callable[[int, int], bytes], address: int, cr0: int, cr3: int,
         cr4: int, efer: int) -> PageWalk:
    if not cr0 & CR0_PG:
        return PageWalk(address, "none", (), address, True, True, True)
    levels, size, scheme = _levels(cr4, efer)
    nx = bool(efer & EFER_NXE) and size == 8
    address_mask = ((1 << 52) - 1) & ~0xFFF
    table = cr3 & (address_mask if size == 8 else 0xFFFFF000)
    if scheme == "PAE":
        table = cr3 & 0xFFFFFFE0
    steps: List[WalkStep] = []
    writable = user = executable = True
    for depth, (name, shift, bits) in enumerate(levels):
        index = address >> shift & ((1 << bits) - 1)
        entry_address = table + index * size
        try:
            raw = read_physical(entry_address, size)
        except TargetMemoryError as error:
            return PageWalk(address, scheme, tuple(steps), None,
                            stopped=f"cannot read {name} at physical {entry_address:#x}: {error}")
        value = int.from_bytes(raw, "little")
        step = WalkStep(name, index, entry_address, value, nx)
        steps.append(step)
        if not step.present:
            return PageWalk(address, scheme, tuple(steps), None,
                            stopped=f"not present at the {name}")
        if scheme == "PAE" and name == "PDPTE":
            pass  # PAE PDPTEs carry no access rights
        else:
            writable &= bool(value & 2)
            user &= bool(value & 4)
        if nx and value >> 63 & 1:
            executable = False
        last = depth == len(levels) - 1
        large = not last and name in ("PDPTE", "PDE") and value & 0x80 and \
            not (scheme == "PAE" and name == "PDPTE") and (size == 8 or cr4 & CR4_PSE)
        if last or large:
            if size == 4 and large:    # 4 MiB page: bits 31:22 (PSE-36 ignored)
                frame = value & 0xFFC00000
            else:
                frame = value & address_mask & ~((1 << shift) - 1)
            physical = frame | (address & ((1 << shift) - 1))
            return PageWalk(address, scheme, tuple(steps), physical, writable, user, executable)
        table = value & (address_mask if size == 8 else 0xFFFFF000)
    raise AssertionError("unreachable")
