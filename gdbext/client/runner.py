"""`isrdbg run`: scenario files run in QEMU + GDB, in parallel, with reports.

Each scenario gets its own Session (its own QEMU, GDB, work directory and
gdbstub socket), so scenarios run side by side on threads without sharing a
port or a file.  The per-interrupt work happens inside GDB (the tracker,
armed in the never-stopping `isr-trace` mode); the runner only sets up,
waits, and collects:

1. boot QEMU paused (with ``-d cpu_reset -D FILE``: how a triple fault,
   which under ``-no-reboot`` just ends QEMU, is told from a normal exit);
2. with ``break_at``: run to it once, `isr-check --json SPEC` (static
   findings), then arm; without it: arm at reset (pending until the
   kernel's lidt, then following its gate writes);
3. `isr-trace SPEC` (what `isr-watch --no-stop SPEC` does per interrupt,
   plus exact per-vector counters that can be read while the target runs),
   then `continue` until the kernel exits, every watched vector ran
   ``runs`` times (polled with `isr-trace report --json`), or the timeout;
4. `isr-trace report --json` and `isr-diff --last K --json`, the serial log
   and the kernel's exit status; then the verdict (gdbext.runs.scenario.judge).

A timeout or a QEMU that dies mid-run still yields a result with what was
observed (the last report polled while the target ran, if GDB can no
longer be asked).
"""

import dataclasses
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable, List, Optional, Sequence, TextIO

from ..errors import IsrError
from gdbext.runs.run_report import (EXIT_ERROR, ScenarioResult, progress_line, suite_status, table,
                          write_json, write_junit)
from gdbext.runs.scenario import Scenario, ScenarioError, load_scenario
from .boot import BootSpec
from .session import CommandError, Session, SessionError, SessionTimeout

POLL = 0.25                 # how often a running target is looked at
SNAPSHOT_EVERY = 1.0        # how often the trace report is kept while it runs (no `runs`)
INTERRUPT_AGAIN = 0.5       # seconds between interrupt requests until the target stops
INTERRUPT_TRIES = 40
SERIAL_TAIL = 20
TRIPLE_FAULT = re.compile(r"^Triple fault", re.M)


class Cancelled(Exception):
    """The whole run was interrupted (Ctrl-C, SIGTERM)."""


class _Transcript:
    """The GDB side of a scenario, as a log: every command the runner sent,
    GDB's answer, and every event (stops, exits, output) in between."""

    def __init__(self):
        self.lines: List[str] = []
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def add(self, text: str, prefix: str = "") -> None:
        stamp = f"[{time.monotonic() - self.started:8.3f}] "
        with self.lock:
            for line in (text.rstrip("\n").splitlines() or [""]):
                self.lines.append(stamp + prefix + line)

    def event(self, event) -> None:
        if event.kind == "output":
            self.add(event.text, f"{event.stream}: ")
        elif event.kind == "stopped":
            where = event.function or (hex(event.address) if event.address else "?")
            self.add(f"*stopped reason={event.reason} at {where}"
                     + (f" signal={event.signal}" if event.signal else ""))
            if event.text:
                self.add(event.text, "  ")
        elif event.kind == "exited":
            self.add(f"*exited exit-code={event.exit_code}")
        else:
            self.add(f"*{event.kind}")

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.lines) + "\n"


class ScenarioRun:
    """Runs one scenario; ``run()`` returns its ScenarioResult and never raises
    for a problem of the scenario's own (those are the result's errors)."""

    def __init__(self, scenario: Scenario, artifacts: Optional[Path] = None,
                 cancelled: Optional[threading.Event] = None, gdb: str = "gdb"):
        self.scenario = scenario
        self.artifacts = Path(artifacts) if artifacts else None
        self.cancelled = cancelled or threading.Event()
        self.gdb = gdb
        self.result = ScenarioResult(scenario)
        self.transcript = _Transcript()
        self.session: Optional[Session] = None
        self.workdir: Optional[Path] = None
        self._last_trace = None

    # -- the steps --------------------------------------------------------------------
    def run(self) -> ScenarioResult:
        started = time.monotonic()
        result, scenario = self.result, self.scenario
        timings = result.timings
        self.deadline = started + scenario.timeout
        try:
            try:
                self.plan = scenario_boot(scenario).plan()
            except IsrError as error:
                raise _Infra(str(error), "error") from None
            result.arch = self.plan.arch.name
            self.workdir = Path(tempfile.mkdtemp(prefix="isrdbg-run-"))
            self._boot()
            timings["boot"] = time.monotonic() - started
            mark = time.monotonic()
            if scenario.break_at:
                self._to_break_at()
                timings["to_break_at"] = time.monotonic() - mark
                mark = time.monotonic()
                if scenario.check:
                    result.static = self._json(f"isr-check --json {scenario.watch_spec}")
                    timings["check"] = time.monotonic() - mark
                    mark = time.monotonic()
            self._command(f"isr-trace {scenario.watch_spec}")
            self._run()
            timings["run"] = time.monotonic() - mark
        except _Infra as problem:
            result.errors.append(problem.message)
            result.ended = result.ended or problem.ended
        except Cancelled:
            result.errors.append("interrupted")
            result.ended = "interrupted"
        except (SessionError, IsrError) as error:
            result.errors.append(self._session_problem(error))
            result.ended = result.ended or "error"
        except Exception as error:           # a bug of isrdbg's: still report the scenario
            self.transcript.add(traceback.format_exc(), "internal error: ")
            result.errors.append(f"isrdbg internal error: {error!r}")
            result.ended = result.ended or "error"
        finally:
            mark = time.monotonic()
            try:
                self._collect()
            except Exception as error:
                self.transcript.add(traceback.format_exc(), "internal error: ")
                result.errors.append(f"isrdbg internal error while collecting: {error!r}")
            finally:
                self._finish()
            timings["collect"] = time.monotonic() - mark
            timings["total"] = time.monotonic() - started
        result.decide()
        return result

    def _boot(self):
        scenario = self.scenario
        cpu_log = self.workdir / "qemu-cpu.log"
        boot = dataclasses.replace(self.plan.spec, qemu_args=self.plan.spec.qemu_args + (
            "-d", "cpu_reset", "-D", str(cpu_log)))
        self.transcript.add(f"starting QEMU and GDB for {scenario.kernel or 'a disk image'} "
                            f"({self.plan.describe()}; append: {scenario.append!r})")
        try:
            self.session = Session(boot=boot, serial=self.workdir / "serial.log",
                                   timeout=max(5.0, min(30.0, scenario.timeout)),
                                   gdb=self.gdb)
        except (SessionError, IsrError) as error:
            raise _Infra(f"QEMU/GDB failed to start: {error}", "error") from None
        self.session.on_event(self.transcript.event)

    def _command(self, command: str) -> str:
        self._check_cancelled()
        self.transcript.add(command, "(gdb) ")
        try:
            output = self.session.console(command, timeout=self._remaining(30.0))
        except CommandError as error:
            self.transcript.add(str(error), "error: ")
            raise _Infra(f"`{command}` failed: {error}", "error") from None
        self.transcript.add(output)
        return output

    def _json(self, command: str):
        output = self._command(command)
        for line in output.splitlines():
            if line.startswith('{"schema"'):
                return json.loads(line)
        raise _Infra(f"`{command}` printed no JSON document", "error")

    def _remaining(self, cap: float) -> float:
        return max(1.0, min(cap, self.deadline - time.monotonic() + 5.0))

    def _check_cancelled(self):
        if self.cancelled.is_set():
            raise Cancelled()

    def _drain(self):
        while not self.session.events.empty():
            self.session.events.get_nowait()

    def _continue(self):
        """Resume the target; the events queue holds only what follows."""
        self._drain()
        self._command("continue")

    def _next_stop(self, poll: Optional[Callable[[], bool]] = None):
        """The next stopped/exited event and why the runner stopped the target
        (None: it stopped by itself; "runs": ``poll()``, called every POLL
        seconds while the target runs, said so; "timeout": the deadline)."""
        last_snapshot = time.monotonic()
        why = None
        interrupts = 0
        sent = 0.0
        while True:
            self._check_cancelled()
            try:
                event = self.session.next_event(timeout=POLL)
            except SessionTimeout:
                event = None
            if event is not None and event.kind in ("stopped", "exited"):
                if why is not None:
                    self.result.ended = why
                return event, why
            now = time.monotonic()
            if why is None:
                if now > self.deadline:
                    why = "timeout"
                elif poll is not None and poll():
                    why = "runs"
                elif poll is None and now - last_snapshot >= SNAPSHOT_EVERY:
                    self._snapshot()
                    last_snapshot = now
            if why is not None and now - sent >= INTERRUPT_AGAIN:
                # QEMU drops an interrupt that arrives while the target sits at
                # a breakpoint (the tracker's, many times a second): send it again.
                if interrupts >= INTERRUPT_TRIES:
                    raise _Infra("the target did not stop when interrupted", why)
                if interrupts == 0:
                    self.transcript.add(f"interrupting the target ({why})")
                self.session.interrupt(wait=False)
                interrupts += 1
                sent = now

    def _to_break_at(self):
        symbol = self.scenario.break_at
        self._check_cancelled()
        self.transcript.add(f"-break-insert -t {symbol}", "(gdb) ")
        try:
            inserted = self.session.mi("-break-insert", "-t", symbol,
                                       timeout=self._remaining(30.0))
        except CommandError as error:
            self.transcript.add(str(error), "error: ")
            raise _Infra(f"break_at {symbol}: {error}", "error") from None
        self.transcript.add(str(inserted.get("bkpt", inserted)))
        self._continue()
        stop, why = self._next_stop()
        if why == "timeout":
            raise _Infra(f"timeout: break_at {symbol} not reached within "
                         f"{self.scenario.timeout:g}s", "timeout")
        if stop.kind == "exited":
            self._exited()
            raise _Infra(f"the kernel exited (status {self.result.exit_status}) before "
                         f"reaching break_at {symbol}", "exit")
        if stop.reason != "breakpoint-hit":
            raise _Infra(f"the target stopped ({stop.reason}) before reaching break_at "
                         f"{symbol}", "error")

    def _run(self):
        scenario = self.scenario
        goal = None
        if scenario.runs is not None:
            def goal():
                return self._runs_collected()
        self._continue()
        stop, why = self._next_stop(goal)
        if stop.kind == "exited":
            self._exited()
            return
        if why == "timeout":
            what = "the kernel did not exit" if scenario.runs is None else \
                f"the watched vectors did not all run {scenario.runs} times and the kernel " \
                f"did not exit"
            raise _Infra(f"timeout: {what} within {scenario.timeout:g}s", "timeout")
        if why == "runs":
            return
        raise _Infra(f"the target stopped unexpectedly ({stop.reason}"
                     f"{' ' + stop.signal if stop.signal else ''} at "
                     f"{stop.function or hex(stop.address or 0)})", "error")

    def _runs_collected(self) -> bool:
        trace = self._snapshot()
        if trace is None:
            return False
        counts = {}
        for row in trace.get("per_vector", []):
            for vector in row["vectors"]:
                counts[vector] = counts.get(vector, 0) + row["runs"]
        return all(counts.get(v, 0) >= self.scenario.runs for v in self.scenario.vectors)

    def _snapshot(self, log: bool = False):
        """The trace report now (the target may be running); kept for the
        case that GDB cannot be asked any more later.  ``log``: into the
        transcript (polls are not)."""
        command = "isr-trace report --json"
        try:
            output = self.session.console(command, timeout=self._remaining(10.0))
        except (SessionError, IsrError) as error:
            if log:
                self.transcript.add(f"{command}: {error}", "error: ")
            return None
        if log:
            self.transcript.add(command, "(gdb) ")
            self.transcript.add(output)
        for line in output.splitlines():
            if line.startswith('{"schema"'):
                self._last_trace = json.loads(line)
                return self._last_trace
        return None

    def _exited(self):
        result = self.result
        result.exited = True
        result.ended = "exit"
        result.exit_status = self.session.qemu_status(wait=5.0)
        self.transcript.add(f"QEMU exited with status {result.exit_status}")
        if result.exit_status is not None and result.exit_status < 0:
            result.exited = False
            result.ended = "qemu-died"
            raise _Infra(f"QEMU died (killed by signal {-result.exit_status})", "qemu-died")
        if self._triple_faulted():
            result.triple_fault = True
            result.ended = "triple-fault"
            raise _Infra("kernel triple-faulted (QEMU logged a triple fault and shut down)",
                         "triple-fault")

    def _triple_faulted(self) -> bool:
        try:
            text = (self.workdir / "qemu-cpu.log").read_text(errors="replace")
        except OSError:
            return False
        return bool(TRIPLE_FAULT.search(text))

    # -- collecting and cleaning up -----------------------------------------------------
    def _collect(self):
        result = self.result
        session = self.session
        trace = None
        if session is not None:
            trace = self._snapshot(log=True)
            fresh = trace is not None
            if not fresh:
                trace = self._last_trace
                if trace is not None:
                    result.notes.append("handler runs as last seen while the target ran "
                                        "(GDB could not be asked at the end)")
            kept = (trace or {}).get("kept_runs", 0)
            if fresh and kept:
                command = f"isr-diff --last {kept} --json"
                try:
                    self.transcript.add(command, "(gdb) ")
                    output = session.console(command, timeout=self._remaining(30.0))
                    self.transcript.add(output)
                    for line in output.splitlines():
                        if line.startswith('{"schema"'):
                            result.runs = json.loads(line).get("runs", [])
                except (SessionError, IsrError) as error:
                    result.notes.append(f"handler runs not collected: {error}")
            if not result.exited and session.qemu is not None:
                status = session.qemu.returncode
                if status is not None:           # QEMU ended on its own (or was killed)
                    result.exit_status = status
                    if status < 0:
                        result.ended = "qemu-died"
                        if not any(e.startswith("QEMU died") for e in result.errors):
                            result.errors.append(f"QEMU died (killed by signal {-status})")
                    elif self._triple_faulted() and not result.triple_fault:
                        result.triple_fault = True
                        result.errors.append("kernel triple-faulted")
        if trace is not None:
            result.trace = trace
            result.per_vector = [{k: row.get(k) for k in ("vectors", "vector", "runs",
                                                          "max_depth", "findings", "unpaired",
                                                          "changes_not_judged")}
                                 for row in trace.get("per_vector", [])]
            result.run_findings = trace.get("findings", [])

    def _session_problem(self, error) -> str:
        text = str(error)
        session = self.session
        if session is not None and session.qemu is not None:
            status = session.qemu.returncode
            if status is not None and status < 0:
                self.result.ended = "qemu-died"
                return f"QEMU died (killed by signal {-status}): {text}"
        return text

    def _finish(self):
        """Stop QEMU and GDB; keep the artifacts; read the serial log."""
        session = self.session
        result = self.result
        if session is not None:
            # the session's work directory goes with close(): copy what to keep first
            for name in ("qemu.cmdline", "qemu.stderr", "gdb.stderr"):
                self._save(name, session.workdir / name)
            try:
                session.close()
            except Exception as error:           # never lose the result to a cleanup
                result.notes.append(f"closing the session: {error}")
        if self.workdir is not None:
            serial = self.workdir / "serial.log"
            try:
                lines = serial.read_text(errors="replace").splitlines()
            except OSError:
                lines = []
            result.serial_tail = lines[-SERIAL_TAIL:]
            if self.scenario.skip_if_serial:
                pattern = re.compile(self.scenario.skip_if_serial)
                result.skipped = next((line for line in lines if pattern.search(line)), None)
            self._save("serial.log", serial)
            self._save("qemu-cpu.log", self.workdir / "qemu-cpu.log")
        if self.artifacts is not None:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            log = self.artifacts / "gdb.log"
            log.write_text(self.transcript.text())
            result.artifacts["gdb_log"] = str(log)
            result.artifacts["dir"] = str(self.artifacts)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _save(self, name: str, source: Path):
        if self.artifacts is None or not source.exists():
            return
        self.artifacts.mkdir(parents=True, exist_ok=True)
        target = self.artifacts / name
        try:
            shutil.copyfile(source, target)
        except OSError:
            return
        key = {"serial.log": "serial", "qemu.cmdline": "qemu_cmdline",
               "qemu-cpu.log": "qemu_log", "qemu.stderr": "qemu_stderr",
               "gdb.stderr": "gdb_stderr"}[name]
        self.result.artifacts[key] = str(target)


class _Infra(Exception):
    """An infrastructure problem: the scenario's result is an error."""

    def __init__(self, message: str, ended: str):
        super().__init__(message)
        self.message = message
        self.ended = ended


def run_scenario(scenario, artifacts: Optional[Path] = None,
                 cancelled: Optional[threading.Event] = None) -> ScenarioResult:
    """Run one scenario (a Scenario or a path to a scenario file)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    return ScenarioRun(scenario, artifacts, cancelled).run()


def scenario_boot(scenario: Scenario) -> BootSpec:
    """How a scenario file says to boot its kernel."""
    return BootSpec(kernel=scenario.kernel, append=scenario.append, initrd=scenario.initrd,
                    symbols=scenario.symbols, memory=scenario.memory, smp=scenario.smp,
                    accel=scenario.accel, drives=scenario.drives, cdrom=scenario.cdrom,
                    arch=scenario.arch, qemu_args=scenario.qemu_args)


# -- a suite ----------------------------------------------------------------------------

def artifact_dirs(scenarios: Sequence[Scenario], root: Path) -> List[Path]:
    """A directory per scenario under ``root``: ARCH-less NAME, made unique."""
    seen = {}
    dirs = []
    for scenario in scenarios:
        base = re.sub(r"[^A-Za-z0-9._@+-]+", "_", scenario.name).strip("_") or "scenario"
        try:
            base = f"{scenario_boot(scenario).plan().arch.name}/{base}"
        except IsrError:
            pass
        count = seen.get(base, 0) + 1
        seen[base] = count
        dirs.append(root / (base if count == 1 else f"{base}-{count}"))
    return dirs


class Progress:
    """A line per scenario as it finishes; on a terminal also a live count."""

    def __init__(self, total: int, out: TextIO, lines: bool = True):
        self.total = total
        self.out = out
        self.lines = lines
        self.done = 0
        self.running = 0
        self.bad = 0
        self.live = out.isatty()
        self.lock = threading.Lock()

    def started(self):
        with self.lock:
            self.running += 1
            self._status()

    def finished(self, result: ScenarioResult):
        with self.lock:
            self.running -= 1
            self.done += 1
            self.bad += result.status in ("fail", "error")
            self._clear()
            if self.lines:
                self.out.write(progress_line(result, self.done, self.total) + "\n")
            self._status()
            self.out.flush()

    def _clear(self):
        if self.live:
            self.out.write("\r\x1b[K")

    def _status(self):
        if self.live and self.done < self.total:
            self._clear()
            bad = f", {self.bad} not as expected" if self.bad else ""
            self.out.write(f"running {self.running}, {self.done}/{self.total} done{bad}")
            self.out.flush()

    def end(self):
        with self.lock:
            self._clear()
            self.out.flush()


def run_suite(scenarios: Sequence[Scenario], jobs: Optional[int] = None,
              artifacts: Optional[Path] = None, out: TextIO = sys.stdout,
              progress_lines: bool = True) -> List[ScenarioResult]:
    """Run ``scenarios``, ``jobs`` at a time; their results in the given order.
    Progress goes to ``out``: a line per finished scenario (unless not
    ``progress_lines``) and, on a terminal, a live count."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    dirs = artifact_dirs(scenarios, Path(artifacts)) if artifacts else [None] * len(scenarios)
    cancelled = threading.Event()
    progress = Progress(len(scenarios), out, progress_lines)
    results: List[Optional[ScenarioResult]] = [None] * len(scenarios)

    def one(index):
        progress.started()
        result = ScenarioRun(scenarios[index], dirs[index], cancelled).run()
        progress.finished(result)
        return result

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="isrdbg-run")
    futures = {pool.submit(one, i): i for i in range(len(scenarios))}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                results[futures[future]] = future.result()
    except (KeyboardInterrupt, SystemExit) as stop:
        cancelled.set()          # the workers stop their sessions and return
        pool.shutdown(wait=True, cancel_futures=True)
        progress.end()
        for future, index in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                results[index] = future.result()
        raise Interrupted([r for r in results if r is not None], stop) from None
    pool.shutdown(wait=True)
    progress.end()
    return [r for r in results if r is not None]


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during a suite: the results so far (the scenarios that
    were running end as errors, "interrupted"), and what interrupted it."""

    def __init__(self, results: List[ScenarioResult], cause: BaseException):
        super().__init__("interrupted")
        self.results = results
        self.cause = cause


def load_all(paths: Sequence[Path]) -> List[Scenario]:
    """Every scenario file (a directory: its *.toml files, sorted); all
    errors at once, as one ScenarioError per line."""
    files: List[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.rglob("*.toml"))
            if not found:
                raise ScenarioError(path, None, "no scenario files (*.toml) in this directory")
            files += found
        else:
            files.append(path)
    scenarios, errors = [], []
    for path in files:
        try:
            scenarios.append(load_scenario(path))
        except ScenarioError as error:
            errors.append(str(error))
    if errors:
        raise _LoadErrors(errors)
    return scenarios


class _LoadErrors(IsrError):
    def __init__(self, errors: List[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


def run_command(paths: Sequence[Path], jobs: Optional[int] = None, junit: Optional[Path] = None,
                json_path: Optional[Path] = None, artifacts: Optional[Path] = None,
                out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                progress_lines: bool = True) -> int:
    """`isrdbg run`: the exit status (0 as expected, 1 failed, 2 errors)."""
    try:
        scenarios = load_all(paths)
    except _LoadErrors as error:
        for line in error.errors:
            err.write(f"isrdbg: {line}\n")
        return EXIT_ERROR
    jobs = max(1, jobs or os.cpu_count() or 1)
    started_wall, started = time.time(), time.monotonic()
    out.write(f"isrdbg run: {len(scenarios)} scenario{'s' if len(scenarios) != 1 else ''}, "
              f"{min(jobs, len(scenarios))} at a time\n")
    out.flush()
    interrupted = None
    try:
        results = run_suite(scenarios, jobs, artifacts, out, progress_lines)
    except Interrupted as stop:      # report what ran, then stop as asked
        results, interrupted = stop.results, stop.cause
        out.write(f"isrdbg run: interrupted; {len(results)} of {len(scenarios)} "
                  f"scenarios reported\n")
    duration = time.monotonic() - started
    # the findings column fits a terminal's width; a log file gets it whole
    width = shutil.get_terminal_size((120, 24)).columns if out.isatty() else None
    out.write("\n" + table(results, width) + "\n")
    for path, writer in ((junit, lambda p: write_junit(p, results, started_wall, duration)),
                         (json_path, lambda p: write_json(p, results, started_wall, duration,
                                                          jobs))):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            writer(path)
            out.write(f"wrote {path}\n")
    out.flush()
    if interrupted is not None:
        raise interrupted
    return suite_status(results)
