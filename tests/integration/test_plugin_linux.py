"""isr-trace all on Debian's Linux (2 CPUs, isrdbg's busy /init) through the
QEMU trace plugin: the guest runs at its own speed, so the trace sees some
thirty times the runs the breakpoint engine sees in the same time, and judges
every one it pairs without an error or warning finding.

Iret returns to user mode from kernel entries that are no interrupt (a
`syscall` whose return takes the iret path, a new program's first instruction
after execve) have no run: no gate was taken.  They are counted apart from
unpaired runs when no open run could own them; what stays unpaired is rare.
The test checks that no exit without a run returns to kernel code (a lost
nested run would)."""

import os

import pytest

from gdbext.tracking.findings import RULES

from .test_linux import linux_batch, run_to
from .test_linux_judge import STOPPER
from .test_plugin_trace import QEMU10_BIN, pytestmark as plugin_marks  # noqa: F401

pytestmark = plugin_marks

TRACE_SECONDS = 15

# Inside GDB: the exits the tracker could not pair, by where they return.
UNPAIRED_EXITS = [
    "python",
    "import collections",
    "from gdbext.gdbside.state import TRACKER",
    "from gdbext.tracking.tracker import popped_context",
    "UNPAIRED = collections.Counter()",
    "_exit = TRACKER.exit",
    "def _observed(cpu, observation, *args, **kwargs):",
    "    run = _exit(cpu, observation, *args, **kwargs)",
    "    if run is None and observation.kind == 'iret':",
    "        popped = popped_context(observation)",
    "        UNPAIRED['unreadable' if popped is None else",
    "                 'user' if popped[1] & 3 else 'kernel'] += 1",
    "    return run",
    "TRACKER.exit = _observed",
    "end",
]


def test_linux_traced_by_the_plugin_is_judged_without_a_finding(linux, monkeypatch):
    monkeypatch.setenv("PATH", f"{QEMU10_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("ISRDBG_TRACE_PLUGIN", raising=False)
    result = linux_batch(linux, "all",
                         UNPAIRED_EXITS + run_to(linux, "worker_forever")
                         + ["isr-trace all", STOPPER % TRACE_SECONDS, "continue",
                            "python print('UNPAIRED_EXITS', dict(UNPAIRED))",
                            "isr-trace report --json", "isr-trace report"],
                         timeout=300)
    assert "isr-trace: engine: QEMU trace plugin" in result.stdout, result.stdout[-3000:]
    doc = result.doc("trace")
    problems = {rule: n for row in doc["per_vector"] for rule, n in row["findings"].items()
                if RULES[rule].severity != "info"}
    assert problems == {}, result.stdout[-5000:]
    assert doc["runs"] >= 500, result.stdout[-3000:]
    assert doc["engine"]["name"] == "plugin"
    # the ring holds seconds of events; a GDB starved of CPU (a loaded machine)
    # may still fall behind, and then every loss is counted and said, never silent
    dropped = doc["engine"]["dropped"]
    assert dropped == 0 or f"{dropped} lost to a full ring" in result.stdout
    # entries are (nearly) all paired; unpaired exits all return to user mode
    assert doc["lost_runs"] <= doc["runs"] // 100, result.stdout[-3000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("UNPAIRED_EXITS"))
    unpaired = eval(line.split(" ", 1)[1])       # a dict literal printed by GDB's Python
    report = result.stdout[-3000:]
    assert sum(unpaired.values()) == doc["unmatched_exits"] + doc["exits_without_entry"]
    # most are returns from syscalls, told apart from unpaired runs (a full
    # ring, on a starved machine, leaves exits whose entry it lost: unpaired)
    if dropped == 0:
        # An exit to kernel code with no run is a run whose entry went unseen.
        # One appeared in most traces when arming flushed every translated
        # block and a vCPU resumed before the flush applied; now GDB makes QEMU
        # drop only the added addresses' blocks while the guest is stopped
        # (plugin/isrdbg_trace.c, catch_up): no vCPU runs old code
        assert set(unpaired) <= {"user"}, (unpaired, report)
        assert doc["engine"]["unsynced_resumes"] == 0, (unpaired, report)
    assert "exits with no traced entry (returns from syscall/sysenter or from code not " \
        f"entered by an interrupt): {doc['exits_without_entry']}" in result.stdout, report
    if dropped == 0:
        assert doc["exits_without_entry"] > doc["unmatched_exits"], (unpaired, report)
        assert doc["unpaired_share"] < 0.02, report
