"""Loading isrdbg into a plain GDB, as a user who already runs GDB would."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT

GDBINIT = ROOT / "gdbext" / "gdbinit.py"


def gdb(*commands, cwd=None):
    argv = ["gdb", "-nx", "-batch"]
    for command in commands:
        argv += ["-ex", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_source_registers_commands_and_help():
    result = gdb(f"source {GDBINIT}", "help isr-idt", "show isr mode")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Show the interrupt descriptor table of the selected CPU."
    assert "Usage: isr-idt [--all] [--json] [SPEC...]" in result.stdout
    assert "The CPU mode used to decode the IDT is auto." in result.stdout
    assert result.stderr == ""


def test_sourcing_twice_is_harmless():
    result = gdb(f"source {GDBINIT}", f"source {GDBINIT}", "help isr-idt")
    assert result.returncode == 0 and result.stderr == ""


def test_completion_offers_vector_names():
    result = gdb(f"source {GDBINIT}", "complete isr-idt page", "complete isr-idt ex",
                 "complete isr-idt --j")
    assert result.stdout.splitlines() == ["isr-idt page-fault", "isr-idt exceptions",
                                          "isr-idt --json"]


def test_no_target_connected():
    result = gdb(f"source {GDBINIT}", "isr-idt")
    assert result.returncode != 0
    assert result.stderr.strip() == ("isr-idt: no target connected (start one with "
                                     "`isrdbg gdb KERNEL` or `target remote ...`)")


def test_bad_setting_is_one_line():
    result = gdb(f"source {GDBINIT}", "set isr idt-base nosuchsymbol")
    assert result.returncode != 0
    assert result.stderr.strip() == 'set isr idt-base: No symbol table is loaded.  Use the "file" command.'


def test_missing_dependency_is_explained(tmp_path):
    """A checkout without .venv, in a GDB whose Python lacks capstone."""
    probe = subprocess.run(["gdb", "-nx", "-batch", "-ex", "python import capstone"],
                           capture_output=True, text=True)
    if probe.returncode == 0:
        pytest.skip("capstone is installed for GDB's own Python on this machine")
    copy = tmp_path / "isrdbg"
    shutil.copytree(ROOT / "gdbext", copy / "gdbext")
    shutil.copytree(ROOT / "commands", copy / "commands")
    env_free = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(["gdb", "-nx", "-batch", "-ex", f"source {copy}/gdbext/gdbinit.py",
                             "-ex", "help isr-idt"], capture_output=True, text=True, env=env_free)
    assert result.returncode == 0
    message = result.stderr.strip()
    assert message.startswith("isrdbg: GDB's Python (python3.")
    assert "cannot import capstone" in message and "pip install --user" in message
    assert "Traceback" not in result.stderr
    assert "Show the interrupt descriptor table" in result.stdout


def test_target_without_qemu_monitor_needs_settings():
    """A native process stands in for any gdbstub that is not QEMU."""
    base = (f"source {GDBINIT}", "file /bin/true", "starti")
    result = gdb(*base, "isr-idt")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "isr-idt: cannot read IDTR: this target has no QEMU monitor; give the table with "
        "`set isr idt-base ADDR` (and `set isr idt-limit N`)")
    result = gdb(*base, "set isr idt-base $rsp", "set isr idt-limit 47", "set isr mode long",
                 "isr-idt --json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert (doc["mode"], doc["count"], len(doc["entries"]), doc["beyond_limit"]) == \
        ("long", 3, 3, [])
