"""isrdbg on a target that runs under KVM: breakpoints are hardware ones by
themselves (the target says `kvm support: enabled`), arming counts the four
debug registers, and frames decode as under TCG.

Only scenarios this machine's KVM runs are used: exceptions the CPU raises
itself.  Software interrupts (`int N`, int3) and the i386 kernel do not run
under it (qemu_targets/README.md, "Under KVM").  Software breakpoints are never
hit there, so each run stops at scenario_start with `hbreak`."""

import json
import re

import pytest

from gdbext.client.boot import kvm_problem

from .conftest import batch, isrdbg, symbols, users_qemu
from .test_frame import X86_64

pytestmark = pytest.mark.skipif(kvm_problem() is not None,
                                reason=f"KVM not usable: {kvm_problem()}")

TIMEOUT = 150       # KVM boots in up to ~20 s on a loaded nested host
START = ["hbreak scenario_start", "continue"]


def _kvm(kernels, scenario, commands, start=START):
    result = batch(kernels["x86_64"], f"scenario={scenario}", start + commands,
                   timeout=TIMEOUT, extra=("--kvm",))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _try(command):
    """A GDB command line that runs ``command`` and prints its error instead of
    ending the batch (a refused command must change nothing: what follows checks)."""
    return ("python exec(\"try:\\n gdb.execute('" + command + "')\\n"
            "except gdb.error as e:\\n print('refused:', e)\")")


@pytest.mark.parametrize("scenario", ["divide-error", "gp-selector", "pf-write-not-present",
                                      "pf-user-write-readonly"])
def test_frame_at_entry_under_kvm(kernels, scenario):
    vector, error_code, rip_symbol, cr2_symbol, ring, switch = X86_64[scenario]
    syms = symbols(kernels["x86_64"])
    result = _kvm(kernels, scenario, [f"isr-break {vector}", "info isr-breakpoints", "continue",
                                      "isr-frame --json", "print $isr_error_code"])
    # the breakpoint is a hardware one, and isrdbg says why
    row = next(line for line in result.stdout.splitlines() if line.split()[:1] == [str(vector)])
    assert row.split()[-2:] == ["hardware:", "KVM"], row
    doc = result.doc("frame")
    assert (doc["source"], doc["vector"], doc["bits"]) == ("entry", vector, 64)
    assert int(doc["rip"], 16) == syms[rip_symbol]
    if error_code is None:
        assert doc["error_code"] is None
    else:
        assert int(doc["error_code"]["value"], 16) == error_code
    cs = 0x1B if ring == 3 else 0x08
    assert (doc["cs"]["value"], doc["interrupted_cpl"]) == (cs, ring)
    assert doc["stack_switch"] == switch
    assert doc["ss"]["value"] == (0x23 if ring == 3 else 0x10)
    if cr2_symbol:
        assert int(doc["cr2"], 16) == syms[cr2_symbol]
    printed = [line for line in result.stdout.splitlines() if line.startswith("$")]
    assert printed[-1].split(" = ")[1] == ("void" if error_code is None else str(error_code))


def test_vector_armed_before_the_idt_is_loaded_arms_at_the_lidt(kernels):
    """From the reset state the vector is pending; a hardware breakpoint after
    the kernel's lidt arms it (a software one would never be hit here)."""
    syms = symbols(kernels["x86_64"])
    result = _kvm(kernels, "divide-error", ["isr-break 0", "continue", "isr-frame --json"],
                  start=[])
    assert "vector 0 #DE Divide Error: pending (IDT not loaded yet" in result.stdout
    doc = result.doc("frame")
    assert (doc["vector"], int(doc["rip"], 16)) == (0, syms["fault_insn_divide_error"])


def test_arming_beyond_the_debug_registers_is_refused_and_changes_nothing(kernels):
    result = _kvm(kernels, "divide-error",
                  ["isr-break 0", _try("isr-watch 13 14 32"), "info isr-breakpoints --json",
                   "continue", "isr-frame --json"])
    refused = [line for line in result.stdout.splitlines() if line.startswith("refused:")]
    assert len(refused) == 1, result.stdout
    found = re.fullmatch(r"refused: isr-watch: KVM gives 4 hardware breakpoints; arming vectors "
                         r"0,13-14,32 needs (\d+) \(4 entries \+ (\d+) exits \+ 1 other hardware "
                         r"breakpoint\); arm fewer vectors, or run QEMU with TCG", refused[0])
    assert found, refused[0]
    assert int(found.group(1)) == 4 + int(found.group(2)) + 1
    # nothing changed: vector 0 alone is armed, and still stops
    armed = result.doc("breakpoints")["vectors"]
    assert [(v["vector"], v["state"], v["hardware"], v["hardware_reason"]) for v in armed] == \
        [(0, "armed", True, "KVM")]
    assert result.doc("frame")["vector"] == 0


def test_watch_catches_a_broken_handler_under_kvm(kernels):
    """bad-pf-error-code-not-popped: a real #PF whose handler irets without
    popping the error code.  One entry and one exit: two debug registers."""
    syms = symbols(kernels["x86_64"])
    result = _kvm(kernels, "bad-pf-error-code-not-popped",
                  ["delete 1", "isr-watch 14", "continue", "isr-diff --json"])
    run = result.doc("diff")["runs"][0]
    assert run["vectors"] == [14]
    assert [f["rule"] for f in run["findings"]] == ["error-code-not-popped"]
    finding = run["findings"][0]
    assert int(finding["address"], 16) == syms["bug_pf_error_code_not_popped"]
    assert int(finding["details"]["rsp"], 16) + 8 == int(finding["details"]["expected_rsp"], 16)


def test_kvm_is_read_from_a_qemu_the_user_started(kernels, tmp_path):
    """No isrdbg launcher option says KVM here: the target does."""
    with users_qemu(kernels["x86_64"], tmp_path, "scenario=divide-error",
                    ("-accel", "kvm")) as port:
        proc = isrdbg("gdb", kernels["x86_64"], "--attach", f"127.0.0.1:{port}", "--batch",
                      "--timeout", TIMEOUT, "-ex", "isr-break 0", "-ex", "continue",
                      "-ex", "info isr-breakpoints --json", timeout=TIMEOUT + 30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = next(json.loads(line) for line in proc.stdout.splitlines()
               if line.startswith('{"schema"') and '"breakpoints"' in line)
    assert [(v["vector"], v["hardware"], v["hardware_reason"]) for v in doc["vectors"]] == \
        [(0, True, "KVM")]
    assert "vector 0 #DE Divide Error on CPU 0, handler isr_divide_error" in proc.stdout
