"""isr-trace on a real Linux kernel (Debian's, 2 CPUs, isrdbg's /init doing
page faults, int $0x80, syscalls, signals, fork and CPU migration): its
handlers are correct, so every run isrdbg pairs is judged without a single
error or warning finding, and what it cannot pair is counted with the reason.

Linux puts every entry from user mode on a per-CPU entry stack, copies the
registers to the task stack and returns from there, possibly on the other CPU
and much later; `int $0x80` returns getpid's result in rax; signal delivery
rewrites the user frame.  Pairing by frame address or CPU accused it of
clobbering registers (issue 14)."""

from gdbext.findings import RULES

from .conftest import symbols
from .test_linux import linux_batch, run_to

# Loops of /init's worker traced: each does user page faults, int $0x80,
# syscalls, a signal with a fix-up and a fork (~0.3 s each under TCG).
LOOPS = 40


def test_linux_runs_are_judged_without_a_finding(linux):
    fork = symbols(linux.init)["exercise_fork"]
    result = linux_batch(linux, "all",
                         run_to(linux, "worker_forever")
                         + ["isr-trace all", f"hbreak *{fork:#x}", f"ignore 2 {LOOPS}",
                            "continue", "isr-trace report --json", "isr-trace report"],
                         timeout=400)
    assert result.returncode == 0, result.stderr
    doc = result.doc("trace")
    problems = {rule: n for row in doc["per_vector"] for rule, n in row["findings"].items()
                if RULES[rule].severity != "info"}
    assert problems == {}, result.stdout
    judged = {row["vector"]: row["judged"] for row in doc["per_vector"]}
    assert doc["runs"] >= 150, judged
    # user page faults and int $0x80 (getpid) come back through the task stack
    assert judged.get(14, 0) >= LOOPS and judged.get(0x80, 0) >= LOOPS, judged
    # unpaired runs are counted, each with its reason, and stay rare
    assert doc["unpaired"] == doc["lost_runs"] + doc["unmatched_exits"]
    assert doc["unpaired_share"] < 0.05, doc["unmatched"]
    assert "% of runs)" in result.stdout
