"""The worklist analysis under the static checks: abstract states carried
along the code until nothing changes, joined where paths meet.

One state per (instruction, key) (stack_machine.MachineState.key: stack
depth, SIMD save, calls in progress).  When more than MAX_STATES_PER_INSN
keys reach one instruction (a loop that pushes), the stack depth is given up
there (widened to unknown), so every instruction holds a bounded number of
states and the lattice of each is finite: the analysis ends.  A budget of
instruction visits and a deadline end it earlier, with a note saying where.
"""

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple

from gdbext.analysis.cfg import IRET, NO_RETURN, OTHER_EXITS, RET, successors
from gdbext.analysis.stack_machine import MachineState, evolve

MAX_STATES_PER_INSN = 8


@dataclass
class Budget:
    visits: int                 # instruction visits allowed
    deadline: float             # time.monotonic() after which the analysis stops
    who: str                    # the function or handler, for the note


@dataclass
class Flow:
    entry: int
    states: Dict[int, Dict[tuple, MachineState]] = field(default_factory=dict)
    insns: Dict[int, object] = field(default_factory=dict)
    stops: List[Tuple[int, str]] = field(default_factory=list)
    followed: Dict[int, str] = field(default_factory=dict)     # callee -> why it was followed
    summarised: Set[Optional[int]] = field(default_factory=set)
    visits: int = 0
    stopped: Optional[str] = None           # the budget note, when it ran out
    out_of_time: bool = False               # ... and it was the deadline
    budget_notes: List[str] = field(default_factory=list)

    def items(self) -> Iterator[Tuple[object, MachineState]]:
        """Every (instruction, state before it), in address order."""
        for address in sorted(self.states):
            insn = self.insns.get(address)
            if insn is not None:
                for state in self.states[address].values():
                    yield insn, state


CallHandler = Callable[[object, MachineState, Flow], List[Tuple[int, MachineState]]]


def _widen(state: MachineState) -> MachineState:
    """The stack given up: no depth, no copies of RSP (the key then holds
    only the SIMD save and calls in progress)."""
    regs = tuple((name, ("val", "", token[2]) if token[0] == "sp" else token)
                 for name, token in state.regs)
    return evolve(state, depth=None, aligned=False, relocated=None, adjusts=(), regs=regs)


def run_flow(reader, machine, entry: int, initial: MachineState, budget: Budget,
             on_call: CallHandler) -> Flow:
    """Carry ``initial`` from ``entry`` through the code until a fixpoint.
    ``on_call(insn, state, flow)`` gives a call's successors (summarise it,
    follow it, or none for a noreturn callee)."""
    flow = Flow(entry)
    work = deque()
    queued = set()

    def arrive(address, state):
        bucket = flow.states.setdefault(address, {})
        key = state.key()
        if key not in bucket and len(bucket) >= MAX_STATES_PER_INSN:
            state = _widen(state)
            key = state.key()
        old = bucket.get(key)
        new = state if old is None else old.join(state)
        if new == old:
            return
        bucket[key] = new
        if (address, key) not in queued:
            queued.add((address, key))
            work.append((address, key))

    arrive(entry, initial)
    check_clock = 0
    while work:
        address, key = work.popleft()
        queued.discard((address, key))
        flow.visits += 1
        check_clock += 1
        late = check_clock >= 256 and time.monotonic() > budget.deadline   # the clock costs
        if check_clock >= 256:
            check_clock = 0
        if flow.visits > budget.visits or late:
            flow.out_of_time = flow.visits <= budget.visits
            flow.stopped = f"analysis stopped after {flow.visits - 1} instructions in " \
                           f"{budget.who} ({'time' if flow.out_of_time else 'budget'} limit): " \
                           f"findings cover the paths analysed so far"
            break
        state = flow.states[address][key]
        insn = flow.insns.get(address) or reader.insn(address)
        if insn is None:
            flow.stops.append((address, "code not readable"))
            continue
        flow.insns[address] = insn
        m = insn.mnemonic
        if m in IRET or m in NO_RETURN or m in OTHER_EXITS:
            continue
        if m in RET:
            for target, after in _return(machine, insn, state):
                arrive(target, after)
            continue
        if m.startswith("call"):
            for target, after in on_call(insn, state, flow):
                arrive(target, after)
            continue
        if m.startswith("j") and insn.target is None:
            flow.stops.append((address, f"indirect jump `{insn.text}`: analysis stops here"))
            continue
        after = machine.step(insn, state)
        for target in successors(insn):
            arrive(target, after)
    return flow


def _return(machine, insn, state: MachineState):
    """A `ret` that pops a return address pushed by a followed call goes back
    to that call's next instruction; any other ends the path."""
    if state.depth is None or insn.mnemonic not in ("ret", "retq", "retl"):
        return []
    top = state.slot(state.depth)
    if top is None or top[0] != "ret" or not top[1].isdigit():
        return []       # not a followed call's return (a summarised function's own)
    after = machine._pop(state, machine.slot)
    after = evolve(after, slots=tuple((d, t) for d, t in after.slots if d != state.depth))
    if insn.detail.operands:        # ret $N
        after = machine._pop(after, insn.detail.operands[0].imm)
    return [(int(top[1]), after)]
