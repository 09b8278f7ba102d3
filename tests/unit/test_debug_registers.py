"""Counting debug registers before arming under KVM (gdbext.debug_registers)."""

from gdbext.debug_registers import DEBUG_REGISTERS, HardwareNeed, refusal


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
