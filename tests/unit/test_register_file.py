"""The `g` packet register file: layout from GDB's table, lazy decoding,
byte-wise comparison, and the judge's use of it."""

import pytest

from gdbext.tracking.judge import compare
from gdbext.x86.register_file import LayoutError, RawRegisters, RegisterLayout
from gdbext.decode.snapshot import Context, register_set

# Rows as GDB 13 prints them for QEMU's x86-64 target description (abridged:
# the g/G offsets are the real ones; a pseudo register and an unnamed row at
# the end have no remote number and are not in the packet).
TABLE = """\
 Name         Nr  Rel Offset    Size  Type            Rmt Nr  g/G Offset
 rax           0    0      0       8 int64_t               0           0
 rbx           1    1      8       8 int64_t               1           8
 rsp           7    7     56       8 *1                    7          16
 rip          16   16    128       8 *1                   16          24
 eflags       17   17    136       4 x64_eflags           17          32
 cs           18   18    140       4 int32_t              18          36
 xmm0        164  164    348      16 vec128               49          40
 mxcsr       180  180    604       4 x64_mxcsr            65          56
 ''          208   27    642       2 int16_t
 eax         217   36    660       4 int32_t
"""
SIZE = 60


def packet(**values):
    layout = RegisterLayout.parse(TABLE)
    raw = bytearray(SIZE)
    for name, value in values.items():
        offset, size = layout.slots[name]
        raw[offset:offset + size] = value.to_bytes(size, "little")
    return layout, raw.hex().encode()


def test_layout_takes_the_g_offsets_and_skips_rows_outside_the_packet():
    layout = RegisterLayout.parse(TABLE)
    assert layout.slots["rip"] == (24, 8)
    assert layout.slots["eflags"] == (32, 4)
    assert layout.slots["xmm0"] == (40, 16)
    assert "''" not in layout.slots
    assert layout.size == SIZE
    # a 32-bit name is the low half of its 64-bit register (32-bit code, 64-bit GDB)
    assert layout.slots["eax"] == (0, 4) and layout.slots["eip"] == (24, 4)


def test_a_table_without_remote_offsets_is_refused():
    with pytest.raises(LayoutError):
        RegisterLayout.parse(" Name  Nr  Rel Offset  Size  Type  Rmt Nr  g/G Offset\n"
                             " eax           0    0      0       4 int32_t\n")


def test_decode_gives_the_chosen_names_as_unsigned_ints():
    layout, reply = packet(rax=0xFFFFFFFFFFFFFFFF, rip=0x107857, eflags=0x202, cs=0x8,
                           xmm0=0x0123456789ABCDEF_FEDCBA9876543210)
    regs = layout.decode(reply, ("rax", "rip", "eflags", "xmm0", "k_gs_base"))
    assert layout.decode(reply, ("eax",))["eax"] == 0xFFFFFFFF
    assert dict(regs) == {"rax": 0xFFFFFFFFFFFFFFFF, "rip": 0x107857, "eflags": 0x202,
                          "xmm0": 0x0123456789ABCDEF_FEDCBA9876543210}
    assert "k_gs_base" not in regs and "cs" not in regs      # absent, or not asked for
    assert regs.get("cs") is None
    with pytest.raises(KeyError):
        regs["cs"]


def test_registers_the_stub_marks_unavailable_are_left_out():
    layout, reply = packet(rax=5, rip=0x1000)
    text = bytearray(reply)
    offset = layout.slots["rbx"][0] * 2
    text[offset:offset + 16] = b"x" * 16
    regs = layout.decode(bytes(text), ("rax", "rbx", "rip"))
    assert dict(regs) == {"rax": 5, "rip": 0x1000}


@pytest.mark.parametrize("reply", [b"E01", b"00" * (SIZE - 1), b"zz" * SIZE])
def test_an_error_short_or_garbled_reply_is_a_layout_error(reply):
    with pytest.raises(LayoutError):
        RegisterLayout.parse(TABLE).decode(reply, ("rax",))


def test_only_and_same_compare_bytes_of_the_chosen_names():
    layout, reply = packet(rax=1, rbx=2, rip=0x1000, xmm0=7)
    entry = layout.decode(reply, ("rax", "rbx", "xmm0", "rip"))
    _, moved = packet(rax=1, rbx=2, rip=0x2000, xmm0=7)
    exit_ = layout.decode(moved, ("rax", "rbx", "xmm0", "rip"))
    assert entry.same(exit_, ("rax", "rbx", "xmm0")) is True
    assert entry.same(exit_, ("rax", "rip")) is False
    # a change in the last of several ranges, and a single range
    _, simd = packet(rax=1, rbx=2, rip=0x1000, xmm0=8)
    changed = layout.decode(simd, ("rax", "rbx", "xmm0", "rip"))
    assert entry.same(changed, ("rax", "rbx", "xmm0")) is False
    assert entry.same(changed, ("rax", "rbx")) is True
    assert entry.same(exit_, ("xmm0",)) is True and entry.same(changed, ("xmm0",)) is False
    assert dict(entry.only(("rax", "xmm0", "cs"))) == {"rax": 1, "xmm0": 7}
    # not comparable byte for byte: a name one side lacks, another layout
    assert entry.only(("rax",)).same(exit_, ("rax", "rbx")) is None
    other = RegisterLayout.parse(TABLE).decode(moved, ("rax", "rbx"))
    assert entry.same(other, ("rax",)) is None


def test_judge_compare_uses_the_bytes_and_still_names_each_change():
    regset = register_set(64)
    names = regset.tracked
    layout, reply = packet(rax=1, rbx=2, xmm0=3)
    entry = Context(layout.decode(reply, names), 0x1000, 8, 0x202, 0x9000, 0x10)
    same = layout.decode(reply, names + ("rip",))
    assert compare(regset, entry, same) == []
    _, changed = packet(rax=1, rbx=0x99, xmm0=4)
    found = compare(regset, entry, layout.decode(changed, names))
    assert [(c.name, c.group, c.before, c.after) for c in found] == [
        ("rbx", "general", 2, 0x99), ("xmm0", "simd", 3, 4)]
    # a plain dict on one side: compared name by name, same answer
    found = compare(regset, entry, {"rax": 1, "rbx": 0x99, "xmm0": 3})
    assert [(c.name, c.after) for c in found] == [("rbx", 0x99)]


def test_raw_registers_is_a_read_only_mapping():
    layout, reply = packet(rax=1)
    regs = layout.decode(reply, ("rax",))
    assert isinstance(regs, RawRegisters) and len(regs) == 1 and list(regs) == ["rax"]
    with pytest.raises(TypeError):
        regs["rax"] = 2
