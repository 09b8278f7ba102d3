"""Frame decoding and validation on byte fixtures, including garbage."""

import struct

import pytest

from gdbext.errors import TargetMemoryError
from gdbext.decode.frame import FrameContext, NoPlausibleFrame, decode_frame, rflags_names
from gdbext.x86.gdt import Gdt
from gdbext.x86.cpu import DescriptorTableRegister

# The bundled x86_64 kernel's GDT: null, kernel code64, kernel data, user code64,
# user data, TSS (16 bytes).
GDT64 = struct.pack("<7Q", 0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF, 0x00AFFA000000FFFF,
                    0x00CFF2000000FFFF, 0x0000890000000067, 0)
# i386: null, code32, data, user code32, user data
GDT32 = struct.pack("<5Q", 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00CFFA000000FFFF,
                    0x00CFF2000000FFFF)

CODE = range(0x100000, 0x200000)
STACK_TOP = 0x8000


def context(memory, gdt_bytes=GDT64, handler_cpl=0, ist=0, long_mode=True):
    def read(address, size):
        for base, data in memory.items():
            if base <= address and address + size <= base + len(data):
                return data[address - base:address - base + size]
        raise TargetMemoryError(address, size, "not mapped")
    gdt = Gdt(gdt_bytes, DescriptorTableRegister(0x1000, len(gdt_bytes) - 1))
    return FrameContext(read, lambda a: a in CODE, gdt, handler_cpl, ist, long_mode)


def stack64(*words):
    """Words pushed by the CPU, ending exactly at STACK_TOP (the top of a stack)."""
    data = struct.pack(f"<{len(words)}Q", *words)
    return {STACK_TOP - len(data): data}, STACK_TOP - len(data)


def test_kernel_frame_with_error_code():
    memory, at = stack64(0x3, 0x101234, 0x08, 0x246, STACK_TOP, 0x10)
    frame = decode_frame(context(memory), at, 64, vector=14)
    assert frame.has_error_code and frame.error_code == 3
    assert (frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss) == (0x101234, 8, 0x246, STACK_TOP, 0x10)
    assert frame.size == 48 and frame.rip_slot == at + 8
    assert frame.stack_switch is None and frame.alignment_padding == 0
    assert frame.notes == () and not frame.privilege_change
    assert frame.rejected  # the no-error-code reading was tried and failed


def test_alignment_padding_on_the_same_stack():
    memory, at = stack64(0x101234, 0x08, 0x202, STACK_TOP + 8, 0x10)
    frame = decode_frame(context(memory), at, 64, vector=3)
    assert not frame.has_error_code and frame.alignment_padding == 8


def test_software_int14_has_no_error_code():
    memory, at = stack64(0x101234, 0x08, 0x202, STACK_TOP, 0x10)
    frame = decode_frame(context(memory), at, 64, vector=14)
    assert not frame.has_error_code and frame.error_code is None
    assert frame.notes == ("vector 14 #PF Page Fault normally pushes an error code, but none is "
                           "on the stack: raised by software `int $14` or an external interrupt?",)


def test_error_code_where_none_is_expected():
    memory, at = stack64(0x0, 0x101234, 0x08, 0x202, STACK_TOP, 0x10)
    frame = decode_frame(context(memory), at, 64, vector=32)
    assert frame.has_error_code
    assert frame.notes == ("an error code is on the stack, but vector 32 Interrupt does not push one",)


def test_user_mode_frame_switches_to_rsp0():
    memory, at = stack64(0x5, 0x101000, 0x1B, 0x202, 0x7FF0, 0x23)
    frame = decode_frame(context(memory), at, 64, vector=14)
    assert frame.interrupted_cpl == 3 and frame.privilege_change
    assert frame.stack_switch == "RSP0" and frame.alignment_padding is None
    assert (frame.rsp, frame.ss) == (0x7FF0, 0x23)


def test_ist_stack():
    memory, at = stack64(0x101000, 0x08, 0x2, 0x5000, 0x0)
    frame = decode_frame(context(memory, ist=2), at, 64, vector=2)
    assert frame.stack_switch == "IST2" and frame.ss == 0


def test_null_ss_in_ring3_is_rejected():
    memory, at = stack64(0x101000, 0x1B, 0x202, 0x7FF0, 0x0)
    with pytest.raises(NoPlausibleFrame) as info:
        decode_frame(context(memory), at, 64, vector=3)
    assert "SS 0x0000 is a null selector" in str(info.value)


def test_garbage_is_no_plausible_frame():
    memory, at = stack64(0xDEADBEEF, 0x1230, 0x8, 0xFFFF, 0x5, 0x77)
    with pytest.raises(NoPlausibleFrame) as info:
        decode_frame(context(memory), at, 64)
    message = str(info.value)
    assert message.startswith(f"no plausible interrupt frame at {at:#x}: with error code: ")
    assert "with error code: RFLAGS 0xffff has reserved bits set (0x8028)" in message
    assert "without error code: CS 0x1230: index 582 is beyond the GDT limit 0x37" in message


def test_rip_must_be_mapped_and_canonical():
    memory, at = stack64(0x900000, 0x08, 0x202, STACK_TOP, 0x10)
    with pytest.raises(NoPlausibleFrame, match="RIP 0x900000 is not mapped"):
        decode_frame(context(memory), at, 64, vector=3)
    memory, at = stack64(0x0000800000000000, 0x08, 0x202, STACK_TOP, 0x10)
    with pytest.raises(NoPlausibleFrame, match="is not canonical"):
        decode_frame(context(memory), at, 64, vector=3)


def test_rflags_reserved_bits():
    memory, at = stack64(0x101000, 0x08, 0x200, STACK_TOP, 0x10)
    with pytest.raises(NoPlausibleFrame, match=r"RFLAGS 0x200 has bit 1 clear"):
        decode_frame(context(memory), at, 64, vector=3)


def test_reads_exactly_the_frame_at_the_top_of_a_stack():
    """40 readable bytes: the 48-byte layout cannot be read, the 40-byte one holds."""
    memory, at = stack64(0x101000, 0x08, 0x202, STACK_TOP, 0x10)
    frame = decode_frame(context(memory), at, 64, vector=0)
    assert not frame.has_error_code
    assert frame.rejected[0].startswith("with error code: cannot read 48 bytes")


def test_cs_rpl_must_match_dpl():
    memory, at = stack64(0x101000, 0x0B, 0x202, STACK_TOP, 0x10)
    with pytest.raises(NoPlausibleFrame, match="RPL 3 but the segment's DPL is 0"):
        decode_frame(context(memory), at, 64, vector=3)


def stack32(*words):
    data = struct.pack(f"<{len(words)}I", *words)
    return {STACK_TOP - len(data): data}, STACK_TOP - len(data)


def test_32bit_same_privilege():
    memory, at = stack32(0x101000, 0x08, 0x202)
    frame = decode_frame(context(memory, GDT32, long_mode=False), at, 32, vector=3)
    assert (frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss) == (0x101000, 8, 0x202, None, None)
    assert frame.size == 12 and frame.stack_switch is None


def test_32bit_privilege_change_with_error_code():
    memory, at = stack32(0x7, 0x101000, 0x1B, 0x202, 0x7000, 0x23)
    frame = decode_frame(context(memory, GDT32, long_mode=False), at, 32, vector=14)
    assert frame.has_error_code and frame.error_code == 7
    assert (frame.rsp, frame.ss, frame.stack_switch, frame.size) == (0x7000, 0x23, "ESP0", 24)


def test_32bit_int14_from_ring0():
    memory, at = stack32(0x101000, 0x08, 0x246)
    frame = decode_frame(context(memory, GDT32, long_mode=False), at, 32, vector=14)
    assert not frame.has_error_code and frame.notes


def test_without_gdt_checks_still_apply():
    memory, at = stack64(0x2, 0x101000, 0x08, 0x202, STACK_TOP, 0x10)
    ctx = context(memory)
    ctx.gdt = None
    frame = decode_frame(ctx, at, 64, vector=14)
    assert frame.has_error_code and frame.error_code == 2


def test_rflags_names():
    assert rflags_names(0x3246) == ["PF", "ZF", "IF", "IOPL=3"]


# An instruction-fetch #PF has RIP on the page the CPU could not fetch.
UNMAPPED = 0x40000000


def test_instruction_fetch_fault_with_nx_has_rip_unmapped():
    memory, at = stack64(0x14, UNMAPPED, 0x1B, 0x202, 0x7FF0, 0x23)
    frame = decode_frame(context(memory), at, 64, vector=14)
    assert frame.has_error_code and frame.error_code == 0x14 and frame.rip == UNMAPPED
    assert frame.notes == (f"RIP {UNMAPPED:#x} is not mapped: expected, the fault was an "
                           f"instruction fetch (#PF error code I/D=1)",)


def test_instruction_fetch_fault_without_nx_is_told_by_cr2():
    """32-bit paging has no NX: I/D stays 0, and CR2 = RIP says it was a fetch."""
    memory, at = stack32(0x4, UNMAPPED, 0x1B, 0x202, 0x7000, 0x23)
    ctx = context(memory, GDT32, long_mode=False)
    ctx.cr2 = lambda: UNMAPPED
    frame = decode_frame(ctx, at, 32, vector=14)
    assert frame.has_error_code and frame.error_code == 4 and frame.rip == UNMAPPED
    assert frame.notes == (f"RIP {UNMAPPED:#x} is not mapped: expected, the fault was an "
                           f"instruction fetch (CR2 = RIP)",)


@pytest.mark.parametrize("vector,error_code,cr2", [(14, 0x4, 0x1000), (14, 0x4, None),
                                                    (13, 0x10, UNMAPPED)])
def test_unmapped_rip_is_rejected_unless_a_fetch_fault(vector, error_code, cr2):
    memory, at = stack32(error_code, UNMAPPED, 0x1B, 0x202, 0x7000, 0x23)
    ctx = context(memory, GDT32, long_mode=False)
    ctx.cr2 = lambda: cr2
    with pytest.raises(NoPlausibleFrame, match=f"RIP {UNMAPPED:#x} is not mapped"):
        decode_frame(ctx, at, 32, vector=vector)


def test_interrupt_before_a_user_instruction_fetch_fault():
    """A timer can arrive at a user RIP whose page is not mapped yet (Linux
    maps /init's text on demand): the frame is valid, and the note says why."""
    memory, at = stack64(UNMAPPED, 0x1B, 0x202, 0x7FF0, 0x23)
    frame = decode_frame(context(memory), at, 64, vector=0xEC)
    assert not frame.has_error_code and frame.rip == UNMAPPED
    assert frame.notes == (f"RIP {UNMAPPED:#x} is not mapped yet: the interrupted user code's next "
                           f"instruction will fault on its fetch once this handler returns "
                           f"(demand paging)",)


def test_unmapped_kernel_rip_is_still_rejected():
    memory, at = stack64(UNMAPPED, 0x08, 0x202, STACK_TOP, 0x10)
    with pytest.raises(NoPlausibleFrame, match=f"RIP {UNMAPPED:#x} is not mapped"):
        decode_frame(context(memory), at, 64, vector=0xEC)
