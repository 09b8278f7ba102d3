"""`isrdbg repl`: an interactive prompt over a Session (QEMU + GDB over MI).

- isr commands run as GDB/MI commands and their isrdbg/1 documents are drawn
  by the project's text renderers (gdbext/render/docs.py -> render/text.py),
  in colour unless --no-color; every other line goes to GDB as a console
  command and its output is shown as GDB prints it.
- Tab completes isr commands and their options, vector numbers, names and
  classes, register names ($rip) and symbols (asked from GDB once, cached).
- History persists in $XDG_STATE_HOME/isrdbg/history (~/.local/state/...);
  Ctrl-R searches it; a pasted block of lines runs line by line.
- The prompt stays live while the target runs: stops, isr breakpoint hits
  and findings are printed above it as they arrive.  Ctrl-C interrupts a
  running target; at an idle, empty prompt a second Ctrl-C (or Ctrl-D) exits.
- The bottom toolbar shows the target state, CPU and mode, the vector being
  handled with its nesting depth, and the findings so far.
"""

import os
import queue
import shlex
import sys
import threading
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.formatted_text import HTML
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.output import ColorDepth
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.styles import Style as PromptStyle

from ..errors import IsrError
from ..render.docs import render_document
from ..render.style import Style
from ..render.text import render_hit_header
from gdbext.x86.vectors import NUM_VECTORS, parse_spec, spec_words, vector as vector_info
from .boot import BootSpec
from .session import CommandError, Event, Session, SessionError

PROMPT = "(isrdbg) "
# isr commands the REPL runs over MI and draws itself (others go to GDB's console).
DRAWN = {"isr-idt", "isr-frame", "isr-diff", "isr-break", "isr-watch", "isr-delete",
         "isr-status", "info isr-breakpoints"}
CONVENIENCE = ["$isr_vector", "$isr_error_code", "$isr_frame", "$isr_cpu", "$_isr_vector()",
               "$_isr_error_code()", "$_isr_frame()", "$_isr_in_handler()"]
EXPRESSION_OPTIONS = {"--at"}        # options whose value is a GDB expression
VECTOR_OPTIONS = {"--vector"}        # options whose value is a vector SPEC
QUIT = {"quit", "q", "exit"}


def history_file() -> Path:
    """$XDG_STATE_HOME/isrdbg/history, by default ~/.local/state/isrdbg/history."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    return Path(base) / "isrdbg" / "history"


def split_words(line: str) -> List[str]:
    """Words as GDB's string_to_argv splits them (shell-like quoting)."""
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def isr_command(words: List[str]) -> Tuple[Optional[str], List[str]]:
    """("isr-idt", ["14"]) for an isr command line, (None, words) otherwise."""
    if words[:2] == ["info", "isr-breakpoints"]:
        return "info isr-breakpoints", words[2:]
    if words and words[0].startswith("isr-"):
        return words[0], words[1:]
    return None, words


# -- completion -----------------------------------------------------------------------------

class CompletionData:
    """What completion offers, asked from GDB once (lazily) and cached."""

    def __init__(self, session: Session):
        self.session = session
        self._commands: Optional[Dict[str, Tuple[List[str], bool]]] = None
        self._gdb_commands: Optional[List[str]] = None
        self._registers: Optional[List[str]] = None
        self._symbols: Optional[List[str]] = None

    def _complete(self, line: str) -> List[str]:
        try:
            return list(self.session.mi("-complete", line).get("matches") or [])
        except IsrError:
            return []

    @property
    def isr_commands(self) -> Dict[str, Tuple[List[str], bool]]:
        """name -> (option words, whether it takes vector SPECs), from the
        commands' own GDB completers."""
        if self._commands is None:
            commands = {}
            for name in self._complete("isr-") + ["info isr-breakpoints"]:
                words = [m[len(name) + 1:] for m in self._complete(name + " ")]
                options = [w for w in words if w.startswith("--") or w == "if"]
                commands[name] = (options, "exceptions" in words)
            self._commands = commands
        return self._commands

    @property
    def gdb_commands(self) -> List[str]:
        if self._gdb_commands is None:
            try:
                self.session.mi("-gdb-set", "max-completions", "unlimited")
                names = self._complete("")
                self.session.mi("-gdb-set", "max-completions", "200")
            except IsrError:
                names = []
            self._gdb_commands = sorted({n for n in names if n[:1].isalpha()})
        return self._gdb_commands

    @property
    def registers(self) -> List[str]:
        if self._registers is None:
            try:
                names = self.session.mi("-data-list-register-names").get("register-names") or []
            except IsrError:
                names = []
            self._registers = [n for n in names if n]
        return self._registers

    @property
    def symbols(self) -> List[str]:
        if self._symbols is None:
            found = set()
            for command in ("-symbol-info-functions", "-symbol-info-variables"):
                try:
                    tables = self.session.mi(command).get("symbols") or {}
                except IsrError:
                    continue
                for entry in tables.get("debug") or []:
                    found.update(s.get("name") for s in entry.get("symbols") or [])
                found.update(s.get("name") for s in tables.get("nondebug") or [])
            self._symbols = sorted(n for n in found if n)
        return self._symbols


def _vector_meta(word: str) -> str:
    try:
        found = parse_spec(word)
    except IsrError:
        return ""
    return vector_info(found[0]).label if len(found) == 1 else f"{len(found)} vectors"


class IsrCompleter(Completer):
    def __init__(self, data: CompletionData):
        self.data = data

    def get_completions(self, document, complete_event):
        text = document.text_before_cursor
        words = text.split()
        current = "" if not words or text[-1:].isspace() else words[-1]
        before = words if current == "" else words[:-1]
        for word, meta in self.candidates(before, current):
            yield Completion(word, start_position=-len(current), display_meta=meta)

    def candidates(self, before: List[str], current: str) -> Iterable[Tuple[str, str]]:
        data = self.data
        if not before:
            names = list(data.isr_commands) + data.gdb_commands
            return [(n, "isrdbg" if n.startswith(("isr-", "info isr")) else "")
                    for n in dict.fromkeys(names) if n.startswith(current) and " " not in n]
        name, args = isr_command(before)
        if name is None and before == ["info"]:
            return [(w, "") for w in ("isr-breakpoints", "registers", "breakpoints", "symbol",
                                      "frame", "threads") if w.startswith(current)]
        if name is not None and name in data.isr_commands:
            options, takes_vectors = data.isr_commands[name]
            last = args[-1] if args else ""
            if "if" in args or last in EXPRESSION_OPTIONS:
                return self._expression(current)
            if last in VECTOR_OPTIONS:
                return self._vectors(current)
            found = [(o, "") for o in options if o.startswith(current) and o not in args]
            return found + (self._vectors(current) if takes_vectors else [])
        return self._expression(current)

    @staticmethod
    def _vectors(current: str) -> List[Tuple[str, str]]:
        lowered = current.lower()
        words = [w for w in spec_words() if w.lower().startswith(lowered)]
        if current.isdigit():
            words += [str(n) for n in range(NUM_VECTORS) if str(n).startswith(current)]
        return [(w, _vector_meta(w)) for w in words]

    def _expression(self, current: str) -> List[Tuple[str, str]]:
        if current.startswith("$"):
            names = ["$" + r for r in self.data.registers] + CONVENIENCE
            return [(n, "") for n in names if n.startswith(current)]
        prefix = current[:1] if current[:1] in "&*" else ""
        stem = current[len(prefix):]
        if not stem:
            return []       # every symbol of the kernel is too many to list
        return [(prefix + s, "symbol") for s in self.data.symbols if s.startswith(stem)]


# -- the prompt -----------------------------------------------------------------------------

TOOLBAR_STYLE = PromptStyle.from_dict({
    "bottom-toolbar": "noreverse bg:#303030 #d0d0d0",
    "running": "#ffaf00 bold",       # the <running>, <stopped>, <bad> tags of toolbar()
    "stopped": "#87d787 bold",
    "bad": "#ff5f5f bold",
})


class Repl:
    """The prompt loop.  ``input``/``output`` are prompt_toolkit's (tests pass
    a pipe input and a DummyOutput); ``write`` receives everything the REPL
    prints (default: stdout, above the prompt)."""

    def __init__(self, session: Session, color: bool = True, input=None, output=None,
                 write: Optional[Callable[[str], None]] = None,
                 history: Optional[History] = None):
        self.session = session
        self.style = Style(color)
        self._write = write
        self.status: Optional[dict] = None
        self.completer = IsrCompleter(CompletionData(session))
        self._events: "queue.Queue[Optional[Event]]" = queue.Queue()
        self._partial = ""             # output not ending in a newline yet
        self._ctrl_c = False
        self._done = threading.Event()
        if history is None:
            history = _file_history()
        self.prompt = PromptSession(
            PROMPT, completer=self.completer, complete_while_typing=False, history=history,
            bottom_toolbar=self.toolbar, key_bindings=self._bindings(), input=input,
            output=output, style=TOOLBAR_STYLE,
            color_depth=None if color else ColorDepth.MONOCHROME)
        self.prompt.default_buffer.on_text_changed += self._typing

    # -- output -----------------------------------------------------------------------
    def emit(self, text: str) -> None:
        if not text:
            return
        text = text.rstrip("\n")
        if self._write is not None:
            self._write(text + "\n")
        else:
            print(text, flush=True)

    def _error(self, message: str) -> None:
        self.emit(self.style("bad", message))

    def _flush_partial(self):
        if self._partial:
            self.emit(self._partial)
            self._partial = ""

    def _output(self, text: str):
        """GDB output arriving in pieces: print whole lines."""
        text = self._partial + text
        lines, newline, self._partial = text.rpartition("\n")
        if newline:
            self.emit(lines)

    # -- toolbar ------------------------------------------------------------------------
    def toolbar(self):
        state = self.session.state
        status = self.status or {}
        tag = "running" if state == "running" else "stopped"
        parts = [f"<{tag}>{state}</{tag}>"]
        if status.get("cpu") is not None:
            mode = f" {status['mode']} mode" if status.get("mode") else ""
            parts.append(f"CPU {status['cpu']}{mode}")
        handling = status.get("handling") or []
        if handling and state != "running":
            label = vector_info(handling[0]).label if len(handling) == 1 else \
                ",".join(map(str, handling))
            parts.append(_escape(f"in {label} (depth {status.get('depth', 1)})"))
        findings = status.get("findings") or {}
        problems = sum(n for severity, n in findings.items() if severity != "info")
        tag = "bad" if problems else "stopped"
        parts.append(f"<{tag}>{problems}</{tag}> finding{'s' if problems != 1 else ''}")
        return HTML(" " + "  |  ".join(parts) + " ")

    def refresh_status(self) -> Optional[dict]:
        try:
            self.status = self.session.status()
        except CommandError:
            pass
        self._invalidate()
        return self.status

    def _invalidate(self):
        app = self.prompt.app
        if app.is_running:
            try:
                app.invalidate()
            except RuntimeError:    # the prompt ended between the check and the redraw
                pass

    # -- keys ---------------------------------------------------------------------------
    def _typing(self, _buffer):
        self._ctrl_c = False

    def _bindings(self) -> KeyBindings:
        bindings = KeyBindings()

        @bindings.add("c-c")
        def _(event):
            buffer = event.app.current_buffer
            if self.session.state == "running":
                self._ctrl_c = False
                threading.Thread(target=self._interrupt, daemon=True).start()
            elif buffer.text:
                buffer.reset()
                self._ctrl_c = False
            elif self._ctrl_c:
                event.app.exit(exception=EOFError())
            else:
                self._ctrl_c = True
                self.emit("(Ctrl-C again or Ctrl-D to quit)")

        return bindings

    def _interrupt(self):
        try:
            self.session.interrupt(wait=False)
        except IsrError as error:
            self._error(str(error))

    # -- events (stops, output while running) ---------------------------------------------
    def _on_event(self, event: Event):
        self._events.put(event)          # the reader thread must not wait: hand over

    def _event_loop(self):
        while not self._done.is_set():
            try:
                event = self._events.get(timeout=0.2)
            except queue.Empty:
                continue
            if event is None:
                return
            try:
                self.show_event(event)
            except SessionError as error:
                self._error(f"isrdbg: {error}")
            except IsrError as error:
                self._error(str(error))
            self._invalidate()

    def show_event(self, event: Event):
        if event.kind == "output":
            self._output(event.text)
        elif event.kind == "running":
            self._invalidate()
        elif event.kind == "stopped":
            self._flush_partial()
            status = self.refresh_status()     # answers after all the stop's output
            stop = (status or {}).get("last_stop")
            shown = self._show_isr_stop(stop) if stop else None
            self.emit(event.text if shown is None else shown)
        elif event.kind == "exited":
            self._flush_partial()
            code = self.session.qemu_status()
            self.emit(self.style("warn", "the target exited" +
                                 (f" (QEMU status {code})" if code is not None else "")))
            self.refresh_status()

    def _show_isr_stop(self, stop: dict) -> Optional[str]:
        """An isr breakpoint hit drawn here (in colour) rather than GDB's copy."""
        try:
            if stop["kind"] == "entry":
                doc = self.session.frame()
                header = render_hit_header(doc["vectors"] or stop["vectors"], doc["cpu"],
                                           int(stop["handler"], 16), doc["handler_symbol"],
                                           self.style)
                return header + "\n" + render_document(doc, self.style, "isr-frame")
            return render_document(self.session.diff(last=1), self.style, "isr-diff")
        except CommandError:
            return None

    # -- commands -----------------------------------------------------------------------
    def execute(self, line: str) -> bool:
        """Run one line; False when it asks to quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        words = split_words(line)
        if words and words[0] in QUIT:
            return False
        name, args = isr_command(words)
        try:
            if name in DRAWN and "--json" not in args:
                doc = self.session.isr(name, *args)
                self.emit(render_document(doc, self.style, name, args) or "")
            else:
                self.emit(self.session.console(line))
        except CommandError as error:
            if error.output:
                self.emit(error.output)
            self._error(str(error))
        if self.session.state != "running" or name == "isr-status":
            self.refresh_status()
        return True

    def run(self) -> int:
        """Prompt until Ctrl-D, a second Ctrl-C or `quit`; the exit status."""
        self.session.on_event(self._on_event)
        worker = threading.Thread(target=self._event_loop, name="isrdbg-repl-events",
                                  daemon=True)
        worker.start()
        self.refresh_status()
        try:
            if self._write is None:
                with patch_stdout(raw=True):
                    return self._loop()
            return self._loop()
        finally:
            self._done.set()
            self._events.put(None)
            worker.join(timeout=2)

    def _loop(self) -> int:
        while True:
            try:
                text = self.prompt.prompt()
            except EOFError:
                return 0
            except KeyboardInterrupt:      # Ctrl-C outside our binding (e.g. mid-redraw)
                continue
            self._ctrl_c = False
            for line in text.splitlines():     # a pasted block runs line by line
                try:
                    if not self.execute(line):
                        return 0
                except KeyboardInterrupt:
                    if self.session.state == "running":
                        self._interrupt()
                    self._error("interrupted")
                    break
                except SessionError as error:
                    self._error(f"isrdbg: {error}")
                    return 1


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _file_history() -> History:
    path = history_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileHistory(str(path))
    except OSError:
        return InMemoryHistory()


def run_repl(boot: BootSpec, attach: Optional[str] = None,
             color: Optional[bool] = None) -> int:
    """`isrdbg repl`: start the session, then prompt; the exit status."""
    if color is None:
        color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    with Session(attach=attach, boot=boot, queue_events=False) as session:
        if attach:
            where = f"attached to {attach}"
        else:
            where = (f"{session.arch.qemu} paused at reset ({session.plan.describe()}); "
                     f"serial output goes to {session.serial_log}")
        for note in (session.note, session.plan.kaslr_note()):
            if note:
                print(f"isrdbg repl: note: {note}", flush=True)
        print(f"isrdbg repl: {where}.\nTab completes, Ctrl-R searches the history, Ctrl-C "
              f"interrupts the target, Ctrl-D quits.", flush=True)
        return Repl(session, color=color).run()
