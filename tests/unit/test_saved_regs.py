"""isr-saved's core on assembled fixtures and a synthetic stack: slots read
where the handler saved them, and in the copy after a Linux-style stack
switch only once the copied frame proves it is one."""

import struct

import pytest

from gdbext.errors import IsrError
from gdbext.analysis.saved_regs import saved_registers

from .asm_fixture import assemble, needs_as
from .test_static_analysis import ERROR_ENTRY

pytestmark = needs_as

# pt_regs below the error code, as error_entry leaves them (depth: register)
PT_REGS = {8: "rdi", 16: "rsi", 24: "rdx", 32: "rcx", 40: "rax", 48: "r8", 56: "r9",
           64: "r10", 72: "r11", 80: "rbx", 88: "rbp", 96: "r12", 104: "r13", 112: "r14",
           120: "r15"}
INTERRUPTED = {name: 0x1000 + i for i, name in enumerate(PT_REGS.values())}
USER_RIP = 0x401544

# The C handler's call, after error_entry switched to a stack the analysis
# cannot see (sync_regs' result in rax).
HANDLER = f"""
h:  call error_entry
    mov %rax, %rsp
    mov %rsp, %rdi
site: call c_handler
    ret
c_handler:
    ret
{ERROR_ENTRY.replace("lea 8(%rsp), %rax", "movabs $0x4f00, %rax")}"""


STACK = range(0x4000, 0x6000)      # the task stack; the entry stack is not readable


def memory(image, stack):
    def read(address, size):
        if address in STACK:
            return b"".join(stack.get(address + i, bytes(8)) for i in range(0, size, 8))[:size]
        return image.read(address, size)
    return read


def copied_stack(mirror, sp, image, rip):
    words = {sp: image["site"] + 5}                     # return address of `call c_handler`
    words[mirror] = 0x14                                # error code
    words[mirror + 8] = rip                             # the frame's RIP, copied
    for depth, name in PT_REGS.items():
        words[mirror - depth] = INTERRUPTED[name]
    return {address: struct.pack("<Q", value) for address, value in words.items()}


def test_slots_found_in_the_copy_after_a_stack_switch():
    image = assemble(HANDLER)
    mirror = 0x4f00 + 120               # RSP at the call = 0x4f00 stands at depth 120
    sp = 0x4f00 - 8
    read = memory(image, copied_stack(mirror, sp, image, USER_RIP))
    view = saved_registers(read, 64, image["h"], 0xfffffe0000002fd0, image["c_handler"], sp,
                           INTERRUPTED, dict(INTERRUPTED), error_code=True,
                           interrupted_rip=USER_RIP)
    assert view.via_call == image["site"]
    assert [(s.register, s.frame_offset, s.address) for s in view.slots] == \
        [(name, -depth, mirror - depth) for depth, name in sorted(PT_REGS.items(), reverse=True)]
    assert all(s.matches for s in view.slots)
    assert "to a copy of its entry stack" in view.notes[0]


def test_no_copy_of_the_frame_means_the_entry_stack_is_shown():
    image = assemble(HANDLER)
    sp = 0x4f00 - 8
    frame = 0xfffffe0000002fd0
    read = memory(image, copied_stack(0x4f00 + 120, sp, image, 0xdead))   # RIP differs
    view = saved_registers(read, 64, image["h"], frame, image["c_handler"], sp,
                           INTERRUPTED, dict(INTERRUPTED), error_code=True,
                           interrupted_rip=USER_RIP)
    assert {s.address for s in view.slots} == {frame - depth for depth in PT_REGS}
    assert all(s.value is None and s.matches is None for s in view.slots)   # unreadable there
    assert "no copy of the frame was found on the new stack" in view.notes[0]


def test_neither_in_the_handler_nor_below_its_call_is_an_error():
    image = assemble(HANDLER)
    with pytest.raises(IsrError, match=r"RIP 0x1234 is neither in the handler's code"):
        saved_registers(memory(image, {}), 64, image["h"], 0xfffffe0000002fd0, 0x1234, 0x4f00,
                        INTERRUPTED, {}, error_code=True)
