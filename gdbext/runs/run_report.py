"""What `isrdbg run` found, and its reports: the summary table, JUnit XML and
the JSON "run-report" document (schema isrdbg/1).

Pure: a ``ScenarioResult`` is filled by the runner (gdbext/client/runner.py)
from the isrdbg/1 documents GDB returned; everything here only formats it,
so the reports are unit-tested without QEMU or GDB.
"""

import hashlib
import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from gdbext.render.json import document, dumps
from gdbext.runs.scenario import (ERROR, FAIL, PASS, SKIP, Observed, Scenario, Verdict, judge,
                                  registers_named)
from gdbext.x86.vectors import format_vector_list

RUN_REPORT = "run-report"

# isrdbg run's exit status
EXIT_OK = 0            # every scenario as expected
EXIT_FAILED = 1        # unexpected findings, required ones missing, wrong exit status
EXIT_ERROR = 2         # infrastructure: kernel missing, QEMU did not boot, timeout, triple fault


def trace_observed(per_vector: List[Dict[str, Any]],
                   findings: List[Dict[str, Any]]) -> List[Observed]:
    """A trace document's findings as the verdict sees them: per vector and rule
    with its exact run count (the rows), with the message and the registers named
    by the kept findings (the bounded log)."""
    messages, registers = {}, {}
    for finding in findings:
        run = finding.get("run") or {}
        key = (tuple(run.get("vectors") or ([finding["vector"]]
                                           if finding.get("vector") is not None else [])),
               finding["rule"])
        messages.setdefault(key, finding.get("message", ""))
        registers[key] = registers.get(key, frozenset()) | registers_named(
            finding.get("details"))
    return [Observed(rule, tuple(row["vectors"]), "run", count,
                     messages.get((tuple(row["vectors"]), rule), ""),
                     registers.get((tuple(row["vectors"]), rule), frozenset()))
            for row in per_vector for rule, count in sorted(row.get("findings", {}).items())]


def static_observed(check: Optional[Dict[str, Any]]) -> List[Observed]:
    """An isr-check document's findings, one each, on the finding's own vector
    when it names one of its handler's vectors."""
    found = []
    for handler in (check or {}).get("handlers", []):
        for finding in handler.get("findings", []):
            vectors = tuple(handler.get("vectors") or ())
            if finding.get("vector") is not None and finding["vector"] in vectors:
                vectors = (finding["vector"],)
            found.append(Observed(finding["rule"], vectors, "static", 1,
                                  finding.get("message", ""),
                                  registers_named(finding.get("details"))))
    return found


@dataclass
class ScenarioResult:
    """One scenario's run: what was observed and the verdict on it."""

    scenario: Scenario
    arch: Optional[str] = None
    verdict: Optional[Verdict] = None
    errors: List[str] = field(default_factory=list)       # infrastructure problems
    ended: str = ""            # "exit", "runs", "timeout", "triple-fault", "qemu-died", "error"
    exit_status: Optional[int] = None
    exited: bool = False
    triple_fault: bool = False
    per_vector: List[Dict[str, Any]] = field(default_factory=list)  # trace report rows
    runs: List[Dict[str, Any]] = field(default_factory=list)        # isr-diff run dicts
    run_findings: List[Dict[str, Any]] = field(default_factory=list)  # trace findings (+run)
    static: Optional[Dict[str, Any]] = None                         # the isr-check document
    trace: Optional[Dict[str, Any]] = None                          # the isr-trace report
    timings: Dict[str, float] = field(default_factory=dict)
    artifacts: Dict[str, str] = field(default_factory=dict)
    serial_tail: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    skipped: Optional[str] = None      # the serial line that matched skip_if_serial

    # -- what was observed ------------------------------------------------------------
    @property
    def total_runs(self) -> int:
        return sum(row.get("runs", 0) for row in self.per_vector)

    def runs_of(self, vector: int) -> int:
        return sum(row.get("runs", 0) for row in self.per_vector if vector in row["vectors"])

    def observed(self) -> List[Observed]:
        """Every finding, as the verdict sees it: per vector and rule with its
        run count (exact counters of the trace), and each static one."""
        return trace_observed(self.per_vector, self.run_findings) + static_observed(self.static)

    def decide(self) -> Verdict:
        self.verdict = judge(self.scenario.expect, self.observed(), self.total_runs,
                             self.exit_status, self.exited, self.errors, self.skipped)
        return self.verdict

    @property
    def status(self) -> str:
        if self.verdict is None:
            self.decide()
        return self.verdict.status

    @property
    def duration(self) -> float:
        return self.timings.get("total", 0.0)

    def explain(self) -> str:
        """The verdict, its reasons, every finding and where the artifacts are."""
        lines = [f"scenario {self.label}: {self.status.upper()}"]
        lines += [f"  - {problem}" for problem in self.verdict.problems]
        lines += findings_listing(self.observed(), runs_text(self, limit=None))
        if self.artifacts.get("dir"):
            lines.append(f"artifacts: {self.artifacts['dir']}")
        elif self.serial_tail:
            lines.append("serial log (last lines):")
            lines += [f"  {line}" for line in self.serial_tail]
        return "\n".join(lines)

    def assert_as_expected(self) -> "ScenarioResult":
        """AssertionError (with explain()) unless the verdict is pass; under
        pytest a skipped scenario skips the test."""
        if self.status == SKIP:
            try:
                import pytest
            except ImportError:
                return self
            pytest.skip(self.verdict.problems[0])
        if self.status != PASS:
            raise AssertionError(self.explain())
        return self

    @property
    def label(self) -> str:
        """The scenario's name with its arch, unique within a suite in practice."""
        return f"{self.scenario.name} ({self.arch})" if self.arch else self.scenario.name


def suite_status(results: Iterable[ScenarioResult]) -> int:
    statuses = {r.status for r in results}
    if ERROR in statuses:
        return EXIT_ERROR
    if FAIL in statuses:
        return EXIT_FAILED
    return EXIT_OK


def findings_listing(observed: Sequence[Observed], runs: str = "") -> List[str]:
    lines = [f"findings ({len(observed)}):" if observed else "findings: none"]
    lines += [f"  {o.severity:7} {o.describe()}" for o in observed]
    if runs:
        lines.append(f"handler runs per vector: {runs}")
    return lines


# -- run digests ------------------------------------------------------------------------

def _digest(values: Dict[str, Any]) -> str:
    text = ";".join(f"{k}={values[k]}" for k in sorted(values))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_digest(run: Dict[str, Any]) -> Dict[str, Any]:
    """One handler run (an isr-diff run dict) for the report: where it ran,
    how it left, the registers it changed, its findings, and digests of the
    register snapshots at entry and at exit.  The exit snapshot is the entry
    one with the changes applied, so equal digests mean the handler returned
    every tracked register as it found it."""
    entry = run.get("entry") or {}
    registers = dict(entry.get("registers") or {})
    at_exit = dict(registers)
    for change in run.get("changes", []):
        at_exit[change["register"]] = change["exit"]
    exit = run.get("exit")
    return {
        "run": run.get("sequence"), "cpu": run.get("cpu"), "vectors": run.get("vectors"),
        "vector": run.get("vector"), "handler": run.get("handler"), "depth": run.get("depth"),
        "frame": run.get("frame"),
        "interrupted": {"rip": entry.get("rip"), "cs": entry.get("cs"),
                        "rflags": entry.get("rflags"), "rsp": entry.get("rsp"),
                        "ss": entry.get("ss")},
        "exit": exit, "entry_digest": _digest(registers),
        "exit_digest": _digest(at_exit) if exit is not None else None,
        "changes": run.get("changes", []), "findings": run.get("findings", []),
    }


# -- JSON -------------------------------------------------------------------------------

def scenario_dict(result: ScenarioResult) -> Dict[str, Any]:
    s = result.scenario
    verdict = result.verdict or result.decide()
    static = result.static
    return {
        "name": s.name, "file": str(s.path), "kernel": str(s.kernel), "arch": result.arch,
        "append": s.append, "watch": s.watch_spec, "vectors": list(s.vectors),
        "break_at": s.break_at, "check": s.check,
        "verdict": verdict.status, "problems": list(verdict.problems),
        "errors": list(result.errors), "ended": result.ended,
        "exit_status": result.exit_status, "exited": result.exited,
        "triple_fault": result.triple_fault,
        "expect": {"exit_status": s.expect.exit_status, "min_runs": s.expect.min_runs,
                   "allow_info": s.expect.allow_info,
                   "allow": [p.describe() for p in s.expect.allow],
                   "require": [p.describe() for p in s.expect.require]},
        "runs_observed": result.total_runs,
        "per_vector": result.per_vector,
        "runs": [run_digest(r) for r in result.runs],
        "findings": result.run_findings,
        "static": None if static is None else {
            "mode": static.get("mode"), "skipped": static.get("skipped", []),
            "handlers": len(static.get("handlers", [])),
            "findings": [dict(f, vectors=h.get("vectors")) for h in static.get("handlers", [])
                         for f in h.get("findings", [])]},
        "trace": None if result.trace is None else {
            k: result.trace.get(k) for k in ("runs", "kept_runs", "history", "open_runs",
                                             "unmatched_exits", "lost_runs", "findings_total",
                                             "unmatched", "unpaired", "unpaired_share",
                                             "exits_without_entry", "exits_not_traced",
                                             "engine")},
        "notes": list(result.notes),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "artifacts": dict(result.artifacts),
        "serial_tail": list(result.serial_tail),
    }


def run_report(results: Sequence[ScenarioResult], started: float, duration: float,
               jobs: int) -> Dict[str, Any]:
    """The "run-report" document: every scenario with its runs, findings and verdict."""
    counts = {status: sum(1 for r in results if r.status == status)
              for status in (PASS, FAIL, ERROR, SKIP)}
    return document(RUN_REPORT, status=suite_status(results),
                    started=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
                    duration=round(duration, 3), jobs=jobs,
                    summary={"scenarios": len(results), "passed": counts[PASS],
                             "failed": counts[FAIL], "errors": counts[ERROR],
                             "skipped": counts[SKIP]},
                    scenarios=[scenario_dict(r) for r in results])


# The run-report's fields and their JSON types (README "Scripted regression runs").
_NUMBER = (int, float)
_OPT_INT = (int, type(None))
_OPT_STR = (str, type(None))
RUN_REPORT_FIELDS = {"schema": str, "kind": str, "status": int, "started": str,
                     "duration": _NUMBER, "jobs": int, "summary": dict, "scenarios": list}
SUMMARY_FIELDS = {"scenarios": int, "passed": int, "failed": int, "errors": int, "skipped": int}
SCENARIO_FIELDS = {
    "name": str, "file": str, "kernel": str, "arch": _OPT_STR, "append": str, "watch": str,
    "vectors": list, "break_at": _OPT_STR, "check": bool, "verdict": str, "problems": list,
    "errors": list, "ended": str, "exit_status": _OPT_INT, "exited": bool,
    "triple_fault": bool, "expect": dict, "runs_observed": int, "per_vector": list,
    "runs": list, "findings": list, "static": (dict, type(None)), "trace": (dict, type(None)),
    "notes": list, "timings": dict, "artifacts": dict, "serial_tail": list}
RUN_FIELDS = {"run": int, "cpu": int, "vectors": list, "vector": _OPT_INT, "handler": str,
              "depth": int, "frame": str, "interrupted": dict, "exit": (dict, type(None)),
              "entry_digest": str, "exit_digest": _OPT_STR, "changes": list, "findings": list}
FINDING_FIELDS = {"rule": str, "severity": str, "vector": _OPT_INT, "message": str,
                  "address": _OPT_STR, "details": dict}
VERDICTS = (PASS, FAIL, ERROR, SKIP)


def _is(value, types) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        return False            # JSON true is not a number
    return isinstance(value, types)


def validate_run_report(doc: Dict[str, Any]) -> List[str]:
    """What is wrong with a run-report document (empty when nothing is)."""
    problems: List[str] = []

    def fields(obj, spec, where):
        if not isinstance(obj, dict):
            problems.append(f"{where}: not an object")
            return
        for key, types in spec.items():
            if key not in obj:
                problems.append(f"{where}: missing {key!r}")
            elif not _is(obj[key], types):
                problems.append(f"{where}.{key}: {type(obj[key]).__name__} is the wrong type")

    fields(doc, RUN_REPORT_FIELDS, "report")
    if problems:
        return problems
    if (doc["schema"], doc["kind"]) != ("isrdbg/1", RUN_REPORT):
        problems.append(f"report: schema/kind {doc['schema']}/{doc['kind']}, expected "
                        f"isrdbg/1/{RUN_REPORT}")
    if doc["status"] not in (EXIT_OK, EXIT_FAILED, EXIT_ERROR):
        problems.append(f"report.status: {doc['status']}")
    fields(doc["summary"], SUMMARY_FIELDS, "report.summary")
    for i, scenario in enumerate(doc["scenarios"]):
        where = f"scenarios[{i}]"
        fields(scenario, SCENARIO_FIELDS, where)
        if not isinstance(scenario, dict):
            continue
        if "verdict" in scenario and scenario["verdict"] not in VERDICTS:
            problems.append(f"{where}.verdict: {scenario.get('verdict')!r}")
        for j, run in enumerate(scenario.get("runs") or []):
            fields(run, RUN_FIELDS, f"{where}.runs[{j}]")
            for k, finding in enumerate(run.get("findings", []) if isinstance(run, dict) else []):
                fields(finding, FINDING_FIELDS, f"{where}.runs[{j}].findings[{k}]")
        for k, finding in enumerate(scenario.get("findings") or []):
            fields(finding, dict(FINDING_FIELDS, run=dict), f"{where}.findings[{k}]")
        for k, finding in enumerate((scenario.get("static") or {}).get("findings", [])):
            fields(finding, FINDING_FIELDS, f"{where}.static.findings[{k}]")
    return problems


def write_json(path, results, started, duration, jobs) -> None:
    with open(path, "w") as out:
        out.write(dumps(run_report(results, started, duration, jobs)) + "\n")


# -- JUnit ------------------------------------------------------------------------------

def _findings_text(result: ScenarioResult) -> str:
    lines = []
    observed = result.observed()
    if observed:
        lines.append("findings:")
        lines += [f"  {o.severity} {o.describe()}" for o in observed]
    else:
        lines.append("findings: none")
    lines.append(f"handler runs: {runs_text(result, limit=None) or 'none'}")
    if result.exit_status is not None:
        lines.append(f"kernel exit status: {result.exit_status}")
    return "\n".join(lines)


def junit_tree(results: Sequence[ScenarioResult], started: float, duration: float,
               name: str = "isrdbg run") -> ET.ElementTree:
    """One <testcase> per scenario: findings that break the expectation are a
    <failure>, infrastructure problems an <error>; the serial log's tail is
    its <system-out>."""
    failures = sum(1 for r in results if r.status == FAIL)
    errors = sum(1 for r in results if r.status == ERROR)
    skipped = sum(1 for r in results if r.status == SKIP)
    attrs = {"name": name, "tests": str(len(results)), "failures": str(failures),
             "errors": str(errors), "skipped": str(skipped), "time": f"{duration:.3f}"}
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", dict(
        attrs, timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        hostname=socket.gethostname()))
    for result in results:
        verdict = result.verdict or result.decide()
        case = ET.SubElement(suite, "testcase", {
            "classname": f"isrdbg.{result.arch or 'unknown'}", "name": result.scenario.name,
            "file": str(result.scenario.path), "time": f"{result.duration:.3f}"})
        if verdict.status == SKIP:
            ET.SubElement(case, "skipped", {"message": verdict.problems[0]})
        elif verdict.status != PASS:
            tag = "error" if verdict.status == ERROR else "failure"
            kind = "infrastructure" if verdict.status == ERROR else "findings"
            body = "\n".join(verdict.problems) + "\n\n" + _findings_text(result)
            element = ET.SubElement(case, tag, {"message": verdict.problems[0],
                                                "type": kind})
            element.text = body
        out = []
        if result.artifacts:
            out.append("artifacts: " + ", ".join(f"{k}={v}" for k, v in
                                                 sorted(result.artifacts.items())))
        if result.serial_tail:
            out.append("serial log (last lines):")
            out += result.serial_tail
        if out:
            ET.SubElement(case, "system-out").text = "\n".join(out)
    return ET.ElementTree(root)


def write_junit(path, results, started, duration) -> None:
    tree = junit_tree(results, started, duration)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


# -- the table --------------------------------------------------------------------------

def runs_text(result: ScenarioResult, limit: Optional[int] = 4) -> str:
    """Handler runs per vector: "14:1 32:10" (vectors sharing a handler: "33-127:2")."""
    parts = [f"{format_vector_list(row['vectors'])}:{row.get('runs', 0)}"
             for row in result.per_vector]
    if limit is not None and len(parts) > limit:
        parts = parts[:limit] + [f"+{len(parts) - limit}"]
    return " ".join(parts)


def findings_text(result: ScenarioResult) -> str:
    """Findings by rule and vector; "(s)" static, "(r)" in a handler run, "(sr)" both."""
    grouped: Dict[Tuple[str, str], set] = {}
    for o in result.observed():
        key = (o.rule, format_vector_list(o.vectors) if o.vectors else "-")
        grouped.setdefault(key, set()).add("s" if o.source == "static" else "r")
    if not grouped:
        return "none"
    return ", ".join(f"{rule}@{vec}({''.join(sorted(src, reverse=True))})"
                     for (rule, vec), src in sorted(grouped.items()))


VERDICT_WORDS = {PASS: "ok", FAIL: "FAIL", ERROR: "ERROR", SKIP: "skipped"}


def table(results: Sequence[ScenarioResult], width: Optional[int] = 120) -> str:
    """The summary table; the findings column is cut to fit ``width`` (None: never)."""
    header = ("SCENARIO", "ARCH", "RUNS", "FINDINGS", "VERDICT", "TIME")
    rows = [(r.scenario.name, r.arch or "?", runs_text(r) or "-", findings_text(r),
             VERDICT_WORDS[r.status], f"{r.duration:.1f}s") for r in results]
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]
    # the findings column takes what is left of the width, at least 20
    fixed = sum(widths) - widths[3] + 2 * (len(header) - 1)
    if width is not None:
        widths[3] = max(20, min(widths[3], width - fixed))

    def fit(text, size):
        return text if len(text) <= size else text[:size - 1] + "…"

    lines = ["  ".join(fit(cell, widths[i]).ljust(widths[i]) for i, cell in
                       enumerate(row)).rstrip() for row in [header] + rows]
    for r in results:
        if r.status in (FAIL, ERROR):
            lines.append("")
            lines.append(f"{r.label}: {VERDICT_WORDS[r.status]}")
            lines += [f"  - {problem}" for problem in r.verdict.problems]
            if r.artifacts:
                lines.append(f"  artifacts: {r.artifacts.get('dir', '')}")
    counts = {s: sum(1 for r in results if r.status == s) for s in (PASS, FAIL, ERROR, SKIP)}
    lines.append("")
    skipped = f", {counts[SKIP]} skipped" if counts[SKIP] else ""
    lines.append(f"{len(results)} scenarios: {counts[PASS]} as expected, {counts[FAIL]} "
                 f"failed, {counts[ERROR]} errors{skipped}")
    return "\n".join(lines)


def progress_line(result: ScenarioResult, done: int, total: int) -> str:
    verdict = VERDICT_WORDS[result.status]
    why = f": {result.verdict.problems[0]}" if result.status != PASS else ""
    return f"[{done}/{total}] {verdict:5} {result.label} ({result.duration:.1f}s){why}"
