"""When an exit breakpoint of a traced handler is in the target: always, or
only while one of the runs that may leave through it is open (issue 17)."""

from gdbext.tracking.breakpoint_plan import OUTSIDE_EVIDENCE, exit_strategy, exits_to_arm, tail_cut


def test_an_exit_of_one_handler_taken_by_its_runs_only_stays_armed():
    strategy = exit_strategy([32], handlers=1, inside=500, outside=0)
    assert not strategy.while_open and strategy.reason == "taken by traced runs only"
    assert exit_strategy([32], 1, 0, 0).reason == "no stop yet"


def test_an_exit_several_traced_handlers_share_is_armed_while_a_run_is_open():
    # Linux: #PF and int $0x80 both return through native_irq_return_iret
    strategy = exit_strategy([14, 0x80], handlers=2, inside=0, outside=0)
    assert strategy.while_open
    assert strategy.reason == "shared by 2 traced handlers (2 vectors)"


def test_stops_outside_traced_runs_are_evidence_once_they_outnumber_the_runs():
    below = exit_strategy([0xec], 1, inside=0, outside=OUTSIDE_EVIDENCE - 1)
    assert not below.while_open
    fewer = exit_strategy([0xec], 1, inside=OUTSIDE_EVIDENCE * 3, outside=OUTSIDE_EVIDENCE * 2)
    assert not fewer.while_open
    taken = exit_strategy([0xec], 1, inside=3, outside=OUTSIDE_EVIDENCE)
    assert taken.while_open
    assert taken.reason == f"taken outside traced runs ({OUTSIDE_EVIDENCE} stops, 3 runs closed)"


def test_the_strategy_stays_once_chosen():
    kept = exit_strategy([0xec], 1, inside=10_000, outside=0, previous="shared by 2 ...")
    assert kept.while_open and kept.reason == "shared by 2 ..."


def test_only_exits_an_open_run_may_take_are_armed():
    exits_of = {0x100: [0x1f0, 0x900], 0x200: [0x900], 0x300: [0x3f0]}
    while_open = {0x900, 0x3f0}
    assert exits_to_arm(while_open, [], exits_of) == set()
    assert exits_to_arm(while_open, [0x100], exits_of) == {0x900}
    assert exits_to_arm(while_open, [0x100, 0x300, 0x100], exits_of) == {0x900, 0x3f0}
    # an always-armed exit is never in the answer
    assert 0x1f0 not in exits_to_arm(while_open, [0x100], exits_of)


def test_a_run_whose_exits_are_not_all_known_may_leave_through_any():
    exits_of = {0x100: [0x900], 0x200: None}
    assert exits_to_arm({0x900, 0x3f0}, [0x200], exits_of) == {0x900, 0x3f0}
    assert exits_to_arm({0x900, 0x3f0}, [0x400], exits_of) == {0x900, 0x3f0}   # not analysed


# A #PF-like handler: entry 0x10 -> call (summarised) -> 0x18 `jmp 0x100`,
# the common return path 0x100 -> 0x104 -> 0x108 iretq, which an IRQ stub
# (0x40 -> jmp 0x200, whose common code calls, then jmp 0x100) shares too.
PF = {0x10: [0x15], 0x15: [0x18], 0x18: [0x100], 0x100: [0x104], 0x104: [0x108], 0x108: []}
STUB = {0x40: [0x200], 0x200: [0x205], 0x205: [0x20a], 0x20a: [0x100], 0x100: [0x104],
        0x104: [0x108], 0x108: []}


def test_the_cut_is_where_the_handler_jumps_into_the_shared_return_path():
    shared = set(PF) & set(STUB)
    assert tail_cut(PF, 0x10, shared, calls={0x15, 0x205}) == {0x18}


def test_no_cut_when_the_shared_part_runs_the_handler_or_the_entry_is_shared():
    # the stub's common code (0x200-0x20a) calls the real handler: from its
    # jump there to the exit is the whole run
    shared = set(STUB) & ({0x200, 0x205, 0x20a} | set(PF))
    assert tail_cut(STUB, 0x40, shared, calls={0x205}) is None
    assert tail_cut(PF, 0x10, set(PF), calls=set()) is None
    assert tail_cut(PF, 0x10, set(), calls=set()) is None     # nothing shared: nothing to cut
