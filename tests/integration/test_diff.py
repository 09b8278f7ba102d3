"""isr-watch / isr-diff on the bundled kernels: every broken handler yields
exactly its rule (registers and byte counts checked against the kernel's own
register canaries), every correct handler yields no problem at all."""

import re

import pytest

from .conftest import batch, symbols

WATCH_ALL = ["isr-watch --no-stop all", "break scenario_done", "continue",
             "isr-diff --last 64 --json"]
CANARY = re.compile(r"canary FAIL (\w+) changed (?:0x)?([0-9a-f]+) -> (?:0x)?([0-9a-f]+)")


def watch(kernels, arch, scenario, tmp_path, extra="", before=()):
    serial = tmp_path / "serial.log"
    result = batch(kernels[arch], f"scenario={scenario} {extra}".strip(),
                   list(before) + WATCH_ALL, extra=["--serial", serial])
    assert result.returncode == 0, result.stderr
    return result.doc("diff")["runs"], serial.read_text()


def problems(runs):
    return [(run["vectors"], f["rule"]) for run in runs for f in run["findings"]
            if f["severity"] != "info"]


def kernel_canaries(serial):
    return {name: (int(a, 16), int(b, 16)) for name, a, b in CANARY.findall(serial)}


def finding_registers(finding):
    return {name: (int(a, 16), int(b, 16))
            for name, (a, b) in finding["details"]["registers"].items()}


# scenario -> (vector, rule, registers the kernel's canaries also report)
REGISTER_BUGS = {
    "bad-pop-order": (0x50, "clobbered-register"),
    "bad-clobber-rbx": (0x52, "clobbered-register"),
    "bad-clobber-rax": (0x53, "clobbered-register"),
    "bad-scratch-not-saved": (0x54, "clobbered-register"),
    "bad-sse-clobber": (0x55, "simd-clobbered"),
    "bad-segment-clobber": (0x56, "segment-clobbered"),
}
REGISTER_CASES = [(arch, name) for arch in ("x86_64", "i386") for name in REGISTER_BUGS]


@pytest.mark.parametrize("arch,scenario", REGISTER_CASES, ids=[f"{a}-{s}" for a, s in REGISTER_CASES])
def test_register_bugs_match_the_kernels_canaries(kernels, tmp_path, arch, scenario):
    vector, rule = REGISTER_BUGS[scenario]
    runs, serial = watch(kernels, arch, scenario, tmp_path)
    assert problems(runs) == [([vector], rule)]
    finding = next(f for run in runs for f in run["findings"] if f["rule"] == rule)
    assert finding["vector"] == vector and finding["severity"] == "error"
    expected = kernel_canaries(serial)
    assert expected, serial
    assert finding_registers(finding) == expected


FRAME_PATH_CASES = [("x86_64", "bad-sse-clobber"), ("x86_64", "bad-segment-clobber"),
                    ("i386", "bad-clobber-rbx")]


@pytest.mark.parametrize("arch,scenario", FRAME_PATH_CASES,
                         ids=[f"{a}-{s}" for a, s in FRAME_PATH_CASES])
def test_registers_read_through_frames_give_the_same_findings(kernels, tmp_path, arch,
                                                               scenario):
    """`set isr register-packet off`: the entry and exit read GDB's frame 0
    instead of a `g` packet (what happens on a target that is no remote stub);
    the findings and their values are the same."""
    vector, rule = REGISTER_BUGS[scenario]
    runs, serial = watch(kernels, arch, scenario, tmp_path,
                         before=["set isr register-packet off"])
    assert problems(runs) == [([vector], rule)]
    finding = next(f for run in runs for f in run["findings"] if f["rule"] == rule)
    assert finding_registers(finding) == kernel_canaries(serial)


EXPECTED_NAMES = {
    ("x86_64", "bad-pop-order"): {"rbx", "r12"}, ("i386", "bad-pop-order"): {"ebx", "esi"},
    ("x86_64", "bad-scratch-not-saved"): {"rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"},
    ("i386", "bad-scratch-not-saved"): {"eax", "ecx", "edx"},
    ("x86_64", "bad-clobber-rbx"): {"rbx"}, ("i386", "bad-clobber-rbx"): {"ebx"},
    ("x86_64", "bad-clobber-rax"): {"rax"}, ("i386", "bad-clobber-rax"): {"eax"},
}


@pytest.mark.parametrize("key", sorted(EXPECTED_NAMES), ids=lambda k: f"{k[0]}-{k[1]}")
def test_clobbered_register_names(kernels, tmp_path, key):
    arch, scenario = key
    runs, _ = watch(kernels, arch, scenario, tmp_path)
    finding = next(f for run in runs for f in run["findings"])
    assert set(finding["details"]["registers"]) == EXPECTED_NAMES[key]


# scenario -> (vector, rule, bytes below the saved RIP or None, exit symbol)
STACK_BUGS = {
    "bad-error-code-not-popped": (13, "error-code-not-popped", None, "bug_error_code_not_popped"),
    "bad-pf-error-code-not-popped": (14, "error-code-not-popped", None, "bug_pf_error_code_not_popped"),
    "bad-stack-imbalance-8": (0x57, "stack-imbalance-at-iret", -8, "bug_stack_imbalance_8"),
    "bad-stack-imbalance-4": (0x58, "stack-imbalance-at-iret", -4, None),
    "bad-ret": (0x51, "ret-instead-of-iret", None, "bug_ret"),
}
STACK_CASES = [(arch, name) for arch in ("x86_64", "i386") for name in STACK_BUGS]


@pytest.mark.parametrize("arch,scenario", STACK_CASES, ids=[f"{a}-{s}" for a, s in STACK_CASES])
def test_stack_bugs(kernels, tmp_path, arch, scenario):
    vector, rule, delta, label = STACK_BUGS[scenario]
    runs, _ = watch(kernels, arch, scenario, tmp_path)
    first = runs[0]
    assert first["vectors"] == [vector]
    assert [f["rule"] for f in first["findings"]] == [rule]
    finding = first["findings"][0]
    if delta is not None:
        assert finding["details"]["bytes"] == delta
    if label is not None:
        assert int(finding["address"], 16) == symbols(kernels[arch])[label]
    if rule == "error-code-not-popped":
        assert int(finding["details"]["rsp"], 16) + (8 if arch == "x86_64" else 4) == \
            int(finding["details"]["expected_rsp"], 16)


CORRECT = ["divide-error", "breakpoint", "invalid-opcode", "gp-selector", "np-gate",
           "pf-read-not-present", "pf-write-not-present", "pf-write-readonly",
           "pf-user-read-supervisor", "pf-user-write-readonly", "pf-user-read-not-present",
           "user-breakpoint", "int14", "nmi", "timer", "style-gcc-o0", "style-gcc-o0-err",
           "style-gcc-o2", "style-gcc-o2-err", "style-clang", "style-clang-err",
           "style-alltraps", "style-alltraps-err", "bad-red-zone", "nested-exception",
           "nested-irq", "task-switch", "pf-reserved-bit", "pf-instruction-fetch",
           "style-rust", "style-rust-err"]
X86_64_ONLY = {"bad-red-zone", "pf-reserved-bit", "pf-instruction-fetch", "style-rust",
               "style-rust-err"}
CORRECT_CASES = [("x86_64", s) for s in CORRECT] + [("i386", s) for s in CORRECT
                                                    if s not in X86_64_ONLY]


@pytest.mark.parametrize("arch,scenario", CORRECT_CASES, ids=[f"{a}-{s}" for a, s in CORRECT_CASES])
def test_correct_handlers_have_no_findings(kernels, tmp_path, arch, scenario):
    """A false positive is a bug: every run of every correct handler is clean."""
    runs, serial = watch(kernels, arch, scenario, tmp_path, "ticks=3")
    if "not built" in serial:
        pytest.skip(serial.strip().splitlines()[-1])
    assert runs, "no handler run was recorded"
    assert problems(runs) == []
    infos = {f["rule"] for run in runs for f in run["findings"]}
    assert infos <= {"frame-modified", "interrupts-enabled-in-handler"}


def _by_vector(runs):
    found = {}
    for run in runs:
        found.setdefault(run["vectors"][0], []).append(run)
    return found


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_nested_exception_pairs(kernels, tmp_path, arch):
    runs, _ = watch(kernels, arch, "nested-exception", tmp_path)
    runs = _by_vector(runs)
    assert [r["depth"] for r in runs[3]] == [0] and [r["depth"] for r in runs[6]] == [1]
    assert runs[6][0]["sequence"] > runs[3][0]["sequence"]     # entered later
    assert [f["rule"] for f in runs[6][0]["findings"]] == ["frame-modified"]  # ud2 fix-up


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_irq_inside_a_handler(kernels, tmp_path, arch):
    runs, _ = watch(kernels, arch, "nested-irq", tmp_path, "ticks=3")
    runs = _by_vector(runs)
    assert len(runs[32]) >= 3 and {r["depth"] for r in runs[32]} == {1}
    outer = runs[0x30][0]
    assert [f["rule"] for f in outer["findings"]] == ["interrupts-enabled-in-handler"]


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_task_switch_pairs_every_run(kernels, tmp_path, arch):
    runs, serial = watch(kernels, arch, "task-switch", tmp_path)
    assert "PASS task-switch" in serial
    timer = _by_vector(runs)[32]
    assert len(timer) >= 19 and {r["depth"] for r in timer} == {0}
    assert problems(runs) == []
    # iret on the other thread's stack: frames of both threads were paired
    frames = {int(r["frame"], 16) >> 12 for r in timer}
    assert len(frames) >= 2


def test_watch_stops_on_a_finding(kernels):
    result = batch(kernels["x86_64"], "scenario=bad-clobber-rbx",
                   ["isr-watch 0x52", "continue", "isr-diff --json"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "handler run #1: vector 82 Interrupt on CPU 0" in out
    assert "error clobbered-register: registers changed: rbx 0xb0b0b0b0b0b0b0b1 -> 0xdead" in out
    assert "info isr-" not in out
    run = result.doc("diff")["runs"][0]
    assert run["exit"]["kind"] == "iret"


def test_watch_does_not_stop_on_a_correct_handler(kernels):
    result = batch(kernels["x86_64"], "scenario=style-gcc-o2",
                   ["isr-watch all", "continue"])
    assert "isrdbg: the target exited: QEMU status 1 (isa-debug-exit value 0, or a QEMU error)" in result.stdout.splitlines()    # ran to the kernel's exit
    assert "handler run #" not in result.stdout


def test_diff_inside_a_handler_says_where_registers_are_saved(kernels):
    result = batch(kernels["x86_64"], "scenario=bad-scratch-not-saved",
                   ["isr-break 0x54", "continue", "break bad_scratch_not_saved_c",
                    "continue", "isr-diff"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("(still running)" in line for line in lines)
    rows = {line.split()[0]: line for line in lines if line.startswith("  r") or
            line.startswith("  e")}
    # the stub saved only callee-saved registers: the argument registers are lost
    assert "lost: no copy on the handler's stack" in rows["rdi"]


def test_diff_with_nothing_recorded(kernels):
    result = batch(kernels["x86_64"], "scenario=idle",
                   ["break scenario_start", "continue", "isr-diff"])
    assert result.errors[-1] == ("isr-diff: no completed handler run recorded yet (arm vectors "
                                 "with isr-break or isr-watch and let a handler return)")


def test_diff_arguments(kernels):
    result = batch(kernels["x86_64"], "scenario=idle",
                   ["break scenario_start", "continue", "isr-diff --last 0"])
    assert result.errors[-1] == "isr-diff: --last wants a positive count"
