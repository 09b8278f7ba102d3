"""Text for isrdbg/1 documents: what a client that received a document over
GDB/MI (the REPL) shows to people.

The document is turned back into the core objects it was made from, and
render/text.py draws them: there stays one text renderer, and the REPL
prints exactly what the GDB command prints.  Kinds without a decoder here
give None (the caller shows the command's own output instead).
"""

from typing import Any, Callable, Dict, Optional

from gdbext.tracking.breakpoint_plan import ArmingReport, ExitArming, VectorArming
from gdbext.decode.disasm import Instruction
from gdbext.x86.error_codes import ErrorCode
from gdbext.tracking.findings import Finding
from gdbext.decode.frame import InterruptFrame
from gdbext.decode.frame_report import FrameReport
from gdbext.x86.idt import Gate, IdtView
from gdbext.tracking.judge import ExitObservation, RegisterChange, Verdict
from gdbext.x86.paging import PageWalk, WalkStep
from gdbext.decode.snapshot import Context
from gdbext.tracking.status import LastStop, Status
from gdbext.tracking.tracker import HandlerRun
from gdbext.x86.cpu import CpuMode, CpuState, DescriptorTableRegister
from . import text
from .style import PLAIN, Style


def _int(value) -> Optional[int]:
    """A document value (hex string, number or null) as an int."""
    if value is None:
        return None
    return int(value, 16) if isinstance(value, str) else int(value)


def _ints(mapping) -> Dict[str, int]:
    return {name: _int(value) for name, value in (mapping or {}).items() if value is not None}


# -- idt ------------------------------------------------------------------------------------

def idt_view(doc) -> IdtView:
    mode = CpuMode(doc["mode"])
    cpu = CpuState(doc["cpu"], mode, 0, DescriptorTableRegister(_int(doc["base"]), doc["limit"]),
                   None)
    gates = tuple(Gate(vector=e["vector"], mode=mode, type=e["type"],
                       type_code=e.get("type_code", 0), selector=e["selector"],
                       handler=_int(e["handler"]), ist=e["ist"], dpl=e["dpl"],
                       present=e["present"], raw=b"", symbol=e["symbol"])
                  for e in doc["entries"])
    return IdtView(cpu, gates, tuple(doc["beyond_limit"]))


# -- frame ----------------------------------------------------------------------------------

def _error_code(doc) -> Optional[ErrorCode]:
    if doc is None:
        return None
    return ErrorCode(_int(doc["value"]), doc["layout"],
                     tuple((f["name"], f["value"], f["meaning"]) for f in doc["fields"]),
                     doc["summary"], tuple(doc["problems"]))


def _page_walk(doc, address) -> Optional[PageWalk]:
    if doc is None:
        return None
    steps = tuple(WalkStep(s["level"], s["index"], _int(s["entry_address"]), _int(s["value"]),
                           "NX" in s["flags"]) for s in doc["steps"])
    physical = _int(doc["physical"])
    return PageWalk(address, doc["scheme"], steps, physical, doc["writable"], doc["user"],
                    doc["executable"], stopped=doc["summary"] if physical is None else "")


def frame_report(doc) -> FrameReport:
    error = _error_code(doc["error_code"])
    cs, ss = doc["cs"], doc["ss"]
    frame = InterruptFrame(
        address=_int(doc["address"]), bits=doc["bits"], has_error_code=doc["has_error_code"],
        error_code=error.value if error else None, rip=_int(doc["rip"]), cs=cs["value"],
        rflags=_int(doc["rflags"]["value"]), rsp=_int(doc["rsp"]),
        ss=ss["value"] if ss else None, handler_cpl=doc["handler_cpl"],
        stack_switch=doc["stack_switch"], alignment_padding=doc["alignment_padding"],
        rejected=tuple(doc["rejected"]))
    insn = doc["instruction"]
    instruction = None if insn is None else Instruction(
        _int(insn["address"]), len(insn["bytes"]) // 2, insn["text"], "", bytes.fromhex(insn["bytes"]))
    cr2 = _int(doc["cr2"])
    return FrameReport(
        cpu=doc["cpu"], source=doc["source"], vectors=tuple(doc["vectors"]),
        handler=_int(doc["handler"]), handler_symbol=doc["handler_symbol"], frame=frame,
        error=error, cr2=cr2, cr2_symbol=doc["cr2_symbol"], page_walk=_page_walk(doc["page_walk"], cr2),
        rip_symbol=doc["rip_symbol"], instruction=instruction,
        cs_descriptor=cs["descriptor"], ss_descriptor=ss["descriptor"] if ss else None,
        notes=tuple(doc["notes"]))


# -- diff -----------------------------------------------------------------------------------

def _finding(doc) -> Finding:
    details = {}
    for key, value in (doc.get("details") or {}).items():
        if key == "registers":
            value = {name: [_int(a), _int(b)] for name, (a, b) in value.items()}
        elif isinstance(value, str) and value.startswith("0x"):
            value = _int(value)
        details[key] = value
    return Finding(doc["rule"], doc["message"], doc["vector"], doc["cpu"], _int(doc["address"]),
                   _int(doc["handler"]), details)


def handler_run(doc) -> HandlerRun:
    entry = doc["entry"]
    values = _ints(entry["registers"])
    bits = 64 if "rax" in values else 32
    entry_context = Context(values, _int(entry["rip"]), entry["cs"], _int(entry["rflags"]),
                            _int(entry["rsp"]), entry["ss"] or 0)
    frame = InterruptFrame(address=_int(doc["frame"]), bits=bits, has_error_code=False,
                           error_code=None, rip=entry_context.rip, cs=entry_context.cs,
                           rflags=entry_context.rflags, rsp=None, ss=None, handler_cpl=0,
                           stack_switch=None, alignment_padding=None)
    exit = doc["exit"]
    observation = None if exit is None else ExitObservation(
        exit["kind"], _int(exit["address"]), {}, b"", 0, mnemonic=exit["instruction"] or "")
    changes = tuple(RegisterChange(c["register"], c["group"], _int(c["entry"]), _int(c["exit"]))
                    for c in doc["changes"])
    verdict = Verdict(changes, tuple(_finding(f) for f in doc["findings"]), None)
    return HandlerRun(doc["sequence"], doc["cpu"], tuple(doc["vectors"]), _int(doc["handler"]),
                      "", frame, entry_context, doc["depth"], observation, verdict=verdict)


def render_diff(doc, style: Style = PLAIN, everything: bool = False) -> str:
    live = doc.get("live")
    if live is not None:
        run = handler_run(live)
        return text.render_live_diff(run, _ints(live["now"]), _ints(live["saved"]), style)
    return "\n\n".join(text.render_run(handler_run(run), style, everything) for run in doc["runs"])


# -- breakpoints, status --------------------------------------------------------------------

def arming_report(doc) -> ArmingReport:
    return ArmingReport(tuple(VectorArming(v["vector"], v["mode"], v["hardware"], v["condition"],
                                           v["breakpoint"], _int(v["address"]), v["symbol"],
                                           v["reason"], v.get("hardware_reason"))
                              for v in doc["vectors"]),
                        tuple(doc["deleted"]),
                        tuple(ExitArming(_int(e["address"]), e["kind"], tuple(e["vectors"]),
                                         e["while_open"], e["reason"], e["armed"], e["runs"],
                                         e["outside"], e["symbol"],
                                         tuple(_int(a) for a in e.get("cuts", ())))
                              for e in doc.get("exits", ())))


def status(doc) -> Status:
    stop = doc["last_stop"]
    last = None if stop is None else LastStop(stop["kind"], stop["breakpoint"], stop["cpu"],
                                              tuple(stop["vectors"]), _int(stop["handler"]),
                                              stop["sequence"], stop["findings"])
    return Status(doc["state"], doc["cpu"], doc["mode"], tuple(doc["handling"]), doc["depth"],
                  doc["open_runs"], doc["runs"], dict(doc["findings"]), last, doc["problem"],
                  doc.get("unpaired", 0), doc.get("engine", ""))


# -- dispatch -------------------------------------------------------------------------------

def render_document(doc: Dict[str, Any], style: Style = PLAIN, command: str = "",
                    options=()) -> Optional[str]:
    """The text ``command`` (the isr command that produced ``doc``) prints,
    given its ``options`` (words such as "--all"); None for unknown kinds."""
    renderer: Optional[Callable[[], str]] = {
        "idt": lambda: text.render_idt(idt_view(doc), fold="--all" not in options, style=style),
        "frame": lambda: text.render_frame(frame_report(doc), style),
        "diff": lambda: render_diff(doc, style, everything="--all" in options),
        "breakpoints": lambda: (text.render_arming_table(arming_report(doc), style)
                                if command == "info isr-breakpoints" else
                                "" if command == "isr-delete" else
                                text.render_arming(arming_report(doc), style)),
        "status": lambda: text.render_status(status(doc), style),
    }.get(doc.get("kind"))
    return renderer() if renderer is not None else None
