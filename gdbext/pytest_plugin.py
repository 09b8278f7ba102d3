"""pytest fixtures and helpers for testing a kernel's interrupt handlers with isrdbg.

Enable with ``pytest -p gdbext.pytest_plugin`` (or automatically: the
isrdbg package registers it as a ``pytest11`` entry point)::

    from gdbext.pytest_plugin import assert_findings, run_scenario

    def test_page_fault_handler(isr_session):
        session = isr_session("build/kernel.elf", append="test=pf")
        session.watch("page-fault", stop=False)
        session.cont(timeout=30)                  # until the kernel exits
        assert_findings(session, require=[{"rule": "frame-modified", "vector": 14}])

    def test_regressions(isr_scenario):
        isr_scenario("tests/isr/timer.toml").assert_as_expected()

Every Session has its own QEMU, GDB, work directory and gdbstub socket (a
Unix socket, no TCP port), so tests run in parallel under pytest-xdist
(``-n auto``) without clashing.
"""

import json
from pathlib import Path
from typing import Any, Iterable, List, Optional, Union

import pytest

from .client.runner import run_scenario as _run_scenario
from .client.session import Session
from gdbext.runs.run_report import (ScenarioResult, findings_listing, static_observed,
                                   trace_observed)
from gdbext.runs.scenario import PASS, Observed, judge, make_expectation, registers_named

__all__ = ["assert_findings", "observed_findings", "run_scenario", "ScenarioResult"]


def run_scenario(path: Union[str, Path], artifacts: Union[str, Path, None] = None) \
        -> ScenarioResult:
    """Run the scenario file ``path`` as `isrdbg run` does; the ScenarioResult
    (``.status`` "pass"/"fail"/"error"/"skip", ``.verdict.problems``,
    ``.per_vector``, ``.runs``, ``.observed()``, ``.assert_as_expected()``).
    ``artifacts``: a directory for its serial log, GDB log and QEMU command line."""
    return _run_scenario(path, Path(artifacts) if artifacts else None)


# -- findings from whatever the test has ------------------------------------------------

def _from_runs(runs: Iterable[dict]) -> List[Observed]:
    counted = {}
    for run in runs:
        vectors = tuple(run.get("vectors") or ())
        for finding in run.get("findings", []):
            key = (vectors, finding["rule"])
            count, message, registers = counted.get(key, (0, finding.get("message", ""),
                                                          frozenset()))
            counted[key] = (count + 1, message,
                            registers | registers_named(finding.get("details")))
    return [Observed(rule, vectors, "run", count, message, registers)
            for (vectors, rule), (count, message, registers) in counted.items()]


def _from_document(doc: dict) -> List[Observed]:
    kind = doc.get("kind")
    if kind == "diff":
        return _from_runs(doc.get("runs", []))
    if kind == "check":
        return static_observed(doc)
    if kind == "trace":
        return trace_observed(doc.get("per_vector", []), doc.get("findings", []))
    raise TypeError(f"assert_findings: cannot take findings from a {kind!r} document "
                    f"(give a diff, check or trace document)")


def _session_findings(session: Session) -> List[Observed]:
    """Every handler run the session's tracker kept (trace counters when a trace runs)."""
    try:
        output = session.console("isr-trace report --json")
        doc = json.loads(next(line for line in output.splitlines()
                              if line.startswith('{"schema"')))
        if doc.get("runs"):
            return _from_document(doc)
    except Exception:       # no trace: the runs isr-watch / isr-break recorded
        pass
    runs = session.status().get("runs", 0)
    if not runs:
        return []
    return _from_runs(session.diff(last=runs).get("runs", []))


def observed_findings(source: Any) -> List[Observed]:
    """Findings from a Session, a ScenarioResult, an isrdbg/1 diff, check or
    trace document, a list of isr-diff run dicts, or a list of any of these."""
    if isinstance(source, ScenarioResult):
        return source.observed()
    if isinstance(source, Session):
        return _session_findings(source)
    if isinstance(source, dict):
        if "schema" in source:
            return _from_document(source)
        return _from_runs([source])
    if isinstance(source, Observed):
        return [source]
    if isinstance(source, (list, tuple)):
        if all(isinstance(item, dict) and "schema" not in item for item in source):
            return _from_runs(source)
        return [o for item in source for o in observed_findings(item)]
    raise TypeError(f"assert_findings: cannot take findings from {type(source).__name__}")


def assert_findings(source: Any, allow: Iterable[Any] = (), require: Iterable[Any] = (),
                    allow_info: bool = True) -> List[Observed]:
    """Assert that the findings of ``source`` (see observed_findings) are as
    expected: each one required, allowed or (with ``allow_info``) of severity
    info, and each required one present.  ``allow``/``require`` entries are
    written as in a scenario file: rule ids or {"rule", "vector", "source"}
    dicts.  Raises an AssertionError listing every finding; returns them."""
    expect = make_expectation(allow=allow, require=require, allow_info=allow_info)
    observed = observed_findings(source)
    verdict = judge(expect, observed, runs=0, exit_status=None, exited=False)
    if verdict.status != PASS:
        lines = ["findings not as expected:"]
        lines += [f"  - {problem}" for problem in verdict.problems]
        lines += findings_listing(observed)
        raise AssertionError("\n".join(lines))
    return observed


# -- fixtures ---------------------------------------------------------------------------

@pytest.fixture
def isr_session():
    """A factory: ``isr_session(kernel, append="...", **kwargs)`` starts QEMU
    and GDB (gdbext.client.session.Session's arguments) and returns the
    Session; every session it made is closed at teardown, also when the
    test failed."""
    sessions: List[Session] = []

    def open_session(kernel: Union[str, Path, None] = None, append: str = "",
                     **kwargs) -> Session:
        session = Session(kernel, append, **kwargs)
        sessions.append(session)
        return session

    yield open_session
    for session in reversed(sessions):
        try:
            session.close()
        except Exception:
            pass


@pytest.fixture
def isr_scenario(tmp_path):
    """``isr_scenario(path)`` runs a scenario file and returns its
    ScenarioResult; artifacts (serial log, GDB log, QEMU command line) are
    kept under the test's tmp_path/isrdbg/NAME."""
    counter = [0]

    def run(path: Union[str, Path], artifacts: Optional[Union[str, Path]] = None):
        counter[0] += 1
        where = Path(artifacts) if artifacts else \
            tmp_path / "isrdbg" / f"{counter[0]}-{Path(path).stem}"
        return run_scenario(path, where)

    return run
