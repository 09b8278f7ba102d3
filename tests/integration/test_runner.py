"""`isrdbg run` and the pytest plugin against the bundled kernels: parallel
scenarios without clashes, every exit status, the reports read back and
checked against their schema, a kernel that hangs, one that triple-faults,
QEMU dying mid-run, malformed scenario files."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gdbext.client.runner import run_command, run_scenario
from gdbext.runs.run_report import validate_run_report

from .conftest import ROOT, isrdbg, processes_referring_to


def write(directory: Path, name: str, kernel: Path, append: str, watch="all", extra="",
          expect="") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(f'kernel = "{kernel}"\nappend = "{append}"\nwatch = "{watch}"\n{extra}\n'
                    f'[expect]\n{expect}\n')
    return path


def reports(tmp_path, *args, jobs=2, timeout=180):
    junit, report = tmp_path / "out" / "junit.xml", tmp_path / "out" / "report.json"
    proc = isrdbg("run", *args, "-j", jobs, "--junit", junit, "--json", report,
                  timeout=timeout)
    doc = json.loads(report.read_text()) if report.exists() else None
    tree = ET.parse(junit).getroot() if junit.exists() else None
    return proc, doc, tree


def cases(junit):
    return {(c.get("classname"), c.get("name")): c for c in junit.iter("testcase")}


def by_name(doc):
    return {(s["arch"], s["name"]): s for s in doc["scenarios"]}


def test_parallel_suite_as_expected(kernels, tmp_path):
    """Five scenarios two at a time: each in its own QEMU, GDB, socket and
    files (same scenario name twice included); exit 0; both reports."""
    suite = tmp_path / "suite"
    k64, k32 = kernels["x86_64"], kernels["i386"]
    write(suite / "a", "clobber", k64, "scenario=bad-clobber-rbx", extra='break_at = "scenario_start"',
          expect='exit_status = 3\nrequire = [{ rule = "clobbered-register", vector = 0x52, '
                 'source = "run" },\n  { rule = "clobbered-register", vector = 0x52, '
                 'source = "static" }]')
    write(suite / "b", "clobber", k64, "scenario=bad-clobber-rbx", watch="0x52",
          expect='require = ["clobbered-register"]')
    write(suite, "error-code", k32, "scenario=bad-error-code-not-popped", watch="13",
          extra='break_at = "scenario_start"',
          expect='exit_status = 3\nrequire = [{ rule = "error-code-not-popped", vector = 13 }]')
    write(suite, "nested-irq", k32, "scenario=nested-irq ticks=3", expect="exit_status = 1")
    write(suite, "timer-forever", k64, "scenario=timer ticks=1000000", watch="32",
          extra="runs = 5\ntimeout = 60")
    artifacts = tmp_path / "artifacts"
    proc, doc, junit = reports(tmp_path, suite, "--keep-artifacts", artifacts)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith("isrdbg run: 5 scenarios, 2 at a time\n")
    assert out.count("] ok    ") == 5                         # a progress line each
    assert "5 scenarios: 5 as expected, 0 failed, 0 errors" in out
    header = next(line for line in out.splitlines() if line.startswith("SCENARIO"))
    assert header.split() == ["SCENARIO", "ARCH", "RUNS", "FINDINGS", "VERDICT", "TIME"]
    assert any(line.split()[:4] == ["error-code", "i386", "13:1", "error-code-not-popped@13(sr)"]
               for line in out.splitlines()), out

    assert validate_run_report(doc) == []
    assert doc["status"] == 0 and doc["jobs"] == 2
    assert doc["summary"] == {"scenarios": 5, "passed": 5, "failed": 0, "errors": 0,
                              "skipped": 0}
    scenarios = doc["scenarios"]
    clobbers = [s for s in scenarios if s["name"] == "clobber"]
    assert len(clobbers) == 2
    static = [f for f in clobbers[0]["static"]["findings"] if f["rule"] == "clobbered-register"]
    assert static and static[0]["vectors"] == [0x52]
    run = clobbers[0]["runs"][0]
    assert run["vector"] == 0x52 and run["entry_digest"] != run["exit_digest"]
    assert run["changes"] == [{"register": "rbx", "group": "general",
                               "entry": "0xb0b0b0b0b0b0b0b1", "exit": "0xdead"}]
    assert clobbers[1]["static"] is None and clobbers[1]["exit_status"] == 3
    timer = by_name(doc)[("x86_64", "timer-forever")]
    assert timer["ended"] == "runs" and timer["exited"] is False
    assert timer["per_vector"][0]["vectors"] == [32] and timer["per_vector"][0]["runs"] >= 5
    assert all(r["entry_digest"] == r["exit_digest"] for r in timer["runs"])
    nested = by_name(doc)[("i386", "nested-irq")]
    assert nested["verdict"] == "pass" and nested["exit_status"] == 1
    assert {f["rule"] for f in nested["findings"]} == {"interrupts-enabled-in-handler"}

    # JUnit: one passing testcase per scenario
    [testsuite] = junit.findall("testsuite")
    assert (testsuite.get("tests"), testsuite.get("failures"), testsuite.get("errors")) == \
        ("5", "0", "0")
    assert all(c.find("failure") is None and c.find("error") is None
               for c in junit.iter("testcase"))

    # artifacts: a directory per scenario, and nothing shared between them
    dirs = sorted({Path(s["artifacts"]["dir"]) for s in scenarios})
    assert len(dirs) == 5 and all(d.parent.parent == artifacts for d in dirs)
    assert {d.name for d in dirs} == {"clobber", "clobber-2", "error-code", "nested-irq",
                                      "timer-forever"}
    sockets, serials = set(), set()
    for scenario in scenarios:
        files = scenario["artifacts"]
        for key in ("serial", "gdb_log", "qemu_cmdline", "qemu_log"):
            assert Path(files[key]).is_file(), (scenario["name"], key)
        cmdline = Path(files["qemu_cmdline"]).read_text().split()
        sockets.add(cmdline[cmdline.index("-gdb") + 1])
        serials.add(cmdline[cmdline.index("-serial") + 1])
        assert "-d" in cmdline and "cpu_reset" in cmdline
        assert "(gdb) isr-trace " in Path(files["gdb_log"]).read_text()
    assert len(sockets) == 5 and len(serials) == 5
    assert "FAIL bad-clobber-rbx" in Path(clobbers[0]["artifacts"]["serial"]).read_text()


def test_unexpected_and_missing_findings_exit_1(kernels, tmp_path):
    suite = tmp_path / "suite"
    write(suite, "needs-a-rule", kernels["x86_64"], "scenario=style-gcc-o2",
          expect='require = [{ rule = "error-code-not-popped", vector = 13 }]')
    write(suite, "expects-none", kernels["i386"], "scenario=bad-clobber-rbx",
          expect="exit_status = 1")
    write(suite, "fine", kernels["i386"], "scenario=breakpoint", expect="exit_status = 1")
    proc, doc, junit = reports(tmp_path, suite)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert validate_run_report(doc) == []
    assert doc["status"] == 1
    assert doc["summary"] == {"scenarios": 3, "passed": 1, "failed": 2, "errors": 0,
                              "skipped": 0}
    named = by_name(doc)
    assert named[("x86_64", "needs-a-rule")]["problems"] == [
        "required error-code-not-popped on vector 13 did not occur"]
    assert named[("i386", "expects-none")]["problems"] == [
        "unexpected clobbered-register on vector 82 (1 handler run): registers changed: "
        "ebx 0xb0b0b0b1 -> 0xdead",
        "kernel exit status 3, expected 1"]
    found = cases(junit)
    failure = found[("isrdbg.x86_64", "needs-a-rule")].find("failure")
    assert failure.get("type") == "findings"
    assert failure.get("message") == "required error-code-not-popped on vector 13 did not occur"
    failure = found[("isrdbg.i386", "expects-none")].find("failure")
    assert "  error clobbered-register on vector 82 (1 handler run)" in failure.text
    assert "kernel exit status: 3" in failure.text
    assert found[("isrdbg.i386", "fine")].find("failure") is None
    assert "expects-none (i386): FAIL" in proc.stdout
    assert "3 scenarios: 1 as expected, 2 failed, 0 errors" in proc.stdout


def test_a_kernel_that_hangs_times_out_with_exit_2(kernels, tmp_path):
    suite = tmp_path / "suite"
    write(suite, "hang", kernels["x86_64"], "scenario=timer ticks=1000000", watch="32",
          extra="timeout = 3")
    write(suite, "fine", kernels["x86_64"], "scenario=int14", watch="14",
          expect="exit_status = 1")
    proc, doc, junit = reports(tmp_path, suite)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert validate_run_report(doc) == []
    hang = by_name(doc)[("x86_64", "hang")]
    assert hang["verdict"] == "error" and hang["ended"] == "timeout"
    assert hang["errors"] == ["timeout: the kernel did not exit within 3s"]
    assert hang["runs_observed"] > 0 and hang["per_vector"][0]["vectors"] == [32]
    assert hang["runs"] and hang["exited"] is False
    assert by_name(doc)[("x86_64", "fine")]["verdict"] == "pass"
    error = cases(junit)[("isrdbg.x86_64", "hang")].find("error")
    assert error.get("type") == "infrastructure"
    assert error.get("message") == "timeout: the kernel did not exit within 3s"
    assert "ERROR" in proc.stdout and "1 errors" in proc.stdout


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_a_triple_fault_is_reported_as_such(kernels, tmp_path, arch):
    suite = tmp_path / "suite"
    write(suite, "triple", kernels[arch], "scenario=triple-fault",
          extra='break_at = "scenario_start"', expect="exit_status = 1")
    proc, doc, junit = reports(tmp_path, suite)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert validate_run_report(doc) == []
    [scenario] = doc["scenarios"]
    assert scenario["triple_fault"] is True and scenario["ended"] == "triple-fault"
    assert scenario["errors"][0] == ("kernel triple-faulted (QEMU logged a triple fault and "
                                     "shut down)")
    assert scenario["exit_status"] == 0
    error = cases(junit)[(f"isrdbg.{arch}", "triple")].find("error")
    assert error.get("message").startswith("kernel triple-faulted")


def test_malformed_scenario_files(kernels, tmp_path):
    suite = tmp_path / "suite"
    write(suite, "good", kernels["x86_64"], "scenario=idle", expect="min_runs = 0")
    bad = suite / "bad.toml"
    bad.write_text(f'kernel = "{kernels["x86_64"]}"\nwatch = "14"\n\n[expect]\n'
                   f'require = [{{ rule = "clobbered-registers", vector = 13 }}]\n')
    worse = suite / "worse.toml"
    worse.write_text('kernel = "k.elf"\nwatch = "14"\ntimeout = "soon"\n')
    proc, doc, junit = reports(tmp_path, suite)
    assert proc.returncode == 2
    assert proc.stdout == "" and doc is None and junit is None      # nothing ran
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"isrdbg: {bad}:5: unknown rule 'clobbered-registers' (known: ")
    assert lines[1] == f"isrdbg: {worse}:3: timeout must be a number, not a string"
    proc = isrdbg("run", tmp_path / "nothing-here.toml")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"isrdbg: {tmp_path / 'nothing-here.toml'}: cannot read: ")


def test_missing_kernel_bad_break_at_and_skip(kernels, tmp_path):
    suite = tmp_path / "suite"
    write(suite, "no-kernel", tmp_path / "missing.elf", "scenario=idle")
    write(suite, "skipped", kernels["i386"], "scenario=idle",
          extra='skip_if_serial = "^PASS idle$"')
    write(suite, "no-symbol", kernels["i386"], "scenario=idle", extra='break_at = "nowhere"')
    proc, doc, junit = reports(tmp_path, suite, jobs=3)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    named = {s["name"]: s for s in doc["scenarios"]}
    assert named["no-kernel"]["errors"] == [f"kernel not found: {tmp_path / 'missing.elf'}"]
    assert named["no-kernel"]["arch"] is None and named["no-kernel"]["verdict"] == "error"
    assert named["no-symbol"]["errors"] == ['break_at nowhere: Function "nowhere" not defined.']
    assert named["no-symbol"]["problems"] == named["no-symbol"]["errors"]
    assert named["skipped"]["verdict"] == "skip"
    assert named["skipped"]["problems"] == ["skipped: PASS idle"]
    found = cases(junit)
    assert found[("isrdbg.i386", "skipped")].find("skipped").get("message") == \
        "skipped: PASS idle"
    assert found[("isrdbg.unknown", "no-kernel")].find("error") is not None


def command_line(pid) -> str:
    try:       # the process may be gone already (objcopy, for one)
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_qemu_dying_mid_run_still_reports(kernels, tmp_path, monkeypatch):
    # GDB 13 sometimes aborts (and dumps core into its working directory) when
    # the remote dies under a stream of tracking breakpoints: keep that out of
    # the checkout
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "suite"
    write(suite, "dies", kernels["x86_64"], "scenario=timer ticks=1000000", watch="32",
          extra="timeout = 60")
    report = tmp_path / "report.json"
    out = io.StringIO()
    status = []
    runner = threading.Thread(target=lambda: status.append(
        run_command([suite], jobs=1, json_path=report, out=out, err=out)))
    runner.start()
    try:
        qemu = []
        deadline = time.monotonic() + 30
        while not qemu and time.monotonic() < deadline:
            qemu = [pid for pid in processes_referring_to(str(tmp_path))
                    if "qemu-system" in command_line(pid)]
            time.sleep(0.1)
        assert qemu, "QEMU did not start"
        time.sleep(2)                        # let it run (and the runner look at it)
        os.kill(qemu[0], signal.SIGKILL)
    finally:
        runner.join(timeout=60)
    assert status == [2], out.getvalue()
    doc = json.loads(report.read_text())
    assert validate_run_report(doc) == []
    [scenario] = doc["scenarios"]
    assert scenario["verdict"] == "error" and scenario["ended"] == "qemu-died"
    assert scenario["errors"][0].startswith("QEMU died (killed by signal 9)")
    assert scenario["exit_status"] == -9 and scenario["exited"] is False
    assert "dies (x86_64): ERROR" in out.getvalue()


def test_run_scenario_in_process(kernels, tmp_path):
    path = write(tmp_path, "pf", kernels["i386"], "scenario=pf-write-readonly", watch="#PF",
                 extra='break_at = "scenario_start"', expect="exit_status = 1")
    result = run_scenario(path, tmp_path / "art")
    assert result.status == "pass" and result.assert_as_expected() is result
    assert result.runs_of(14) == 1 and result.arch == "i386"
    assert result.static["kind"] == "check" and result.exit_status == 1
    assert Path(result.artifacts["serial"]).read_text().endswith("PASS pf-write-readonly\n")


PLUGIN_TESTS = '''
import pytest
from gdbext.pytest_plugin import assert_findings, run_scenario

KERNEL = {kernel!r}


def test_session_and_findings(isr_session):
    session = isr_session(KERNEL, append="scenario=bad-clobber-rbx")
    session.watch(0x52, stop=False)
    assert session.cont(timeout=30).kind == "exited"
    assert_findings(session, require=[{{"rule": "clobbered-register", "vector": 0x52}}])


def test_two_sessions_at_once(isr_session):
    first = isr_session(KERNEL, append="scenario=idle")
    second = isr_session(KERNEL, append="scenario=idle")
    assert first.workdir != second.workdir
    assert first.cont(timeout=30).exit_code == second.cont(timeout=30).exit_code == 1


def test_unexpected_finding_fails_readably(isr_session):
    session = isr_session(KERNEL, append="scenario=bad-clobber-rbx")
    session.watch("all", stop=False)
    session.cont(timeout=30)
    assert_findings(session)


def test_a_scenario_file(isr_scenario, tmp_path):
    path = tmp_path / "sc.toml"
    path.write_text('kernel = "' + KERNEL + '"\\nappend = "scenario=nmi"\\nwatch = "nmi"\\n'
                    '[expect]\\nexit_status = 1\\n')
    result = isr_scenario(path)
    result.assert_as_expected()
    assert result.runs_of(2) == 1 and "serial" in result.artifacts
    assert run_scenario(path).status == "pass"
'''


def test_pytest_plugin_under_xdist(kernels, tmp_path):
    tests = tmp_path / "project" / "test_kernel.py"
    tests.parent.mkdir()
    tests.write_text(PLUGIN_TESTS.format(kernel=str(kernels["x86_64"])))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "gdbext.pytest_plugin",
                           "-p", "no:cacheprovider", "-n", "2", "-q", "-rf", str(tests)],
                          cwd=tests.parent, capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "1 failed, 3 passed" in out, out
    assert "FAILED test_kernel.py::test_unexpected_finding_fails_readably" in out
    assert "findings not as expected:" in out
    assert "- unexpected clobbered-register on vector 82 (1 handler run): registers " \
           "changed: rbx 0xb0b0b0b0b0b0b0b1 -> 0xdead" in out
    # the failed test's session was closed too: the autouse fixture checks that no
    # QEMU or GDB refers to this test's TMPDIR any more
