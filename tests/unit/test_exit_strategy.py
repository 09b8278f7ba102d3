"""When an exit breakpoint of a traced handler is in the target: always, or
only while one of the runs that may leave through it is open (issue 17)."""

from gdbext.tracking.breakpoint_plan import OUTSIDE_EVIDENCE, exit_strategy, exits_to_arm


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
