"""isr-check on ordinary code: 100 functions of each bundled kernel, checked
as if they were handlers, stay within the analysis' budgets by design (its
time is measured by bench/static_check_cost.py against a baseline in the
same run, not asserted here)."""

import subprocess
from pathlib import Path

import pytest

from gdbext.decode.elf import code_sections
from gdbext.errors import TargetMemoryError
from gdbext.analysis.static_check import HANDLER_VISITS, Analyzer

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = 100


def functions(kernel: Path, count: int):
    """``count`` function symbols spread over the kernel's text."""
    out = subprocess.run(["nm", "-n", str(kernel)], capture_output=True, text=True,
                         check=True).stdout
    found = [int(parts[0], 16) for parts in map(str.split, out.splitlines())
             if len(parts) == 3 and parts[1] in "tT"]
    return found[::max(1, len(found) // count)][:count]


def reader(kernel: Path):
    sections = code_sections(kernel)

    def read(address, size):
        for section in sections:
            if section.address <= address < section.address + len(section.data):
                offset = address - section.address
                return section.data[offset:offset + size]
        raise TargetMemoryError(address, size)
    return read


@pytest.mark.parametrize("arch,bits", [("x86_64", 64), ("i386", 32)])
def test_hundred_functions_within_budget(arch, bits):
    kernel = ROOT / "qemu_targets" / "build" / arch / "kernel.elf"
    if not kernel.is_file():
        pytest.skip(f"{kernel} not built (make -C qemu_targets)")
    addresses = functions(kernel, FUNCTIONS)
    assert len(addresses) == FUNCTIONS
    analyzer = Analyzer(reader(kernel), bits)
    checks = [analyzer.check(address, ()) for address in addresses]
    assert sum(c.instructions for c in checks) > 1000     # it did analyse real code
    # bounded by design: no function costs more than one handler's visit budget
    assert max(c.instructions for c in checks) <= HANDLER_VISITS
