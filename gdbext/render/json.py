"""JSON renderings for programs (``--json`` and the GDB/MI commands).

Schema ``isrdbg/1``: every document has ``schema`` and ``kind``.  Addresses and
register values are hex strings ("0xffffffff81000000") so no consumer loses
precision to doubles; counts, vectors, selectors and privilege levels are numbers.
"""

import json
from typing import Any, Dict

from gdbext.decode.frame import rflags_names
from gdbext.x86.idt import Gate, IdtView
from gdbext.x86.cpu import Selector

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
        "type": gate.type, "type_code": gate.type_code, "selector": gate.selector, "handler": hex_or_none(gate.handler),
        "symbol": gate.symbol, "ist": gate.ist, "dpl": gate.dpl, "present": gate.present,
        "problems": gate.problems(),
    }


def idt_doc(view: IdtView) -> Dict[str, Any]:
    cpu = view.cpu
    return document("idt", cpu=cpu.cpu, mode=cpu.mode.value, base=hex_or_none(cpu.idtr.base),
                    limit=cpu.idtr.limit, gate_size=cpu.mode.gate_size, count=view.entries,
                    entries=[gate_dict(g) for g in view.gates],
                    beyond_limit=list(view.beyond_limit))


def _selector(value, descriptor):
    if value is None:
        return None
    sel = Selector(value)
    return {"value": value, "index": sel.index, "table": sel.table, "rpl": sel.rpl,
            "descriptor": descriptor}


def _error_code(error):
    if error is None:
        return None
    return {"value": hex_or_none(error.value), "layout": error.layout, "summary": error.summary,
            "fields": [{"name": n, "value": v, "meaning": m} for n, v, m in error.fields],
            "problems": list(error.problems)}


def _page_walk(walk):
    if walk is None:
        return None
    return {"scheme": walk.scheme, "physical": hex_or_none(walk.physical),
            "writable": walk.writable, "user": walk.user, "executable": walk.executable,
            "summary": walk.summary,
            "steps": [{"level": s.level, "index": s.index,
                       "entry_address": hex_or_none(s.entry_address),
                       "value": hex_or_none(s.value), "flags": s.flags} for s in walk.steps]}


def frame_doc(report) -> Dict[str, Any]:
    frame = report.frame
    insn = report.instruction
    return document(
        "frame", cpu=report.cpu, source=report.source, vectors=list(report.vectors),
        vector=report.vector, handler=hex_or_none(report.handler),
        handler_symbol=report.handler_symbol, address=hex_or_none(frame.address),
        bits=frame.bits, size=frame.size, has_error_code=frame.has_error_code,
        error_code=_error_code(report.error), rip=hex_or_none(frame.rip),
        rip_symbol=report.rip_symbol,
        instruction=None if insn is None else {"address": hex_or_none(insn.address),
                                               "bytes": insn.raw.hex(), "text": insn.text},
        cs=_selector(frame.cs, report.cs_descriptor),
        rflags={"value": hex_or_none(frame.rflags), "flags": rflags_names(frame.rflags)},
        rsp=hex_or_none(frame.rsp), ss=_selector(frame.ss, report.ss_descriptor),
        interrupted_cpl=frame.interrupted_cpl, handler_cpl=frame.handler_cpl,
        privilege_change=frame.privilege_change, stack_switch=frame.stack_switch,
        alignment_padding=frame.alignment_padding, cr2=hex_or_none(report.cr2),
        cr2_symbol=report.cr2_symbol, page_walk=_page_walk(report.page_walk),
        notes=list(report.notes), rejected=list(frame.rejected))


# Finding details that hold addresses (hex strings in JSON); others are counts.
_ADDRESS_DETAILS = {"rsp", "expected_rsp", "culprit", "exit"}


def _hex_values(value):
    """Register values and addresses inside a detail, as hex strings."""
    if isinstance(value, dict):
        return {k: _hex_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_hex_values(v) for v in value]
    return hex_or_none(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _detail(key, value):
    # registers: {name: [entry, exit]} (dynamic) or {name: writer address} or
    # [names] (static); rsp/expected_rsp/culprit/exit: addresses
    if key == "registers" or key in _ADDRESS_DETAILS:
        return _hex_values(value)
    return value


def finding_dict(finding) -> Dict[str, Any]:
    details = {key: _detail(key, value) for key, value in finding.details.items()}
    return {"rule": finding.rule, "severity": finding.severity, "vector": finding.vector,
            "cpu": finding.cpu, "address": hex_or_none(finding.address),
            "handler": hex_or_none(finding.handler), "message": finding.message,
            "details": details}


def run_dict(run) -> Dict[str, Any]:
    exit = run.exit
    return {
        "sequence": run.sequence, "cpu": run.cpu, "vectors": list(run.vectors),
        "vector": run.vector, "handler": hex_or_none(run.handler), "depth": run.depth,
        "frame": hex_or_none(run.frame.address),
        "entry": {"rip": hex_or_none(run.entry.rip), "cs": run.entry.cs,
                  "rflags": hex_or_none(run.entry.rflags), "rsp": hex_or_none(run.entry.rsp),
                  "ss": run.entry.ss,
                  "registers": {k: hex_or_none(v) for k, v in run.entry.values.items()}},
        "exit": None if exit is None else {"kind": exit.kind, "address": hex_or_none(exit.address),
                                           "instruction": exit.mnemonic},
        "changes": [{"register": c.name, "group": c.group, "entry": hex_or_none(c.before),
                     "exit": hex_or_none(c.after)} for c in (run.verdict.changes if run.verdict else ())],
        "findings": [finding_dict(f) for f in run.findings],
        # how the exit was paired with this entry, and changes left unjudged
        "identity": getattr(run, "identity", "") or None,
        "changes_not_judged": [{"register": name, "reason": reason}
                               for name, reason in (run.verdict.unjudged if run.verdict else ())],
    }


def diff_doc(runs, live=None) -> Dict[str, Any]:
    return document("diff", runs=[run_dict(r) for r in runs], live=live)


def check_doc(checks, mode, symbols, skipped) -> Dict[str, Any]:
    def finding(f):
        d = finding_dict(f)
        d["symbol"] = symbols.get(f.address)
        return d
    return document("check", mode=mode, skipped=list(skipped), handlers=[{
        "handler": hex_or_none(c.handler), "symbol": symbols.get(c.handler),
        "vectors": list(c.vectors), "bits": c.bits, "instructions": c.instructions,
        "exits": [{"address": hex_or_none(a), "kind": k} for a, k in c.exits],
        "stops": [{"address": hex_or_none(a), "reason": r} for a, r in c.stops],
        "stack_usage": c.stack_usage, "shortest_path": c.shortest_path,
        "truncated": c.truncated, "notes": list(c.notes),
        "findings": [finding(f) for f in c.findings]} for c in checks])


def saved_doc(view) -> Dict[str, Any]:
    return document("saved", handler=hex_or_none(view.handler), frame=hex_or_none(view.frame),
                    rip=hex_or_none(view.rip), via_call=hex_or_none(view.via_call), slots=[{
                        "address": hex_or_none(s.address), "frame_offset": s.frame_offset,
                        "register": s.register, "value": hex_or_none(s.value),
                        "interrupted": hex_or_none(s.interrupted), "matches": s.matches,
                        "saved_by": hex_or_none(s.saved_by), "instruction": s.instruction,
                        "size": s.size} for s in view.slots],
                    lost=[{"register": n, "interrupted": hex_or_none(a), "now": hex_or_none(b)}
                          for n, a, b in view.lost], notes=list(view.notes))


def arming_dict(arming) -> Dict[str, Any]:
    return {"vector": arming.vector, "state": "armed" if arming.armed else "pending",
            "mode": arming.mode, "hardware": arming.hardware, "condition": arming.condition,
            "breakpoint": arming.breakpoint, "address": hex_or_none(arming.address),
            "symbol": arming.symbol, "reason": arming.reason,
            "hardware_reason": arming.hardware_reason}


def exit_arming_dict(exit) -> Dict[str, Any]:
    return {"address": hex_or_none(exit.address), "kind": exit.kind,
            "vectors": list(exit.vectors), "while_open": exit.while_open,
            "reason": exit.reason, "armed": exit.armed, "runs": exit.runs,
            "outside": exit.outside, "symbol": exit.symbol,
            "cuts": [hex_or_none(a) for a in exit.cuts]}


def breakpoints_doc(report) -> Dict[str, Any]:
    return document("breakpoints", vectors=[arming_dict(a) for a in report.vectors],
                    deleted=list(report.deleted),
                    exits=[exit_arming_dict(e) for e in report.exits])


def status_doc(status) -> Dict[str, Any]:
    stop = status.last_stop
    return document(
        "status", state=status.state, cpu=status.cpu, mode=status.mode,
        handling=list(status.handling), depth=status.depth, open_runs=status.open_runs,
        runs=status.runs, unpaired=status.unpaired, findings=dict(status.findings),
        problem=status.problem, engine=status.engine,
        last_stop=None if stop is None else {
            "kind": stop.kind, "breakpoint": stop.breakpoint, "cpu": stop.cpu,
            "vectors": list(stop.vectors), "handler": hex_or_none(stop.handler),
            "sequence": stop.sequence, "findings": stop.findings})


def run_digest_dict(digest) -> Dict[str, Any]:
    return {"run": digest.sequence, "cpu": digest.cpu, "vectors": list(digest.vectors),
            "vector": digest.vector, "handler": hex_or_none(digest.handler),
            "frame": hex_or_none(digest.frame), "rip": hex_or_none(digest.rip), "cs": digest.cs,
            "rsp": hex_or_none(digest.rsp), "depth": digest.depth,
            "exit_cpu": digest.exit_cpu}


def trace_doc(report) -> Dict[str, Any]:
    """isr-trace report: per vector (or set of vectors sharing a handler) the
    runs, deepest nesting, findings by rule and first/last run; then every
    kept finding with the run it came from."""
    return document(
        "trace", state=report.state, reason=report.reason or None, limit=report.limit,
        counted=report.counted, vectors=list(report.vectors), runs=report.runs,
        kept_runs=report.kept_runs, history=report.history, open_runs=report.open_runs,
        unmatched_exits=report.unmatched_exits, lost_runs=report.lost_runs,
        unmatched=dict(report.unmatched), unpaired=report.unpaired,
        exits_without_entry=report.exits_without_entry,
        exits_not_traced=report.exits_not_traced,
        unpaired_share=round(report.unpaired_share, 6),
        per_vector=[{"vectors": list(r.vectors),
                     "vector": r.vectors[0] if len(r.vectors) == 1 else None,
                     "runs": r.runs, "judged": r.runs, "unpaired": dict(r.unpaired),
                     "unpaired_total": r.unpaired_total, "changes_not_judged": dict(r.unjudged),
                     "max_depth": r.max_depth, "findings": dict(r.findings),
                     "first": r.first, "last": r.last} for r in report.rows],
        findings_total=report.findings_total, findings_kept=report.findings_kept,
        findings=[dict(finding_dict(f), run=run_digest_dict(d))
                  for d in report.findings for f in d.findings])
