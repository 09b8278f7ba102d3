"""isrdbg: debug x86 interrupt and exception handlers through GDB and QEMU.

The package is layered (see README, "Architecture"):

* the pure core (x86, decode, analysis, tracking, runs, render and the
  top-level modules but ``gdbinit``)
  decodes and judges bytes and register values and never imports ``gdb``;
* ``gdbext.gdbside`` is the one adapter that imports ``gdb`` (with ``gdbinit``);
* ``gdbext.commands`` holds the thin GDB commands (``commands/`` in the tree);
* ``gdbext.client`` drives QEMU and GDB from outside.
"""

from pathlib import Path

__version__ = "0.1.0"

# In a source checkout commands/ sits beside gdbext/ rather than inside it; the
# installed wheel maps it to gdbext/commands (pyproject.toml, package-dir).  Let
# the package search the tree's top level for that one subpackage so both layouts
# import as ``gdbext.commands``.
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
if (_SOURCE_ROOT / "commands" / "__init__.py").is_file() and not (
    Path(__file__).resolve().parent / "commands"
).is_dir():
    __path__.append(str(_SOURCE_ROOT))  # type: ignore[name-defined]


def source_root():
    """The checkout this package runs from, or None when installed as a wheel."""
    if (_SOURCE_ROOT / "qemu_targets").is_dir():
        return _SOURCE_ROOT
    return None
