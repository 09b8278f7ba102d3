"""isr-saved on the bundled i386 alltraps stub (segment pushes move ESP by 4,
so every slot after them is where the code put it), and the instruction-fetch
#PF from ring 3 on 32-bit paging (no NX) that isr-frame must accept."""

from .conftest import batch, symbols

AT_START = ["break scenario_start", "continue"]


def timed(label, command):
    return ["python isrdbg_test_started = __import__('time').monotonic()", command,
            f"python print('isrdbg-test: {label}', "
            f"int((__import__('time').monotonic() - isrdbg_test_started) * 1000))"]


def printed(result, label):
    return next(int(line.split()[-1]) for line in result.stdout.splitlines()
                if line.startswith(f"isrdbg-test: {label} "))


def test_alltraps_stub_with_segment_pushes_has_exact_slots(kernels):
    result = batch(kernels["i386"], "scenario=style-alltraps",
                   AT_START + ["isr-break 0x45", "continue", "break alltraps_trap", "continue",
                               *timed("saved_ms", "isr-saved --json")])
    assert result.returncode == 0, result.stderr
    assert printed(result, "saved_ms") < 1000
    doc = result.doc("saved")
    frame = int(doc["frame"], 16)
    # push $0 (dummy error code), push $vector, push %ds %es %fs %gs, pushal
    assert [(s["register"], s["frame_offset"]) for s in doc["slots"]] == [
        ("edi", -0x38), ("esi", -0x34), ("ebp", -0x30), ("ebx", -0x28), ("edx", -0x24),
        ("ecx", -0x20), ("eax", -0x1c), ("gs", -0x18), ("fs", -0x14), ("es", -0x10),
        ("ds", -0xc)]
    assert all(s["matches"] is True for s in doc["slots"]), doc["slots"]
    assert all(int(s["address"], 16) == frame + s["frame_offset"] for s in doc["slots"])
    assert int(doc["via_call"], 16) in range(symbols(kernels["i386"])["alltraps"],
                                             symbols(kernels["i386"])["trapret"])


def test_user_instruction_fetch_fault_without_nx(kernels):
    """Ring 3 calls into a not-present page: error code U only (no I/D bit
    without NX), and CR2 = EIP = the page is what makes the frame valid."""
    result = batch(kernels["i386"], "scenario=pf-user-fetch-not-present",
                   ["isr-break 14", "continue", "isr-frame --json",
                    "python print('isrdbg-test: error_code', int(gdb.parse_and_eval("
                    "'$isr_error_code')))"])
    assert result.returncode == 0, result.stderr
    page = symbols(kernels["i386"])["pf_not_present_page"]
    frame = result.doc("frame")
    assert frame["vector"] == 14 and frame["has_error_code"] is True
    assert frame["error_code"]["value"] == "0x4"
    assert int(frame["rip"], 16) == int(frame["cr2"], 16) == page
    assert frame["cs"]["rpl"] == 3 and frame["privilege_change"] is True
    assert f"RIP {page:#x} is not mapped: expected, the fault was an instruction fetch " \
           f"(CR2 = RIP)" in frame["notes"]
    assert printed(result, "error_code") == 4


def test_user_instruction_fetch_scenario_passes(kernels):
    """The kernel's own checks (frame, error code, CR2, canaries) pass: it
    exits through isa-debug-exit with 0, which QEMU reports as status 1."""
    result = batch(kernels["i386"], "scenario=pf-user-fetch-not-present", ["continue"])
    assert "the target exited: QEMU status 1 " in result.stdout, result.stdout
