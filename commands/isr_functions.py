"""Convenience functions for breakpoint conditions and `commands` blocks:

  $_isr_vector()      vector being entered/handled, -1 if unknown or not in a handler
  $_isr_error_code()  its error code, -1 when none was pushed
  $_isr_frame()       address of its interrupt frame, 0 when none
  $_isr_in_handler()  1 inside a handler (at its entry or further in), else 0
"""

import gdb

from gdbext.errors import IsrError
from gdbext.decode.frame_report import locate

from .base import TARGET, TRACKER


def _current():
    try:
        return locate(TARGET, TRACKER)
    except (IsrError, gdb.error):      # no target, running, not in a handler
        return None


class _IsrFunction(gdb.Function):
    NAME = ""

    def __init__(self):
        super().__init__(self.NAME)

    def invoke(self, *arguments):
        # GDB passes whatever was written between the parentheses.
        if arguments:
            raise gdb.GdbError(f"${self.NAME}: takes no arguments, got {len(arguments)}")
        return self.value(_current())


class IsrVector(_IsrFunction):
    """Vector of the interrupt being handled; -1 if unknown or not in a handler."""
    NAME = "_isr_vector"

    @staticmethod
    def value(report):
        return -1 if report is None or report.vector is None else report.vector


class IsrErrorCode(_IsrFunction):
    """Error code of the interrupt being handled; -1 when none was pushed."""
    NAME = "_isr_error_code"

    @staticmethod
    def value(report):
        return -1 if report is None or report.frame.error_code is None else report.frame.error_code


class IsrFrame(_IsrFunction):
    """Address of the interrupt frame being handled; 0 when not in a handler."""
    NAME = "_isr_frame"

    @staticmethod
    def value(report):
        return 0 if report is None else report.frame.address


class IsrInHandler(_IsrFunction):
    """1 when the CPU is in an interrupt handler (at its entry or further in)."""
    NAME = "_isr_in_handler"

    @staticmethod
    def value(report):
        return 0 if report is None else 1


def register():
    for function in (IsrVector, IsrErrorCode, IsrFrame, IsrInHandler):
        function()
