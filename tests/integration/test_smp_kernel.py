"""The bundled kernels on two CPUs (qemu_targets/common/smp.c): the smp-timer
scenario through `isrdbg run` (both CPUs' timer runs judged, each on its own
stack, none accused), isrdbg's GDB side stopped on the second CPU, and the
process model on two CPUs: processes migrate, their runs are judged as on one."""

import json
import re

import pytest

from .conftest import TARGETS, batch, isrdbg, symbols

ARCHES = ["x86_64", "i386"]
# smp-timer's own count, one line per CPU (kernel output, ground truth).
HANDLED = re.compile(r"^smp-timer: CPU (\d+) handled (\d+) interrupts", re.M)
AP_BOOT_STACK_SIZE = 16384          # struct ap_stacks .boot (common/smp.c)


def cpu_stacks(kernel):
    """[lo, hi) of each CPU's boot stack, where its timer interrupts land."""
    table = symbols(kernel)
    return {0: (table["boot_stack"], table["boot_stack_top"]),
            1: (table["ap_stacks"], table["ap_stacks"] + AP_BOOT_STACK_SIZE)}


@pytest.mark.parametrize("arch", ARCHES)
def test_smp_timer_runs_on_both_cpus_are_judged(kernels, tmp_path, arch):
    """`smp = 2`: every timer interrupt of both CPUs is a judged run on the
    CPU that took it, its frame on that CPU's stack, as many per CPU as the
    kernel counted, and nothing is accused."""
    report = tmp_path / "report.json"
    proc = isrdbg("run", TARGETS / "scenarios" / arch / "smp-timer.toml", "--json", report,
                  timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scenario, = json.loads(report.read_text())["scenarios"]
    assert (scenario["verdict"], scenario["exit_status"]) == ("pass", 1)

    counted = {int(cpu): int(n) for cpu, n in HANDLED.findall("\n".join(scenario["serial_tail"]))}
    assert set(counted) == {0, 1} and min(counted.values()) >= 10
    timer, = scenario["per_vector"]
    assert timer["vectors"] == [32] and timer["runs"] == sum(counted.values())
    assert timer["findings"] == {} and timer["unpaired"] == {} and timer["max_depth"] == 0

    stacks = cpu_stacks(kernels[arch])
    per_cpu = {0: 0, 1: 0}
    for run in scenario["runs"]:
        lo, hi = stacks[run["cpu"]]
        assert lo <= int(run["frame"], 16) < hi, run
        assert run["exit"]["kind"] == "iret" and run["changes"] == [] and run["findings"] == []
        per_cpu[run["cpu"]] += 1
    assert per_cpu == counted
    assert not [f for f in scenario["findings"] if f.get("severity") in ("error", "warning")]
    assert scenario["static"]["handlers"] > 0          # every gate checked at scenario_start
    assert not [f for f in scenario["static"]["findings"]
                if f.get("severity") in ("error", "warning")]


@pytest.mark.parametrize("arch", ARCHES)
def test_stopped_in_the_timer_handler_of_the_second_cpu(kernels, arch):
    """Stopped in the vector-32 handler on CPU 1 while isr-trace records:
    isr-status and isr-frame speak of CPU 1, its open run and its frame."""
    result = batch(kernels[arch], "scenario=smp-timer ticks=5",
                   ["isr-trace 32", "break smp_timer_tick thread 2", "continue",
                    "isr-status --json", "isr-frame --json"], extra=["--smp", 2])
    assert result.returncode == 0, result.stderr
    status = result.doc("status")
    assert (status["cpu"], status["handling"], status["depth"]) == (1, [32], 1)
    frame = result.doc("frame")
    lo, hi = cpu_stacks(kernels[arch])[1]
    assert frame["cpu"] == 1 and frame["vector"] == 32
    assert lo <= int(str(frame["address"]), 0) < hi, frame


# -- the process model on two CPUs (scenarios/<arch>/*proc-*-smp2.toml) ------------------

PROBLEM = ("error", "warning")
NPROC, ROUNDS = 3, 6                    # common/proc.h, proc.c
MIGRATIONS = re.compile(r"^proc: .*, (\d+) migrations,", re.M)
SAMPLE = ("proc-one-space", "bad-proc-syscall-rbx")


@pytest.fixture(scope="module")
def smp2(kernels, tmp_path_factory):
    """A sample of the 2-CPU process-model files (all of them run in
    test_process_model.py), both arches, two at a time:
    ({(arch, kernel scenario): scenario}, the isrdbg run)."""
    files = [TARGETS / "scenarios" / arch / f"{name}-smp2.toml"
             for arch in ARCHES for name in SAMPLE]
    out = tmp_path_factory.mktemp("smp2") / "report.json"
    proc = isrdbg("run", *files, "-j", 2, "--json", out, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    scenarios = json.loads(out.read_text())["scenarios"]
    return {(s["arch"], s["name"][:-len("-smp2")]): s for s in scenarios}, proc


def serial(scenario):
    return "\n".join(scenario["serial_tail"])


def test_processes_migrate_and_runs_are_judged_as_on_one_cpu(smp2):
    """Both CPUs ran processes that moved between them (the kernel's count),
    and every file's expectation held: no error or warning on the correct
    variant, exactly the lost register on the broken one."""
    scenarios, proc = smp2
    assert set(scenarios) == {(arch, name) for arch in ARCHES for name in SAMPLE}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for key, scenario in scenarios.items():
        assert scenario["verdict"] == "pass", (key, scenario["problems"])
        text = serial(scenario)
        assert "smp: CPU 1 (APIC ID 1) online" in text, key
        migrations = MIGRATIONS.search(text)
        assert migrations and int(migrations.group(1)) > 0, (key, text)


@pytest.mark.parametrize("arch", ARCHES)
def test_correct_process_model_on_2_cpus_has_no_problem(smp2, arch):
    """Processes preempted or put to sleep on one CPU resume on the other:
    every run pairs but the exit syscalls, none is accused, nothing nests."""
    scenarios, _ = smp2
    scenario = scenarios[(arch, "proc-one-space")]
    assert scenario["exit_status"] == 1
    assert [f for f in scenario["findings"] if f["severity"] in PROBLEM] == []
    assert [f for f in scenario["static"]["findings"] if f["severity"] in PROBLEM] == []
    rows = {row["vector"]: row for row in scenario["per_vector"]}
    assert rows[32]["runs"] >= NPROC * ROUNDS and rows[0x80]["runs"] >= NPROC * ROUNDS * 3
    assert rows[32]["max_depth"] == 0 and rows[0x80]["max_depth"] == 0
    trace = scenario["trace"]
    assert trace["lost_runs"] == 0 and trace["open_runs"] == NPROC


@pytest.mark.parametrize("arch", ARCHES)
def test_every_syscall_run_on_2_cpus_is_judged(smp2, arch):
    """bad-proc-syscall-rbx on 2 CPUs: each of the 54 returning syscalls
    (sleep and yield ones included, which return on whichever CPU picked the
    process up) is one judged run with the lost rbx/ebx, no more, no less."""
    scenarios, _ = smp2
    scenario = scenarios[(arch, "bad-proc-syscall-rbx")]
    syscall = next(row for row in scenario["per_vector"] if row["vector"] == 0x80)
    assert syscall["runs"] == NPROC * ROUNDS * 3
    assert syscall["findings"].get("clobbered-register") == NPROC * ROUNDS * 3
    register = {"x86_64": "rbx", "i386": "ebx"}[arch]
    lost = [f for f in scenario["findings"] if f["rule"] == "clobbered-register"]
    assert lost and all(f["vector"] == 0x80 and register in f["message"] for f in lost), lost[:3]
