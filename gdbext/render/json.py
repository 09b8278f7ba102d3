"""JSON renderings for programs (``--json`` and the GDB/MI commands).

Schema ``isrdbg/1``: every document has ``schema`` and ``kind``.  Addresses and
register values are hex strings ("0xffffffff81000000") so no consumer loses
precision to doubles; counts, vectors, selectors and privilege levels are numbers.
"""

import json
from typing import Any, Dict

from ..idt import Gate, IdtView

SCHEMA = "isrdbg/1"


def hex_or_none(value):
    return None if value is None else f"{value:#x}"


def document(kind: str, **fields: Any) -> Dict[str, Any]:
    return {"schema": SCHEMA, "kind": kind, **fields}


def dumps(doc: Dict[str, Any]) -> str:
    """One line per document, so output can be read line by line."""
    return json.dumps(doc, separators=(",", ":"))


def gate_dict(gate: Gate) -> Dict[str, Any]:
    info = gate.info
    return {
        "vector": gate.vector, "mnemonic": info.mnemonic, "name": info.name,
        "class": info.kind, "error_code": info.pushes_error_code,
        "type": gate.type, "selector": gate.selector, "handler": hex_or_none(gate.handler),
        "symbol": gate.symbol, "ist": gate.ist, "dpl": gate.dpl, "present": gate.present,
        "problems": gate.problems(),
    }


def idt_doc(view: IdtView) -> Dict[str, Any]:
    cpu = view.cpu
    return document("idt", cpu=cpu.cpu, mode=cpu.mode.value, base=hex_or_none(cpu.idtr.base),
                    limit=cpu.idtr.limit, gate_size=cpu.mode.gate_size, count=view.entries,
                    entries=[gate_dict(g) for g in view.gates],
                    beyond_limit=list(view.beyond_limit))
