"""The bundled kernels' process model (qemu_targets/README.md "Process model")
through `isrdbg run`: processes with 4 KiB kernel stacks side by side,
syscalls that return through the trapframe, sleep, exec, signal frames,
timer preemption with a switch of kernel stacks (and of CR3), and on x86_64
a Linux-like per-CPU entry stack.  The correct variants must get no error or
warning; each broken one exactly its finding, on the run it belongs to."""

import json
import re

import pytest

from .conftest import ROOT, batch, isrdbg

SCENARIOS = ROOT / "qemu_targets" / "scenarios"
PROBLEM = ("error", "warning")
# what each arch calls the registers the broken variants lose
REGS = {"x86_64": {"result": "rax", "syscall": "rbx", "switch": "r11", "gprs": 15, "word": 8},
        "i386": {"result": "eax", "syscall": "ebx", "switch": "ecx", "gprs": 8, "word": 4}}
SWITCH = {"x86_64": "bad-proc-switch-r11", "i386": "bad-proc-switch-ecx"}
FIRST_PID, NPROC, ROUNDS = 2, 3, 6
SYS_EXEC = 4            # qemu_targets/common/proc.h
MISSED_ENTRIES = 2      # tolerated with the breakpoint engine on 2 CPUs (see below)


SMP_SUFFIX = "-smp2"     # the same scenario on 2 CPUs (smp = 2): processes migrate


@pytest.fixture(scope="module", params=[("x86_64", 1), ("i386", 1), ("x86_64", 2), ("i386", 2)],
                ids=lambda p: f"{p[0]}-{p[1]}cpu")
def report(request, kernels, tmp_path_factory):
    """Every proc scenario file of one arch on 1 or 2 CPUs, two at a time:
    (arch, cpus, {scenario name: scenario}, the `isrdbg run` process)."""
    arch, cpus = request.param
    files = [f for f in sorted((SCENARIOS / arch).glob("*proc-*.toml"))
             if f.stem.endswith(SMP_SUFFIX) == (cpus == 2)]
    if not files:
        pytest.skip(f"no {arch} proc scenario files for {cpus} CPUs")
    out = tmp_path_factory.mktemp(f"proc-{arch}-{cpus}") / "report.json"
    proc = isrdbg("run", *files, "-j", 2, "--json", out, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    named = {s["name"].removesuffix(SMP_SUFFIX): s for s in doc["scenarios"]}
    return arch, cpus, named, proc


def run_findings(scenario, rule=None):
    return [f for f in scenario["findings"] if rule is None or f["rule"] == rule]


def per_vector(scenario, vector):
    return next(v for v in scenario["per_vector"] if v["vector"] == vector)


def static_problems(scenario):
    return [f for f in scenario["static"]["findings"] if f["severity"] in PROBLEM]


def test_every_proc_scenario_as_expected(report):
    arch, cpus, scenarios, proc = report
    names = {"proc-one-space", "proc-own-cr3", "proc-same-va", "proc-preemptible",
             "bad-proc-syscall-rbx", SWITCH[arch],
             "bad-proc-other-trapframe"} | ({"proc-entry-stack"} if arch == "x86_64" else set())
    assert set(scenarios) == names
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, scenario in scenarios.items():
        assert scenario["verdict"] == "pass", (name, scenario["problems"])


@pytest.mark.parametrize("name", ["proc-one-space", "proc-own-cr3", "proc-same-va",
                                  "proc-preemptible", "proc-entry-stack"])
def test_correct_process_model_has_no_problem(report, name):
    arch, cpus, scenarios, _ = report
    if name not in scenarios:
        pytest.skip(f"{name} is x86_64 only")
    scenario = scenarios[name]
    assert scenario["exit_status"] == 1
    assert [f for f in run_findings(scenario) if f["severity"] in PROBLEM] == []
    assert static_problems(scenario) == []
    timer, syscall = per_vector(scenario, 32), per_vector(scenario, 0x80)
    # every round of every process is preempted, and makes 3 syscalls
    assert timer["runs"] >= NPROC * ROUNDS
    assert syscall["runs"] >= NPROC * ROUNDS * 3
    trace = scenario["trace"]
    if name != "proc-entry-stack":
        # every run paired but the exit syscalls (which never return); the
        # exits no run owns are at most the processes' first starts - and, with
        # breakpoints on 2 CPUs, an entry GDB missed (a known gap of that
        # engine, seen once in ~10 suite runs: its exit is unmatched, never judged)
        assert trace["lost_runs"] == 0 and trace["open_runs"] == NPROC
        missed = MISSED_ENTRIES if cpus == 2 and trace["engine"]["name"] == "breakpoints" else 0
        assert trace["unmatched_exits"] + trace["exits_without_entry"] <= NPROC + missed
    # nothing nests but the timer in proc-preemptible's syscalls: every other
    # entry comes from ring 3 or the idle loop, whatever the open runs on the
    # kernel stacks next door; and no handler is said to enable interrupts
    assert timer["max_depth"] == (1 if name == "proc-preemptible" else 0)
    assert syscall["max_depth"] == 0
    assert run_findings(scenario, "interrupts-enabled-in-handler") == []
    if name == "proc-preemptible":
        [line] = [line for line in scenario["serial_tail"]
                  if line.startswith("proc: ") and line.endswith(" in kernel code")]
        assert int(re.search(r"(\d+) preemptions", line).group(1)) > 0
    [line] = [line for line in scenario["serial_tail"]
              if line.startswith("proc: ") and "migrations" in line]
    migrations = int(re.search(r"(\d+) migrations", line).group(1))
    if cpus == 1:
        assert migrations == 0
    else:   # processes resumed on the other CPU, and both CPUs ran handlers
        assert migrations > 0 and {r["cpu"] for r in scenario["runs"]} == {0, 1}


@pytest.mark.parametrize("name", ["proc-one-space", "proc-own-cr3", "proc-same-va",
                                  "proc-preemptible"])
def test_syscall_results_exec_and_signals_are_information(report, name):
    arch, cpus, scenarios, _ = report
    scenario = scenarios[name]
    result = REGS[arch]["result"]
    changed = run_findings(scenario, "context-changed-by-kernel")
    # getpid: the result register restored from its own slot, holding a pid
    getpid = [f for f in changed if f["vector"] == 0x80 and
              int(f["details"]["registers"].get(result, ["0", "0"])[1], 16)
              in range(FIRST_PID, FIRST_PID + NPROC)
              and int(f["details"]["registers"][result][0], 16) == 1]
    assert len(getpid) >= NPROC * ROUNDS - ROUNDS     # the exec'd image's rounds too
    # exec: one SYS_EXEC run whose registers came back zero, at a new RIP and
    # RSP (registers that were zero already do not change: how many varies;
    # a sigreturn right after the exec restores zeros too, but is no exec)
    execs = [f for f in changed if f["vector"] == 0x80 and
             f["details"]["registers"].get(result, [None])[0] == hex(SYS_EXEC) and
             len(f["details"]["registers"]) >= REGS[arch]["gprs"] // 2 and
             all(after == "0x0" for _, after in f["details"]["registers"].values())]
    assert len(execs) == 1, [f["details"]["registers"] for f in changed if f["vector"] == 0x80]
    frames = run_findings(scenario, "frame-modified")
    assert any(f["run"]["run"] == execs[0]["run"]["run"] for f in frames)
    # signals: timer runs that resume elsewhere with the signal number in A
    signals = [f for f in changed if f["vector"] == 32 and
               f["details"]["registers"].get(result, [None, None])[1] == "0xa"]
    assert signals and all(any(g["run"]["run"] == f["run"]["run"] for g in frames)
                           for f in signals)


def test_entry_stack_copies_are_not_judged(report):
    arch, cpus, scenarios, _ = report
    if arch != "x86_64":
        pytest.skip("the per-CPU entry stack is x86_64 only")
    scenario = scenarios["proc-entry-stack"]
    assert run_findings(scenario) == []
    # every syscall returns through the task stack's copy: changes counted, not judged
    syscall = per_vector(scenario, 0x80)
    assert set(syscall["changes_not_judged"]) == {
        "the run returned through a copy of its frame on another stack"}
    # all ring-3 entries on a CPU put their frame at the same address: its entry stack's
    frames = {(r["cpu"], r["frame"]) for r in scenario["runs"] if r["interrupted"]["cs"] & 3}
    assert len(frames) == len({frame for _, frame in frames}) == cpus


def test_syscall_path_that_loses_rbx(report):
    arch, cpus, scenarios, _ = report
    scenario = scenarios["bad-proc-syscall-rbx"]
    lost, regs = REGS[arch]["syscall"], REGS[arch]
    errors = [f for f in run_findings(scenario) if f["severity"] in PROBLEM]
    assert {(f["rule"], f["vector"]) for f in errors} == {("clobbered-register", 0x80)}
    assert len(errors) == NPROC * ROUNDS * 3                # every syscall that returns
    for finding in errors:
        assert set(finding["details"]["registers"]) == {lost}
        # what it holds instead: the trapframe address (the stub's pointer)
        trapframe = int(finding["run"]["frame"], 16) - regs["gprs"] * regs["word"]
        assert int(finding["details"]["registers"][lost][1], 16) == trapframe
    # the result itself came back right: information, not an error
    assert all(set(f["details"]["registers"]) == {regs["result"]}
               for f in run_findings(scenario, "context-changed-by-kernel")
               if f["vector"] == 0x80 and lost not in f["details"]["registers"])
    assert {(f["rule"], f["vector"], tuple(f["details"]["registers"]))
            for f in static_problems(scenario)} == {("clobbered-register", 0x80, (lost,))}


def test_timer_path_that_loses_a_register_only_when_it_switches(report):
    arch, cpus, scenarios, _ = report
    scenario = scenarios[SWITCH[arch]]
    lost = REGS[arch]["switch"]
    errors = [f for f in run_findings(scenario) if f["severity"] in PROBLEM]
    assert errors and {(f["rule"], f["vector"]) for f in errors} == {("clobbered-register", 32)}
    assert all(set(f["details"]["registers"]) == {lost} for f in errors)
    # runs that switched nothing returned every register
    assert per_vector(scenario, 32)["runs"] > len(errors)


def test_a_write_to_another_process_trapframe_shows_on_that_process_run(report):
    arch, cpus, scenarios, _ = report
    scenario = scenarios["bad-proc-other-trapframe"]
    victim = REGS[arch]["syscall"]
    assert [f for f in run_findings(scenario) if f["severity"] in PROBLEM] == []
    written = [f for f in run_findings(scenario, "context-changed-by-kernel")
               if victim in f["details"]["registers"]]
    assert len(written) == 1
    [finding] = written
    # the sleeping process's sleep(2): B went in as 2 and comes back as 0xdead,
    # restored from its own slot, which getpid of another process rewrote
    assert finding["vector"] == 0x80
    assert finding["details"]["registers"][victim] == ["0x2", "0xdead"]
    assert victim in finding["details"]["slots"]


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_status_knows_which_handler_runs_beside_sleeping_processes(kernels, arch):
    """Stopped in the idle loop, every process waits inside a syscall run (asleep,
    or exited) whose frame tops a kernel stack next to the others: no handler
    runs on the CPU. Stopped in a syscall's C half: exactly that one runs."""
    result = batch(kernels[arch], "scenario=proc-one-space", [
        "break scenario_start", "continue", "isr-trace all",
        "break proc_idle_hlt", "continue", "isr-status --json", "delete",
        "break proc_syscall", "continue", "isr-status --json"], timeout=120)
    idle, syscall = result.docs("status")
    assert (idle["handling"], idle["depth"], idle["open_runs"]) == ([], 0, NPROC)
    assert (syscall["handling"], syscall["depth"]) == ([0x80], 1)
    assert idle["findings"]["error"] == syscall["findings"]["error"] == 0


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_diff_at_the_syscall_return_names_the_trapframe_slot(kernels, arch):
    """At the iret of the first getpid: the result register changed (1 -> a pid),
    restored from the trapframe slot the stub pushed it to first, right below
    the CPU frame - the slot the save analysis proves, named by address."""
    regs = REGS[arch]
    pops = regs["gprs"] if arch == "x86_64" else 1          # POP_GPRS / popal
    result = batch(kernels[arch], "scenario=proc-one-space", [
        "break scenario_start", "continue", "isr-break 0x80", "continue",
        "break proc_trapret", "continue", f"stepi {pops}", "isr-diff --json"], timeout=120)
    [run] = result.doc("diff")["runs"]
    assert run["vector"] == 0x80 and run["identity"] == "context"
    # the first process at proc_trapret after the first syscall entry may be
    # another one than the first caller (the timer switches): its own pid
    pids = [hex(pid) for pid in range(FIRST_PID, FIRST_PID + NPROC)]
    assert [dict(c, exit=None) for c in run["changes"]] == [
        {"register": regs["result"], "group": "general", "entry": "0x1", "exit": None}]
    assert run["changes"][0]["exit"] in pids, run["changes"]
    [finding] = run["findings"]
    assert finding["rule"] == "context-changed-by-kernel"
    frame = int(run["frame"], 16)
    assert finding["details"]["slots"] == {regs["result"]: frame - regs["word"]}
