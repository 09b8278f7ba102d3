"""Findings are data: a stable rule id, a severity, where, and a message.

Text, JSON and MI render the same ``Finding`` objects; the rule table below
is the one place that knows each rule's severity and meaning.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    summary: str


RULES: Dict[str, Rule] = {r.id: r for r in [
    Rule("clobbered-register", ERROR,
         "a general register differs between handler entry and return"),
    Rule("segment-clobbered", ERROR,
         "a data segment register or FS/GS base differs between entry and return"),
    Rule("simd-clobbered", ERROR, "x87/SSE state (xmm, mxcsr, x87 control/status) changed"),
    Rule("stack-not-restored", ERROR,
         "RSP or SS after the return differ from the interrupted context's"),
    Rule("error-code-not-popped", ERROR,
         "iret executed with the error code still on the stack"),
    Rule("stack-imbalance-at-iret", ERROR,
         "RSP at iret does not point at the saved RIP of the interrupt frame"),
    Rule("ret-instead-of-iret", ERROR, "the handler returned with ret/retf instead of iret"),
    Rule("frame-modified", INFO,
         "the handler rewrote its frame (RIP, CS, RFLAGS, RSP or SS): a fix-up, exec, a signal"),
    Rule("context-changed-by-kernel", INFO,
         "a register restored from its own save slot, which the kernel rewrote (a syscall's "
         "result, exec, a signal)"),
    Rule("interrupts-enabled-in-handler", INFO,
         "IF was set inside an interrupt gate's handler before its exit"),
    # found by the static checks only
    Rule("unsaved-scratch-across-call", ERROR,
         "a call into normal code may change scratch registers the handler has not saved"),
    Rule("misaligned-call", ERROR, "RSP is not a multiple of 16 at a call (64-bit SysV ABI)"),
    Rule("misaligned-simd-save", ERROR,
         "an aligned SSE store (movaps/movdqa) to a stack slot the depth shows misaligned"),
    Rule("red-zone-use", ERROR,
         "a store below RSP, which an interrupt would overwrite (no red zone in handlers)"),
    Rule("handler-in-freed-memory", WARNING,
         "the gate points at bytes filled with 0xcc (int3): freed init code or padding"),
    Rule("handler-in-zeroed-memory", WARNING,
         "the gate points at zero-filled memory: no code was loaded there"),
]}

SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True)
class Finding:
    rule: str
    message: str
    vector: Optional[int] = None
    cpu: Optional[int] = None
    address: Optional[int] = None          # instruction where it was seen (iret, ret, ...)
    handler: Optional[int] = None
    details: Dict[str, Any] = field(default_factory=dict)   # e.g. {"registers": {...}}
    level: Optional[str] = None    # the rule's severity, lowered where the bug cannot happen here

    @property
    def severity(self) -> str:
        return self.level or RULES[self.rule].severity

    @property
    def is_problem(self) -> bool:
        """Errors and warnings break the convention; info findings are normal
        in some handlers (fault fix-ups change RIP on purpose)."""
        return self.severity != INFO


def sort_findings(findings) -> Tuple[Finding, ...]:
    if not findings:
        return ()       # nearly every judged run
    return tuple(sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rule)))
