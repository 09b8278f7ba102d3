"""Load isrdbg into a running GDB:  (gdb) source /path/to/isrdbg/gdbext/gdbinit.py

GDB embeds the system Python, not the one on PATH, so the loader looks for
isrdbg's dependencies where the project's set-up puts them (the checkout's
.venv built from that same interpreter, or the site-packages named in
$ISRDBG_SITE_PACKAGES) and says exactly what to install when they are missing.
"""

import importlib.util
import os
import site
import sys

import gdb

# Imports whose absence makes some commands unavailable, and the pip name.
_DEPENDENCIES = {"capstone": "capstone"}


def _python_tag():
    return f"python{sys.version_info[0]}.{sys.version_info[1]}"


def _candidate_site_dirs(root):
    for entry in os.environ.get("ISRDBG_SITE_PACKAGES", "").split(os.pathsep):
        if entry:
            yield entry
    yield os.path.join(root, ".venv", "lib", _python_tag(), "site-packages")


def _load():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    for directory in _candidate_site_dirs(root):
        if os.path.isdir(directory) and directory not in sys.path:
            site.addsitedir(directory)   # processes .pth files too
    missing = [pip for module, pip in _DEPENDENCIES.items()
               if importlib.util.find_spec(module) is None]
    if missing:
        gdb.write(
            f"isrdbg: GDB's Python ({_python_tag()}, {sys.base_prefix}) cannot import "
            f"{', '.join(missing)}; disassembly is unavailable until you run "
            f"`{root}/run setup` or `{sys.base_prefix}/bin/{_python_tag()} -m pip install "
            f"--user --break-system-packages {' '.join(missing)}`\n", gdb.STDERR)
    from gdbext import commands
    commands.register()


_load()
