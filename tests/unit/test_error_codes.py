import pytest

from gdbext.x86.error_codes import decode_error_code


@pytest.mark.parametrize("code,summary", [
    (0x0, "supervisor-mode read: page not present"),
    (0x2, "supervisor-mode write: page not present"),
    (0x3, "supervisor-mode write: protection violation on a present page"),
    (0x4, "user-mode read: page not present"),
    (0x5, "user-mode read: protection violation on a present page"),
    (0x7, "user-mode write: protection violation on a present page"),
    (0x9, "supervisor-mode read: reserved bit set in a paging entry"),
    (0x11, "supervisor-mode instruction fetch: protection violation on a present page"),
    (0x25, "user-mode read: protection-key violation"),
    (0x47, "user-mode write: protection violation on a present page; shadow stack"),
    (0x8001, "supervisor-mode read: protection violation on a present page; SGX"),
])
def test_page_fault_summaries(code, summary):
    decoded = decode_error_code(14, code)
    assert decoded.summary == summary
    assert decoded.problems == ()


def test_page_fault_fields():
    fields = {name: (value, meaning) for name, value, meaning in decode_error_code(14, 0x7).fields}
    assert fields["P"] == (1, "page-level protection violation")
    assert fields["W/R"] == (1, "write")
    assert fields["U/S"] == (1, "user-mode access")
    assert fields["RSVD"][0] == 0 and fields["I/D"][0] == 0 and fields["SGX"][0] == 0


def test_page_fault_undefined_bits():
    assert decode_error_code(14, 0x100).problems == ("undefined bits set: 0x100",)


def test_gp_selector_in_gdt():
    decoded = decode_error_code(13, 0x50, describe_gdt=lambda sel: "beyond the GDT limit 0x37")
    assert decoded.summary == "selector 0x0050 (GDT index 10: beyond the GDT limit 0x37) (the program)"
    fields = {name: value for name, value, _ in decoded.fields}
    assert fields == {"EXT": 0, "IDT": 0, "TI": 0, "index": 10}


def test_np_names_an_idt_vector():
    decoded = decode_error_code(11, (0x41 << 3) | 2)
    assert decoded.summary == "IDT vector 65 Interrupt (the program)"
    assert ("index", 0x41, "IDT vector 65 Interrupt") in decoded.fields


def test_external_idt_reference():
    decoded = decode_error_code(11, (13 << 3) | 3)
    assert decoded.summary == "IDT vector 13 #GP General Protection (external event)"


def test_gp_zero_and_ldt():
    assert decode_error_code(13, 0).summary == "0: not tied to a segment selector"
    decoded = decode_error_code(10, 0x2C)
    assert decoded.summary == "selector 0x002c (LDT index 5) (the program)"


def test_double_fault_is_zero():
    assert decode_error_code(8, 0).summary == "0 (always zero for this vector)"
    odd = decode_error_code(8, 0x10)
    assert odd.problems and "expected 0" in odd.problems[0]


def test_control_protection():
    assert decode_error_code(21, 3).summary == "ENDBRANCH: missing endbranch at an indirect branch target"
    assert decode_error_code(21, 0x8001).fields[1] == ("ENCL", 1, "in an enclave")
