"""The bundled scenario files under both trace engines: `isrdbg run` with
isrdbg's QEMU trace plugin and with breakpoints (ISRDBG_TRACE_PLUGIN=off), on
the same QEMU 10, compared scenario by scenario: the same verdict, the same
runs judged per vector, the same findings (rule, vector, registers, message),
the same unpaired counts.  And Debian's Linux under both: the same verdict.

The bundled kernels raise their exceptions and `int N` a fixed number of
times, and where they wait for a number of timer ticks (timer, nested-irq)
the counts are fixed too: then runs per vector, unpaired counts, findings and
their messages must agree exactly.  The timer (PIT and LAPIC, vectors 32-47)
runs on QEMU's virtual clock, which also advances while the breakpoint engine
steps over a breakpoint: where the kernel waits for work rather than for a
number of ticks (task-switch, smp-timer, the process scenarios), the
breakpoint engine sees more timer runs than the plugin (measured: task-switch
19-31 against 19, smp-timer 23-88 against 20, the process scenarios 32-189
against 26-68), and with them, where processes sleep, more syscalls and
other interrupted values.
There both engines must judge runs on the same vectors, with the same
finding rules, and findings on the same registers.

Cost: ~0.9 s per scenario and engine, two at a time.  By default a fixed
sample of 20 on both architectures (broken handlers, nesting, task switch, 2
CPUs, user-mode and fetch page faults, NMI, a handler that never returns,
handler styles, processes with their own stacks and address spaces);
`pytest --all-scenarios` runs every scenario file (114, ~4.5 min on this
loaded 2-core machine: all agree, 32 of them - the process and SMP timer
scenarios - on rules and registers only).
"""

import json
import os
import shutil

import pytest

from gdbext.client import trace_plugin
from gdbext.tracking.findings import RULES

from .conftest import TARGETS, isrdbg
from .test_plugin_trace import QEMU10_BIN, pytestmark as plugin_marks  # noqa: F401

pytestmark = plugin_marks + [
    # both engines run on QEMU 10 whatever QEMU is first on PATH: once is
    # enough, in ./run test's second pass (QEMU 10 first on PATH)
    pytest.mark.skipif((trace_plugin.qemu_version("qemu-system-x86_64") or (0, 0))
                       < trace_plugin.MIN_QEMU,
                       reason="runs in the QEMU-10 pass (PATH=.qemu/10/bin:$PATH)"),
]

SCENARIOS = TARGETS / "scenarios"
IRQ_VECTORS = (32, 47)
SAMPLE = {      # (test_plugin_trace.py compares bad-ret, -stack-imbalance-8, -sse-clobber
                #  and -pf-error-code-not-popped of x86_64 already)
    "x86_64": ("bad-pop-order", "bad-red-zone", "nested-irq", "smp-timer",
               "pf-user-write-readonly", "pf-instruction-fetch", "style-rust-err",
               "double-fault", "nmi", "bad-proc-syscall-rbx"),
    "i386": ("bad-pop-order", "bad-segment-clobber", "bad-error-code-not-popped",
             "bad-stack-imbalance-4", "nested-exception", "task-switch",
             "pf-user-fetch-not-present", "style-alltraps-err", "timer", "proc-own-cr3"),
}


def scenario_files(everything, copy):
    """The scenario files, copied to ``copy`` with the kernels they name (as
    ../../build/ARCH/kernel.elf): both engines run the very same kernel."""
    chosen = [f for f in sorted(SCENARIOS.glob("*/*.toml"))
              if everything or f.stem in SAMPLE.get(f.parent.name, ())]
    files = []
    for original in chosen:
        arch = original.parent.name
        kernel = copy / "build" / arch / "kernel.elf"
        if not kernel.exists():
            kernel.parent.mkdir(parents=True)
            shutil.copyfile(TARGETS / "build" / arch / "kernel.elf", kernel)
        target = copy / "scenarios" / arch / original.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original, target)
        files.append(target)
    return files


def run_all(files, plugin, out):
    env = dict(os.environ, PATH=f"{QEMU10_BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop(trace_plugin.SWITCH_ENV, None)
    if not plugin:
        env[trace_plugin.SWITCH_ENV] = "off"
    proc = isrdbg("run", "-j", 2, "--json", out, *files, timeout=60 + 10 * len(files), env=env)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return {(s["arch"], s["name"]): s for s in json.loads(out.read_text())["scenarios"]}


def timer_runs(scenario):
    """Runs per IRQ line (the bundled kernels' PIC and LAPIC timer: 32-47)."""
    return {tuple(r["vectors"]): r["runs"] for r in scenario["per_vector"]
            if any(IRQ_VECTORS[0] <= v <= IRQ_VECTORS[1] for v in r["vectors"])}


def outcome(scenario, exact=True):
    """What both engines must agree on: everything (``exact``), or, for a
    scenario the clock paces, what was found - per vector, that it ran and
    the findings' rules; per finding, its rule, vector and registers."""
    if exact:
        per_vector = {tuple(r["vectors"]): (r["runs"], r["max_depth"], r["findings"],
                                            r["unpaired"], r["changes_not_judged"])
                      for r in scenario["per_vector"]}
        findings = sorted((f["rule"], f.get("vector"), f["message"],
                           json.dumps((f.get("details") or {}).get("registers"),
                                      sort_keys=True)) for f in scenario["findings"])
        trace = scenario["trace"] or {}
        pairing = {k: trace.get(k) for k in ("runs", "lost_runs", "unmatched", "open_runs",
                                             "exits_without_entry")}
    else:
        per_vector = {tuple(r["vectors"]): (r["runs"] > 0, sorted(r["findings"]))
                      for r in scenario["per_vector"]}
        findings = sorted({(f["rule"], f.get("vector"),
                            tuple(sorted((f.get("details") or {}).get("registers") or ())))
                           for f in scenario["findings"]}, key=str)
        pairing = None
    return {"verdict": scenario["verdict"], "exit_status": scenario["exit_status"],
            "per_vector": per_vector, "findings": findings, "pairing": pairing}


# Scenarios the clock paces whatever the counts say: processes are scheduled by
# the timer, so which exits find a run open in their address space (a first
# start is "without entry" or "unmatched") follows the timing even when the
# timer counts happen to be equal (seen: i386 proc-own-cr3, 2 against 1).
# nested-irq: where in the handler's sti window the timer's IRQ lands (the
# finding names that address) follows the clock too, which runs on while the
# plugin traces and stands still at each breakpoint stop (seen: i386, 0x101928
# against 0x101941, 10 runs each).
CLOCK_PACED = ("proc-", "bad-proc-", "smp-", "task-switch", "nested-irq")


def compared(plugin, breakpoints):
    """(plugin's outcome, breakpoints'): exact unless the clock paces the
    scenario, or the timer's counts differ (the kernel waited for work, not
    for a number of ticks)."""
    exact = timer_runs(plugin) == timer_runs(breakpoints) \
        and not plugin["name"].startswith(CLOCK_PACED)
    return outcome(plugin, exact), outcome(breakpoints, exact)


def test_every_scenario_has_the_same_runs_and_findings_under_both_engines(kernels, tmp_path,
                                                                          request):
    files = scenario_files(request.config.getoption("--all-scenarios"), tmp_path / "targets")
    assert len(files) >= 20
    plugin = run_all(files, True, tmp_path / "plugin.json")
    breakpoints = run_all(files, False, tmp_path / "breakpoints.json")
    assert sorted(plugin) == sorted(breakpoints) and len(plugin) == len(files)
    outcomes = {name: compared(plugin[name], breakpoints[name]) for name in plugin}
    assert {name: pair for name, pair in outcomes.items() if pair[0] != pair[1]} == {}
    # each engine is the one it claims; the plugin saw the runs of every
    # scenario that has some (the handlers whose exits are known: all but a
    # double fault's, which never returns)
    for name, scenario in plugin.items():
        assert scenario["verdict"] == "pass", (name, scenario["problems"])
        engine = scenario["trace"]["engine"]
        assert engine["name"] == "plugin" and engine["dropped"] == 0, (name, engine)
        if scenario["per_vector"] and name[1] != "double-fault":
            assert engine["events"] >= 2, (name, engine)
        assert breakpoints[name]["trace"]["engine"]["name"] == "breakpoints"


# Debian's Linux: its interrupts come when the guest's clock and scheduler say,
# so the two engines cannot see the same runs; what they must agree on is the
# verdict (no error or warning) and what every run shows.  The same 100 runs of /init's page faults and int $0x80 (the trace's
# limit), traced by each engine from the same point of /init's loop.
LINUX_RUNS = 100


def linux_trace(linux, breakpoints):
    from .test_linux import linux_batch, run_to
    engine = ["isr-trace engine breakpoints"] if breakpoints else []
    result = linux_batch(linux, "all",
                         run_to(linux, "worker_forever") + engine
                         + [f"isr-trace --limit {LINUX_RUNS} 14 0x80",
                            f"add-symbol-file {linux.init}", "hbreak emit",   # (inlined too)
                            "continue", "delete", "isr-trace report --json"], timeout=240)
    return result.doc("trace")


def verdict(doc):
    """What both engines must find in any window of /init's loop: runs judged
    on both vectors, and int $0x80's changes not judged for the reason that
    holds for every such run (Linux returns from it through code the save
    analysis does not reach).  Which info findings and which other reasons
    (a migration, a signal) a window holds follows the timing."""
    rows = {tuple(r["vectors"]): r for r in doc["per_vector"]}
    reasons = rows[(0x80,)]["changes_not_judged"] if (0x80,) in rows else {}
    return {"vectors": sorted(v for v, r in rows.items() if r["runs"]),
            "0x80 not judged": sorted(r for r in reasons if "does not reach the exit" in r)}


def test_linux_gets_the_same_verdict_from_both_engines(linux):
    plugin, breakpoints = linux_trace(linux, False), linux_trace(linux, True)
    assert (plugin["engine"]["name"], breakpoints["engine"]["name"]) == ("plugin", "breakpoints")
    for doc in (plugin, breakpoints):
        # runs open when the limit stopped the trace still count as they close
        assert LINUX_RUNS <= doc["runs"] <= LINUX_RUNS + 4 and doc["state"] == "stopped", \
            (doc["engine"]["name"], doc["runs"], doc["reason"])
        problems = [rule for row in doc["per_vector"] for rule in row["findings"]
                    if RULES[rule].severity != "info"]
        assert problems == [], doc
    assert verdict(plugin) == verdict(breakpoints), (verdict(plugin), verdict(breakpoints))
    assert verdict(plugin)["vectors"] == [(14,), (0x80,)] and verdict(plugin)["0x80 not judged"]
