"""A kernel that boots through the BIOS and a boot loader, not QEMU's -kernel:
the bundled x86_64 kernel on a GRUB CD image (qemu_targets/boot/), started
with `isrdbg gdb --cdrom`.  isrdbg must not care how the kernel got there."""

from pathlib import Path

import pytest

from .conftest import TARGETS, BatchResult, isrdbg, symbols

ISO = TARGETS / "build" / "x86_64" / "boot.iso"    # scenario=pf-user-write-readonly


@pytest.fixture(scope="module")
def iso(kernels) -> Path:
    assert ISO.is_file(), f"{ISO} was not built: grub-mkrescue missing? (./run setup installs it)"
    return ISO


def _run(*args, timeout=60) -> BatchResult:
    proc = isrdbg("gdb", *args, "--tcg", "--batch", "--timeout", timeout, timeout=timeout + 30)
    return BatchResult(proc.returncode, proc.stdout, proc.stderr)


def test_cdrom_boot_with_a_separate_symbol_file(iso, kernels):
    syms = symbols(kernels["x86_64"])
    result = _run("--cdrom", iso, "--symbols", kernels["x86_64"],
                  "-ex", "isr-break page-fault", "-ex", "continue", "-ex", "isr-frame --json")
    assert result.returncode == 0, result.stderr
    doc = result.doc("frame")
    assert (doc["vector"], int(doc["error_code"]["value"], 16)) == (14, 0x7)
    assert int(doc["handler"], 16) == syms["isr_page_fault"]
    assert int(doc["rip"], 16) == syms["fault_insn_pf_user_write_readonly"]
    assert int(doc["cr2"], 16) == syms["pf_readonly_page"]
    assert doc["cr2_symbol"] == "pf_readonly_page+0"        # the --symbols file was loaded
    assert (doc["cs"]["rpl"], doc["stack_switch"]) == (3, "RSP0")


def test_cdrom_boot_without_symbols(iso, kernels):
    """No symbol file at all: nothing tells isrdbg where the kernel loads its IDT,
    so a vector armed at reset stays pending until a stop after that (here a
    breakpoint at a raw address); then the IDT and the frame decode by address."""
    syms = symbols(kernels["x86_64"])
    result = _run("--cdrom", iso, "-ex", "isr-break 14", "-ex", f"break *{syms['scenario_start']:#x}",
                  "-ex", "continue", "-ex", "info isr-breakpoints", "-ex", "continue",
                  "-ex", "isr-idt 14 --json", "-ex", "isr-frame --json")
    assert result.returncode == 0, result.stderr
    assert "14 #PF Page Fault  armed" in result.stdout
    gate = result.doc("idt")["entries"][0]
    assert (gate["vector"], int(gate["handler"], 16)) == (14, syms["isr_page_fault"])
    frame = result.doc("frame")
    assert int(frame["rip"], 16) == syms["fault_insn_pf_user_write_readonly"]
    assert frame["cr2_symbol"] is None
