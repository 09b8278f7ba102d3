"""The bundled kernels on two CPUs (qemu_targets/common/smp.c): the smp-timer
scenario through `isrdbg run` (both CPUs' timer runs judged, each on its own
stack, none accused) and isrdbg's GDB side stopped on the second CPU."""

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
