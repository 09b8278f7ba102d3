"""The per-interrupt entry path: cached tables, one read per frame."""

import struct

import pytest

from gdbext.decode.entry import EntryCache, decode_entry, handler_gates
from gdbext.errors import IsrError
from gdbext.x86.idt import IdtView, decode_gate
from gdbext.x86.cpu import CpuMode, CpuState, DescriptorTableRegister

from ..fakes import FakeTarget

GDT64 = struct.pack("<7Q", 0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF, 0x00AFFA000000FFFF,
                    0x00CFF2000000FFFF, 0x0000890000000067, 0)
IDT_BASE, GDT_BASE = 0x20000, 0x21000
TIMER, PAGE_FAULT, SHARED = 0x103000, 0x103100, 0x103200
CODE = (0x100000, 0x200000)
STACK_TOP = 0x8000


def gate64(handler, kind=0xE, ist=0, present=True):
    attrs = kind | (0x80 if present else 0)
    return struct.pack("<HHBBHII", handler & 0xFFFF, 0x08, ist, attrs, handler >> 16 & 0xFFFF,
                       handler >> 32, 0)


def idt_bytes():
    gates = [gate64(SHARED, present=False)] * 256
    gates[14] = gate64(PAGE_FAULT, ist=1)
    gates[32] = gate64(TIMER)
    gates[40] = gates[41] = gate64(SHARED, kind=0xF)
    return b"".join(gates)


class Target(FakeTarget):
    def __init__(self, regions):
        state = CpuState(cpu=0, mode=CpuMode.LONG, cpl=0,
                         idtr=DescriptorTableRegister(IDT_BASE, 0xFFF),
                         gdtr=DescriptorTableRegister(GDT_BASE, len(GDT64) - 1))
        super().__init__(state, {**regions, IDT_BASE: idt_bytes(), GDT_BASE: GDT64})
        self.mapped_checks = []
        self.state_reads = 0

    def cpu_state(self):
        self.state_reads += 1
        return super().cpu_state()

    def is_mapped(self, address):
        self.mapped_checks.append(address)
        return CODE[0] <= address < CODE[1]


def frame_bytes(*words):
    data = struct.pack(f"<{len(words)}Q", *words)
    return {STACK_TOP - len(data) - 64: b"\0" * 64 + data}, STACK_TOP - len(data)


def test_handler_gates_group_vectors_by_handler():
    view = IdtView(Target({}).cpu_state(),
                   tuple(decode_gate(v, idt_bytes()[v * 16:v * 16 + 16], CpuMode.LONG)
                         for v in range(256)), ())
    gates = handler_gates(view)
    assert gates[TIMER].vectors == (32,) and gates[TIMER].gate_type == "interrupt"
    assert gates[PAGE_FAULT].ist == 1
    assert gates[SHARED].vectors == (40, 41) and gates[SHARED].gate_type == "trap"


def test_entry_reads_the_frame_once_and_the_tables_once_per_view():
    # 40 bytes of frame, then 8 bytes the CPU skipped to align RSP
    regions, sp = frame_bytes(0x101234, 0x08, 0x202, STACK_TOP, 0x10, 0)
    target = Target(regions)
    cache = EntryCache()
    view = cache.view(target, 0)
    assert cache.reads == 1 and target.state_reads == 1
    target.reads.clear()
    entry = decode_entry(target, view, TIMER, sp, 0x08)
    assert entry.vectors == (32,) and entry.vector == 32 and entry.gate_type == "interrupt"
    frame = entry.frame
    assert (frame.rip, frame.cs, frame.rflags, frame.rsp, frame.ss) == (0x101234, 8, 0x202,
                                                                         STACK_TOP, 0x10)
    assert not frame.has_error_code and frame.alignment_padding == 8
    assert target.reads == [(sp, 48)]            # one read: no IDT, no GDT
    assert target.mapped_checks == [0x101234]
    # the same view for the next interrupt: nothing but the frame is read
    assert cache.view(target, 0) is view and target.state_reads == 1
    target.reads.clear()
    again = decode_entry(target, view, TIMER, sp, 0x08)
    assert again.frame == frame and target.reads == [(sp, 48)]
    assert target.mapped_checks == [0x101234]    # the code page is known to be mapped


def test_frame_at_the_top_of_a_stack_is_read_exactly():
    data = struct.pack("<5Q", 0x101234, 0x08, 0x202, STACK_TOP, 0x10)
    target = Target({STACK_TOP - 40: data})      # nothing mapped above the frame
    view = EntryCache().view(target, 0)
    entry = decode_entry(target, view, TIMER, STACK_TOP - 40, 0x08)
    assert not entry.frame.has_error_code and entry.frame.rip == 0x101234


def test_an_error_code_frame():
    regions, sp = frame_bytes(0x2, 0x101234, 0x08, 0x246, STACK_TOP, 0x10)
    target = Target(regions)
    entry = decode_entry(target, EntryCache().view(target, 0), PAGE_FAULT, sp, 0x08)
    assert entry.frame.has_error_code and entry.frame.error_code == 2
    assert entry.frame.stack_switch == "IST1"


def test_not_a_handler_and_no_frame():
    regions, sp = frame_bytes(0x101234, 0x08, 0x202, STACK_TOP + 8, 0x10, 0)
    target = Target(regions)
    view = EntryCache().view(target, 0)
    with pytest.raises(IsrError, match="no handler in the IDT"):
        decode_entry(target, view, 0x104000, sp, 0x08)
    with pytest.raises(IsrError, match="no plausible interrupt frame"):
        decode_entry(target, view, TIMER, sp - 256, 0x08)


def test_generation_counts_changes_of_the_tables():
    target = Target({})
    cache = EntryCache()
    cache.view(target, 0)
    first = cache.generation
    cache.invalidate()
    cache.view(target, 0)
    assert cache.generation == first and cache.reads == 2       # re-read, unchanged
    target.regions[IDT_BASE] = idt_bytes()[:32 * 16] + gate64(0x103300) + idt_bytes()[33 * 16:]
    cache.invalidate()
    view = cache.view(target, 0)
    assert cache.generation == first + 1 and 0x103300 in view.handlers


def test_views_follow_the_settings():
    target = Target({})
    cache = EntryCache()
    view = cache.view(target, 0, settings=(None, None, None))
    assert cache.view(target, 0, settings=(None, None, None)) is view
    assert cache.view(target, 0, settings=(0x5000, None, None)) is not view
