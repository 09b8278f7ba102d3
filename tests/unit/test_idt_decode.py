import struct

import pytest

from gdbext.errors import IdtNotLoaded, TargetMemoryError
from gdbext.x86.idt import decode_gate, entry_count, fold_runs, read_idt
from gdbext.render import json as render_json
from gdbext.render.text import render_idt
from gdbext.x86.cpu import CpuMode, CpuState, DescriptorTableRegister


def long_gate(handler, selector=0x08, type_code=0xE, dpl=0, present=True, ist=0):
    attrs = type_code | dpl << 5 | (0x80 if present else 0)
    return struct.pack("<HHBBHII", handler & 0xFFFF, selector, ist, attrs,
                       handler >> 16 & 0xFFFF, handler >> 32, 0)


def prot_gate(handler, selector=0x08, type_code=0xE, dpl=0, present=True):
    attrs = type_code | dpl << 5 | (0x80 if present else 0)
    return struct.pack("<HHBBH", handler & 0xFFFF, selector, 0, attrs, handler >> 16)


def test_long_mode_interrupt_gate_literal_bytes():
    # handler 0xffffffff81001234, selector 0x10, IST 1, DPL 0, present, interrupt gate
    raw = bytes.fromhex("3412 1000 01 8e 0081 ffffffff 00000000".replace(" ", ""))
    gate = decode_gate(14, raw, CpuMode.LONG)
    assert gate.handler == 0xFFFFFFFF81001234
    assert (gate.type, gate.selector, gate.ist, gate.dpl, gate.present) == \
        ("interrupt", 0x10, 1, 0, True)
    assert gate.clears_if and gate.valid and gate.problems() == []


def test_long_mode_trap_gate_dpl3():
    gate = decode_gate(3, long_gate(0x101000, type_code=0xF, dpl=3), CpuMode.LONG)
    assert (gate.type, gate.dpl, gate.clears_if) == ("trap", 3, False)


def test_long_mode_rejects_32bit_types():
    gate = decode_gate(5, long_gate(0x101000, type_code=0x5), CpuMode.LONG)
    assert gate.type == "invalid" and not gate.valid
    assert gate.problems() == ["invalid gate type 0x5: delivering it raises #GP"]


def test_protected_mode_gates():
    raw = bytes.fromhex("7856 0800 00 ef 3412".replace(" ", ""))
    gate = decode_gate(0x80, raw, CpuMode.PROTECTED)
    assert (gate.handler, gate.type, gate.dpl, gate.selector) == (0x12345678, "trap", 3, 8)
    task = decode_gate(8, prot_gate(0, selector=0x30, type_code=0x5), CpuMode.PROTECTED)
    assert (task.type, task.handler, task.selector) == ("task", None, 0x30)
    assert decode_gate(1, prot_gate(0x1000, type_code=0x6), CpuMode.PROTECTED).type == "interrupt16"


def test_not_present_and_null_selector():
    gate = decode_gate(0x41, long_gate(0x101000, present=False), CpuMode.LONG)
    assert gate.problems() == ["not present: delivering it raises #NP"]
    gate = decode_gate(0x41, long_gate(0x101000, selector=0), CpuMode.LONG)
    assert gate.problems() == ["null code selector: delivering it raises #GP"]


def test_real_mode_ivt():
    gate = decode_gate(0x10, struct.pack("<HH", 0x1234, 0xC000), CpuMode.REAL)
    assert (gate.type, gate.handler) == ("ivt", 0xC1234)


def test_wrong_size_is_rejected():
    with pytest.raises(ValueError):
        decode_gate(0, b"\0" * 8, CpuMode.LONG)


@pytest.mark.parametrize("limit,mode,count", [
    (0xFFF, CpuMode.LONG, 256), (0x7FF, CpuMode.PROTECTED, 256), (0xFFFF, CpuMode.LONG, 256),
    (0x10F, CpuMode.LONG, 17), (0x0, CpuMode.LONG, 0), (0x3FF, CpuMode.REAL, 256),
])
def test_entry_count_clamps(limit, mode, count):
    assert entry_count(limit, mode) == count


def _cpu(mode=CpuMode.LONG, base=0x2000, limit=0xFFF):
    return CpuState(0, mode, 0, DescriptorTableRegister(base, limit), None)


def _fake_idt(mode=CpuMode.LONG, limit=0xFFF):
    gate = long_gate if mode is CpuMode.LONG else prot_gate
    table = b"".join(gate(0x100000 + 0x10 * v) for v in range(32))
    table += b"".join(gate(0x200000) for v in range(32, 256))
    from tests.fakes import FakeTarget
    return FakeTarget(_cpu(mode, 0x2000, limit), {0x2000: table},
                      {0x100000 + 0x10 * v: f"isr{v}" for v in range(32)} | {0x200000: "isr_default"})


def test_read_idt_reads_once_and_symbolizes():
    target = _fake_idt()
    view = read_idt(target, [13, 14])
    assert target.reads == [(0x2000 + 13 * 16, 32)]
    assert [(g.vector, g.handler, g.symbol) for g in view.gates] == \
        [(13, 0x1000D0, "isr13+0"), (14, 0x1000E0, "isr14+0")]


def test_vectors_beyond_limit():
    view = read_idt(_fake_idt(limit=16 * 34 - 1), [14, 33, 34, 200])
    assert [g.vector for g in view.gates] == [14, 33]
    assert view.beyond_limit == (34, 200)


def test_fold_runs_groups_identical_gates():
    view = read_idt(_fake_idt())
    runs = [(a.vector, b.vector) for a, b in fold_runs(view.gates)]
    assert runs[:2] == [(0, 0), (1, 1)] and runs[-1] == (32, 255) and len(runs) == 33


def test_reset_idtr_is_not_loaded():
    from tests.fakes import FakeTarget
    target = FakeTarget(_cpu(CpuMode.REAL, 0, 0xFFFF))
    with pytest.raises(IdtNotLoaded, match="IDT not loaded yet: CPU 0 is in real mode"):
        read_idt(target)
    with pytest.raises(IdtNotLoaded, match="holds no 16-byte gate"):
        read_idt(FakeTarget(_cpu(CpuMode.LONG, 0x1000, 0)))


def test_unreadable_idt():
    from tests.fakes import FakeTarget
    with pytest.raises(TargetMemoryError, match="cannot read 4096 bytes at 0x9000"):
        read_idt(FakeTarget(_cpu(base=0x9000)))


def test_text_rendering_folds_and_warns():
    text = render_idt(read_idt(_fake_idt(limit=16 * 40 - 1)))
    lines = text.splitlines()
    assert lines[0] == ("IDT of CPU 0 (long mode): base 0x0000000000002000, limit 0x27f, "
                        "40 gates of 16 bytes")
    assert lines[1].split() == ["VEC", "NAME", "EC", "TYPE", "SEL", "HANDLER", "SYMBOL",
                                "IST", "DPL", "P"]
    row14 = next(line for line in lines if line.startswith("14 "))
    assert row14.split() == ["14", "#PF", "Page", "Fault", "EC", "interrupt", "0x0008",
                             "0x00000000001000e0", "isr14+0", "-", "0", "P"]
    assert any(line.startswith("32-39") and "Interrupt (8 identical)" in line for line in lines)
    assert "\x1b[" not in text
    text = render_idt(read_idt(_fake_idt(limit=16 * 40 - 1), [200]))
    assert text.splitlines()[-1] == "vector 200 is beyond the IDT limit (40 gates): delivering raises #GP"


def test_json_document():
    doc = render_json.idt_doc(read_idt(_fake_idt(), [14]))
    assert doc["schema"] == "isrdbg/1" and doc["kind"] == "idt"
    assert doc["mode"] == "long" and doc["base"] == "0x2000" and doc["count"] == 256
    assert doc["entries"] == [{
        "vector": 14, "mnemonic": "#PF", "name": "Page Fault", "class": "fault",
        "error_code": True, "type": "interrupt", "type_code": 0xE, "selector": 8,
        "handler": "0x1000e0",
        "symbol": "isr14+0", "ist": 0, "dpl": 0, "present": True, "problems": []}]


def test_fold_runs_folds_unnamed_stub_arrays():
    """Linux-style irq stubs 8 bytes apart fold; a gate off the pattern stands alone,
    and two gates a few bytes apart are no array."""
    handlers = {v: 0x300000 + 0x100 * v for v in range(32)}          # exceptions, far apart
    handlers.update({v: 0x400000 + 8 * (v - 32) for v in range(32, 256)})
    handlers[236] = 0x500000                                          # a system vector
    handlers[0], handlers[1] = 0x600000, 0x600010                     # two, 16 bytes apart
    table = b"".join(long_gate(handlers[v]) for v in range(256))
    from tests.fakes import FakeTarget
    view = read_idt(FakeTarget(_cpu(CpuMode.LONG, 0x2000, 0xFFF), {0x2000: table}, {}))
    runs = [(a.vector, b.vector) for a, b in fold_runs(view.gates)]
    assert runs[:2] == [(0, 0), (1, 1)]
    assert runs[-3:] == [(32, 235), (236, 236), (237, 255)]
    from gdbext.render.text import render_idt
    text = render_idt(view)
    assert "32-235   Interrupt (204 stubs, 8 bytes apart)" in text
    assert "237-255  Interrupt (19 stubs, 8 bytes apart)" in text
