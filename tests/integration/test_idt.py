"""isr-idt against the bundled kernels: every decoded field checked against
the kernel's own symbols and the gates its source sets up."""

import pytest

from .conftest import batch, symbols

AT_START = ["break scenario_start", "continue"]

# vector -> (handler symbol, gate type, IST, DPL) as qemu_targets/ builds them
X86_64_GATES = {
    0: ("isr_divide_error", "interrupt", 0, 0),
    1: ("isr_debug", "interrupt", 0, 0),
    2: ("isr_nmi", "interrupt", 2, 0),
    3: ("isr_breakpoint", "trap", 0, 3),
    4: ("isr_overflow", "trap", 0, 3),
    5: ("isr_exc5", "interrupt", 0, 0),
    6: ("isr_invalid_opcode", "interrupt", 0, 0),
    8: ("isr_double_fault", "interrupt", 1, 0),
    11: ("isr_segment_not_present", "interrupt", 0, 0),
    13: ("isr_general_protection", "interrupt", 0, 0),
    14: ("isr_page_fault", "interrupt", 0, 0),
    31: ("isr_exc31", "interrupt", 0, 0),
    32: ("isr_timer", "interrupt", 0, 0),
    33: ("isr_default", "interrupt", 0, 0),
    0x80: ("isr_syscall", "interrupt", 0, 3),
    255: ("isr_default", "interrupt", 0, 0),
}


@pytest.fixture(scope="module")
def x86_64_idt(kernels):
    result = batch(kernels["x86_64"], "scenario=idle", AT_START + ["isr-idt --json"])
    assert result.returncode == 0, result.stderr
    return result.doc("idt"), symbols(kernels["x86_64"])


def test_x86_64_table(x86_64_idt):
    doc, syms = x86_64_idt
    assert (doc["mode"], doc["gate_size"], doc["count"]) == ("long", 16, 256)
    assert int(doc["base"], 16) == syms["idt"]
    entries = {e["vector"]: e for e in doc["entries"]}
    assert sorted(entries) == list(range(256))
    for vector, (symbol, kind, ist, dpl) in X86_64_GATES.items():
        entry = entries[vector]
        assert int(entry["handler"], 16) == syms[symbol], vector
        assert entry["symbol"] == f"{symbol}+0"
        assert (entry["type"], entry["ist"], entry["dpl"], entry["selector"], entry["present"]) \
            == (kind, ist, dpl, 0x08, True), vector


def test_x86_64_error_code_facts(x86_64_idt):
    doc, _ = x86_64_idt
    pushes = {e["vector"] for e in doc["entries"] if e["error_code"]}
    assert pushes == {8, 10, 11, 12, 13, 14, 17, 21, 29, 30}
    pf = next(e for e in doc["entries"] if e["vector"] == 14)
    assert (pf["mnemonic"], pf["name"], pf["class"]) == ("#PF", "Page Fault", "fault")


def test_x86_64_text_folds_the_default_handler(kernels):
    result = batch(kernels["x86_64"], "scenario=idle", AT_START + ["isr-idt"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("IDT of CPU 0"))
    assert "(long mode)" in lines[header] and "256 gates of 16 bytes" in lines[header]
    fold = next(line for line in lines if line.startswith("33-127 "))
    assert "Interrupt (95 identical)" in fold and "isr_default+0" in fold
    assert any(line.startswith("129-255 ") for line in lines)
    assert "\x1b[" not in result.stdout


def test_i386_table(kernels):
    result = batch(kernels["i386"], "scenario=idle", AT_START + ["isr-idt --json 0-14 0x80"])
    assert result.returncode == 0, result.stderr
    doc, syms = result.doc("idt"), symbols(kernels["i386"])
    assert (doc["mode"], doc["gate_size"], doc["count"]) == ("protected", 8, 256)
    entries = {e["vector"]: e for e in doc["entries"]}
    assert sorted(entries) == list(range(15)) + [0x80]
    df = entries[8]
    assert (df["type"], df["selector"], df["handler"], df["symbol"]) == ("task", 0x30, None, None)
    for vector, symbol, kind, dpl in [(0, "isr_divide_error", "interrupt", 0),
                                      (3, "isr_breakpoint", "trap", 3),
                                      (14, "isr_page_fault", "interrupt", 0),
                                      (0x80, "isr_syscall", "interrupt", 3)]:
        entry = entries[vector]
        assert int(entry["handler"], 16) == syms[symbol]
        assert (entry["type"], entry["dpl"], entry["ist"]) == (kind, dpl, 0)


def test_single_vector_by_name(kernels):
    result = batch(kernels["x86_64"], "scenario=idle", AT_START + ["isr-idt page-fault"])
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("14 "))
    assert row.split()[:6] == ["14", "#PF", "Page", "Fault", "EC", "interrupt"]
    assert "isr_page_fault+0" in row


def test_idt_not_loaded_at_reset(kernels):
    result = batch(kernels["x86_64"], "scenario=idle", ["isr-idt"])
    assert result.returncode != 0
    assert result.errors[-1] == (
        "isr-idt: IDT not loaded yet: CPU 0 is in real mode with IDTR at its reset value "
        "(base 0x0, limit 0xffff); run until the kernel executes lidt")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args,message", [
    ("300", "isr-idt: vector 300 is out of range (0-255)"),
    ("bogus", "isr-idt: not a vector: 'bogus' (expected a number, range, name or class such "
              "as 14, 32-47, #PF, page-fault, exceptions)"),
    ("--frobnicate", "isr-idt: unrecognized arguments: --frobnicate (see `help isr-idt`)"),
])
def test_bad_arguments(kernels, args, message):
    result = batch(kernels["x86_64"], "scenario=idle", AT_START + [f"isr-idt {args}"])
    assert result.returncode != 0
    assert result.errors[-1] == message


def test_unreadable_idt_memory(kernels):
    result = batch(kernels["x86_64"], "scenario=idle",
                   AT_START + ["set isr idt-base 0x7fff00000000", "isr-idt"])
    assert result.returncode != 0
    assert result.errors[-1] == \
        "isr-idt: cannot read 4096 bytes at 0x7fff00000000: not mapped or not readable"


def test_idt_base_setting_overrides_qemu(kernels):
    syms = symbols(kernels["x86_64"])
    result = batch(kernels["x86_64"], "scenario=idle",
                   AT_START + [f"set isr idt-base {syms['idt']:#x}", "set isr idt-limit 0x10f",
                               "show isr idt-limit", "isr-idt --json"])
    assert result.returncode == 0, result.stderr
    assert "The IDT limit is 0x10f." in result.stdout
    doc = result.doc("idt")
    assert doc["count"] == 17 and len(doc["entries"]) == 17


def test_target_running(kernels):
    result = batch(kernels["x86_64"], "scenario=timer ticks=100000",
                   AT_START + ["continue &", "isr-idt"])
    assert result.returncode != 0
    assert [line for line in result.errors if line.startswith("isr-idt")] == \
        ["isr-idt: the target is running; stop it first (Ctrl-C or `interrupt`)"]


def test_qemu_died(kernels, private_tmpdir):
    kill = f"shell pkill -KILL -f '^qemu-system-x86_64 .*{private_tmpdir}'"
    result = batch(kernels["x86_64"], "scenario=idle", AT_START + [kill, "isr-idt"])
    assert result.returncode != 0
    assert result.errors[-1] == ("isr-idt: lost the connection to the target: the target "
                                 "exited: QEMU was killed by SIGKILL")
    assert "Traceback" not in result.stderr


def test_after_the_target_is_gone(kernels, private_tmpdir):
    kill = f"shell pkill -KILL -f '^qemu-system-x86_64 .*{private_tmpdir}'"
    # the first isr-idt meets the dead connection; the second finds no target
    result = batch(kernels["x86_64"], "scenario=idle",
                   AT_START + [kill, "python exec(\"try: gdb.execute('isr-idt')\\nexcept gdb.error: pass\")", "isr-idt"])
    assert result.returncode != 0
    assert result.errors[-1].startswith("isr-idt: no target connected")
