"""Why a register changed at a handler's exit, from the save analysis' states
(gdbext.analysis.restored): restored from its rewritten slot, lost, or not known."""

from dataclasses import dataclass
from typing import Dict, Tuple

from gdbext.analysis.restored import LOST, RESTORED, UNKNOWN, explain_changes

FRAME = 0x9000


@dataclass
class State:
    """What explain_changes reads of a stack_machine.MachineState."""

    regs: Dict[str, tuple]
    slots: Tuple[Tuple[int, tuple], ...]
    depth: int = 0

    def reg(self, name):
        return self.regs.get(name, ("orig", name, -1))


SAVED = ((0x10, ("orig", "rbx", 0x100)), (0x8, ("orig", "rax", 0x101)))
ENTRY = {"rax": 0x14, "rbx": 0xB0B}


def explain(states, memory, exit_values):
    return explain_changes(states, FRAME, 0x200, exit_values, ENTRY, exit_values,
                           lambda address: memory.get(address))


def test_a_slot_the_kernel_rewrote_explains_the_change():
    found = explain([State({}, SAVED)], {FRAME - 8: 0x1}, {"rax": 0x1})["rax"]
    assert (found.kind, found.slot, found.offset, found.saved_by) == (RESTORED, FRAME - 8, -8,
                                                                      0x101)


def test_a_slot_that_still_holds_the_entry_value_did_not_restore_it():
    found = explain([State({}, SAVED)], {FRAME - 0x10: 0xB0B}, {"rbx": 0xDEAD})["rbx"]
    assert found.kind == LOST


def test_a_register_never_saved_or_loaded_from_another_slot_is_lost():
    assert explain([State({}, SAVED[:1])], {}, {"rax": 0x1})["rax"].kind == LOST
    swapped = State({"rbx": ("orig", "rax", 0x120)}, SAVED)
    assert explain([swapped], {FRAME - 8: 0x14}, {"rbx": 0x14})["rbx"].kind == LOST
    computed = State({"rax": ("val", "", 0x130)}, SAVED)
    assert explain([computed], {FRAME - 8: 0x1}, {"rax": 0x1})["rax"].kind == LOST


def test_no_evidence_is_not_judged():
    assert explain([], {}, {"rax": 0x1})["rax"].kind == UNKNOWN          # exit not reached
    switched = State({"rax": ("unknown", "", 0x140)}, SAVED)
    found = explain([switched], {FRAME - 8: 0x1}, {"rax": 0x1})["rax"]
    assert found.kind == UNKNOWN and "switched stacks" in found.reason
    assert explain([State({}, SAVED)], {}, {"rax": 0x1})["rax"].kind == UNKNOWN   # unreadable
    two = [State({}, SAVED), State({}, ((0x18, ("orig", "rax", 0x102)),))]
    assert explain(two, {FRAME - 8: 0x1, FRAME - 0x18: 0x1}, {"rax": 0x1})["rax"].kind == UNKNOWN


def test_a_return_through_a_copy_of_the_frame_is_not_judged():
    found = explain_changes([State({}, SAVED)], FRAME, 0x200, ["rax"], ENTRY, {"rax": 0x1},
                            lambda address: 0x1, same_stack=False)["rax"]
    assert found.kind == UNKNOWN and "another stack" in found.reason
