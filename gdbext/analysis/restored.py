"""Why a register differs at a handler's exit: restored from its own save
slot after the kernel rewrote that slot (an intentional change: a syscall's
result, exec, a signal), lost (never saved, or restored from another
register's slot), or not known.

The evidence is the save analysis' machine state just before the exit
instruction (gdbext.analysis.stack_machine: what each register and stack slot holds
relative to the handler's entry) and the slot's value at the exit, read from
the target.  Nothing here matches values to guess a slot: a slot is named only
when the analysis shows the register stored there and loaded back from it.
"""

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence

RESTORED = "restored"     # from its own save slot, which was rewritten: intentional
LOST = "lost"             # not saved, or restored from elsewhere: a convention break
UNKNOWN = "unknown"       # no evidence either way: counted, not judged


@dataclass(frozen=True)
class Restore:
    register: str
    kind: str
    slot: Optional[int] = None         # the save slot's address
    offset: Optional[int] = None       # relative to the interrupt frame (negative: below)
    saved_by: Optional[int] = None     # the instruction that stored the register there
    reason: str = ""                   # why UNKNOWN, or how LOST


def _same_orig(token, name) -> bool:
    return token[0] == "orig" and token[1] == name


def explain_changes(states: Sequence, frame_address: int, exit_address: int,
                    names: Iterable[str], entry_values: Mapping[str, int],
                    exit_values: Mapping[str, int], read_word: Callable[[int], Optional[int]],
                    same_stack: bool = True) -> Dict[str, Restore]:
    """One Restore per register in ``names``.  ``states``: the analysis'
    states before the exit instruction (empty when it did not reach it);
    ``read_word(address)`` the slot's value now, None when unreadable;
    ``same_stack``: the exit pops the frame the entry pushed (the slots are
    relative to it; a kernel that returns through a copy put them elsewhere)."""
    if not same_stack:
        return {name: Restore(name, UNKNOWN, reason="the run returned through a copy of its "
                                                    "frame on another stack")
                for name in names}
    found = {}
    for name in names:
        found[name] = _explain(states, frame_address, exit_address, name,
                               entry_values.get(name), exit_values.get(name), read_word)
    return found


def _explain(states, frame_address, exit_address, name, before, now, read_word) -> Restore:
    if not states:
        return Restore(name, UNKNOWN, reason=f"the save analysis of the handler does not reach "
                                             f"the exit at {exit_address:#x}")
    tokens = [state.reg(name) for state in states]
    if any(token[0] == "unknown" for token in tokens):
        return Restore(name, UNKNOWN, reason="restored from a stack the save analysis does not "
                                             "follow (the handler switched stacks)")
    if not all(_same_orig(token, name) for token in tokens):
        return Restore(name, LOST, reason="not restored from its save slot")
    slots = {(depth, token[2]) for state in states for depth, token in state.slots
             if _same_orig(token, name) and depth > 0}
    if not slots:
        return Restore(name, LOST, reason="never saved")
    depths = {depth for depth, _ in slots}
    if len(depths) != 1:
        return Restore(name, UNKNOWN, reason="saved in more than one slot")
    depth = depths.pop()
    address = frame_address - depth
    saved_by = min(writer for _, writer in slots)
    value = read_word(address)
    if value is None:
        return Restore(name, UNKNOWN, address, -depth, saved_by,
                       reason=f"its save slot at {address:#x} is not readable")
    if value == before:
        return Restore(name, LOST, address, -depth, saved_by,
                       reason=f"not restored from its save slot at {address:#x}, which still "
                              f"holds the entry value")
    if now is None or value != now:
        return Restore(name, UNKNOWN, address, -depth, saved_by,
                       reason=f"its save slot at {address:#x} no longer holds the value it "
                              f"was restored with")
    return Restore(name, RESTORED, address, -depth, saved_by)
