"""The reports of `isrdbg run` (gdbext.runs.run_report) over hand-made results:
table, JUnit XML parsed back, the run-report JSON against its schema, the
exit status, and the pytest plugin's assert_findings."""

import json
import xml.etree.ElementTree as ET

import pytest

from gdbext.pytest_plugin import assert_findings, observed_findings
from gdbext.runs.run_report import (EXIT_ERROR, EXIT_FAILED, EXIT_OK, ScenarioResult, run_digest,
                               run_report, suite_status, table, validate_run_report,
                               write_json, write_junit)
from gdbext.runs.scenario import Observed, parse_scenario

RUN = {
    "sequence": 7, "cpu": 0, "vectors": [82], "vector": 82, "handler": "0x100050", "depth": 0,
    "frame": "0x116ec8",
    "entry": {"rip": "0x10582d", "cs": 8, "rflags": "0x46", "rsp": "0x116ef8", "ss": 16,
              "registers": {"rax": "0xa1", "rbx": "0xb1"}},
    "exit": {"kind": "iret", "address": "0x100095", "instruction": "iretq"},
    "changes": [{"register": "rbx", "group": "general", "entry": "0xb1", "exit": "0xdead"}],
    "findings": [{"rule": "clobbered-register", "severity": "error", "vector": 82, "cpu": 0,
                  "address": "0x100095", "handler": "0x100050",
                  "message": "registers changed: rbx 0xb1 -> 0xdead",
                  "details": {"registers": {"rbx": ["0xb1", "0xdead"]}}}],
}
TRACE_FINDING = dict(RUN["findings"][0], run={"run": 7, "vectors": [82], "vector": 82})


def scenario(expect="", name="sc"):
    return parse_scenario(f'kernel = "/k.elf"\nwatch = "all"\nbreak_at = "kmain"\n'
                          f'[expect]\n{expect}', f"/suite/{name}.toml")


def result(expect="", name="sc", findings=True, static=(), errors=(), exit_status=3):
    r = ScenarioResult(scenario(expect, name), arch="x86_64", exit_status=exit_status,
                       exited=exit_status is not None, ended="exit", errors=list(errors))
    r.per_vector = [{"vectors": [82], "vector": 82, "runs": 1, "max_depth": 0,
                     "findings": {"clobbered-register": 1} if findings else {}},
                    {"vectors": [32], "vector": 32, "runs": 10, "max_depth": 0, "findings": {}}]
    r.runs = [RUN] if findings else []
    r.run_findings = [TRACE_FINDING] if findings else []
    r.static = {"schema": "isrdbg/1", "kind": "check", "mode": "long", "skipped": [],
                "handlers": [{"vectors": [82], "findings": list(static)}]}
    r.timings = {"boot": 0.3, "run": 0.5, "total": 1.25}
    r.serial_tail = ["FAIL bad-clobber-rbx: registers changed across the interrupt"]
    r.decide()
    return r


REQUIRE = 'require = [{ rule = "clobbered-register", vector = 0x52 }]\n'
STATIC = dict(RUN["findings"][0], message="rbx written, not restored")


def test_observed_and_verdicts():
    passing = result(REQUIRE + "exit_status = 3\n", static=[STATIC])
    assert passing.status == "pass" and passing.total_runs == 11
    assert passing.observed() == [
        Observed("clobbered-register", (82,), "run", 1, "registers changed: rbx 0xb1 -> 0xdead",
                 frozenset({"rbx"})),
        Observed("clobbered-register", (82,), "static", 1, "rbx written, not restored",
                 frozenset({"rbx"}))]
    unexpected = result("exit_status = 3\n")
    assert unexpected.status == "fail" and unexpected.verdict.problems == [
        "unexpected clobbered-register on vector 82 (1 handler run): registers changed: "
        "rbx 0xb1 -> 0xdead"]
    missing = result(REQUIRE, findings=False, exit_status=1)
    assert missing.verdict.problems == [
        "required clobbered-register on vector 82 (0x52) did not occur"]
    error = result(REQUIRE, errors=["timeout: the kernel did not exit within 5s"],
                   exit_status=None)
    assert error.status == "error"
    assert suite_status([passing]) == EXIT_OK
    assert suite_status([passing, missing]) == EXIT_FAILED
    assert suite_status([passing, missing, error]) == EXIT_ERROR



def test_register_and_count_narrow_a_required_finding():
    def problems(pattern):
        return result(f"require = [{pattern}]\nexit_status = 3\n").verdict.problems

    exact = '{ rule = "clobbered-register", vector = 0x52, register = "rbx", count = 1 }'
    assert problems(exact) == []
    assert problems('{ rule = "clobbered-register", register = "rcx" }') == [
        "unexpected clobbered-register on vector 82 (1 handler run): registers changed: "
        "rbx 0xb1 -> 0xdead",
        "required clobbered-register of rcx did not occur"]
    assert problems('{ rule = "clobbered-register", source = "run", count = 2 }')[-1] == (
        "required clobbered-register (in a handler run) in exactly 2 runs did not occur")

def test_run_digest():
    digest = run_digest(RUN)
    assert digest["run"] == 7 and digest["exit"]["instruction"] == "iretq"
    assert digest["entry_digest"] != digest["exit_digest"]           # rbx changed
    clean = dict(RUN, changes=[])
    assert run_digest(clean)["entry_digest"] == run_digest(clean)["exit_digest"]
    assert run_digest(clean)["entry_digest"] == digest["entry_digest"]
    assert run_digest(dict(RUN, exit=None))["exit_digest"] is None


def test_table():
    text = table([result(REQUIRE + "exit_status = 3\n", "good", static=[STATIC]),
                  result("", "bad")], width=200)
    lines = text.splitlines()
    assert lines[0].split() == ["SCENARIO", "ARCH", "RUNS", "FINDINGS", "VERDICT", "TIME"]
    assert lines[1].split() == ["good", "x86_64", "82:1", "32:10",
                                "clobbered-register@82(sr)", "ok", "1.2s"]
    assert lines[2].split()[-2:] == ["FAIL", "1.2s"]
    assert "bad (x86_64): FAIL" in lines
    assert "  - unexpected clobbered-register on vector 82 (1 handler run): registers " \
           "changed: rbx 0xb1 -> 0xdead" in lines
    assert lines[-1] == "2 scenarios: 1 as expected, 1 failed, 0 errors"


def test_junit_parses_back(tmp_path):
    results = [result(REQUIRE + "exit_status = 3\n", "good"), result("", "bad"),
               result(REQUIRE, "broken", errors=["kernel triple-faulted"], exit_status=0)]
    results[0].artifacts = {"dir": "/a/good", "serial": "/a/good/serial.log"}
    path = tmp_path / "junit.xml"
    write_junit(path, results, started=0.0, duration=3.5)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == \
        {"tests": "3", "failures": "1", "errors": "1", "skipped": "0", "time": "3.500"}
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"good", "bad", "broken"}
    assert cases["good"].get("classname") == "isrdbg.x86_64"
    assert cases["good"].get("file") == "/suite/good.toml"
    assert cases["good"].find("failure") is None and cases["good"].find("error") is None
    assert "artifacts: dir=/a/good, serial=/a/good/serial.log" in \
        cases["good"].find("system-out").text
    failure = cases["bad"].find("failure")
    assert failure.get("type") == "findings"
    assert failure.get("message").startswith("unexpected clobbered-register on vector 82")
    assert "  error clobbered-register on vector 82 (1 handler run)" in failure.text
    error = cases["broken"].find("error")
    assert (error.get("type"), error.get("message")) == ("infrastructure",
                                                         "kernel triple-faulted")


def test_json_report_has_its_schema(tmp_path):
    results = [result(REQUIRE + "exit_status = 3\n", "good", static=[STATIC]),
               result("", "bad")]
    path = tmp_path / "report.json"
    write_json(path, results, started=0.0, duration=2.0, jobs=2)
    doc = json.loads(path.read_text())
    assert validate_run_report(doc) == []
    assert (doc["schema"], doc["kind"], doc["status"]) == ("isrdbg/1", "run-report", 1)
    assert doc["summary"] == {"scenarios": 2, "passed": 1, "failed": 1, "errors": 0,
                              "skipped": 0}
    good = doc["scenarios"][0]
    assert (good["name"], good["verdict"], good["runs_observed"]) == ("good", "pass", 11)
    assert good["runs"][0]["entry_digest"] == run_digest(RUN)["entry_digest"]
    assert good["static"]["findings"][0]["vectors"] == [82]
    assert good["findings"][0]["run"]["run"] == 7
    assert good["expect"]["require"] == ["clobbered-register on vector 82 (0x52)"]
    broken = dict(doc)
    del broken["scenarios"][1]["verdict"]
    broken["scenarios"][0]["runs"][0]["run"] = "7"
    assert validate_run_report(broken) == ["scenarios[0].runs[0].run: str is the wrong type",
                                           "scenarios[1]: missing 'verdict'"]
    assert run_report([], 0.0, 0.0, 1)["status"] == EXIT_OK


def test_assert_findings_on_documents():
    diff = {"schema": "isrdbg/1", "kind": "diff", "runs": [RUN, RUN], "live": None}
    found = assert_findings(diff, require=["clobbered-register"])
    assert found == [Observed("clobbered-register", (82,), "run", 2,
                              "registers changed: rbx 0xb1 -> 0xdead", frozenset({"rbx"}))]
    assert observed_findings([RUN])[0].count == 1
    with pytest.raises(AssertionError) as caught:
        assert_findings(diff, require=[{"rule": "error-code-not-popped", "vector": 13}])
    assert str(caught.value) == (
        "findings not as expected:\n"
        "  - unexpected clobbered-register on vector 82 (2 handler runs): registers changed: "
        "rbx 0xb1 -> 0xdead\n"
        "  - required error-code-not-popped on vector 13 did not occur\n"
        "findings (1):\n"
        "  error   clobbered-register on vector 82 (2 handler runs): registers changed: "
        "rbx 0xb1 -> 0xdead")
    assert_findings([], require=[])
    check = {"schema": "isrdbg/1", "kind": "check", "handlers": [
        {"vectors": [13], "findings": [dict(STATIC, rule="misaligned-call")]}]}
    assert_findings(check, require=[{"rule": "misaligned-call", "source": "static"}])
    good = result(REQUIRE + "exit_status = 3\n", static=[STATIC])
    assert_findings(good, allow=["clobbered-register"])
    assert good.assert_as_expected() is good
    with pytest.raises(AssertionError) as caught:
        result("", "bad").assert_as_expected()
    assert str(caught.value).startswith("scenario bad (x86_64): FAIL\n  - unexpected ")
    with pytest.raises(TypeError):
        observed_findings(42)
