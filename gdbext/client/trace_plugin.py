"""Loading isrdbg's trace plugin (plugin/) into the QEMU the launcher starts.

The plugin needs QEMU's plugin API version 4 (register and memory reads from
callbacks): QEMU 9.2 or later.  An older QEMU (Debian 12's 7.2) is started
without it, and isr-trace falls back to breakpoints.  GDB learns the ring
file from $ISRDBG_TRACE_RING (gdbext/gdbside/trace_engine.py).
"""

import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Tuple

from gdbext.tracking.plugin_ring import RING_ENV, RING_NAME, SWITCH_ENV  # noqa: F401 (shared names)

PLUGIN = Path(__file__).resolve().parents[2] / "plugin" / "build" / "libisrdbg-trace.so"
MIN_QEMU = (9, 2)       # plugin API 4


@lru_cache(maxsize=None)
def qemu_version(qemu: str) -> Optional[Tuple[int, int]]:
    """(major, minor) of the QEMU binary ``qemu`` (a name on PATH or a path)."""
    path = shutil.which(qemu)
    if path is None:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"version (\d+)\.(\d+)", out)
    return (int(found.group(1)), int(found.group(2))) if found else None


def switched_off() -> bool:
    return os.environ.get(SWITCH_ENV, "").lower() in ("off", "0", "no")


def why_not(qemu: str) -> Optional[str]:
    """Why the plugin cannot go into ``qemu`` (None: it can)."""
    if switched_off():
        return f"turned off by {SWITCH_ENV}={os.environ[SWITCH_ENV]}"
    if not PLUGIN.exists():
        return f"the trace plugin is not built ({PLUGIN}; run isrdbg build)"
    version = qemu_version(qemu)
    if version is None:
        return f"the version of {qemu} is not known"
    if version < MIN_QEMU:
        return (f"QEMU {version[0]}.{version[1]}'s plugin API cannot read registers "
                f"(QEMU 9.2 or later can)")
    return None


def qemu_args(qemu: str, workdir: Path) -> List[str]:
    """The -plugin option for ``qemu`` writing its ring into ``workdir``, or
    nothing when this QEMU cannot run the plugin."""
    if why_not(qemu) is not None:
        return []
    ring = str(Path(workdir) / RING_NAME).replace(",", ",,")
    return ["-plugin", f"{str(PLUGIN).replace(',', ',,')},ring={ring}"]


def ring_of(workdir: Path) -> Optional[Path]:
    """The ring file a QEMU started in ``workdir`` writes, if it loaded the plugin."""
    ring = Path(workdir) / RING_NAME
    return ring if ring.exists() else None
