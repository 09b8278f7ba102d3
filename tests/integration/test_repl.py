"""The REPL against real QEMU and GDB: driven through prompt_toolkit's pipe
input (keys sent from a thread while the prompt runs), and once end to end
in a real pseudo-terminal with `isrdbg repl`."""

import os
import re
import sys
import threading
import time
from contextlib import contextmanager

import pexpect
import pytest
from prompt_toolkit.formatted_text import to_plain_text
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from gdbext.client.repl import Repl
from gdbext.client.session import Session

from .conftest import ROOT, processes_referring_to, symbols


class Driver:
    """A Repl on a pipe; ``script(driver)`` types into it from a thread."""

    def __init__(self, session, pipe, history=None):
        self.session = session
        self.pipe = pipe
        self.out = []
        self.repl = Repl(session, color=False, input=pipe, output=DummyOutput(),
                         write=self.out.append,
                         history=InMemoryHistory() if history is None else history)

    @property
    def text(self):
        return "".join(self.out)

    def send(self, keys):
        self.pipe.send_text(keys)

    def wait_for(self, what, timeout=20):
        """Until ``what`` (text in the output, or a predicate) holds."""
        check = (lambda: what in self.text) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what!r}; output:\n{self.text}")
            time.sleep(0.02)

    def line(self, keys, expect, timeout=20):
        start = len(self.text)
        self.send(keys)
        self.wait_for(lambda: expect in self.text[start:], timeout)

    @property
    def toolbar(self):
        return to_plain_text(self.repl.toolbar())

    def run(self, script, timeout=60):
        failures = []

        def feed():
            try:
                script(self)
            except BaseException as error:       # report it, and end the prompt
                failures.append(error)
                self.send("\x15quit\r")

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        status = self.repl.run()
        feeder.join(timeout)
        if failures:
            raise failures[0]
        return status


@contextmanager
def driver(kernels, append, arch="x86_64", history=None):
    with Session(kernels[arch], append) as session, create_pipe_input() as pipe:
        yield Driver(session, pipe, history)


def test_commands_completion_and_a_hit_above_the_prompt(kernels):
    with driver(kernels, "scenario=pf-write-readonly") as d:
        def script(d):
            d.wait_for(lambda: "CPU 0 real mode" in d.toolbar)
            d.line("isr-break 14\r", "vector 14 #PF Page Fault: pending (IDT not loaded yet")
            d.line("continue\r", "context     interrupted ring 0")
            assert "error code  0x3: supervisor-mode write" in d.text
            d.wait_for(lambda: "in 14 #PF Page Fault (depth 1)" in d.toolbar)
            d.send("isr-idt page-f\t")
            d.wait_for(lambda: d.repl.prompt.default_buffer.text == "isr-idt page-fault")
            d.line("\r", "14   #PF Page Fault  EC  interrupt")
            d.line("isr-idt 300\r", "isr-idt: vector 300 is out of range (0-255)")
            d.line("info registers rip\r", "rip            0x")
            d.line("isr-status\r", "0 findings breaking the convention")
            d.send("\x04")

        assert d.run(script) == 0
        toolbar = d.toolbar
        assert "stopped" in toolbar and "CPU 0 long mode" in toolbar and "0 findings" in toolbar


@pytest.mark.parametrize("arch", ["x86_64", "i386"])
def test_drawn_documents_equal_gdbs_own_text(kernels, arch):
    """The REPL draws isr commands from their MI documents; the text must be
    what the GDB command prints (colour off)."""
    with driver(kernels, "scenario=bad-clobber-rbx", arch) as d:
        session = d.session

        def same(line):
            del d.out[:]
            d.repl.execute(line)
            assert d.text.rstrip("\n") == session.console(line).rstrip("\n"), line

        session.isr_break(0x52)
        session.cont(until_vector=0x52, timeout=30)
        for line in ("isr-idt", "isr-idt --all 0x50-0x58", "isr-frame", "isr-frame --vector 0x52",
                     "info isr-breakpoints", "isr-status"):
            same(line)
        session.console(f"tbreak *{symbols(kernels[arch])['bug_clobber_rbx'] + 5:#x}")
        session.cont(timeout=30)
        same("isr-diff")                      # live, inside the handler
        session.watch(0x52)
        session.cont(timeout=30)
        for line in ("isr-diff", "isr-diff --all", "isr-diff --last 3", "isr-status"):
            same(line)


def test_findings_print_above_the_prompt_and_count_in_the_toolbar(kernels):
    with driver(kernels, "scenario=bad-clobber-rbx") as d:
        def script(d):
            d.line("isr-watch 0x52\r", "vector 82 Interrupt: pending")
            d.line("continue\r", "error clobbered-register: registers changed")
            d.wait_for(lambda: "1 finding " in d.toolbar + " ")
            d.send("\x04")

        assert d.run(script) == 0
        assert re.search(r"rbx +0x[0-9a-f]+ +0x000000000000dead +changed", d.text)


def test_ctrl_c_interrupts_a_running_target_and_twice_exits(kernels):
    with driver(kernels, "scenario=timer ticks=100000") as d:
        def script(d):
            d.line("continue\r", "Continuing.")
            d.wait_for(lambda: d.session.state == "running")
            d.wait_for(lambda: "running" in d.toolbar)
            d.send("\x03")
            d.wait_for("Program received signal SIGINT")
            d.wait_for(lambda: d.session.state == "stopped")
            d.line("\x03", "(Ctrl-C again or Ctrl-D to quit)")
            d.send("\x03")

        assert d.run(script) == 0


def test_pasted_lines_run_one_by_one_and_history_persists(kernels, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with driver(kernels, "scenario=idle", history=None) as d:
        d.repl = Repl(d.session, color=False, input=d.pipe, output=DummyOutput(),
                      write=d.out.append)         # default history: the XDG file

        def script(d):
            d.line("\x1b[200~isr-break 14\nisr-status\n\x1b[201~\r", "0 findings")
            assert "vector 14 #PF Page Fault: pending" in d.text
            d.send("\x04")

        assert d.run(script) == 0
    history = (tmp_path / "state" / "isrdbg" / "history").read_text()
    assert "+isr-break 14\n+isr-status" in history


def test_end_to_end_in_a_terminal(kernels, private_tmpdir):
    env = dict(os.environ, TERM="xterm", XDG_STATE_HOME=str(private_tmpdir / "state"),
               TMPDIR=str(private_tmpdir))
    child = pexpect.spawn(sys.executable, ["-m", "gdbext.client.cli", "repl",
                                           str(kernels["x86_64"]), "--append",
                                           "scenario=pf-write-readonly", "--tcg"],
                          cwd=str(ROOT), env=env, dimensions=(40, 160), encoding="utf-8",
                          timeout=30)
    seen = []

    def expect(pattern):
        """Wait for ``pattern``, answering the terminal's cursor position
        requests as a terminal would."""
        while child.expect([pattern, re.escape("\x1b[6n")]) == 1:
            child.send("\x1b[20;1R")
        seen.append(child.before + child.after)

    try:
        expect(re.escape("(isrdbg)"))
        expect(r"stopped.*CPU 0 real mode")
        child.sendline("isr-break 14")
        expect("pending")
        child.sendline("continue")
        expect(r"error code +0x3: supervisor-mode write")
        expect(r"in 14 #PF Page Fault \(depth 1\)")
        child.send("isr-idt page-f\t")
        # the completed suffix; the terminal may redraw "page-f" and "ault" apart
        expect("ault")
        child.send("\r")
        expect(r"14 +#PF Page Fault +EC +interrupt")
        expect(re.escape("(isrdbg)"))
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, "".join(seen)
    assert processes_referring_to(str(private_tmpdir)) == []
    assert "isr-idt page-fault" in (private_tmpdir / "state" / "isrdbg" / "history").read_text()
