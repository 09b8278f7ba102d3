"""Text renderings for people: what the GDB commands and the REPL print."""

from typing import List

from ..idt import Gate, IdtView, fold_runs
from .style import PLAIN, Style
from .table import format_table


def hex_address(value: int, bits: int) -> str:
    return f"{value:#0{bits // 4 + 2}x}"


def _gate_row(first: Gate, last: Gate, style: Style) -> List[str]:
    bits = first.mode.address_bits
    info = first.info
    if first is last:
        vec = str(first.vector)
        name = vector_name(first)
    else:
        vec = f"{first.vector}-{last.vector}"
        count = last.vector - first.vector + 1
        names = {vector_name(g) for g in (first, last)}
        name = f"{names.pop() if len(names) == 1 else 'mixed'} ({count} identical)"
    kind = first.type if first.type != "invalid" else f"invalid({first.type_code:#x})"
    if first.handler is None:
        handler, symbol = "-", f"task {first.selector:#06x}" if first.type == "task" else ""
    else:
        handler = style("address", hex_address(first.handler, bits))
        symbol = style("symbol", first.symbol or "")
    present = "P" if first.present else style("bad", "-")
    ec = "EC" if info.pushes_error_code else ""
    return [vec, name, ec, kind if first.valid else style("bad", kind),
            f"{first.selector:#06x}", handler, symbol,
            str(first.ist) if first.ist else "-", str(first.dpl), present]


def vector_name(gate: Gate) -> str:
    """"#PF Page Fault" (the label without the number)."""
    info = gate.info
    return f"{info.mnemonic} {info.name}".strip()


def render_idt(view: IdtView, fold: bool = True, style: Style = PLAIN) -> str:
    cpu, idtr = view.cpu, view.cpu.idtr
    lines = [style("title",
                   f"IDT of CPU {cpu.cpu} ({cpu.mode.value} mode): base "
                   f"{hex_address(idtr.base, cpu.mode.address_bits)}, limit {idtr.limit:#x}, "
                   f"{view.entries} gates of {cpu.mode.gate_size} bytes")]
    runs = fold_runs(view.gates) if fold else [(g, g) for g in view.gates]
    rows = [_gate_row(first, last, style) for first, last in runs]
    if rows:
        lines += format_table(["VEC", "NAME", "EC", "TYPE", "SEL", "HANDLER", "SYMBOL",
                               "IST", "DPL", "P"], rows)
    for first, last in runs:
        for problem in first.problems():
            where = str(first.vector) if first is last else f"{first.vector}-{last.vector}"
            lines.append(style("warn", f"vector {where}: {problem}"))
    if view.beyond_limit:
        lines.append(style("warn", f"{_vector_list(view.beyond_limit)} beyond the IDT limit "
                                   f"({view.entries} gates): delivering raises #GP"))
    return "\n".join(lines)


def _vector_list(vectors) -> str:
    if len(vectors) == 1:
        return f"vector {vectors[0]} is"
    return f"vectors {vectors[0]}-{vectors[-1]} are"
