"""isrdbg at the edges (issue 16): a running target, bad values for `set isr`,
the $_isr_* functions called wrongly, conditions with quotes, the `set isr`
and `show isr` prefixes, completion and apropos.  Each asserts isrdbg's own
words; the fuzz test (test_fuzz.py) covers the breadth."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gdbext.client.gdb_launch import gdb_environment
from gdbext.client.session import CommandError, Session

ROOT = Path(__file__).resolve().parents[2]
RUNNING = "the target is running; stop it first (Ctrl-C or `interrupt`)"
RAW = ("Traceback", "Python Exception", "internal-error", "Error occurred in Python")


def gdb_alone(*commands):
    """GDB with isrdbg loaded and no target: (stdout, stderr lines)."""
    argv = ["gdb", "-nx", "-q", "-batch", "-ex", f"source {ROOT / 'gdbext' / 'gdbinit.py'}"]
    for command in commands:
        argv += ["-ex", command]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=gdb_environment())
    for raw in RAW:
        assert raw not in proc.stdout + proc.stderr
    return proc.stdout, proc.stderr.splitlines()


def test_isr_functions_refuse_arguments_in_one_line():
    out, errors = gdb_alone("print $_isr_vector(1)", "print $_isr_frame(1, 2)",
                            "print $_isr_vector()")
    assert errors == ["$_isr_vector: takes no arguments, got 1",
                      "$_isr_frame: takes no arguments, got 2"]
    assert out.strip() == "$1 = -1"


def test_idt_base_out_of_range_is_refused_and_show_keeps_the_accepted_value():
    out, errors = gdb_alone("set isr idt-base -1", "show isr idt-base",
                            "set isr idt-base 0x1000",
                            "set isr idt-base 0x1ffffffffffffffff", "show isr idt-base",
                            "set isr idt-limit 0x10000", "show isr idt-limit",
                            "set isr idt-base 0xffffffffffffffff", "show isr idt-base")
    assert errors == [
        "set isr idt-base: -1 is out of range (0-0xffffffffffffffff)",
        "set isr idt-base: 0x1ffffffffffffffff is out of range (0-0xffffffffffffffff)",
        "set isr idt-limit: 0x10000 is out of range (0-0xffff)",
    ]
    assert out.splitlines() == ["The IDT base address is auto.",
                                "The IDT base address is 0x1000.",
                                "The IDT limit is auto.",
                                "The IDT base address is 0xffffffffffffffff."]


def test_show_isr_lists_every_setting_and_set_isr_its_subcommands():
    out, errors = gdb_alone("show isr", "set isr", "set isr nosuch 1")
    lines = out.splitlines()
    assert lines[:6] == [
        "isr idt-base:  The IDT base address is auto.",
        "isr idt-limit:  The IDT limit is auto.",
        "isr idt-watch:  Watching writes to armed gates is on.",
        "isr mode:  The CPU mode used to decode the IDT is auto.",
        "isr register-packet:  Reading registers at handler breakpoints with one g packet "
        "is on.",
        "isr trace-history:  The number of completed handler runs kept is 1000.",
    ]
    assert lines[6] == '"set isr" must be followed by the name of a setting.'
    for name in ("idt-base", "idt-limit", "idt-watch", "mode", "register-packet",
                 "trace-history"):
        assert any(line.startswith(f"set isr {name} -- ") for line in lines[7:])
    assert errors == ["set isr: no setting 'nosuch' (see `help set isr`)"]


def test_apropos_isr_finds_every_setting():
    out, _ = gdb_alone("apropos isr")
    found = {line.split(" -- ")[0] for line in out.splitlines()}
    for name in ("idt-base", "idt-limit", "mode", "trace-history", "idt-watch",
                 "register-packet"):
        assert f"set isr {name}" in found and f"show isr {name}" in found


def test_completion_offers_vector_numbers_and_range_ends():
    out, _ = gdb_alone("complete isr-idt 1", "complete isr-break 250-25")
    lines = out.splitlines()
    assert {"isr-idt 1", "isr-idt 14", "isr-idt 199"} <= set(lines)
    assert "isr-idt 2" not in lines
    assert [line for line in lines if line.startswith("isr-break")] == \
        [f"isr-break 250-{n}" for n in range(250, 256)]


def test_condition_keeps_its_quotes():
    out, errors = gdb_alone('isr-break --json 14 if $_streq("a", "a") && 1')
    assert errors == []
    assert '"condition":"$_streq(\\"a\\", \\"a\\") && 1"' in out


@pytest.mark.parametrize("line,message", [
    ("isr-idt 32-", "isr-idt: range 32- has no end (e.g. 32-47)"),
    ("isr-idt 0o17", "isr-idt: not a vector: '0o17' (expected a number, range, name or class "
                     "such as 14, 32-47, #PF, page-fault, exceptions)"),
    ("isr-break +14", "isr-break: not a vector: '+14' (expected a number, range, name or "
                      "class such as 14, 32-47, #PF, page-fault, exceptions)"),
    ("isr-check -0", "isr-check: vector -0 is out of range (0-255)"),
    ("isr-frame --vector 300", "isr-frame: vector 300 is out of range (0-255)"),
])
def test_bad_specs_are_reported_before_the_missing_target(line, message):
    _, errors = gdb_alone(line)
    assert errors == [message]


# -- a running target ------------------------------------------------------------------

def running_session(kernel):
    session = Session(str(kernel), append="scenario=timer ticks=1000000")
    session.console("break scenario_start")
    session.cont(timeout=60)
    session.console("delete")
    return session


def error_of(call):
    with pytest.raises(CommandError) as caught:
        call()
    return str(caught.value), caught.value.output


@pytest.mark.parametrize("line", ["isr-break 14", "isr-watch 14", "isr-watch --no-stop 3",
                                  "isr-trace 32", "isr-trace stop", "isr-delete",
                                  "isr-delete 14", "isr-break 14 if 1", "isr-idt 14",
                                  "isr-check 14", "isr-frame", "isr-saved"])
def test_commands_refuse_a_running_target_in_one_line(kernels, line):
    with running_session(kernels["x86_64"]) as session:
        session.console("continue")
        message, output = error_of(lambda: session.console(line))
        assert message == f"{line.split()[0]}: {RUNNING}"
        assert not any(raw in output for raw in RAW)
        assert session.state == "running"


def test_failed_break_after_a_trace_neither_stops_nor_arms(kernels):
    with running_session(kernels["x86_64"]) as session:
        session.console("isr-trace 32")
        session.console("continue")
        message, _ = error_of(lambda: session.isr("isr-break", "14"))
        assert message == f"isr-break: {RUNNING}"
        message, _ = error_of(lambda: session.isr("isr-watch", "13"))
        assert message == f"isr-watch: {RUNNING}"
        time.sleep(1.5)         # a spurious stop would come within this
        assert session.state == "running"
        stop = session.interrupt()
        assert stop.kind == "stopped"
        armed = session.breakpoints()["vectors"]
        assert [(v["vector"], v["mode"]) for v in armed] == [(32, "trace")]
        report = session.isr("isr-trace", "report")
        assert report["vectors"] == [32] and report["runs"] > 0     # the trace went on


# -- Ctrl-C ------------------------------------------------------------------------------

def test_one_ctrl_c_stops_a_target_with_every_vector_traced(kernels):
    """QEMU drops the interrupt byte GDB sends while the VM is halted at a
    breakpoint, which with every vector traced is much of the time: before
    isrdbg watched for Ctrl-C itself, stopping took 3-11 presses."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(sys.executable, ["-m", "gdbext.client.cli", "gdb", "--tcg",
                                           str(kernels["x86_64"]), "--append",
                                           "scenario=timer ticks=1000000 hz=1000"],
                          cwd=str(ROOT), encoding="utf-8", timeout=60, dimensions=(50, 200))
    printed = []
    try:
        for command in ("set style enabled off", "break scenario_start", "continue",
                        "delete", "isr-trace all"):
            child.expect_exact("(gdb) ")
            child.sendline(command)
        for _ in range(3):
            child.expect_exact("(gdb) ")
            child.sendline("continue")
            child.expect_exact("Continuing.")
            time.sleep(1.0)                 # tracing at 1000 interrupts a second
            pressed = time.monotonic()
            child.send("\x03")
            child.expect_exact("(gdb) ", timeout=1.0)
            assert time.monotonic() - pressed < 1.0
            printed.append(child.before)
            child.sendline("isr-status --json")
            child.expect(r'(\{"schema":"isrdbg/1","kind":"status".*\})\r?\n')
            status = json.loads(child.match.group(1))
        child.expect_exact("(gdb) ")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    for text in printed:
        assert "isrdbg: interrupted (Ctrl-C)" in text or "SIGINT" in text
        for raw in RAW + ("isr-frame: None",):
            assert raw not in text
    assert status["state"] == "stopped" and status["runs"] > 100   # the trace went on


def test_mi_interrupt_stops_a_target_with_every_vector_traced(kernels):
    """Session.interrupt (-isr-interrupt): -exec-interrupt alone was lost as
    Ctrl-C was, taking up to 4 tries of a second each."""
    with running_session(kernels["x86_64"]) as session:
        session.console("isr-trace all")
        for _ in range(5):
            session.console("continue")
            time.sleep(0.5)
            stop = session.interrupt(timeout=1.0)
            assert stop.kind == "stopped"
        assert session.status()["runs"] > 0
        assert session.isr("isr-interrupt") == {"schema": "isrdbg/1", "kind": "interrupt",
                                                "interrupted": False}
