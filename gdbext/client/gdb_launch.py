"""How isrdbg starts GDB: the commands that set it up for a kernel (the same
for the interactive CLI and, later, the MI session) and its environment."""

import os
import sysconfig
from pathlib import Path
from typing import List, Optional

from ..errors import UsageError
from . import trace_plugin
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
    commands += [f"source {GDBINIT}", connect_command(remote)]
    return commands


def connect_command(remote: str) -> str:
    """`target remote`, failing with one isrdbg line (gdbext/gdbside/lifecycle.py)."""
    return f"isr-connect {remote}"


# No progress marker goes inside a block: within `python` ... `end` it would
# be a syntax error, within `commands` ... `end` it would run at every hit.
# Blocks read raw (`python` alone; `python CODE` is one line) nest nothing.
_RAW_BLOCKS = {"python", "py", "python-interactive", "pi", "guile", "gu", "compile"}
_BLOCKS = _RAW_BLOCKS | {"commands", "define", "document", "if", "while", "actions",
                         "while-stepping", "stepping", "ws"}


def _opens_block(line: str) -> bool:
    words = line.split()
    if not words or words[0] not in _BLOCKS:
        return False
    if words[0] in _RAW_BLOCKS:
        return len(words) == 1 or (words[0] == "compile" and len(words) == 2)
    return True


def batch_script(commands: List[str], progress: Path) -> str:
    """A GDB script of ``commands`` that records in ``progress`` the number
    of the command it starts, so that a launcher giving up can say which
    command GDB was still running.  A command may be several lines (a
    `commands` block in one -ex); lines inside blocks are not numbered."""
    lines, depth = [], 0
    for number, command in enumerate(commands):
        if depth == 0:
            lines.append(f"python open({str(progress)!r}, 'w').write('{number}')")
        for line in command.split("\n"):
            lines.append(line)
            if _opens_block(line.strip()):
                depth += 1
            elif line.strip() == "end" and depth:
                depth -= 1
    return "".join(f"{line}\n" for line in lines)


def running_command(commands: List[str], progress: Path) -> Optional[str]:
    """The command of ``commands`` a batch_script was running, if known."""
    try:
        command = commands[int(progress.read_text())]
    except (OSError, ValueError, IndexError):
        return None
    return command


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


def gdb_environment(qemu_pid: Optional[int] = None, qemu_status: Optional[Path] = None) -> dict:
    """GDB's environment: its embedded Python finds our dependencies too, and
    (when the launcher started QEMU) where QEMU's exit status will be written
    (processes.record_exit_status), to say why the target went away."""
    env = dict(os.environ)
    for name in ("ISRDBG_QEMU_PID", "ISRDBG_QEMU_STATUS", trace_plugin.RING_ENV):
        env.pop(name, None)     # a QEMU of an outer isrdbg is not ours
    if qemu_pid is not None and qemu_status is not None:
        env["ISRDBG_QEMU_PID"] = str(qemu_pid)
        env["ISRDBG_QEMU_STATUS"] = str(qemu_status)
        ring = trace_plugin.ring_of(Path(qemu_status).parent)   # QEMU's workdir
        if ring is not None:
            env[trace_plugin.RING_ENV] = str(ring)
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
