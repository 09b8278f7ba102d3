"""Counting debug registers before arming under KVM (gdbext.x86.debug_registers)."""

from gdbext.x86.debug_registers import DEBUG_REGISTERS, HardwareNeed, refusal


def test_four_fit():
    assert DEBUG_REGISTERS == 4
    assert refusal([14], HardwareNeed(entries=1, exits=3)) is None


def test_one_too_many_names_every_part():
    text = refusal([14, 32], HardwareNeed(entries=2, exits=3))
    assert text == ("KVM gives 4 hardware breakpoints; arming vectors 14,32 needs 5 "
                    "(2 entries + 3 exits); arm fewer vectors, or run QEMU with TCG")


def test_singular_and_others():
    text = refusal([0], HardwareNeed(entries=1, exits=1, returns=1, others=2))
    assert text.startswith("KVM gives 4 hardware breakpoints; arming vector 0 needs 5 "
                           "(1 entry + 1 exit + 1 return watch + 2 other hardware breakpoints")


def test_ranges_are_compact():
    text = refusal(range(32, 48), HardwareNeed(entries=16))
    assert "arming vectors 32-47 needs 16 (16 entries)" in text


def test_arming_table_says_why_a_breakpoint_is_hardware():
    from gdbext.tracking.breakpoint_plan import ArmingReport, VectorArming
    from gdbext.render.text import render_arming_table
    report = ArmingReport((
        VectorArming(0, "break", True, None, 2, 0x100a70, "isr_divide_error+0",
                     hardware_reason="KVM"),
        VectorArming(14, "break", False, None, 3, 0x100b00, "isr_page_fault+0"),
    ))
    rows = render_arming_table(report).splitlines()[1:]
    assert rows[0].split()[-2:] == ["hardware:", "KVM"]
    assert rows[1].split()[-1] == "isr_page_fault+0"
