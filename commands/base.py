"""What every isrdbg GDB command shares: argument parsing that reports errors
in one line, mapping core errors to ``gdb.GdbError``, styled output, and the
per-session state (settings, target adapter)."""

import argparse
import os

import gdb

from gdbext.errors import IsrError, UsageError
from gdbext.render.style import Style
from gdbext.vectors import spec_words

from .state import SETTINGS, TARGET, TRACKER  # noqa: F401  (re-exported for commands)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` instead of printing and exiting."""

    def __init__(self, prog, **kwargs):
        super().__init__(prog=prog, add_help=False, allow_abbrev=False, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see `help {self.prog}`)")

    def exit(self, status=0, message=None):
        raise UsageError(message or f"see `help {self.prog}`")


def style() -> Style:
    """Colour only when GDB styles its own output to a terminal."""
    try:
        enabled = bool(gdb.parameter("style enabled"))
    except (gdb.error, RuntimeError):
        enabled = False
    return Style(enabled and os.isatty(1))


class IsrCommand(gdb.Command):
    """Base of the isr-* commands: subclasses set NAME, build ``parser`` and
    implement ``run(args)``; the docstring is GDB's help text."""

    NAME = ""
    COMMAND_CLASS = gdb.COMMAND_DATA
    COMPLETE_WORDS = ()        # option words offered besides vector specs
    COMPLETES_VECTORS = False

    def __init__(self):
        super().__init__(self.NAME, self.COMMAND_CLASS)
        self.parser = ArgumentParser(self.NAME)
        self.add_arguments(self.parser)

    def add_arguments(self, parser):
        pass

    def parse(self, argument):
        return self.parser.parse_args(gdb.string_to_argv(argument))

    def invoke(self, argument, from_tty):
        try:
            self.run(self.parse(argument))
        except IsrError as error:
            raise gdb.GdbError(f"{self.NAME}: {error}") from None

    def run(self, args):
        raise NotImplementedError

    def complete(self, text, word):
        candidates = list(self.COMPLETE_WORDS)
        if self.COMPLETES_VECTORS:
            candidates += spec_words()
        # GDB breaks words at '-' and '#', but our words contain them: match the
        # whole token and hand back only the part GDB will replace.
        token = text.split(" ")[-1]
        cut = len(token) - len(word or "")
        return [c[cut:] for c in candidates if c.startswith(token)]

    @staticmethod
    def write(text: str) -> None:
        gdb.write(text if text.endswith("\n") else text + "\n")
