"""isr-trace through isrdbg's QEMU trace plugin (plugin/, gdbext/gdbside/trace_engine.py)
against the breakpoint engine, on the same QEMU 10 and kernel: the same runs,
the same findings.  Skipped, with the reason, where QEMU 10 (./run setup puts
it in .qemu/10) or the built plugin is missing."""

import os
import re
import socket
import subprocess
import time

import pytest

from gdbext.client import trace_plugin

from .conftest import ROOT, BatchResult, free_port, isrdbg

QEMU10_BIN = ROOT / ".qemu" / "10" / "bin"
HANDLED = re.compile(r"timer: handled (\d+) interrupts")

pytestmark = [
    pytest.mark.skipif(not (QEMU10_BIN / "qemu-system-x86_64").exists(),
                       reason="QEMU 10 is not set up (.qemu/10/bin; ./run setup fetches it)"),
    pytest.mark.skipif(not trace_plugin.PLUGIN.exists(),
                       reason="the trace plugin is not built (isrdbg build)"),
]


def environment(plugin):
    env = dict(os.environ, PATH=f"{QEMU10_BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop(trace_plugin.SWITCH_ENV, None)
    if not plugin:
        env[trace_plugin.SWITCH_ENV] = "off"
    return env


def run(kernel, append, commands, plugin, extra=(), timeout=90):
    args = ["gdb", kernel, "--append", append, "--batch", "--timeout", timeout, "--tcg", *extra]
    for command in commands:
        args += ["-ex", command]
    proc = isrdbg(*args, timeout=timeout + 30, env=environment(plugin))
    return BatchResult(proc.returncode, proc.stdout, proc.stderr)


def per_vector(doc):
    return {row["vector"]: {key: row[key] for key in ("runs", "max_depth", "findings")}
            for row in doc["per_vector"]}


def findings(doc):
    return [(f["rule"], f.get("vector"), f["message"]) for f in doc["findings"]]


def both(kernel, append, commands, tmp_path):
    """(plugin result, breakpoint result, serial logs)."""
    results, serials = [], []
    for plugin in (True, False):
        serial = tmp_path / f"serial-{'plugin' if plugin else 'breakpoints'}.log"
        results.append(run(kernel, append, commands, plugin, extra=["--serial", serial]))
        serials.append(serial)
    return results, serials


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_the_timer_gives_the_same_runs_under_both_engines(kernels, tmp_path, arch):
    commands = ["break scenario_start", "continue", "isr-trace 32", "break scenario_done",
                "continue", "isr-trace report --json", "isr-trace report", "isr-status"]
    (plugin, breakpoints), serials = both(kernels[arch], "scenario=timer ticks=300 hz=1000",
                                          commands, tmp_path)
    for result in (plugin, breakpoints):
        assert result.returncode == 0, result.stderr
    assert "isr-trace: engine: QEMU trace plugin (the guest never stops for a run)" in \
        plugin.stdout
    assert "isr-trace: engine: breakpoints (turned off by ISRDBG_TRACE_PLUGIN=off)" in \
        breakpoints.stdout
    docs = [result.doc("trace") for result in (plugin, breakpoints)]
    counts = [int(HANDLED.search(serial.read_text()).group(1)) for serial in serials]
    for doc, count in zip(docs, counts):
        timer = doc["per_vector"][0]
        # every interrupt after scenario_start is one judged run, none lost or unpaired
        assert timer["vector"] == 32 and timer["runs"] == count >= 300
        assert (doc["open_runs"], doc["lost_runs"], doc["unmatched_exits"]) == (0, 0, 0)
    # the same, but for how many interrupts each run's kernel took before scenario_done
    same = [{v: dict(row, runs=None) for v, row in per_vector(doc).items()} for doc in docs]
    assert same[0] == same[1]
    assert findings(docs[0]) == findings(docs[1]) == []
    engine = re.search(r"^trace engine: plugin \(QEMU plugin API (\d+), ring [^)]*\): "
                       r"1 entry and 1 exit watched; (\d+) events, none lost$",
                       plugin.stdout, re.M)
    assert engine and int(engine.group(1)) >= 4 and int(engine.group(2)) == 2 * counts[0]
    # the timer handler's runs change nothing: the plugin folds them, and each
    # folded run is accounted without judging (the judge's tests prove it clean)
    assert docs[0]["engine"]["folded"] > 0 and docs[0]["engine"]["folded_judged"] == 0
    # the x87/SSE (and in long mode segment and CR3) registers are kept between
    # events: read anew only after an instruction that may write them, and
    # at the first event after a stop (plugin/isrdbg_trace.c, "cached state")
    assert 0 < docs[0]["engine"]["state_reads"] < counts[0] // 10
    assert "trace engine: plugin" not in breakpoints.stdout


def test_a_trace_limit_stops_inside_a_batch_of_clean_runs(kernels):
    """The timer's clean runs come in batches of up to 192 (plugin/ring.h):
    --limit 1000 still counts exactly 1000 runs, numbered 1-1000, and the
    latest kept run is the 1000th, with its own interrupted context."""
    commands = ["break scenario_start", "continue", "isr-trace --limit 1000 32",
                "break scenario_done", "continue", "isr-trace report --json",
                "isr-diff --last 1"]
    result = run(kernels["x86_64"], "scenario=timer ticks=5000 hz=20000", commands, True)
    assert result.returncode == 0, result.stderr
    doc = result.doc("trace")
    (timer,) = doc["per_vector"]
    assert (doc["state"], doc["counted"], timer["runs"], timer["first"], timer["last"]) == \
        ("stopped", 1000, 1000, 1, 1000)
    assert (doc["lost_runs"], doc["unmatched_exits"], doc["engine"]["dropped"]) == (0, 0, 0)
    assert doc["engine"]["folded"] >= 1000 and doc["engine"]["folded_judged"] == 0
    assert re.search(r"^handler run #1000: vector 32 Interrupt on CPU 0$", result.stdout, re.M)


def test_a_swapped_pop_is_caught_the_same_by_both_engines(kernels, tmp_path):
    """bad-pop-order restores rbx and r12 from each other's slots: the same
    finding, on the same registers, from the plugin's records."""
    commands = ["break scenario_start", "continue", "isr-trace all", "break scenario_done",
                "continue", "isr-trace report --json"]
    (plugin, breakpoints), _ = both(kernels["x86_64"], "scenario=bad-pop-order", commands,
                                    tmp_path)
    docs = [result.doc("trace") for result in (plugin, breakpoints)]
    assert "engine: QEMU trace plugin" in plugin.stdout
    assert per_vector(docs[0]) == per_vector(docs[1])
    assert per_vector(docs[0])[0x50] == {"runs": 1, "max_depth": 0,
                                         "findings": {"clobbered-register": 1}}
    assert findings(docs[0]) == findings(docs[1])
    (rule, vector, message), = findings(docs[0])
    assert (rule, vector) == ("clobbered-register", 0x50)
    assert re.search(r"rbx 0x[0-9a-f]+ -> 0x[0-9a-f]+, r12 0x[0-9a-f]+ -> 0x[0-9a-f]+$", message)


@pytest.mark.parametrize("plugin", [True, False], ids=["plugin", "breakpoints"])
def test_a_register_the_debugger_writes_inside_a_run_is_seen_at_its_exit(kernels, plugin):
    """Stopped inside the 50th timer run, the user sets xmm1: the run's exit
    must show it.  The plugin reads its cached x87/SSE registers anew after
    every stop (GDB bumps the ring's state generation); a stale cache would
    give the entry's value and no finding."""
    commands = ["break scenario_start", "continue", "isr-trace 32",
                "watch timer_ticks if timer_ticks == 50", "continue", "delete 2",
                "set $xmm1.v2_int64[0] = 0x1234", "break scenario_done", "continue",
                "isr-trace report --json"]
    result = run(kernels["x86_64"], "scenario=timer ticks=200 hz=1000", commands, plugin)
    doc = result.doc("trace")
    assert ("engine: QEMU trace plugin" in result.stdout) == plugin
    (timer,) = doc["per_vector"]
    assert timer["vector"] == 32 and timer["runs"] >= 200
    (rule, vector, message), = findings(doc)
    assert (rule, vector) == ("simd-clobbered", 32)
    assert re.search(r"\bxmm1\b.*0x1234", message), message


def test_a_handler_armed_after_its_code_ran_is_traced_at_once(kernels):
    """The timer handler runs untraced (QEMU translates its code), the guest
    stops without a breakpoint (Ctrl-C: nothing makes QEMU flush its
    translations), then `isr-trace 32`: isrdbg writes the handler's first
    byte back so that QEMU drops the block, and the plugin instruments it
    when it is translated again.  Without that the old block would run on,
    uninstrumented, and the trace would see nothing."""
    from .test_linux_judge import STOPPER
    commands = ["tbreak scenario_start", "continue", STOPPER % 1, "continue",
                "isr-trace 32", STOPPER % 1, "continue", "isr-trace report --json"]
    result = run(kernels["x86_64"], "scenario=timer ticks=100000 hz=1000", commands, True)
    doc = result.doc("trace")
    assert "engine: QEMU trace plugin" in result.stdout
    (timer,) = doc["per_vector"]
    assert timer["vector"] == 32 and timer["runs"] >= 50, result.stdout[-2000:]
    assert (doc["lost_runs"], doc["unmatched_exits"]) == (0, 0)
    assert doc["engine"]["unsynced_resumes"] == 0


def test_a_qemu_started_by_hand_with_a_tiny_ring_counts_what_it_lost(kernels, tmp_path):
    """`isr-trace engine plugin RING` for a QEMU the user started; a ring of
    2 slots overflows at 10 kHz (too small to hold an entry back, so nothing
    folds or batches: every entry and exit takes a slot): the loss is counted
    and shown, and a run whose entry or exit was lost is never judged (no
    finding on a correct handler)."""
    from gdbext.client.qemu import elf32_for_qemu
    ring = tmp_path / "user.ring"
    port = free_port()
    qemu = subprocess.Popen(
        [str(QEMU10_BIN / "qemu-system-x86_64"), "-kernel",
         str(elf32_for_qemu(kernels["x86_64"], tmp_path)), "-append",
         "scenario=timer ticks=3000 hz=10000", "-S", "-gdb", f"tcp:127.0.0.1:{port}",
         "-display", "none", "-monitor", "none", "-serial", "none", "-no-reboot",
         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
         "-plugin", f"{trace_plugin.PLUGIN},ring={ring},slots=2"],
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        proc = isrdbg("gdb", "--attach", f"127.0.0.1:{port}", kernels["x86_64"], "--batch",
                      "--timeout", "60",
                      "-ex", "isr-trace engine", "-ex", f"isr-trace engine plugin {ring}",
                      "-ex", "break scenario_start", "-ex", "continue", "-ex", "isr-trace 32",
                      "-ex", "break scenario_done", "-ex", "continue",
                      "-ex", "isr-trace report --json", "-ex", "isr-trace report",
                      timeout=90, env=environment(True))
    finally:
        qemu.kill()
        qemu.wait()
    result = BatchResult(proc.returncode, proc.stdout, proc.stderr)
    assert result.returncode == 0, result.stderr
    assert "trace engine: breakpoints (QEMU was not started with isrdbg's trace plugin)" in \
        result.stdout
    lost = re.search(r"^trace engine: plugin \(.*; (\d+) events, (\d+) lost to a full ring$",
                     result.stdout, re.M)
    assert lost and int(lost.group(2)) > 0, result.stdout
    doc = result.doc("trace")
    assert doc["findings"] == [] and doc["per_vector"][0]["findings"] == {}
    assert doc["per_vector"][0]["runs"] > 0


def tolerant(command):
    """GDB lines running ``command`` and printing its error, if any, as
    `ERROR: ...` (a batch stops at the first failing command)."""
    return ["python", "try:", f"    gdb.execute({command!r})", "except gdb.error as error:",
            "    print('ERROR:', error)", "end"]


def test_a_ring_that_is_no_ring_is_refused_in_one_line(kernels, tmp_path):
    bogus = tmp_path / "bogus.ring"
    bogus.write_bytes(b"x" * 8192)
    result = run(kernels["x86_64"], "scenario=timer ticks=10 hz=1000",
                 tolerant(f"isr-trace engine plugin {bogus}")
                 + tolerant(f"isr-trace engine plugin {tmp_path}/none")
                 + tolerant("isr-trace engine plugin") + ["isr-trace engine"], plugin=False)
    assert result.returncode == 0, result.stderr
    errors = re.findall(r"^ERROR: (.*)$", result.stdout, re.M)
    assert errors[0] == "isr-trace: not an isrdbg trace ring (bad magic)"
    assert errors[1].startswith(f"isr-trace: cannot open the trace ring {tmp_path}/none: ")
    assert errors[2] == ("isr-trace: isr-trace engine takes `plugin RING-FILE` or `breakpoints` "
                         "(see `help isr-trace`)")
    assert len(errors) == 3
    assert "Traceback" not in result.stdout + result.stderr
    # a failed choice changes nothing: still breakpoints, for the reason it had
    assert re.search(r"^trace engine: breakpoints \(turned off by ISRDBG_TRACE_PLUGIN=off\)$",
                     result.stdout, re.M), result.stdout


def test_an_older_qemu_is_started_without_the_plugin(kernels):
    version = trace_plugin.qemu_version("qemu-system-x86_64")
    if version is None or version >= trace_plugin.MIN_QEMU:
        pytest.skip("the system QEMU runs the plugin (or is missing): no fallback to see")
    env = dict(os.environ)
    env.pop(trace_plugin.SWITCH_ENV, None)
    proc = isrdbg("gdb", kernels["x86_64"], "--tcg", "--append", "scenario=timer ticks=20 hz=1000",
                  "--batch", "--timeout", "60", "-ex", "break scenario_start", "-ex", "continue",
                  "-ex", "isr-trace 32", timeout=90, env=env)
    assert proc.returncode == 0, proc.stderr
    assert ("isr-trace: engine: breakpoints (QEMU was not started with isrdbg's trace plugin): "
            "the guest stops briefly at each entry and exit") in proc.stdout


@pytest.mark.parametrize("scenario, vector, rule", [
    ("bad-ret", 81, "ret-instead-of-iret"),
    ("bad-stack-imbalance-8", 87, "stack-imbalance-at-iret"),
    # xmm0 zeroed: the plugin keeps x87/SSE state between events, and reads
    # it anew because the handler's pxor may write it
    ("bad-sse-clobber", 85, "simd-clobbered"),
    ("bad-pf-error-code-not-popped", 14, "error-code-not-popped"),
])
def test_broken_handlers_are_caught_the_same_by_both_engines(kernels, tmp_path, scenario, vector,
                                                             rule):
    """The broken handler's vector is on the plugin (not among the vectors
    left to breakpoints), and both engines give the same report."""
    commands = ["break scenario_start", "continue", "isr-trace all", "break scenario_done",
                "continue", "isr-trace report --json"]
    (plugin, breakpoints), _ = both(kernels["x86_64"], f"scenario={scenario}", commands,
                                    tmp_path)
    docs = [result.doc("trace") for result in (plugin, breakpoints)]
    note = re.search(r"^isr-trace: engine: QEMU trace plugin; breakpoints for vector (\S+) ",
                     plugin.stdout, re.M)
    assert note, plugin.stdout
    on_breakpoints = set()
    for part in note.group(1).split(","):
        low, _, high = part.partition("-")
        on_breakpoints.update(range(int(low), int(high or low) + 1))
    assert vector not in on_breakpoints
    assert per_vector(docs[0]) == per_vector(docs[1])
    assert findings(docs[0]) == findings(docs[1])
    assert rule in per_vector(docs[0])[vector]["findings"]
    assert (docs[0]["lost_runs"], docs[0]["unmatched_exits"]) == \
        (docs[1]["lost_runs"], docs[1]["unmatched_exits"])
