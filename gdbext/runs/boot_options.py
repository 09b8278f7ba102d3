"""The values a boot option may take, checked the same way on the command
line (client/boot.py) and in scenario files (scenario.py)."""

import re
from typing import Optional

DEFAULT_MEMORY = "512M"  # real kernels panic in QEMU's default 128 MiB (Debian's Linux does)
MAX_CPUS = 255           # the xAPIC IDs a BIOS MP table can list
ACCELS = ("auto", "kvm", "tcg")
_MEMORY = re.compile(r"[1-9][0-9]*[KMGT]?", re.IGNORECASE)


def memory_problem(value) -> Optional[str]:
    if isinstance(value, str) and value.isascii() and _MEMORY.fullmatch(value):
        return None
    return f"wants a size such as 512M or 2G, got {value!r}"


def cpus_problem(value) -> Optional[str]:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_CPUS:
        return None
    return f"wants a number of CPUs from 1 to {MAX_CPUS}, got {value!r}"


def accel_problem(value) -> Optional[str]:
    if value in ACCELS:
        return None
    return f"wants one of {', '.join(ACCELS)}, got {value!r}"
