"""The MI encoding of isrdbg/1 documents and the text drawn back from
documents (what the REPL shows), without GDB or QEMU."""

import pytest
from pygdbmi.gdbmiparser import parse_response

from gdbext.tracking.breakpoint_plan import ArmingReport, ExitArming, VectorArming
from gdbext.x86.idt import read_idt
from gdbext.render import json as render_json
from gdbext.render.docs import render_document
from gdbext.render.mi import from_mi, to_mi
from gdbext.render.style import Style
from gdbext.render.text import render_arming, render_arming_table, render_idt, render_status
from gdbext.tracking.status import LastStop, Status
from gdbext.x86.cpu import CpuMode, CpuState, DescriptorTableRegister
from tests.fakes import FakeTarget
from tests.unit.test_idt_decode import long_gate, prot_gate


def gdb_serialise(value, name=None):
    """What GDB 13's MICommand layer prints for a returned dict (py-micmd.c):
    dicts as tuples, sequences as lists, anything else as a C string of str()."""
    prefix = f"{name}=" if name is not None else ""
    if isinstance(value, dict):
        return prefix + "{" + ",".join(gdb_serialise(v, k) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return prefix + "[" + ",".join(gdb_serialise(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t")
    return f'{prefix}"{text}"'


def through_mi(doc):
    """doc -> MICommand result -> GDB's MI text -> pygdbmi -> from_mi."""
    encoded = to_mi(doc)
    line = "7^done," + gdb_serialise(encoded)[1:-1]
    record = parse_response(line)
    assert record["token"] == 7 and record["message"] == "done"
    return from_mi(record["payload"])


TRICKY = {
    "schema": "isrdbg/1", "kind": "test", "vector": 14, "present": True, "missing": None,
    "ratio": 0.5, "address": "0xffffffff81000000", "bytes": "4889", "word": "true",
    "empty": "", "null_text": "null", "quoted": '"a"', "list_text": "[1]",
    "message": 'say "hi"\\ then\nnext\tline', "unicode": "é→",
    "nested": {"list": [[1, "2"], [], {}], "flags": ["IF", "ZF"]},
    "registers": {"rbx": ["0xb0b0", "0xdead"]}, "by_vector": {"14": 1, "32": 2},
    "entries": [{"vector": 0, "symbol": None}, {"vector": 1, "symbol": "isr+0"}],
}


def test_documents_survive_mi_unchanged():
    assert through_mi(TRICKY) == TRICKY


def test_mi_values_stay_plain_where_unambiguous():
    encoded = to_mi(TRICKY)
    assert encoded["vector"] == "14" and encoded["present"] == "true"
    assert encoded["missing"] == "null" and encoded["address"] == "0xffffffff81000000"
    assert encoded["bytes"] == '"4889"' and encoded["word"] == '"true"'
    assert encoded["by_vector"] == '{"14":1,"32":2}'      # keys MI cannot carry


def idt_target(mode=CpuMode.LONG):
    gate = long_gate if mode is CpuMode.LONG else prot_gate
    size = mode.gate_size
    table = bytearray(gate(0x101000) * 256)
    table[14 * size:15 * size] = gate(0x103e60)
    table[13 * size:14 * size] = gate(0x101000, type_code=0x5 if mode is CpuMode.LONG else 0x3)
    table[0x41 * size:0x42 * size] = gate(0x101000, present=False)
    table[0x80 * size:0x81 * size] = gate(0x104000, type_code=0xF, dpl=3)
    cpu = CpuState(0, mode, 0, DescriptorTableRegister(0x11d000, 0x80 * size + size - 1), None)
    return FakeTarget(cpu, {0x11d000: bytes(table)},
                      {0x101000: "isr_default", 0x103e60: "isr_page_fault"})


@pytest.mark.parametrize("mode", [CpuMode.LONG, CpuMode.PROTECTED])
@pytest.mark.parametrize("fold", [True, False])
def test_idt_drawn_from_its_document_is_the_commands_text(mode, fold):
    view = read_idt(idt_target(mode), list(range(0, 0x90)))
    doc = through_mi(render_json.idt_doc(view))
    colour = Style(True)
    assert render_document(doc, colour, "isr-idt", () if fold else ("--all",)) == \
        render_idt(view, fold=fold, style=colour)


def arming_report():
    return ArmingReport((
        VectorArming(14, "break", False, "$isr_error_code & 2", 1, 0x103e60, "isr_page_fault+0"),
        VectorArming(33, "watch", False, None, 2, 0x101000, "isr_default+0"),
        VectorArming(34, "watch", False, None, 2, 0x101000, "isr_default+0"),
        VectorArming(0x41, "break", True, None, reason="gate not present")), deleted=(3,),
        exits=(ExitArming(0x101200, "iret", (33, 34), True, "shared by 2 traced handlers "
                          "(2 vectors)", False, 40, 3, "isr_common+16", (0x101100,)),))


def test_breakpoints_drawn_from_their_document():
    report = arming_report()
    doc = through_mi(render_json.breakpoints_doc(report))
    assert doc["deleted"] == [3] and doc["vectors"][3]["state"] == "pending"
    assert render_document(doc, command="isr-break") == render_arming(report) == "\n".join([
        "vector 14 #PF Page Fault: breakpoint 1 (isr_page_fault)",
        "vector 33-34: breakpoint 2 (isr_default)",
        "vector 65 Interrupt: pending (gate not present)"])
    assert render_document(doc, command="info isr-breakpoints") == render_arming_table(report)
    assert render_arming_table(report).splitlines()[-1] == (
        "exit 0x101200 isr_common+16 (iret) of vector 33-34: armed while a run is past its "
        "handler's own code (0x101100) (shared by 2 traced handlers (2 vectors), not in the "
        "target now); 40 runs closed, 3 stops outside traced runs")
    assert render_document(doc, command="isr-delete") == ""


def test_arming_many_handlers_is_summarised_per_kind_of_breakpoint():
    # Linux has a stub per vector: `isr-trace all` arms ~250 handlers
    stubs = [VectorArming(v, "trace", False, None, 0, 0x1000 + 8 * v, None)
             for v in range(32, 256)]
    internal = [VectorArming(v, "trace", False, None, -v, 0x900 + v, None) for v in (18, 20, 21)]
    report = ArmingReport(tuple(internal + stubs + [
        VectorArming(19, "trace", True, None, reason="gate not present")]))
    doc = through_mi(render_json.breakpoints_doc(report))
    assert render_document(doc, command="isr-trace") == render_arming(report) == "\n".join([
        "vector 18,20-21: internal breakpoint (3 handlers; info isr-breakpoints lists them)",
        "vector 32-255: watched by the trace plugin (224 handlers; info isr-breakpoints lists "
        "them)",
        "vector 19 #XM SIMD Floating-Point Exception: pending (gate not present)"])
    few = ArmingReport(tuple(stubs[:16]))
    assert len(render_arming(few).splitlines()) == 16      # one line per handler still


def test_status_drawn_from_its_document():
    status = Status("stopped", 0, "long", (14,), 2, 2, 5, {"error": 1, "warning": 0, "info": 1},
                    LastStop("exit", -3, 0, (0x52,), 0x100050, 4, 1))
    doc = through_mi(render_json.status_doc(status))
    assert doc["last_stop"]["handler"] == "0x100050" and doc["handling"] == [14]
    text = render_document(doc)
    assert text == render_status(status)
    assert text.splitlines() == [
        "CPU 0, long mode, stopped: in the handler of vector 14 #PF Page Fault (depth 2)",
        "  5 handler runs recorded, 1 finding breaking the convention (1 error, 1 info)",
        "  last stop: internal breakpoint, exit of run #4 of vector 82 Interrupt on CPU 0"]


def test_unknown_kinds_are_not_drawn():
    assert render_document({"schema": "isrdbg/1", "kind": "future"}) is None
