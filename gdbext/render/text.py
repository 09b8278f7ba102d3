"""Text renderings for people: what the GDB commands and the REPL print."""

from typing import List, Optional

from gdbext.tracking.findings import INFO, RULES
from gdbext.decode.frame import rflags_names
from gdbext.decode.frame_report import FrameReport
from gdbext.x86.idt import Gate, IdtView, fold_runs, stub_stride
from gdbext.tracking.judge import compare
from gdbext.tracking.tracker import NO_ENTRY, NOT_TRACED
from gdbext.decode.snapshot import register_set
from gdbext.x86.vectors import format_vector_list, vector
from gdbext.x86.cpu import Selector
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
        stride = stub_stride(first, last)
        what = f"{count} stubs, {stride} bytes apart" if stride else f"{count} identical"
        name = f"{names.pop() if len(names) == 1 else 'mixed'} ({what})"
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


def _selector_line(value: int, descriptor: str) -> str:
    return f"{Selector(value).describe()}: {descriptor}"


def render_hit_header(vectors, cpu: int, handler: Optional[int], handler_symbol: Optional[str],
                      style: Style = PLAIN) -> str:
    """"vector 14 #PF Page Fault on CPU 0, handler isr_page_fault (0x103e60)"."""
    what = f"vector {_vector_text(vectors)}" if vectors else "unknown vector"
    where = ""
    if handler is not None:
        name = (handler_symbol or "").replace("+0", "") or "?"
        where = f", handler {style('symbol', name)} ({handler:#x})"
    return style("title", f"{what} on CPU {cpu}") + where


def render_frame(report: FrameReport, style: Style = PLAIN) -> str:
    frame = report.frame
    bits = frame.bits
    ec = "error code present" if frame.has_error_code else "no error code"
    lines = [style("title", f"Interrupt frame at {frame.address:#x} on CPU {report.cpu}: "
                            f"{frame.size} bytes, {bits}-bit, {ec}")]

    def row(label, text):
        lines.append(f"  {label:<11} {text}")

    if report.vectors:
        row("vector", _vector_text(report.vectors))
    if report.handler is not None:
        row("handler", f"{hex_address(report.handler, bits)}{_symbol(report.handler_symbol, style)}")
    if report.error is not None:
        error = report.error
        row("error code", f"{error.value:#x}: {error.summary}")
        if error.fields:
            row("", " ".join(f"{name}={value}" for name, value, _ in error.fields))
        for problem in error.problems:
            row("", style("warn", problem))
    if report.cr2 is not None:
        row("CR2", f"{report.cr2:#x}{_symbol(report.cr2_symbol, style)}")
    if report.page_walk is not None:
        walk = report.page_walk
        steps = " -> ".join(f"{s.level}[{s.index}]={s.value:#x} {' '.join(s.flags) or '-'}"
                            for s in walk.steps)
        row("page walk", f"{walk.scheme}: {steps}" if steps else walk.scheme)
        row("", walk.summary)
    insn = f"  {style('info', report.instruction.text)}" if report.instruction else ""
    row("RIP" if bits == 64 else "EIP",
        f"{style('address', hex_address(frame.rip, bits))}{_symbol(report.rip_symbol, style)}{insn}")
    row("CS", _selector_line(frame.cs, report.cs_descriptor))
    row("RFLAGS" if bits == 64 else "EFLAGS", f"{frame.rflags:#x} [{' '.join(rflags_names(frame.rflags))}]")
    if frame.rsp is not None:
        row("RSP" if bits == 64 else "ESP", hex_address(frame.rsp, bits))
        row("SS", _selector_line(frame.ss, report.ss_descriptor or ""))
    row("context", _context(frame))
    for note in report.notes:
        lines.append(style("warn", f"  note: {note}"))
    return "\n".join(lines)


def _vector_text(vectors) -> str:
    if len(vectors) == 1:
        return vector(vectors[0]).label
    return f"{format_vector_list(vectors)} (shared handler)"


def _symbol(name, style: Style = PLAIN) -> str:
    return f" <{style('symbol', name)}>" if name else ""


def _context(frame) -> str:
    ring = f"interrupted ring {frame.interrupted_cpl}"
    if frame.privilege_change:
        ring += f" (privilege change to ring {frame.handler_cpl})"
    else:
        ring += ", same privilege"
    if frame.stack_switch:
        return f"{ring}, stack switched to {frame.stack_switch}"
    if frame.alignment_padding is not None:
        return f"{ring}, no stack switch (CPU aligned RSP down by {frame.alignment_padding} bytes)"
    return f"{ring}, no stack switch"


# -- handler runs (isr-diff) -----------------------------------------------------------

_SEVERITY_ROLE = {"error": "bad", "warning": "warn", "info": "info"}


def render_finding(finding, style: Style = PLAIN) -> str:
    return f"{style(_SEVERITY_ROLE[finding.severity], finding.severity)} " \
           f"{style('bold', finding.rule)}: {finding.message}"


def _run_title(run) -> str:
    vectors = _vector_text(run.vectors) if run.vectors else "unknown vector"
    nested = f", nested {run.depth} deep" if run.depth else ""
    return f"handler run #{run.sequence}: vector {vectors} on CPU {run.cpu}{nested}"


def render_run(run, style: Style = PLAIN, everything: bool = False) -> str:
    """A completed entry/exit pair: registers side by side, findings below."""
    frame, exit = run.frame, run.exit
    bits = frame.bits
    how = {"iret": f"left by `{exit.mnemonic}` at {exit.address:#x}",
           "ret": f"left by `{exit.mnemonic}` at {exit.address:#x}",
           "return": f"resumed at {exit.address:#x} (no exit instruction seen)"}.get(
        exit.kind, f"left by {exit.kind} at {exit.address:#x}")
    lines = [style("title", _run_title(run)),
             f"  entered at frame {frame.address:#x} from {frame.rip:#x}; {how}"]
    changed = {c.name: c for c in run.verdict.changes}
    rows = []
    regset_names = _tracked_names(run.entry.values, bits)
    for name in regset_names:
        before = run.entry.values.get(name)
        if before is None:
            continue
        change = changed.get(name)
        if name.startswith(("xmm", "mxcsr", "fctrl", "fstat")) and not change and not everything:
            continue
        after = change.after if change else exit.registers.get(name, before)
        rows.append(_diff_row(name, before, after, change is not None, bits, style))
    for change in run.verdict.changes:
        if change.group in ("frame", "stack"):
            rows.append(_diff_row(change.name, change.before, change.after, True, bits, style))
    lines += ["  " + line for line in format_table(["REGISTER", "ENTRY", "EXIT", ""], rows)]
    lines += _findings_block(run.findings, style)
    return "\n".join(lines)


def _tracked_names(values, bits):
    return [n for n in register_set(bits).tracked if n in values]


def _diff_row(name, before, after, changed, bits, style):
    width = 34 if name.startswith("xmm") else bits // 4 + 2
    mark = style("changed", "changed") if changed else ""
    b, a = f"{before:#0{width}x}", f"{after:#0{width}x}"
    return [name, b, style("changed", a) if changed else a, mark]


def _findings_block(findings, style):
    if not findings:
        return ["  " + style("good", "no findings: the handler returned everything as it found it")]
    return ["  findings:"] + ["    " + render_finding(f, style) for f in findings]


def render_live_diff(run, now, saved, style: Style = PLAIN) -> str:
    """Stopped inside a handler: entry versus now, with where entry values are saved.

    ``saved`` maps a register name to the stack address the save analysis
    proves holds its entry value; None when the analysis could not tell.
    """
    frame = run.frame
    bits = frame.bits
    regset = register_set(bits)
    lines = [style("title", _run_title(run) + " (still running)"),
             f"  entered at frame {frame.address:#x} from {frame.rip:#x}; comparing with now"]
    changes = compare(regset, run.entry, now)
    rows = []
    for change in changes:
        where = saved.get(change.name) if saved is not None else None
        sp = now.get(regset.sp, 0)
        if where is not None:
            note = f"saved at {regset.sp}+{where - sp:#x}"
        elif saved is None:
            note = "not known: the save analysis cannot place RIP in the handler"
        else:
            note = style("bad", "lost: no copy on the handler's stack")
        rows.append(_diff_row(change.name, change.before, change.after, True, bits, style)[:3]
                    + [note])
    if rows:
        lines += ["  " + line for line in format_table(["REGISTER", "ENTRY", "NOW", ""], rows)]
    else:
        lines.append("  " + style("good", "no tracked register differs from the entry"))
    return "\n".join(lines)


# -- static checks (isr-check) and saved registers (isr-saved) ---------------------------

def _at(address, symbols) -> str:
    name = symbols.get(address)
    return f"{address:#x}" + (f" <{name}>" if name else "")


def render_checks(checks, mode: str, symbols, skipped, style: Style = PLAIN) -> str:
    """``symbols`` maps addresses (handlers, findings) to symbol+offset."""
    with_findings = [c for c in checks if any(f.is_problem for f in c.findings)]
    errors = sum(1 for c in checks for f in c.findings if f.is_problem)
    vectors = sum(len(c.vectors) for c in checks)
    lines = [style("title", f"isr-check: {len(checks)} handlers for {vectors} vectors ({mode} "
                            f"mode): {len(with_findings)} with findings, {errors} problems")]
    rows = []
    for c in checks:
        exits = ", ".join(f"{k} {a:#x}" for a, k in c.exits) or "none"
        count = sum(1 for f in c.findings if f.is_problem)
        rows.append([format_vector_list(c.vectors), symbols.get(c.handler) or f"{c.handler:#x}",
                     str(c.instructions), str(c.stack_usage),
                     "-" if c.shortest_path is None else str(c.shortest_path), exits,
                     style("bad", str(count)) if count else "-"])
    lines += format_table(["VECTORS", "HANDLER", "INSNS", "STACK", "SHORTEST", "EXITS",
                           "FINDINGS"], rows)
    for c in checks:
        if not c.findings and not c.notes and not c.stops:
            continue
        lines.append("")
        lines.append(style("title", f"handler {_at(c.handler, symbols)} for vector "
                                    f"{format_vector_list(c.vectors)}:"))
        for f in c.findings:
            insn = f.details.get("instruction")
            lines.append(f"  {style(_SEVERITY_ROLE[f.severity], f.severity)} "
                         f"{style('bold', f.rule)} at {_at(f.address, symbols)}"
                         f"{f' `{insn}`' if insn else ''}: {f.message}")
        for address, why in c.stops:
            lines.append(f"  note: at {address:#x}: {why}")
        for note in c.notes:
            lines.append(f"  note: {note}")
    for what in skipped:
        lines.append(f"skipped: {what}")
    return "\n".join(lines)


def render_saved(view, bits: int, symbols, style: Style = PLAIN) -> str:
    where = f"inside a call made at {view.via_call:#x}" if view.via_call is not None else \
        f"at {view.rip:#x}"
    lines = [style("title", f"Registers saved by handler {_at(view.handler, symbols)} "
                            f"(frame {view.frame:#x}), stopped {where}")]
    rows = []
    for slot in view.slots:
        value = "-" if slot.value is None else f"{slot.value:#0{slot.size * 2 + 2}x}" \
            if slot.size <= 8 else "-"
        verdict = {True: style("good", "= interrupted"), False: style("bad", "differs"),
                   None: ""}[slot.matches]
        rows.append([f"{slot.address:#x}", f"{slot.frame_offset:+#x}", slot.register, value,
                     verdict, f"{slot.saved_by:#x} {slot.instruction}"])
    if rows:
        lines += format_table(["SLOT", "FRAME", "REGISTER", "VALUE", "", "SAVED BY"], rows)
    else:
        lines.append("nothing saved on the stack yet")
    if view.lost:
        lines.append(style("bad", "changed and not saved (the interrupted code will miss them):"))
        for name, before, now in view.lost:
            lines.append(f"  {name}: {before:#x} at entry, now {now:#x}")
    lines += [f"note: {note}" for note in getattr(view, "notes", ())]
    return "\n".join(lines)


# -- arming (isr-break, isr-watch, isr-delete, info isr-breakpoints) -----------------------

def describe_vectors(vectors) -> str:
    """"14 #PF Page Fault" for one vector, "33-40" for several."""
    if len(vectors) == 1:
        return vector(vectors[0]).label
    return format_vector_list(vectors)


def _by_breakpoint(report):
    """Armed vectors grouped per breakpoint, in vector order."""
    groups = {}
    for arming in report.vectors:
        if arming.armed:
            # the trace plugin's vectors share number 0: one group per handler
            groups.setdefault((arming.breakpoint, arming.address), []).append(arming)
    return sorted(groups.values(), key=lambda group: group[0].vector)


def _breakpoint_name(number: int) -> str:
    """GDB numbers user breakpoints from 1; internal ones (watched or traced
    vectors only) get negative numbers nobody can type."""
    if number == 0:
        return "watched by the trace plugin"
    return f"breakpoint {number}" if number > 0 else "internal breakpoint"


# More handlers than this and the arming summary gives one line per kind of
# breakpoint (Linux has a stub per vector: `isr-trace all` would print 256
# lines); `info isr-breakpoints` still lists every handler.
ARMING_LINES_MAX = 16


def render_arming(report, style: Style = PLAIN) -> str:
    """One line per breakpoint the vectors landed on (per kind of breakpoint
    when there are many), one for the pending ones."""
    lines = []
    groups = _by_breakpoint(report)
    if len(groups) > ARMING_LINES_MAX:
        kinds = {}
        for group in groups:
            kinds.setdefault(_breakpoint_name(group[0].breakpoint), []).append(group)
        for name, same in kinds.items():
            vectors = sorted(a.vector for group in same for a in group)
            lines.append(f"vector {describe_vectors(vectors)}: {name} ({len(same)} handlers; "
                         "info isr-breakpoints lists them)")
        groups = ()
    for group in groups:
        first = group[0]
        name = (first.symbol or "").replace("+0", "")
        where = f" ({style('symbol', name)})" if name else ""
        lines.append(f"vector {describe_vectors([a.vector for a in group])}: "
                     f"{_breakpoint_name(first.breakpoint)}{where}")
    pending = [a for a in report.vectors if not a.armed]
    if pending:
        reasons = {a.reason for a in pending}
        why = reasons.pop() if len(reasons) == 1 else "see info isr-breakpoints"
        lines.append(style("warn", f"vector {describe_vectors([a.vector for a in pending])}: "
                                   f"pending ({why})"))
    return "\n".join(lines)


def render_arming_table(report, style: Style = PLAIN) -> str:
    if not report.vectors:
        return "No isr breakpoints."
    rows = []
    for group in _by_breakpoint(report):
        first = group[0]
        conditions = sorted({a.condition for a in group} - {None})
        number = first.breakpoint
        rows.append([describe_vectors([a.vector for a in group]), "armed",
                     str(number) if number > 0 else "plugin" if number == 0 else "internal",
                     f"{first.address:#x}", style("symbol", first.symbol or ""),
                     " ".join(([f"hardware: {first.hardware_reason}" if first.hardware_reason
                                else "hardware"] if first.hardware else [])
                              + [" | ".join(f"if {c}" for c in conditions)]).strip()])
    by_reason = {}
    for arming in report.vectors:
        if not arming.armed:
            by_reason.setdefault(arming.reason, []).append(arming.vector)
    for reason, vectors in by_reason.items():
        rows.append([describe_vectors(vectors), style("warn", "pending"), "-", "-", reason or "", ""])
    table = format_table(["VECTOR", "STATE", "BP", "ADDRESS", "SYMBOL/REASON", ""], rows)
    return "\n".join(table + [render_exit_arming(e, style) for e in report.exits])


def render_exit_arming(exit, style: Style = PLAIN) -> str:
    """"exit 0x... (iret) of vector 14, 128: armed while a run is open (shared
    by 2 traced handlers (2 vectors)); 40 runs closed, 3 stops outside traced runs"."""
    name = (exit.symbol or "").replace("+0", "")
    where = f" {style('symbol', name)}" if name else ""
    of = f" of vector {describe_vectors(exit.vectors)}" if exit.vectors else ""
    how = "armed while a run is open" if exit.while_open else "always armed"
    if exit.while_open and exit.cuts:
        how = ("armed while a run is past its handler's own code (" +
               ", ".join(f"{a:#x}" for a in exit.cuts) + ")")
    now = ("" if not exit.while_open else ", in the target now" if exit.armed
           else ", not in the target now")
    return (f"exit {exit.address:#x}{where} ({exit.kind}){of}: {how} ({exit.reason}{now}); "
            f"{exit.runs} runs closed, {exit.outside} stops outside traced runs")


# -- status (isr-status) -------------------------------------------------------------------

def render_status(status, style: Style = PLAIN) -> str:
    """"CPU 0, long mode, stopped: in vector 14 #PF Page Fault's handler (depth 1); ..."."""
    if status.state == "no target":
        where = "no target"
    else:
        where = status.state
        if status.cpu is not None:
            mode = f", {status.mode} mode" if status.mode else ""
            where = f"CPU {status.cpu}{mode}, {status.state}"
    if status.handling:
        where += f": in the handler of vector {_vector_text(status.handling)}"
        where += f" (depth {status.depth})" if status.depth > 1 else ""
    elif status.state == "stopped" and status.cpu is not None:
        where += ": not in a tracked handler"
    problems = sum(n for severity, n in status.findings.items() if severity != "info")
    role = "bad" if problems else "good"
    counts = ", ".join(f"{n} {severity}" for severity, n in status.findings.items() if n)
    plural = "s" if problems != 1 else ""
    lines = [style("title", where),
             f"  {status.runs} handler run{'s' if status.runs != 1 else ''} recorded, "
             f"{style(role, str(problems))} finding{plural} breaking the convention"
             + (f" ({counts})" if counts else "")
             + (f"; {status.unpaired} unpaired (not judged)" if status.unpaired else "")]
    stop = status.last_stop
    if stop is not None:
        what = "entry" if stop.kind == "entry" else f"exit of run #{stop.sequence}"
        vectors = _vector_text(stop.vectors) if stop.vectors else "unknown vector"
        lines.append(f"  last stop: {_breakpoint_name(stop.breakpoint)}, {what} of vector {vectors} "
                     f"on CPU {stop.cpu}")
    if status.engine:
        lines.append(f"  {status.engine}")
    if status.problem:
        lines.append(style("warn", f"  {status.problem}"))
    return "\n".join(lines)


# -- isr-trace ------------------------------------------------------------------------------

TRACE_FINDINGS_SHOWN = 50


def _trace_state(report) -> str:
    vectors = format_vector_list(report.vectors) if report.vectors else "none"
    if report.state == "tracing":
        limit = (f", limit {report.limit} runs ({report.counted} recorded)"
                 if report.limit is not None else "")
        plural = "s" if len(report.vectors) != 1 else ""
        return f"isr-trace: tracing vector{plural} {vectors}{limit}"
    if report.state == "stopped":
        return f"isr-trace: stopped ({report.reason}); traced vectors {vectors}"
    return "isr-trace: no trace"


def render_trace(report, style: Style = PLAIN) -> str:
    """Per vector: runs, deepest nesting, findings by rule, first/last run;
    then the kept findings with their run."""
    lines = [style("title", _trace_state(report))]
    rows = []
    for row in report.rows:
        findings = ", ".join(f"{rule} {n}" for rule, n in row.findings.items()) or "-"
        problem = any(RULES[r].severity != INFO for r in row.findings if r in RULES)
        rows.append([_vector_text(row.vectors), str(row.runs), str(row.unpaired_total),
                     str(row.max_depth), style("bad", findings) if problem else findings,
                     f"#{row.first}" if row.first else "-", f"#{row.last}" if row.last else "-"])
    if rows:
        lines += format_table(["VECTOR", "JUDGED", "UNPAIRED", "MAX NESTING", "FINDINGS",
                               "FIRST", "LAST"], rows)
    else:
        lines.append("no handler run recorded yet")
    lines += _not_judged(report)
    kept = report.findings_kept
    if report.findings_total:
        shown = report.findings[-TRACE_FINDINGS_SHOWN:]
        more = len(report.findings) - len(shown)
        lines.append(f"findings ({report.findings_total} counted, {kept} kept"
                     + (f", the last {len(shown)} runs shown" if more else "") + "):")
        for same in _repeats(shown, style):
            digest = same[0]
            nested = f", nested {digest.depth} deep" if digest.depth else ""
            if digest.exit_cpu is not None and digest.exit_cpu != digest.cpu:
                nested = f" (returned on CPU {digest.exit_cpu}){nested}"
            lines.append(f"  run #{digest.sequence}: vector {_vector_text(digest.vectors)} on "
                         f"CPU {digest.cpu}{nested}, frame {digest.frame:#x}, interrupted "
                         f"{digest.cs:#x}:{digest.rip:#x} rsp {digest.rsp:#x}")
            lines += ["    " + render_finding(f, style) for f in digest.findings]
            if len(same) > 1:
                numbers = (f"#{same[1].sequence}" if len(same) == 2 else
                           f"#{same[1].sequence}..#{same[-1].sequence}")
                lines.append(f"    and {len(same) - 1} more run{'s' if len(same) > 2 else ''} "
                             f"({numbers}) of this vector with the same finding"
                             + ("s" if len(digest.findings) > 1 else ""))
    lines.append(f"{report.runs} run{'s' if report.runs != 1 else ''} judged, "
                 f"{report.kept_runs} kept (history {report.history}); {report.open_runs} open; "
                 f"unpaired: {report.lost_runs} entr{'ies' if report.lost_runs != 1 else 'y'}, "
                 f"{report.unmatched_exits} exit{'s' if report.unmatched_exits != 1 else ''} "
                 f"({100 * report.unpaired_share:.2f}% of runs)")
    return "\n".join(lines)


def _repeats(digests, style):
    """Consecutive runs of one vector whose findings read the same, grouped:
    a kernel that changes frames on purpose (signals) repeats one info
    finding per run, and one example says it all."""
    groups, previous = [], None
    for digest in digests:
        key = (tuple(digest.vectors), tuple(render_finding(f, style) for f in digest.findings))
        if groups and key == previous:
            groups[-1].append(digest)
        else:
            groups.append([digest])
        previous = key
    return groups


def _not_judged(report) -> List[str]:
    """Why runs were not paired (never judged), and why changes were not judged."""
    lines = []
    unpaired = {}
    for row in report.rows:
        for reason, count in row.unpaired.items():
            unpaired.setdefault(reason, []).append(f"{_vector_text(row.vectors)}: {count}")
    for reason, where in sorted(unpaired.items()):
        lines.append(f"unpaired entries, {reason}: " + "; ".join(where))
    for reason, count in report.unmatched.items():
        lines.append(f"unpaired exits, {reason}: {count}")
    if report.exits_without_entry:
        lines.append(f"{NO_ENTRY}: {report.exits_without_entry}")
    if report.exits_not_traced:
        lines.append(f"{NOT_TRACED}: {report.exits_not_traced}")
    for row in report.rows:
        for reason, count in row.unjudged.items():
            lines.append(f"changed, not judged in {count} run{'s' if count != 1 else ''} of "
                         f"vector {_vector_text(row.vectors)}: {reason}")
    return lines
