"""What every isrdbg GDB command shares: argument parsing that reports errors
in one line, the guard on the target's state each command declares (NEEDS),
mapping core and GDB errors to one-line ``gdb.GdbError``s, completion, styled
output, and the per-session state (settings, target adapter)."""

import argparse
import json
import os
import re

import gdb

from gdbext.errors import IsrError, UsageError
from gdbext.render import json as render_json
from gdbext.render.style import Style
from gdbext.x86.vectors import NUM_VECTORS, parse_one, parse_specs, spec_words

from gdbext.gdbside.state import SETTINGS, TARGET, TRACKER  # noqa: F401  (re-exported for commands)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` instead of printing and exiting."""

    def __init__(self, prog, **kwargs):
        super().__init__(prog=prog, add_help=False, allow_abbrev=False, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see `help {self.prog}`)")

    def exit(self, status=0, message=None):
        raise UsageError(message or f"see `help {self.prog}`")


_RANGE_START = re.compile(r"(0|[1-9][0-9]*)-", re.ASCII)


def vector_numbers(token: str):
    """Vector numbers (and range ends after "N-") offered for a token that
    starts with a digit; nothing for an empty token, which would list 256."""
    if not token[:1].isdigit():
        return []
    start = _RANGE_START.match(token)
    if start is None:
        return [str(n) for n in range(NUM_VECTORS)]
    low = int(start.group(1))
    return [f"{start.group(0)}{n}" for n in range(low, NUM_VECTORS)]


def style() -> Style:
    """Colour only when GDB styles its own output to a terminal."""
    try:
        enabled = bool(gdb.parameter("style enabled"))
    except (gdb.error, RuntimeError):
        enabled = False
    return Style(enabled and os.isatty(1))


# Every isr command by NAME (what the GDB/MI commands in mi.py wrap).
COMMANDS = {}

# What a command needs of the target, checked after its arguments parse and
# before it does anything, so that a refused command changes nothing.
ANY_STATE = "any"               # reads isrdbg's own records: works while the target runs
NOT_RUNNING = "not running"     # sets or deletes breakpoints: no target is fine, running not
STOPPED = "stopped"             # reads the target: connected and stopped


def require(need: str) -> None:
    """Raise ``TargetError`` unless the target is in the state ``need`` names."""
    if need == STOPPED:
        TARGET.require_stopped()
    elif need == NOT_RUNNING:
        TARGET.require_not_running()


def one_line(error: BaseException) -> str:
    """GDB's multi-line messages ("Cannot execute this command while the
    target is running.\nUse the ...") cut to their first line."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


class IsrCommand(gdb.Command):
    """Base of the isr-* commands: subclasses set NAME, build ``parser`` and
    implement either

    * ``result(args)`` (compute), ``document(result, args)`` (the isrdbg/1
      JSON document) and ``text(result, args, style)`` (for people): ``run``
      then prints one or the other (``--json``), and the MI command returns
      the document; or
    * ``run(args)`` alone, printing itself; its MI command then returns what
      ``--json`` prints.

    The docstring is GDB's help text."""

    NAME = ""
    COMMAND_CLASS = gdb.COMMAND_DATA
    NEEDS = STOPPED             # see require(); ``needs(args)`` may decide per action
    COMPLETE_WORDS = ()        # option words offered besides vector specs
    COMPLETES_VECTORS = False

    def __init__(self):
        super().__init__(self.NAME, self.COMMAND_CLASS)
        self.parser = ArgumentParser(self.NAME)
        self.add_arguments(self.parser)
        self._captured = None
        COMMANDS[self.NAME] = self

    def add_arguments(self, parser):
        pass

    def parse(self, argument):
        return self.parse_argv(gdb.string_to_argv(argument))

    def parse_argv(self, argv):
        return self.parser.parse_args(argv)

    def needs(self, args) -> str:
        return self.NEEDS

    def validate(self, args) -> None:
        """Vector SPECs checked before the target's state: a SPEC that can
        never be right says so in every state (``isr-idt 32-`` is not "no
        target connected")."""
        if getattr(args, "spec", None):
            parse_specs(args.spec)
        if isinstance(getattr(args, "vector", None), str):
            parse_one(args.vector)

    def invoke(self, argument, from_tty):
        try:
            self._checked(lambda: self.parse(argument), self.run)
        except IsrError as error:
            raise gdb.GdbError(f"{self.NAME}: {error}") from None

    def _checked(self, parse, act):
        """``act(parse())`` once the target is in the state the command needs;
        GDB's own errors (a target that vanished, memory gone) become one-line
        ``IsrError``s instead of "Python Exception <class 'gdb.error'>"."""
        try:
            args = parse()
            self.validate(args)
            require(self.needs(args))
            return act(args)
        except gdb.error as error:
            raise IsrError(one_line(error)) from None

    def run(self, args):
        result = self.result(args)
        if getattr(args, "json", False):
            self.write(render_json.dumps(self.document(result, args)))
        else:
            text = self.text(result, args, style())
            if text:
                self.write(text)

    def result(self, args):
        raise NotImplementedError

    def document(self, result, args):
        raise NotImplementedError

    def text(self, result, args, style):
        raise NotImplementedError

    def mi_document(self, argv):
        """The document ``NAME --json ARGV...`` prints, as a dict (for GDB/MI)."""
        return self._checked(lambda: self.parse_argv(list(argv)), self._document)

    def _document(self, args):
        if type(self).result is not IsrCommand.result:
            return self.document(self.result(args), args)
        if not hasattr(args, "json"):
            raise UsageError("this command has no JSON output")
        args.json = True
        self._captured = []
        try:
            self.run(args)
            docs = [json.loads(line) for line in self._captured if line.startswith("{")]
        finally:
            self._captured = None
        if len(docs) != 1:
            raise IsrError(f"printed {len(docs)} JSON documents instead of one")
        return docs[0]

    def complete(self, text, word):
        # GDB breaks words at '-' and '#', but our words contain them: match the
        # whole token and hand back only the part GDB will replace.
        token = text.split(" ")[-1]
        candidates = list(self.COMPLETE_WORDS)
        if self.COMPLETES_VECTORS:
            candidates += spec_words() + vector_numbers(token)
        cut = len(token) - len(word or "")
        return [c[cut:] for c in candidates if c.startswith(token)]

    def write(self, text: str) -> None:
        if self._captured is not None:
            self._captured.extend(text.splitlines())
            return
        gdb.write(text if text.endswith("\n") else text + "\n")
