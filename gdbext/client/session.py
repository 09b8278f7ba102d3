"""A programmable isrdbg session: QEMU and GDB driven over GDB/MI.

    from gdbext.client.session import Session

    with Session("qemu_targets/build/x86_64/kernel.elf",
                 append="scenario=pf-write-readonly") as session:
        session.isr_break("page-fault")
        stop = session.cont(until_vector=14, timeout=30)
        frame = session.frame()               # the isrdbg/1 "frame" document
        assert frame["error_code"]["value"] == "0x3"

The session starts QEMU paused on a private gdbstub socket (or attaches to
HOST:PORT), GDB in MI mode through pygdbmi with isrdbg loaded, and connects,
exactly as `isrdbg gdb` does (same Qemu class, same setup commands).

Every request carries an MI token and waits for the result record with that
token, with a timeout, checking that GDB and QEMU are alive: a dead GDB or a
killed QEMU is a ``SessionError`` carrying their last stderr lines, an
``^error`` a ``CommandError`` with GDB's one-line message.  ``*running`` and
``*stopped`` records, the target exiting and output printed outside any
command become ``Event``s, in ``session.events`` (a queue) and passed to
callbacks registered with ``on_event``.  QEMU and GDB are stopped by
``close()``, by leaving the ``with`` block (also on an exception or Ctrl-C),
at interpreter exit, and by the kernel when this process dies.
"""

import collections
import itertools
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

from pygdbmi.gdbcontroller import GdbController
from pygdbmi.IoManager import IoManager

from ..errors import IsrError, UsageError
from ..render.mi import from_mi
from gdbext.x86.vectors import parse_spec
from . import processes
from .boot import BootSpec
from .gdb_launch import gdb_argv, gdb_environment, parse_attach, setup_commands
from .qemu import Qemu

DEFAULT_TIMEOUT = 30.0        # one command
DEFAULT_RUN_TIMEOUT = 60.0    # cont(): the target running until it stops
POLL = 0.05                   # how often waits check that GDB and QEMU live
STDERR_LINES = 20


class SessionError(IsrError):
    """GDB or QEMU died, could not start, or a wait ran out of time.
    ``stderr`` holds the last lines they wrote to stderr."""

    def __init__(self, message: str, stderr: Iterable[str] = ()):
        self.stderr = [line for line in stderr if line.strip()]
        tail = " | ".join(self.stderr[-3:])
        super().__init__(f"{message}; last stderr: {tail}" if tail else message)


class SessionTimeout(SessionError):
    """A command or the target did not answer in time."""


class CommandError(IsrError):
    """GDB answered a command with ^error: ``str(error)`` is GDB's message,
    the same one line the CLI prints (``isr-idt: vector 300 is out of range (0-255)``)."""

    def __init__(self, message: str, command: str = "", output: str = ""):
        self.command = command
        self.output = output
        super().__init__(message)


@dataclass
class Event:
    """Something the target or GDB did on its own.

    kind: "running"; "stopped" (``reason`` as MI gives it: "breakpoint-hit",
    "signal-received", "end-stepping-range", ...; ``breakpoint``, ``frame``,
    ``thread``); "exited" (the target ended: the kernel exited or QEMU died;
    ``exit_code`` is QEMU's status when the session started QEMU); "output"
    (``text`` GDB printed outside any command, ``stream`` "console", "target"
    or "log").  A "stopped" event's ``text`` is what GDB printed with the stop
    (isrdbg's hit report); ``isr`` is the status document's ``last_stop``
    when the stop is one of isrdbg's breakpoints (filled in by ``cont``).
    """

    kind: str
    reason: Optional[str] = None
    breakpoint: Optional[int] = None
    thread: Optional[int] = None
    frame: Dict[str, Any] = field(default_factory=dict)
    signal: Optional[str] = None
    exit_code: Optional[int] = None
    stream: Optional[str] = None
    text: str = ""
    isr: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)
    sequence: int = 0

    @property
    def address(self) -> Optional[int]:
        addr = self.frame.get("addr")
        return int(addr, 16) if addr else None

    @property
    def function(self) -> Optional[str]:
        return self.frame.get("func")


_SAFE_ARG = re.compile(r'[^\s"\\]+\Z')

# GDB's execution commands (with their usual abbreviations).  Run from the CLI
# interpreter they are synchronous: GDB reads nothing more until the target
# stops.  With `&` they run in the background and GDB stays responsive.
EXECUTION_COMMANDS = {"c", "cont", "continue", "fg", "n", "next", "s", "step", "si", "stepi",
                      "ni", "nexti", "fin", "finish", "u", "until", "advance", "j", "jump",
                      "signal"}


def in_background(command: str) -> str:
    """``command`` with `&` appended when it is an execution command."""
    words = command.split()
    if not words or command.rstrip().endswith("&"):
        return command
    word = words[0]
    if word in EXECUTION_COMMANDS or (len(word) >= 4 and "continue".startswith(word)):
        return command.rstrip() + " &"
    return command


def mi_quote(arg: str, always: bool = False) -> str:
    """One MI argument: bare when that is unambiguous, else a C string."""
    if not always and _SAFE_ARG.match(arg):
        return arg
    escaped = (arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\t", "\\t"))
    return f'"{escaped}"'


def spec_words(spec) -> List[str]:
    """SPEC arguments from 14, "page-fault", "32-47 128", ["#PF", 0x80] or None."""
    if spec is None:
        return []
    if isinstance(spec, int):
        return [str(spec)]
    if isinstance(spec, str):
        return spec.split()
    return [word for item in spec for word in spec_words(item)]


class _MiGdb(GdbController):
    """pygdbmi's controller, with GDB started through processes.spawn: in its
    own session (the terminal's Ctrl-C is ours to handle, the target is
    interrupted over MI) and killed when this process dies."""

    def __init__(self, command: List[str], env: Dict[str, str], stderr: Path):
        self._env = env
        self._stderr_path = stderr
        super().__init__(command, time_to_check_for_additional_output_sec=0.002)

    def spawn_new_gdb_subprocess(self) -> int:
        # stderr goes to a file: pygdbmi does not drain a stderr pipe, and a
        # full pipe would block GDB.
        with open(self._stderr_path, "wb") as stderr:
            self.gdb_process = processes.spawn_gdb(
                self.command, own_session=True, env=self._env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, bufsize=0)
        self.io_manager = IoManager(self.gdb_process.stdin, self.gdb_process.stdout, None,
                                    self.time_to_check_for_additional_output_sec)
        return self.gdb_process.pid


class _Pending:
    def __init__(self, command: str):
        self.command = command
        self.done = threading.Event()
        self.record: Optional[dict] = None
        self.output: List[tuple] = []      # (stream, text) printed while it ran


class _Processes:
    """What close() must stop, kept apart from the Session so that a
    finalizer can stop it without keeping the Session alive."""

    def __init__(self, workdir: Path, keep: bool):
        self.workdir = workdir
        self.keep = keep
        self.gdb: Optional[subprocess.Popen] = None
        self.qemu: Optional[Qemu] = None

    def stop(self):
        processes.stop_gdb(self.gdb, grace=2.0, group=True)
        if self.gdb is not None:
            for stream in (self.gdb.stdin, self.gdb.stdout):
                try:
                    stream.close()
                except (OSError, AttributeError):
                    pass
        if self.qemu is not None:
            self.qemu.stop()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


class Session:
    """QEMU + GDB with isrdbg, driven over GDB/MI.  See the module docstring.

    ``kernel``: the kernel ELF (symbols for GDB; QEMU boots it unless
    ``attach`` names a running gdbstub, "HOST:PORT"; ``connect_timeout``:
    how many seconds GDB retries connecting to it).  ``append``: the kernel
    command line.  ``timeout``: the default for every command.
    ``queue_events=False`` when the client takes events through ``on_event``
    callbacks only (nothing then fills ``events``).  The typed calls return isrdbg/1 documents (dicts equal to
    what the CLI commands print with ``--json``)."""

    def __init__(self, kernel: Union[str, Path, None] = None, append: str = "", *,
                 attach: Optional[str] = None, arch: Optional[str] = None, smp: int = 1,
                 qemu_args: Iterable[str] = (), serial: Union[str, Path, None] = None,
                 timeout: float = DEFAULT_TIMEOUT, connect_timeout: Optional[int] = None,
                 queue_events: bool = True, keep: bool = False, gdb: str = "gdb",
                 boot: Optional[BootSpec] = None):
        if boot is None:
            boot = BootSpec(Path(kernel) if kernel is not None else None, append, smp=smp,
                            arch=arch, qemu_args=tuple(qemu_args))
        self.plan = boot.plan(attaching=attach is not None)
        self.kernel = boot.kernel
        self.arch = self.plan.arch
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.state = "starting"           # "stopped", "running", "exited", "closed"
        self.events: "queue.Queue[Event]" = queue.Queue()
        self._queue_events = queue_events
        self.workdir = Path(tempfile.mkdtemp(prefix="isrdbg-session-"))
        self._procs = _Processes(self.workdir, keep)
        self._finalizer = weakref.finalize(self, self._procs.stop)
        self._callbacks: List[Callable[[Event], None]] = []
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()         # pending commands, stop capture
        self._write_lock = threading.Lock()   # tokens are written in order
        self._stopped = threading.Condition()
        self._pending: "collections.OrderedDict[int, _Pending]" = collections.OrderedDict()
        self._stop_capture: Optional[Event] = None   # stop whose output is still arriving
        self._stop_sequence = 0               # count of stopped/exited events
        self._foreground = False              # a console command runs the target in the foreground
        self._last_stop: Optional[Event] = None
        self._event_sequence = itertools.count(1)
        self._gdb_stderr = self.workdir / "gdb.stderr"
        self._gdb: Optional[_MiGdb] = None
        self._reader: Optional[threading.Thread] = None
        self._closing = False
        self.qemu: Optional[Qemu] = None
        self.note: Optional[str] = None       # what the user should know about the boot
        try:
            self._start(attach, serial)
        except BaseException:
            self.close()
            raise

    # -- starting and stopping --------------------------------------------------------
    def _start(self, attach, serial):
        if attach:
            remote = parse_attach(attach)
        else:
            self.qemu = self._procs.qemu = Qemu(self.plan, self.workdir, serial)
            self.qemu.start()
            remote = str(self.qemu.socket)
        argv = gdb_argv([], batch=False, extra=["-nx", "--interpreter=mi3"])
        env = gdb_environment()
        if self.qemu is not None:       # the extension says why the target went away
            status = self.workdir / "qemu.status"
            processes.record_exit_status(self.qemu.process, status)
            env = gdb_environment(self.qemu.process.pid, status)
        try:
            self._gdb = _MiGdb(argv, env, self._gdb_stderr)
        except ValueError as error:           # pygdbmi: gdb not on PATH
            raise SessionError(f"cannot start GDB: {error}") from None
        self._procs.gdb = self._gdb.gdb_process
        self._reader = threading.Thread(target=self._read, name="isrdbg-mi-reader", daemon=True)
        self._reader.start()
        self.mi("-gdb-set", "mi-async", "on")     # commands (interrupt) while the target runs
        if self.connect_timeout is not None:      # GDB retries a refused TCP connect (15 s)
            self.mi("-gdb-set", "tcp", "connect-timeout", str(int(self.connect_timeout)))
        program, self.note = self.plan.program_file(self.workdir)
        for command in setup_commands(self.arch, program, remote):
            try:
                self.console(command)
            except CommandError as error:
                raise SessionError(f"GDB could not `{command}`: {error}",
                                   self._stderr_lines()) from None
        if self.state == "starting":
            self.state = "stopped"

    def close(self) -> None:
        """Stop GDB and QEMU (if the session started it); idempotent."""
        if self._closing:
            return
        self._closing = True
        gdb = self._gdb.gdb_process if self._gdb is not None else None
        if gdb is not None and gdb.poll() is None:
            try:
                with self._write_lock:
                    self._send("-gdb-exit")
                gdb.wait(timeout=2)
            except (SessionError, subprocess.TimeoutExpired):
                pass
        self._finalizer()        # stops GDB and QEMU, removes the work directory
        if self._reader is not None and self._reader is not threading.current_thread():
            self._reader.join(timeout=2)
        self.state = "closed"
        self._release_waiters()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the MI reader ----------------------------------------------------------------
    def _read(self):
        process = self._gdb.gdb_process
        while True:
            try:
                records = self._gdb.get_gdb_response(timeout_sec=POLL,
                                                     raise_error_on_timeout=False)
            except (OSError, ValueError):
                records = []
            for record in records:
                self._dispatch(record)
            if process.poll() is not None:
                try:
                    for record in self._gdb.get_gdb_response(timeout_sec=0,
                                                             raise_error_on_timeout=False):
                        self._dispatch(record)
                except (OSError, ValueError):
                    pass
                self._release_waiters()
                return

    def _release_waiters(self):
        with self._lock:
            for pending in self._pending.values():
                pending.done.set()
        with self._stopped:
            self._stopped.notify_all()

    def _dispatch(self, record: dict):
        kind = record.get("type")
        if kind == "result":
            with self._lock:
                self._stop_capture = None
                pending = self._pending.pop(record.get("token"), None)
            if pending is not None:
                pending.record = record
                pending.done.set()
        elif kind == "notify":
            self._notify(record)
        elif kind in ("console", "target", "log", "output"):
            self._output("console" if kind == "output" else kind, record.get("payload") or "")

    def _output(self, stream: str, text: str):
        with self._lock:
            if self._stop_capture is not None:
                self._stop_capture.text += text
                return
            if self._pending:
                next(iter(self._pending.values())).output.append((stream, text))
                return
        self._emit(Event("output", stream=stream, text=text))

    def _notify(self, record: dict):
        message, payload = record.get("message"), record.get("payload") or {}
        if message == "running":
            self.state = "running"
            with self._lock:
                self._stop_capture = None
            self._emit(Event("running", thread=_int(payload.get("thread-id")), raw=record))
        elif message == "stopped" and not str(payload.get("reason", "")).startswith("exited"):
            frame = payload.get("frame") or {}
            event = Event("stopped", reason=payload.get("reason"),
                          breakpoint=_int(payload.get("bkptno")),
                          thread=_int(payload.get("thread-id")),
                          frame=frame if isinstance(frame, dict) else {},
                          signal=payload.get("signal-name"), raw=record)
            self.state = "stopped"
            self._foreground = False
            with self._lock:
                self._stop_capture = event
            self._stop(event)
        elif message in ("thread-group-exited", "stopped"):
            self.state = "exited"
            self._foreground = False
            self._stop(Event("exited", exit_code=_int(payload.get("exit-code")), raw=record))

    def _stop(self, event: Event):
        with self._stopped:
            self._stop_sequence += 1
            self._last_stop = event
            self._stopped.notify_all()
        self._emit(event)

    def _emit(self, event: Event):
        event.sequence = next(self._event_sequence)
        if self._queue_events:
            self.events.put(event)
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:     # a client's callback must not kill the reader
                pass

    def on_event(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` for every event, on the reader thread: it
        must return quickly and must not wait for GDB (hand work to another
        thread)."""
        self._callbacks.append(callback)

    def next_event(self, timeout: float = DEFAULT_TIMEOUT) -> Event:
        """The next event from ``events``; SessionTimeout when none comes."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.events.get(timeout=POLL)
            except queue.Empty:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise SessionTimeout(f"no event within {timeout:g}s") from None

    # -- liveness -----------------------------------------------------------------------
    def _stderr_lines(self) -> List[str]:
        """GDB's last stderr lines (QEMU's go into the messages about QEMU)."""
        try:
            text = self._gdb_stderr.read_text(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-STDERR_LINES:]

    def _check_alive(self):
        if self._closing:
            raise SessionError("the session is closed")
        process = self._gdb.gdb_process if self._gdb is not None else None
        if process is not None and process.poll() is not None:
            raise SessionError(f"GDB exited with status {process.returncode}",
                               self._stderr_lines())
        if self.qemu is not None:
            status = self.qemu.returncode
            if status is not None and status < 0:
                try:
                    qemu_says = self.qemu.stderr_path.read_text(errors="replace").splitlines()
                except OSError:
                    qemu_says = []
                raise SessionError(f"QEMU was killed by signal {-status}",
                                   [f"qemu: {line}" for line in qemu_says[-STDERR_LINES:]]
                                   + self._stderr_lines())

    def _wait(self, ready: Callable[[float], bool], deadline: float, what: str) -> None:
        """Until ``ready(seconds)`` (which may block that long) is true, checking
        between tries that GDB and QEMU live; SessionTimeout(what) at ``deadline``."""
        while not ready(POLL):
            self._check_alive()
            if time.monotonic() > deadline:
                raise SessionTimeout(what, self._stderr_lines())

    # -- commands -----------------------------------------------------------------------
    def _send(self, line: str):
        process = self._gdb.gdb_process
        try:
            process.stdin.write((line + "\n").encode())
            process.stdin.flush()
        except (OSError, ValueError):
            raise SessionError("GDB is gone (its input is closed)", self._stderr_lines()) from None

    def _request(self, command: str, timeout: Optional[float] = None,
                 expect=("done",)) -> _Pending:
        self._check_alive()
        if self._stop_capture is not None and not command.startswith("-list-features"):
            # A stop's output may still be on its way: let it arrive before this
            # command's output (GDB wrote it first), so neither takes the other's.
            self._request("-list-features", timeout)
        pending = _Pending(command)
        with self._write_lock:
            token = next(self._tokens)
            with self._lock:
                self._pending[token] = pending
            self._send(f"{token}{command}")
        limit = self.timeout if timeout is None else timeout
        try:
            self._wait(pending.done.wait, time.monotonic() + limit,
                       f"GDB did not answer `{command}` within {limit:g}s")
        except BaseException:
            with self._lock:
                self._pending.pop(token, None)
            raise
        record = pending.record
        if record is None:
            self._check_alive()
            raise SessionError(f"no answer to `{command}`", self._stderr_lines())
        result = record.get("message")
        if result == "error":
            message = (record.get("payload") or {}).get("msg", "error")
            raise CommandError(message, command, _text(pending.output, skip=message))
        if result not in expect:
            raise SessionError(f"`{command}` answered ^{result}, expected "
                               f"^{' or ^'.join(expect)}")
        return pending

    def mi(self, command: str, *args: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Run the MI command ``command`` (e.g. "-symbol-info-functions") with
        ``args``; its result record's fields as pygdbmi parses them."""
        line = " ".join([command] + [mi_quote(str(a)) for a in args])
        return self._request(line, timeout).record.get("payload") or {}

    def isr(self, name: str, *args: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Any isr command over MI ("isr-idt", "isr-saved", ...): its isrdbg/1 document."""
        mi_command = "-" + name.replace("info ", "", 1).lstrip("-")
        return from_mi(self.mi(mi_command, *args, timeout=timeout))

    def console(self, command: str, timeout: Optional[float] = None) -> str:
        """Run a GDB CLI command; what it printed.

        Execution commands (continue, next, stepi, finish, ...) are run in
        the background (`&` appended) and return once the target runs: watch
        ``events`` for the stop, or use ``cont``.  Anything else that resumes
        the target (a user-defined command) runs in the foreground: GDB then
        answers nothing until the target stops, but ``interrupt`` works."""
        background = in_background(command)
        pending = self._request(f"-interpreter-exec console {mi_quote(background, always=True)}",
                                timeout, expect=("done", "running"))
        if pending.record.get("message") == "running" and background == command \
                and not command.rstrip().endswith("&"):
            self._foreground = True
        return _text(pending.output)

    # -- the isr commands ---------------------------------------------------------------
    def idt(self, spec=None, all: bool = False) -> Dict[str, Any]:
        """isr-idt [--all] SPEC...: the "idt" document."""
        return self.isr("isr-idt", *(["--all"] if all else []), *spec_words(spec))

    def frame(self, at: Union[int, str, None] = None,
              vector: Union[int, str, None] = None) -> Dict[str, Any]:
        """isr-frame [--at EXPR] [--vector SPEC]: the "frame" document."""
        args = []
        if at is not None:
            args += ["--at", hex(at) if isinstance(at, int) else at]
        if vector is not None:
            args += ["--vector", str(vector)]
        return self.isr("isr-frame", *args)

    def diff(self, vector: Union[int, str, None] = None, last: Optional[int] = None,
             all: bool = False) -> Dict[str, Any]:
        """isr-diff [--vector SPEC] [--last K] [--all]: the "diff" document."""
        args = []
        if vector is not None:
            args += ["--vector", str(vector)]
        if last is not None:
            args += ["--last", str(last)]
        return self.isr("isr-diff", *args, *(["--all"] if all else []))

    def isr_break(self, spec, hw: bool = False, condition: Optional[str] = None) -> Dict[str, Any]:
        """isr-break [--hw] SPEC... [if CONDITION]: the "breakpoints" document."""
        args = (["--hw"] if hw else []) + spec_words(spec)
        return self.isr("isr-break", *args, *(["if", condition] if condition else []))

    def watch(self, spec, stop: bool = True) -> Dict[str, Any]:
        """isr-watch [--no-stop] SPEC...: the "breakpoints" document."""
        return self.isr("isr-watch", *([] if stop else ["--no-stop"]), *spec_words(spec))

    def delete(self, spec=None) -> Dict[str, Any]:
        """isr-delete [SPEC...]: the "breakpoints" document (what is left, what went)."""
        return self.isr("isr-delete", *spec_words(spec))

    def breakpoints(self) -> Dict[str, Any]:
        """info isr-breakpoints: the "breakpoints" document."""
        return self.isr("info isr-breakpoints")

    def status(self) -> Dict[str, Any]:
        """isr-status: the "status" document (works while the target runs)."""
        return self.isr("isr-status")

    # -- running ------------------------------------------------------------------------
    def _wait_stop(self, after: int, deadline: float, what: str) -> Event:
        """The first stopped/exited event after the ``after``-th."""
        def stopped(seconds):
            with self._stopped:
                return self._stopped.wait_for(
                    lambda: self._stop_sequence > after or self._closing, seconds)

        self._wait(stopped, deadline, what)
        if self._closing:
            raise SessionError("the session is closed")
        return self._last_stop

    def _finish_exit(self, event: Event) -> Event:
        """The target ended: QEMU's status, or SessionError if QEMU was killed."""
        event.exit_code = self.qemu_status(wait=5.0)
        self._check_alive()
        return event

    def cont(self, until_vector: Union[int, str, None] = None,
             timeout: float = DEFAULT_RUN_TIMEOUT) -> Event:
        """Continue until the target stops; the "stopped" (or "exited") event.

        With ``until_vector``, keep continuing until an isr breakpoint stops
        at the entry of that vector's handler (the vector must be armed with
        isr_break).  After ``timeout`` seconds the target is interrupted and
        SessionTimeout raised; the session stays usable."""
        vector = None
        if until_vector is not None:
            found = parse_spec(str(until_vector))
            if len(found) != 1:
                raise UsageError(f"until_vector wants one vector, {until_vector!r} names "
                                 f"{len(found)}")
            vector = found[0]
            armed = {v["vector"] for v in self.breakpoints()["vectors"] if v["mode"] == "break"}
            if vector not in armed:
                raise UsageError(f"vector {vector} has no isr breakpoint (isr_break it first)")
        deadline = time.monotonic() + timeout
        while True:
            stop = self._resume("-exec-continue", deadline, timeout)
            if stop.kind == "exited":
                if vector is not None:
                    raise SessionError(f"the target exited (status {stop.exit_code}) before "
                                       f"vector {vector} was delivered")
                return stop
            if vector is None or stop.reason == "signal-received":
                return stop
            if stop.isr and stop.isr["kind"] == "entry" and vector in stop.isr["vectors"]:
                return stop

    def _resume(self, command: str, deadline: float, timeout: float) -> Event:
        with self._stopped:
            before = self._stop_sequence
        self._request(command, expect=("running",))
        try:
            stop = self._wait_stop(before, deadline,
                                   f"the target did not stop within {timeout:g}s")
        except SessionTimeout as error:
            where = ""
            try:
                stopped = self.interrupt(timeout=5)
                if stopped is not None and stopped.kind == "stopped":
                    where = f"; interrupted it at {stopped.function or hex(stopped.address or 0)}"
            except IsrError:
                pass
            raise SessionTimeout(f"{error.args[0]}{where}", error.stderr) from None
        if stop.kind == "exited":
            return self._finish_exit(stop)
        # The status answer comes after everything GDB printed with the stop.
        stop.isr = self.status().get("last_stop")
        return stop

    def interrupt(self, wait: bool = True, timeout: float = 10.0) -> Optional[Event]:
        """Stop the running target (-isr-interrupt, or -exec-interrupt where GDB
        has no Python MI commands); with ``wait``, its stop event."""
        if self.state != "running":
            return None
        with self._stopped:
            before = self._stop_sequence
        if self._foreground:      # GDB is not reading commands: interrupt it as Ctrl-C would
            try:
                os.kill(self._gdb.gdb_process.pid, signal.SIGINT)
            except ProcessLookupError:
                self._check_alive()
        else:
            try:    # QEMU may drop -exec-interrupt's request: see commands/isr_interrupt.py
                self._request("-isr-interrupt", timeout)
            except CommandError:
                self._request("-exec-interrupt", timeout)
        if not wait:
            return None
        return self._wait_stop(before, time.monotonic() + timeout,
                               f"the target did not stop within {timeout:g}s of an interrupt")

    def qemu_status(self, wait: float = 2.0) -> Optional[int]:
        """QEMU's exit status once it has exited (waiting up to ``wait`` s), else
        None; None too when attached to a QEMU the session did not start."""
        if self.qemu is None or self.qemu.process is None:
            return None
        try:
            return self.qemu.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    @property
    def serial_log(self) -> Optional[Path]:
        """Where QEMU writes the kernel's COM1 output (when it started QEMU)."""
        return self.qemu.serial if self.qemu is not None else None


def _int(value) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(output, skip: str = "") -> str:
    """What a command printed; the log stream's copy of its error message left out."""
    return "".join(text for stream, text in output
                   if not (stream == "log" and skip and text.strip() == skip.strip()))
