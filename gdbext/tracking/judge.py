"""Judging one handler run: what the interrupted code gets back at the exit,
compared with what it had at the entry, as register changes and findings."""

import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from gdbext.tracking.findings import Finding, sort_findings
from gdbext.decode.frame import InterruptFrame, rflags_names
from gdbext.decode.snapshot import Context, RegisterSet

RFLAGS_IF = 1 << 9

GROUP_RULES = {"general": "clobbered-register", "segments": "segment-clobbered",
               "bases": "segment-clobbered", "simd": "simd-clobbered"}


@dataclass(frozen=True)
class RegisterChange:
    name: str
    group: str          # "general", "segments", "bases", "simd", "stack", "frame"
    before: int
    after: int


@dataclass(frozen=True)
class ExitObservation:
    """What the exit breakpoint saw, before the exit instruction ran."""

    kind: str                   # "iret", "ret" (an exit site) or "return" (back in the interrupted code)
    address: int                # the exit instruction, or where the interrupted code resumed
    registers: Dict[str, int]   # RegisterSet.at_exit
    stack: bytes                # the words at RSP (the iret frame for "iret")
    sp: int                     # RSP/ESP at the exit
    cpl: int = 0                # current privilege level at the exit
    mnemonic: str = ""

    def __init__(self, kind, address, registers, stack, sp, cpl=0, mnemonic=""):
        # one per exit breakpoint hit: see Context.__init__ (gdbext.decode.snapshot)
        self.__dict__.update(kind=kind, address=address, registers=registers, stack=stack,
                             sp=sp, cpl=cpl, mnemonic=mnemonic)


@dataclass(frozen=True)
class Verdict:
    changes: Tuple[RegisterChange, ...]
    findings: Tuple[Finding, ...]
    resumed: Optional[Context]  # what the interrupted code runs with next, when known
    unjudged: Tuple[Tuple[str, str], ...] = ()   # (register, why its change is not judged)

    def __init__(self, changes, findings, resumed, unjudged=()):
        # one per judged run: see Context.__init__ (gdbext.decode.snapshot)
        self.__dict__.update(changes=changes, findings=findings, resumed=resumed,
                             unjudged=unjudged)

    @property
    def unjudged_reasons(self) -> Tuple[str, ...]:
        """Each reason once: what a run counts as "changed, not judged"."""
        if not self.unjudged:
            return ()       # nearly every run: asked for each one accounted
        return tuple(dict.fromkeys(reason for _, reason in self.unjudged))


_UNPACKERS = {}     # (words, slot) -> struct.Struct.unpack_from: at every exit, not a new format


def unpack_words(data: bytes, slot: int) -> Tuple[int, ...]:
    """The little-endian words of ``slot`` bytes that ``data`` holds whole."""
    count = len(data) // slot
    unpack = _UNPACKERS.get((count, slot))
    if unpack is None:
        unpack = _UNPACKERS[count, slot] = struct.Struct(
            f"<{count}{'Q' if slot == 8 else 'I'}").unpack_from
    return unpack(data)


def compare(regset: RegisterSet, entry: Context, now: Dict[str, int]) -> List[RegisterChange]:
    """Tracked registers that differ between ``entry`` and ``now``."""
    before = entry.values
    same = getattr(before, "same", None)
    if same is not None and hasattr(now, "same") and same(now, regset.tracked):
        return []       # both from `g` packets, every tracked byte equal: the usual exit
    changes = []
    for group in ("general", "segments", "bases", "simd"):
        for name in getattr(regset, group):
            # ``now`` first: an exit may hold only what it changed (judge.clean_iret)
            new = now.get(name)
            if new is not None:
                old = before.get(name)
                if old is not None and new != old:
                    changes.append(RegisterChange(name, group, old, new))
    return changes


def _register_findings(changes, base: Dict) -> List[Finding]:
    findings = []
    for group in ("general", "segments", "simd"):
        mine = [c for c in changes if c.group == group or (group == "segments" and c.group == "bases")]
        if not mine:
            continue
        listing = ", ".join(f"{c.name} {c.before:#x} -> {c.after:#x}" for c in mine)
        what = {"general": "registers changed", "segments": "segment state changed",
                "simd": "x87/SSE state changed"}[group]
        findings.append(Finding(GROUP_RULES[group], f"{what}: {listing}",
                                details={"registers": {c.name: [c.before, c.after] for c in mine}},
                                **base))
    return findings


def _intended(changes, explain, at):
    """Split register changes by the save analysis' evidence (gdbext.analysis.restored):
    (changes to judge as clobbers, findings for intentional ones, unjudged)."""
    from gdbext.analysis.restored import RESTORED, UNKNOWN
    names = tuple(c.name for c in changes if c.group in ("general", "segments"))
    why = explain(names) if names else {}
    kept, restored, unjudged = [], [], []
    for change in changes:
        found = why.get(change.name)
        if found is None or found.kind not in (RESTORED, UNKNOWN):
            kept.append(change)
        elif found.kind == RESTORED:
            restored.append((change, found))
        else:
            unjudged.append((change.name, found.reason))
    findings = []
    if restored:
        listing = "; ".join(
            f"{c.name} {c.before:#x} -> {c.after:#x} from its save slot at {r.slot:#x} "
            f"(frame{r.offset:+#x}"
            + (f", saved at {r.saved_by:#x}" if r.saved_by is not None and r.saved_by >= 0 else "")
            + ")" for c, r in restored)
        findings.append(Finding(
            "context-changed-by-kernel",
            f"the handler restored registers from save slots the kernel rewrote: {listing}",
            details={"registers": {c.name: [c.before, c.after] for c, _ in restored},
                     "slots": {c.name: r.slot for c, r in restored}}, **at))
    return kept, findings, tuple(unjudged)


# Registers that hold a per-CPU value (x86_64 GS bases: one of them is the
# kernel's per-CPU area), not the interrupted code's: they differ when a run
# resumes on another CPU than it entered on.
PER_CPU = ("gs_base", "k_gs_base")
MIGRATED = "per-CPU GS base: the run returned on another CPU than it entered on"


def judge_exit(regset: RegisterSet, frame: InterruptFrame, entry: Context, gate_type: str,
               exit: ExitObservation, enabled_interrupts_at: Optional[int], base: Dict,
               explain=None, migrated: bool = False) -> Verdict:
    """``base`` carries the Finding fields shared by all (vector, cpu, handler);
    ``enabled_interrupts_at`` is where a nested entry found IF set inside it;
    ``explain(names)`` gives a gdbext.analysis.restored.Restore per changed register
    (without it every change is judged as a clobber)."""
    regs = exit.registers
    rsp = exit.sp
    slot = frame.slot
    at = dict(base, address=exit.address)
    changes = compare(regset, entry, regs)
    findings, unjudged = [], ()
    if changes:
        judged = changes
        if migrated:
            unjudged = tuple((c.name, MIGRATED) for c in changes if c.name in PER_CPU)
            judged = [c for c in changes if c.name not in PER_CPU]
        if explain is not None and judged:
            judged, findings, more = _intended(judged, explain, at)
            unjudged += more
        findings += _register_findings(judged, at)
    if gate_type in ("interrupt", "interrupt16"):
        if enabled_interrupts_at is not None:
            findings.append(Finding("interrupts-enabled-in-handler",
                                    f"an interrupt nested at {enabled_interrupts_at:#x} with IF "
                                    f"set: this interrupt-gate handler enabled interrupts", **at))
        elif exit.kind != "return" and regs.get(regset.flags, 0) & RFLAGS_IF:
            findings.append(Finding("interrupts-enabled-in-handler",
                                    "IF is set at the exit of an interrupt-gate handler: it ran "
                                    "with interrupts enabled", **at))
    resumed = None
    if exit.kind == "iret":
        resumed = _judge_iret(frame, entry, exit, rsp, slot, regset, at, findings, changes)
    elif exit.kind == "ret":
        words = unpack_words(exit.stack, slot)
        landing = words[0] if words else None
        findings.append(Finding(
            "ret-instead-of-iret",
            f"the handler returned with `{exit.mnemonic or 'ret'}` at {exit.address:#x}"
            + (f" to {landing:#x}" if landing is not None else "")
            + f": CS, RFLAGS{', RSP and SS' if slot == 8 else ''} stay on the stack", **at))
    elif exit.kind == "return":
        resumed = Context(regs, regs[regset.pc], regs.get("cs", entry.cs),
                          regs.get(regset.flags, 0), rsp, regs.get("ss", entry.ss))
        if rsp == frame.rip_slot + slot:
            findings.append(Finding("ret-instead-of-iret",
                                    f"the interrupted code resumed at {resumed.rip:#x} with RSP "
                                    f"{rsp:#x} pointing at the saved CS: the handler used `ret`",
                                    **at))
        else:
            _stack_restored(entry, resumed, at, findings, changes)
    return Verdict(tuple(changes), sort_findings(findings), resumed, unjudged)


def clean_iret(regset: RegisterSet, frame: InterruptFrame, entry: Context, gate_type: str,
               exit: ExitObservation) -> Optional[Verdict]:
    """The verdict judge_exit gives a run whose iret changes nothing, when that
    is known by its own rules' tests alone: no tracked register changed (no
    change, so nothing to explain), IF clear at an interrupt gate's exit, and
    the iret popping exactly the context the CPU pushed.  None when any of
    these does not hold (judge_exit then judges the run).  For clean runs the
    trace plugin folded (Tracker.clean_run): ``exit.registers`` then holds
    only what the exit may change (pc, sp, flags, cs, ss), the plugin having
    found every other register byte-equal to the entry's.  No nested entry
    may have been seen inside the run (enabled_interrupts_at)."""
    if exit.kind != "iret":
        return None
    if not regset.tracked_names.isdisjoint(exit.registers) and \
            compare(regset, entry, exit.registers):
        return None
    if gate_type in ("interrupt", "interrupt16") and \
            exit.registers.get(regset.flags, 0) & RFLAGS_IF:
        return None
    popped = _popped(exit, entry, frame.slot)
    if popped is None or not _same_context(popped, entry):
        return None
    return Verdict((), sort_findings([]), popped)


def _popped(exit, entry, slot):
    """The context the iret pops from the words at RSP, or None if unreadable."""
    words = unpack_words(exit.stack, slot)
    if len(words) < 3:
        return None
    rip, cs, rflags = words[0], words[1] & 0xFFFF, words[2]
    if slot == 8 or (cs & 3) != exit.cpl:
        if len(words) < 5:
            return None
        return Context(exit.registers, rip, cs, rflags, words[3], words[4] & 0xFFFF)
    return Context(exit.registers, rip, cs, rflags, exit.sp + 3 * slot, entry.ss)


def _same_context(a: Context, b: Context) -> bool:
    return (a.rip, a.cs & 0xFFFF, a.rflags, a.rsp, a.ss & 0xFFFF) == \
        (b.rip, b.cs & 0xFFFF, b.rflags, b.rsp, b.ss & 0xFFFF)


def _judge_iret(frame, entry, exit, rsp, slot, regset, at, findings, changes):
    popped = _popped(exit, entry, slot)
    if popped is not None and _same_context(popped, entry):
        # exactly what the CPU pushed: from this frame or from a copy the kernel
        # moved (Linux copies the registers of an entry from user mode to the task stack)
        return popped
    if rsp != frame.rip_slot:
        if frame.has_error_code and rsp == frame.address:
            findings.append(Finding(
                "error-code-not-popped",
                f"{exit.mnemonic or 'iret'} at {exit.address:#x} with RSP {rsp:#x} on the error "
                f"code {frame.error_code:#x}: it will pop the error code as RIP",
                details={"rsp": rsp, "expected_rsp": frame.rip_slot}, **at))
        else:
            delta = rsp - frame.rip_slot
            how = (f"{-delta} bytes left on the stack" if delta < 0
                   else f"{delta} bytes popped too many")
            findings.append(Finding(
                "stack-imbalance-at-iret",
                f"{exit.mnemonic or 'iret'} at {exit.address:#x} with RSP {rsp:#x}, "
                f"{abs(delta)} bytes {'below' if delta < 0 else 'above'} the saved RIP at "
                f"{frame.rip_slot:#x} ({how})",
                details={"rsp": rsp, "expected_rsp": frame.rip_slot, "bytes": delta}, **at))
        return None
    if popped is None:
        return None
    # the iret pops the run's own frame, which was rewritten in memory (a fix-up,
    # exec, signal delivery): the CPU resumes what the handler put there
    rip, cs, rflags = popped.rip, popped.cs, popped.rflags
    modified = []
    if rip != entry.rip:
        delta = rip - entry.rip
        modified.append(f"resumes {abs(delta)} bytes {'later' if delta > 0 else 'earlier'} "
                        f"({entry.rip:#x} -> {rip:#x})")
        changes.append(RegisterChange("rip" if slot == 8 else "eip", "frame", entry.rip, rip))
    if cs != entry.cs:
        modified.append(f"CS {entry.cs:#x} -> {cs:#x}")
        changes.append(RegisterChange("cs", "frame", entry.cs, cs))
    if rflags != entry.rflags:
        flipped = rflags ^ entry.rflags
        modified.append(f"RFLAGS {entry.rflags:#x} -> {rflags:#x} "
                        f"({' '.join(n for n in rflags_names(flipped) if not n.startswith('IOPL'))})")
        changes.append(RegisterChange("rflags" if slot == 8 else "eflags", "frame",
                                      entry.rflags, rflags))
    modified += _stack_changes(entry, popped, changes)
    if modified:
        findings.append(Finding("frame-modified", "the handler changed its frame: " +
                                "; ".join(modified), **at))
    return popped


def _stack_changes(entry, resumed, changes) -> List[str]:
    """How the stack the interrupted code resumes on (RSP, SS) differs from
    the one it was interrupted on; each change is also recorded."""
    described = []
    if resumed.rsp != entry.rsp:
        described.append(f"RSP {entry.rsp:#x} -> {resumed.rsp:#x} "
                         f"({resumed.rsp - entry.rsp:+d})")
        changes.append(RegisterChange("rsp", "stack", entry.rsp, resumed.rsp))
    if resumed.ss != entry.ss:
        described.append(f"SS {entry.ss:#x} -> {resumed.ss:#x}")
        changes.append(RegisterChange("ss", "stack", entry.ss, resumed.ss))
    return described


def _stack_restored(entry, resumed, at, findings, changes):
    wrong = _stack_changes(entry, resumed, changes)
    if wrong:
        findings.append(Finding("stack-not-restored",
                                "the interrupted code resumes with " + ", ".join(wrong), **at))
