"""How isrdbg starts GDB: the commands that set it up for a kernel (the same
for the interactive CLI and, later, the MI session) and its environment."""

import os
import sysconfig
from pathlib import Path
from typing import List, Optional

from ..errors import UsageError
from .elf import Arch

GDBINIT = Path(__file__).resolve().parent.parent / "gdbinit.py"


def setup_commands(arch: Arch, symbols: Optional[Path], remote: str) -> List[str]:
    """GDB commands that load isrdbg and connect to ``remote``.

    The architecture is set before connecting: GDB cannot change the register
    layout mid-session, and a 64-bit kernel starts in 32-bit code.
    """
    commands = ["set pagination off", "set confirm off",
                f"set architecture {arch.gdb_architecture}"]
    if symbols is not None:
        commands.append(f"file {gdb_quoted(symbols)}")
    commands += [f"source {GDBINIT}", f"target remote {remote}"]
    return commands


def gdb_quoted(path) -> str:
    """A file name as GDB's argument splitter reads it (spaces, quotes)."""
    text = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def parse_attach(text: str) -> str:
    """"HOST:PORT" (or ":PORT") as GDB's `target remote` wants it."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--attach wants HOST:PORT, got {text!r}")
    return f"{host or 'localhost'}:{port}"


def gdb_environment() -> dict:
    """GDB's environment: its embedded Python finds our dependencies too."""
    env = dict(os.environ)
    ours = sysconfig.get_paths()["purelib"]
    known = env.get("ISRDBG_SITE_PACKAGES", "")
    env["ISRDBG_SITE_PACKAGES"] = os.pathsep.join(p for p in (ours, known) if p)
    return env


def gdb_argv(commands: List[str], batch: bool, script: Optional[Path] = None,
             extra: List[str] = ()) -> List[str]:
    argv = ["gdb", "-q"]
    if batch:
        argv += ["-batch", "-nx"]
    for command in commands:
        argv += ["-ex", command]
    if script is not None:
        # A sourced file stops at its first failing command, and GDB's batch
        # exit status is that of the last command: together, "non-zero if any
        # command failed".
        argv += ["-x", str(script)]
    return argv + list(extra)
