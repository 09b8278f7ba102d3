"""Where the debugger stands, for clients (the REPL's toolbar, a Session
waiting for a vector): target state, CPU and mode, the handler being run and
its nesting depth, findings so far, and what the last stop was about."""

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from gdbext.tracking.findings import RULES, SEVERITY_ORDER


@dataclass(frozen=True)
class LastStop:
    """The isr breakpoint behind the last stop."""

    kind: str                        # "entry" (isr-break) or "exit" (isr-watch finding)
    breakpoint: int
    cpu: int
    vectors: Tuple[int, ...]
    handler: Optional[int]
    sequence: Optional[int] = None   # the handler run that stopped at its exit
    findings: int = 0                # its problem findings


@dataclass(frozen=True)
class Status:
    state: str                       # "stopped", "running" or "no target"
    cpu: Optional[int] = None
    mode: Optional[str] = None       # "real", "protected", "long" when known
    handling: Tuple[int, ...] = ()   # vectors of the innermost handler run enclosing RSP
    depth: int = 0                   # handler runs open around RSP (1: in a handler, 2: nested)
    open_runs: int = 0
    runs: int = 0                    # completed handler runs recorded (paired and judged)
    findings: Dict[str, int] = field(default_factory=dict)   # severity -> count
    last_stop: Optional[LastStop] = None
    problem: Optional[str] = None    # why CPU or mode are unknown
    unpaired: int = 0                # entries and exits that could not be paired (not judged)
    engine: str = ""                 # which trace engine records, one line (commands/trace_engine)


def tracker_totals(tracker) -> Tuple[int, Dict[str, int]]:
    """(completed runs, findings per severity) from the tracker's exact counters."""
    runs = 0
    counts = {severity: 0 for severity in sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.get)}
    for stats in tracker.stats.values():
        runs += stats.runs
        for rule, count in stats.findings.items():
            severity = RULES[rule].severity if rule in RULES else "error"
            counts[severity] = counts.get(severity, 0) + count
    return runs, counts
