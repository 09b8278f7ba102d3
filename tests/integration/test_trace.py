"""isr-trace on the bundled kernels: counts against the kernel's own count,
findings with their run, the memory bound, --limit, stop, clear, Ctrl-C and
bad arguments."""

import json
import re
import sys
import time

import pexpect
import pytest

from .conftest import ROOT, batch

HANDLED = re.compile(r"timer: handled (\d+) interrupts")


def handled(serial):
    return int(HANDLED.search(serial.read_text()).group(1))


def by_vector(doc):
    return {row["vector"]: row for row in doc["per_vector"]}


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_trace_counts_every_timer_interrupt(kernels, tmp_path, arch):
    """Armed from reset (pending until the kernel loads its IDT), with a short
    history: every interrupt the kernel counted is a run, only the history is kept."""
    serial = tmp_path / "serial.log"
    result = batch(kernels[arch], "scenario=timer ticks=300 hz=1000",
                   ["set isr trace-history 50", "isr-trace 32", "break scenario_done",
                    "continue", "isr-trace report --json", "isr-trace report"],
                   extra=["--serial", serial])
    assert result.returncode == 0, result.stderr
    doc = result.doc("trace")
    count = handled(serial)
    assert count >= 300
    timer = by_vector(doc)[32]
    assert timer["runs"] == count and timer["max_depth"] == 0 and timer["findings"] == {}
    assert timer["last"] - timer["first"] + 1 == count      # no run lost, none twice
    assert doc["runs"] == count and doc["kept_runs"] == 50 and doc["history"] == 50
    assert (doc["open_runs"], doc["lost_runs"], doc["unmatched_exits"]) == (0, 0, 0)
    assert doc["state"] == "tracing" and doc["findings"] == []
    assert re.search(rf"^32 Interrupt +{count} +0 +0 +- +#{timer['first']} +#{timer['last']}$",
                     result.stdout, re.M), result.stdout


def test_traced_and_watched_vectors_use_internal_breakpoints(kernels):
    """Only isr-break makes a numbered GDB breakpoint; switching a vector from
    isr-break to isr-watch keeps it armed (on an internal breakpoint) and the
    watch still stops at the broken handler's exit."""
    result = batch(kernels["x86_64"], "scenario=bad-clobber-rbx",
                   ["break scenario_start", "continue", "delete", "isr-trace 32", "isr-break 0x52",
                    "info breakpoints", "isr-watch 0x52",
                    "info breakpoints", "info isr-breakpoints", "continue",
                    "isr-status --json"])
    assert result.returncode == 0, result.stderr
    listings = re.findall(r"^(No breakpoints or watchpoints\.|Num +Type.*)$", result.stdout,
                          re.M)
    assert listings[0].startswith("Num") and listings[1] == "No breakpoints or watchpoints."
    assert re.search(r"^82 Interrupt +armed +internal +0x", result.stdout, re.M), result.stdout
    assert "error clobbered-register: registers changed: rbx" in result.stdout
    stop = result.doc("status")["last_stop"]
    assert stop["kind"] == "exit" and stop["vectors"] == [0x52]


def test_the_exits_are_armed_before_the_first_run(kernels):
    """Arming analyses the handler (and loads the disassembler) while the
    target is stopped: before any timer interrupt, the handler's iretq
    already has its internal breakpoint, so no run pays for the analysis."""
    result = batch(kernels["x86_64"], "scenario=timer ticks=10 hz=1000",
                   # the breakpoint engine's arming (QEMU 10 would trace with the plugin)
                   ["isr-trace engine breakpoints",
                    "break scenario_start", "continue", "delete", "isr-trace 32",
                    "maint info breakpoints", "print timer_ticks", "disassemble isr_timer"])
    assert result.returncode == 0, result.stderr
    armed = re.findall(r"^-\d+ +breakpoint +keep +y +0x0*([0-9a-f]+) in isr_timer ", result.stdout,
                       re.M)
    iretq = re.findall(r"^ +0x0*([0-9a-f]+) <\+\d+>:\tiretq", result.stdout, re.M)
    assert len(armed) == 2 and len(iretq) == 1, result.stdout
    assert iretq[0] in armed
    assert re.search(r"^\$1 = 0$", result.stdout, re.M)      # no run yet


@pytest.mark.parametrize("order", [["isr-trace 14", "break *isr_timer"],
                                   ["break scenario_start", "continue", "delete", "isr-trace 14",
                                    "break *isr_timer"]],
                         ids=["trace-from-reset", "user-breakpoint-after-arming"])
def test_a_breakpoint_on_the_byte_before_another_is_a_hardware_one(kernels, order):
    """QEMU leaves the PC on a breakpoint without saying so, and GDB then
    rewinds it onto any software breakpoint on the byte before (x86's
    decr_pc_after_break).  The i386 kernel's isr_page_fault ends in a
    one-byte iret right before isr_timer: its exit breakpoint must be a
    hardware one, or the stop at the user's breakpoint on isr_timer becomes
    a run of that iret (the IRQ is never acknowledged, the kernel hangs) --
    whether the user's breakpoint came first or after the exit was armed."""
    first = 2 if len(order) > 2 else 1       # the user's breakpoint number
    result = batch(kernels["i386"], "scenario=timer ticks=3 hz=1000",
                   ["isr-trace engine breakpoints"] + order + ["continue", "print $pc == isr_timer",
                    "print/x (long)isr_timer", "maint info breakpoints", "delete",
                    "break scenario_done", "continue", "print timer_ticks"], timeout=30)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"^Breakpoint {first}, (0x[0-9a-f]+ in )?isr_timer \(\)", result.stdout,
                     re.M), result.stdout
    assert re.search(r"^\$1 = 1$", result.stdout, re.M)
    timer = int(re.search(r"^\$2 = (0x[0-9a-f]+)$", result.stdout, re.M).group(1), 16)
    exits = dict((int(address, 16), kind) for kind, address in re.findall(
        r"^-\d+ +(hw breakpoint|breakpoint) +keep +y +(0x[0-9a-f]+) in isr_page_fault ",
        result.stdout, re.M))
    assert exits.pop(timer - 1) == "hw breakpoint", result.stdout
    assert exits and set(exits.values()) == {"breakpoint"}    # the others stay software
    assert re.search(r"^\$3 = [3-9]\d*$", result.stdout, re.M), result.stdout


def test_an_isr_break_breakpoint_made_hardware_keeps_what_the_user_set(kernels):
    """A breakpoint of the user's on the byte after isr-break's turns the
    latter into a hardware breakpoint (a new number); disabling, ignore
    count and commands carry over, and the old one is gone."""
    result = batch(kernels["i386"], "scenario=timer ticks=3",
                   ["break scenario_start", "continue", "delete", "isr-break 14", "disable 2",
                    "ignore 2 5", "python gdb.breakpoints()[0].commands = 'print 42'",
                    "break *isr_page_fault+1", "info breakpoints", "print/x (long)isr_page_fault"])
    assert result.returncode == 0, result.stderr
    handler = int(re.search(r"^\$1 = 0x([0-9a-f]+)$", result.stdout, re.M).group(1), 16)
    listing = result.stdout[result.stdout.index("Num "):]
    assert re.search(rf"^4 +hw breakpoint +keep +n +0x0*{handler:x} in isr_page_fault .*\n"
                     r"\tignore next 5 hits\n +print 42$", listing, re.M), listing
    assert not re.search(r"^2 ", listing, re.M) and "Python Exception" not in result.stdout


def test_a_broken_handler_is_reported_with_its_run(kernels):
    """The scenario installs its handler for 0x52 after the trace was armed:
    the trace follows the gate write and records the one run with its finding."""
    result = batch(kernels["x86_64"], "scenario=bad-clobber-rbx",
                   ["isr-trace 0x52", "break scenario_done", "continue",
                    "isr-trace report --json", "isr-trace report",
                    "isr-diff --vector 0x52 --json"])
    assert result.returncode == 0, result.stderr
    doc = result.doc("trace")
    row = by_vector(doc)[0x52]
    assert row["runs"] == 1 and row["findings"] == {"clobbered-register": 1}
    run = result.doc("diff")["runs"][0]
    assert row["first"] == row["last"] == run["sequence"]
    [finding] = doc["findings"]
    assert finding["rule"] == "clobbered-register" and finding["vector"] == 0x52
    assert finding["run"]["run"] == run["sequence"] and finding["run"]["vector"] == 0x52
    assert finding["details"]["registers"] == {"rbx": ["0xb0b0b0b0b0b0b0b1", "0xdead"]}
    assert f"  run #{run['sequence']}: vector 82 Interrupt on CPU 0" in result.stdout
    assert "    error clobbered-register: registers changed: rbx 0xb0b0b0b0b0b0b0b1 -> 0xdead" \
        in result.stdout


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
@pytest.mark.parametrize("spec,watch", [
    ("0x20 3 0x52", "on"),          # a few gates: each watched without reads at hits
    ("0x20-0x52", "on"),            # more than 8: the span from the first to the last
    ("0x20 3 0x52", "off"),         # no watch: the gate write goes unnoticed
])
def test_the_idt_watch_follows_a_rewritten_gate_among_others(kernels, arch, spec, watch):
    """The scenario installs 0x52's handler after the trace was armed; the
    gate is neither the only one nor the first one armed."""
    result = batch(kernels[arch], "scenario=bad-clobber-rbx",
                   [f"set isr idt-watch {watch}", f"isr-trace {spec}", "break scenario_done",
                    "continue", "isr-trace report --json"])
    assert result.returncode == 0, result.stderr
    row = by_vector(result.doc("trace")).get(0x52)
    if watch == "off":
        assert row is None or row["runs"] == 0
    else:
        assert row["runs"] == 1 and row["findings"] == {"clobbered-register": 1}


def test_limit_stops_tracing_and_the_target_runs_on(kernels, tmp_path):
    serial = tmp_path / "serial.log"
    result = batch(kernels["x86_64"], "scenario=timer ticks=100 hz=1000",
                   ["break scenario_start", "continue", "isr-trace --limit 10 32",
                    "break scenario_done", "continue", "isr-trace report --json",
                    "info isr-breakpoints"], extra=["--serial", serial])
    assert result.returncode == 0, result.stderr
    doc = result.doc("trace")
    assert doc["state"] == "stopped" and doc["reason"] == "limit of 10 runs reached"
    assert by_vector(doc)[32]["runs"] == 10 and doc["counted"] == 10
    assert (doc["open_runs"], doc["unmatched_exits"]) == (0, 0)
    assert "No isr breakpoints." in result.stdout
    assert handled(serial) >= 100


def test_stop_keeps_the_trace_and_clear_forgets_it(kernels):
    result = batch(kernels["x86_64"], "scenario=timer ticks=100 hz=1000",
                   ["isr-trace 32", "break timer_tick if timer_ticks == 20", "continue",
                    "isr-trace stop", "isr-trace report --json", "info isr-breakpoints",
                    "delete", "break scenario_done", "continue", "isr-trace report --json",
                    "isr-trace clear", "isr-trace report --json"])
    assert result.returncode == 0, result.stderr
    stopped, after, cleared = result.docs("trace")
    # stopped inside the 21st run: 20 complete, one open
    assert stopped["state"] == "stopped" and stopped["reason"] == "isr-trace stop"
    assert by_vector(stopped)[32]["runs"] == 20 and stopped["open_runs"] == 1
    assert "isr-trace: stopped after 20 runs" in result.stdout
    assert "No isr breakpoints." in result.stdout
    # the open run still closed; nothing after it was recorded
    assert by_vector(after)[32]["runs"] == 21 and after["open_runs"] == 0
    assert after["unmatched_exits"] == 0
    assert cleared["runs"] == 0 and cleared["per_vector"] == [] and cleared["kept_runs"] == 0


def test_ctrl_c_stops_the_target_and_keeps_the_trace(kernels):
    """Ctrl-C in an interactive session while the trace records."""
    child = pexpect.spawn(sys.executable, ["-m", "gdbext.client.cli", "gdb",
                                           str(kernels["x86_64"]), "--append",
                                           "scenario=timer ticks=1000000 hz=1000", "--tcg"],
                          cwd=str(ROOT), encoding="utf-8", timeout=60, dimensions=(50, 200))
    try:
        child.expect_exact("(gdb) ")
        child.sendline("set style enabled off")
        child.expect_exact("(gdb) ")
        child.sendline("isr-trace 32")
        child.expect_exact("(gdb) ")
        child.sendline("continue")
        child.expect_exact("Continuing.")
        time.sleep(1.5)                     # recording
        # GDB passes Ctrl-C to QEMU at once, and QEMU drops it when the target
        # is halted at a breakpoint at that moment (bare GDB breakpoints alike):
        # as a user would, press it again until the target stops.
        for _ in range(20):
            child.send("\x03")
            found = child.expect(["Program received signal SIGINT", "interrupted \\(Ctrl-C\\)",
                                  r"\(y or n\)", pexpect.TIMEOUT], timeout=1)
            if found < 2:
                break
            if found == 2:
                child.sendline("n")         # "not responding to interrupt requests": wait
        else:
            pytest.fail("Ctrl-C did not stop the target")
        child.expect_exact("(gdb) ")
        child.sendline("isr-trace report --json")
        child.expect(r'(\{"schema":"isrdbg/1","kind":"trace".*\})\r?\n')
        doc = json.loads(child.match.group(1))
        child.expect_exact("(gdb) ")
        child.sendline("info isr-breakpoints")
        child.expect_exact("(gdb) ")
        table = child.before
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert doc["state"] == "tracing" and by_vector(doc)[32]["runs"] > 1
    assert doc["lost_runs"] == 0 and doc["unmatched_exits"] == 0
    assert re.search(r"^32 Interrupt +armed", table, re.M), table


BAD = [
    ("isr-trace", "isr-trace: give the vectors to trace, or report, stop or clear "
                  "(see `help isr-trace`)"),
    ("isr-trace 300", "isr-trace: vector 300 is out of range (0-255)"),
    ("isr-trace --limit 0 32", "isr-trace: --limit wants a positive number of runs"),
    ("isr-trace --limit x 32", "isr-trace: argument --limit: invalid int value: 'x' "
                               "(see `help isr-trace`)"),
    ("isr-trace report all", "isr-trace: isr-trace report takes no argument 'all' "
                             "(see `help isr-trace`)"),
    ("isr-trace report", "isr-trace: no trace recorded (start one with isr-trace SPEC...)"),
    ("isr-trace stop", "isr-trace: no trace is running (start one with isr-trace SPEC...)"),
    ("set isr trace-history 0", "set isr trace-history: keep at least 1 run"),
]


def test_bad_arguments_are_one_line_errors(kernels, tmp_path):
    script = tmp_path / "bad.py"
    script.write_text(
        "import gdb\n"
        f"for command in {[c for c, _ in BAD]!r}:\n"
        "    try:\n"
        "        gdb.execute(command)\n"
        "    except gdb.error as error:\n"
        "        print('ERROR ' + str(error))\n")
    result = batch(kernels["x86_64"], "scenario=idle",
                   ["break scenario_start", "continue", f"source {script}",
                    "show isr trace-history"])
    assert result.returncode == 0, result.stderr
    errors = [line[6:] for line in result.stdout.splitlines() if line.startswith("ERROR ")]
    assert errors == [message for _, message in BAD]
    assert "The number of completed handler runs kept is 1000." in result.stdout


def test_recording_all_keeps_an_earlier_isr_break(kernels):
    """Issue 16: `isr-watch --no-stop all` after `isr-break 14` records every
    vector and still stops at the page fault's entry."""
    result = batch(kernels["x86_64"], "scenario=pf-read-not-present",
                   ["break scenario_start", "continue", "isr-break 14",
                    "isr-watch --no-stop all", "continue", "isr-status --json"])
    assert result.returncode == 0, result.stderr
    assert "vector 14 #PF Page Fault on CPU 0, handler" in result.stdout
    stop = result.doc("status")["last_stop"]
    assert stop["kind"] == "entry" and stop["vectors"] == [14]


def test_a_trace_reports_only_its_own_runs(kernels):
    """Issue 16: runs an earlier isr-watch recorded are not counted by a trace
    started later on the same vector."""
    result = batch(kernels["x86_64"], "scenario=timer ticks=40 hz=1000",
                   ["break scenario_start", "continue", "isr-watch --no-stop 32",
                    "break timer_tick if timer_ticks == 20", "continue", "delete",
                    "isr-trace 32", "break scenario_done", "continue",
                    "isr-trace report --json"])
    assert result.returncode == 0, result.stderr
    timer = by_vector(result.doc("trace"))[32]
    assert timer["first"] > 20 and timer["runs"] == timer["last"] - timer["first"] + 1
    assert timer["runs"] < 40
