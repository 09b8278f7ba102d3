"""Decoding the error code the CPU pushed, by the layout the vector table names."""

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from gdbext.x86 import vectors as V


@dataclass(frozen=True)
class ErrorCode:
    """A decoded error code: named bit fields and a one-line meaning."""

    value: int
    layout: str
    fields: Tuple[Tuple[str, int, str], ...] = ()   # (name, value, meaning)
    summary: str = ""
    problems: Tuple[str, ...] = ()                   # e.g. reserved bits set


# -- page fault -------------------------------------------------------------------
PF_BITS = [
    (0, "P", "page-level protection violation", "page not present"),
    (1, "W/R", "write", "read"),
    (2, "U/S", "user-mode access", "supervisor-mode access"),
    (3, "RSVD", "reserved bit set in a paging entry", ""),
    (4, "I/D", "instruction fetch", ""),
    (5, "PK", "protection-key violation", ""),
    (6, "SS", "shadow-stack access", ""),
    (7, "HLAT", "HLAT paging", ""),
    (15, "SGX", "SGX access-control violation", ""),
]


def decode_page_fault(code: int) -> ErrorCode:
    fields = []
    for bit, name, when_set, when_clear in PF_BITS:
        value = code >> bit & 1
        fields.append((name, value, when_set if value else when_clear))
    who = "user-mode" if code & 4 else "supervisor-mode"
    what = "instruction fetch" if code & 0x10 else "write" if code & 2 else "read"
    if code & 8:
        why = "reserved bit set in a paging entry"
    elif code & 0x20:
        why = "protection-key violation"
    elif code & 1:
        why = "protection violation on a present page"
    else:
        why = "page not present"
    extra = "; shadow stack" if code & 0x40 else "; SGX" if code & 0x8000 else ""
    known = sum(1 << bit for bit, *_ in PF_BITS)
    problems = (f"undefined bits set: {code & ~known:#x}",) if code & ~known & 0xFFFFFFFF else ()
    return ErrorCode(code, V.EC_PAGE_FAULT, tuple(fields), f"{who} {what}: {why}{extra}", problems)


# -- selector format (#TS #NP #SS #GP) ----------------------------------------------
def decode_selector_code(code: int, describe_gdt: Optional[Callable[[int], str]] = None) -> ErrorCode:
    """EXT / IDT / TI / index.  ``describe_gdt(selector)`` names a GDT descriptor."""
    ext, idt, ti, index = code & 1, code >> 1 & 1, code >> 2 & 1, code >> 3 & 0x1FFF
    origin = "external event" if ext else "the program"
    fields = [("EXT", ext, origin), ("IDT", idt, "IDT gate" if idt else "GDT/LDT selector")]
    if idt:
        target = V.vector(index).label
        fields.append(("index", index, f"IDT vector {target}"))
        summary = f"IDT vector {target}"
    else:
        table = "LDT" if ti else "GDT"
        fields.append(("TI", ti, table))
        described = ""
        if table == "GDT" and describe_gdt is not None and index:
            described = f": {describe_gdt(code & 0xFFF8)}"
        fields.append(("index", index, f"{table} entry {index}{described}"))
        summary = f"selector {code & 0xFFFC:#06x} ({table} index {index}{described})" if code & ~3 \
            else ("null selector or a fault not tied to a segment" if not ext else "external event")
    if code == 0:
        summary = "0: not tied to a segment selector"
    problems = (f"bits 16+ set: {code >> 16:#x}",) if code >> 16 else ()
    return ErrorCode(code, V.EC_SELECTOR, tuple(fields), f"{summary} ({origin})" if code else summary,
                     problems)


# -- control protection (#CP) ---------------------------------------------------
CP_CAUSES = {1: "NEAR-RET: near return address mismatch",
             2: "FAR-RET/IRET: far return or iret mismatch",
             3: "ENDBRANCH: missing endbranch at an indirect branch target",
             4: "RSTORSSP: invalid shadow-stack restore token",
             5: "SETSSBSY: invalid supervisor shadow-stack token"}


def decode_control_protection(code: int) -> ErrorCode:
    cause = code & 0x7FFF
    enclave = code >> 15 & 1
    meaning = CP_CAUSES.get(cause, f"unknown cause {cause}")
    fields = (("CPEC", cause, meaning), ("ENCL", enclave, "in an enclave" if enclave else ""))
    return ErrorCode(code, V.EC_CONTROL_PROTECTION, fields, meaning)


def decode_zero(code: int) -> ErrorCode:
    if code == 0:
        return ErrorCode(0, V.EC_ZERO, (), "0 (always zero for this vector)")
    return ErrorCode(code, V.EC_ZERO, (), f"{code:#x}",
                     (f"expected 0 for this vector, found {code:#x}: is this really "
                      f"an error code?",))


def decode_error_code(vector: int, code: int,
                      describe_gdt: Optional[Callable[[int], str]] = None) -> ErrorCode:
    """Decode ``code`` as the error code of ``vector`` (layout from the table)."""
    layout = V.vector(vector).error_code
    if layout == V.EC_PAGE_FAULT:
        return decode_page_fault(code)
    if layout == V.EC_SELECTOR:
        return decode_selector_code(code, describe_gdt)
    if layout == V.EC_CONTROL_PROTECTION:
        return decode_control_protection(code)
    if layout == V.EC_ZERO:
        return decode_zero(code)
    return ErrorCode(code, layout or "none", (), f"{code:#x}")
