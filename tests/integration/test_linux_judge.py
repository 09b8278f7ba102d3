"""isr-trace on a real Linux kernel (Debian's, 2 CPUs, isrdbg's /init doing
page faults, int $0x80, syscalls, signals, fork and CPU migration): its
handlers are correct, so every run isrdbg pairs is judged without a single
error or warning finding, and what it cannot pair is counted with the reason.

Linux puts every entry from user mode on a per-CPU entry stack, copies the
registers to the task stack and returns from there, possibly on the other CPU
and much later; `int $0x80` returns getpid's result in rax; signal delivery
rewrites the user frame.  Pairing by frame address or CPU accused it of
clobbering registers (issue 14)."""

from gdbext.tracking.findings import RULES

from .test_linux import linux_batch, run_to

TRACE_SECONDS = 15

# GDB-side: after SECONDS, stop the target as Ctrl-C does (SIGINT to GDB),
# again every half second until it stopped (QEMU drops an interrupt request
# that arrives while the guest is halted at a breakpoint).
STOPPER = ("python exec(\"import os, signal, threading, time\\n"
           "stopped = threading.Event()\\n"
           "gdb.events.stop.connect(lambda event: stopped.set())\\n"
           "def stop_later():\\n"
           "    time.sleep(%d)\\n"
           "    while not stopped.is_set():\\n"
           "        os.kill(os.getpid(), signal.SIGINT)\\n"
           "        stopped.wait(0.5)\\n"
           "threading.Thread(target=stop_later, daemon=True).start()\")")


def test_linux_runs_are_judged_without_a_finding(linux):
    # the breakpoint engine (on QEMU 10 the plugin would trace: test_plugin_linux.py)
    result = linux_batch(linux, "all",
                         ["isr-trace engine breakpoints"] + run_to(linux, "worker_forever")
                         + ["isr-trace all", STOPPER % TRACE_SECONDS, "continue",
                            "isr-trace report --json", "isr-trace report"],
                         timeout=300)
    doc = result.doc("trace")
    problems = {rule: n for row in doc["per_vector"] for rule, n in row["findings"].items()
                if RULES[rule].severity != "info"}
    assert problems == {}, result.stdout
    judged = {row["vector"]: row["judged"] for row in doc["per_vector"]}
    assert doc["runs"] >= 100, judged
    # unpaired runs are counted, each with its reason, and stay rare
    assert doc["unpaired"] == doc["lost_runs"] + doc["unmatched_exits"]
    assert doc["unpaired_share"] < 0.05, (doc["unmatched"], judged)
    assert "% of runs)" in result.stdout
