"""isrdbg's own fuzz test: malformed and edge command lines (tests/fuzz_inputs.py)
for every isr command, `set isr` parameter and $_isr_* function, over the CLI
and MI, in four target states: no target, at reset before `lidt`, stopped
after `lidt`, running.

For every line: no Python traceback or "Python Exception", no GDB internal
error, an answer within 5 s, an error (if any) on one line starting with the
command's name; while the target runs, nothing stops it.  One GDB (an MI
Session) per state runs all the lines.  The normal suite runs a fixed sample
of ~100 lines per state; `pytest --fuzz` runs all of them.
"""

import time

import pytest

from gdbext.client.session import CommandError, Session, SessionError
from tests import fuzz_inputs

SAMPLE = 100
SLOW = 5.0          # seconds: no command may take longer
HANG = 20.0         # the session gives up on an answer after this
RAW = ("Traceback", "Python Exception", "internal-error", "Error occurred in Python",
       "A problem internal to GDB", "core dumped")
STATES = ("no-target", "reset", "stopped", "running")


def lines_for(state, config):
    everything = fuzz_inputs.everything()
    if config.getoption("--fuzz"):
        return everything
    return fuzz_inputs.sample(everything, SAMPLE, seed=STATES.index(state))


def enter(session, state):
    if state == "no-target":
        session.console("disconnect")
    elif state in ("stopped", "running"):
        session.console("break scenario_start")
        session.cont(timeout=60)
        session.console("delete")
        if state == "running":
            session.console("continue")
            time.sleep(0.2)
            assert session.state == "running"


def run_line(session, fuzz):
    """(seconds, error message or None, everything printed)"""
    started = time.monotonic()
    try:
        if fuzz.mi is None:
            printed = session.console(fuzz.line, timeout=HANG)
        else:
            printed = str(session.mi(fuzz.mi[0], *fuzz.mi[1], timeout=HANG))
        error = None
    except CommandError as failure:
        printed, error = failure.output, str(failure)
    return time.monotonic() - started, error, printed


def drain(session):
    text = []
    while not session.events.empty():
        event = session.events.get()
        text.append(f"[{event.kind} {event.reason or ''}] {event.text}")
    return "".join(text)


def problems_of(fuzz, seconds, error, printed, stray):
    found = []
    for raw in RAW:
        if raw in printed or raw in (error or "") or raw in stray:
            found.append(f"raw {raw!r}")
    if seconds > SLOW:
        found.append(f"took {seconds:.1f}s")
    if error is not None:
        if "\n" in error.strip():
            found.append("error of several lines")
        elif fuzz.ours and not error.startswith(f"{fuzz.name}:"):
            found.append(f"error does not start with {fuzz.name!r}")
    return found


@pytest.mark.parametrize("state", STATES)
def test_fuzz(kernels, state, request):
    append = "scenario=timer ticks=1000000" if state == "running" else "scenario=idle"
    lines = lines_for(state, request.config)
    assert len(lines) >= (SAMPLE if not request.config.getoption("--fuzz") else 500)
    report = []
    with Session(str(kernels["x86_64"]), append=append, timeout=HANG) as session:
        enter(session, state)
        try:
            session.mi("-isr-status")
        except CommandError:        # GDB 12: no Python MI commands, so no MI lines
            lines = [line for line in lines if line.mi is None]
        drain(session)
        for fuzz in lines:
            try:
                seconds, error, printed = run_line(session, fuzz)
            except SessionError as failure:     # GDB died or stopped answering
                report.append(f"{fuzz}: {failure}")
                break
            if state == "running" and fuzz.name == "isr-interrupt" and error is None:
                # a valid isr-interrupt (e.g. `-isr-interrupt --`) stops on purpose
                deadline = time.monotonic() + SLOW
                while session.state == "running" and time.monotonic() < deadline:
                    time.sleep(0.02)
                if session.state != "running":
                    session.console("continue")
            stray = drain(session)
            found = problems_of(fuzz, seconds, error, printed, stray)
            if state == "running" and session.state != "running":
                found.append(f"the target stopped ({stray.strip()[:200]})")
                session.console("continue")
            if found:
                report.append(f"{fuzz}: {'; '.join(found)}\n    error: {error!r}\n"
                              f"    printed: {(printed + stray)[:600]!r}")
    assert not report, f"{len(report)} of {len(lines)} lines in state {state}:\n" + \
        "\n".join(report)
