"""Static checks of interrupt handlers (`isr-check`): find convention bugs in
the machine code before it runs.

The handler's code is executed abstractly (stack_machine) by a worklist
analysis (dataflow): one joined state per instruction and stack depth, so
the work grows with the code, not with the number of paths.  Checked on the
states: registers written and not restored before the exit, scratch
registers not saved around calls into normal code, the stack depth at each
exit and call, SSE use without saved SIMD state, stores below RSP.

A call to an ordinary function is summarised by the SysV ABI (it preserves
rbx, rbp, r12-r15 and RSP and may change every scratch register): that is
what makes unsaved scratch registers dangerous.  The callee's own code is
analysed once, bounded, for its stack use, stores below RSP, SIMD use and
whether it returns.  A callee that is not an ordinary function (it writes
into its caller's frame, moves RSP past its own frame, returns with RSP
elsewhere: Linux's `error_entry`, `paranoid_entry`) is followed instead, as
part of the handler, and the notes say so.
"""

import heapq
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Tuple

from gdbext.analysis.cfg import (FILLERS, IRET, RET, CodeReader, HandlerCode, explore,
                                 filler_at, successors)
from gdbext.analysis.dataflow import Budget, Flow, run_flow
from gdbext.decode.disasm import disassemble
from gdbext.tracking.findings import WARNING, Finding, sort_findings
from gdbext.analysis.stack_machine import (AC_WRITE, SIMD_RESTORES, SIMD_SAVES, Machine, MachineState,
                            evolve, writes_memory_below_sp, writes_simd, X86_OP_MEM)
from gdbext.x86.vectors import format_vector_list, vector as vector_info

MAX_CALL_DEPTH = 2              # callee levels analysed for stack use, SIMD and the red zone
HANDLER_VISITS = 60_000         # instruction visits for one handler (its followed callees too)
FUNCTION_VISITS = 2_000         # ... for one called function's summary
TOTAL_SECONDS = 20.0            # one Analyzer (one isr-check command) analyses callees this long
STUB_INSNS = 4                  # a stub-array entry: at most this many pushes/nops, then jmp
OWN_RETURN = "own"              # the return address of the function being summarised

# Vectors whose error code the CPU pushes only with a feature on: (when, does
# it hold given {cr4, efer}: True/False, None when it cannot be read).
CR4_CET = 1 << 23
EFER_SVME = 1 << 12
ERROR_CODE_CONDITIONS = {
    21: ("with CET enabled (CR4.CET)",
         lambda c: None if "cr4" not in c else bool(c["cr4"] & CR4_CET)),
    29: ("in an SEV-ES/SEV-SNP guest", lambda c: None),
    30: ("with SVM enabled (EFER.SVME, AMD)",
         lambda c: None if "efer" not in c else bool(c["efer"] & EFER_SVME)),
}

SCRATCH = {64: ("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"),
           32: ("eax", "ecx", "edx")}
ALIGNED_STORES = {"movaps", "movapd", "movdqa", "vmovaps", "vmovapd", "vmovdqa", "vmovdqa32",
                  "vmovdqa64", "movntdq", "movntps", "movntpd"}
FRAME_FIELDS = {64: ("rip", "cs", "rflags", "rsp", "ss"), 32: ("eip", "cs", "eflags")}


def no_code_rule(filler: int) -> str:
    return FILLERS[filler][0]


def no_code_message(filler: int, vectors) -> str:
    what = FILLERS[filler][1]
    outcome = "would trap at once, not run a handler" if filler == 0xCC else \
        "would run no handler"
    return f"the handler address holds {what}: delivering " \
           f"vector{'s' if len(vectors) > 1 else ''} {format_vector_list(vectors)} {outcome}"


@dataclass
class FunctionFacts:
    """What a called function does that matters to the handler calling it."""

    address: int
    stack: int = 0                                  # bytes it uses, callees included
    shortest: int = 0                               # instructions to its quickest return
    red_zone: List[Tuple[int, str, int]] = field(default_factory=list)  # (address, text, offset)
    simd: List[Tuple[int, str]] = field(default_factory=list)
    unknown: bool = False                           # not fully analysed (indirect, unreadable)
    returns: bool = True                            # False: no path reaches a `ret` (noreturn)
    unusual: Optional[str] = None                   # why it is not an ordinary function
    readable: bool = True                           # all its code could be read (PTI hides some)
    # a call it (or a callee) makes with RSP 8 off 16 (at address): code built for
    # 8-byte stack alignment (Linux's -mpreferred-stack-boundary=3)
    eight_byte_stack: Optional[int] = None
    # only `returns` is known (Analyzer(states_only=True)): the rest is made
    # if a caller ever needs it (see Analyzer.function)
    partial: bool = False


@dataclass
class HandlerCheck:
    handler: int
    vectors: Tuple[int, ...]
    bits: int
    findings: Tuple[Finding, ...]
    exits: List[Tuple[int, str]]
    stops: List[Tuple[int, str]]
    stack_usage: Optional[int]          # frame + deepest path + callees, bytes
    shortest_path: Optional[int]        # instructions on the quickest entry-to-exit path
    instructions: int
    truncated: bool = False
    symbol: Optional[str] = None
    notes: List[str] = field(default_factory=list)


def _stub_addresses(handler: int, insns) -> List[int]:
    """A stub's own instructions: its pushes and its jump (after them)."""
    return [i.address for i in insns] + [insns[-1].next if insns else handler]


class Analyzer:
    """Checks handlers of one kernel; caches what it learns about functions."""

    def __init__(self, read: Callable[[int, int], bytes], bits: int, att: bool = False,
                 symbolize: Optional[Callable[[int], Optional[str]]] = None,
                 seconds: float = TOTAL_SECONDS, call_depth: int = MAX_CALL_DEPTH,
                 control: Optional[Dict[str, int]] = None, states_only: bool = False):
        self.read = read
        self.bits = bits
        self.att = att          # show instructions in AT&T syntax (GDB's default flavor)
        self.symbolize = symbolize
        self._texts: Dict[int, str] = {}
        self.machine = Machine(bits)
        self.reader = CodeReader(read, bits)
        self.functions: Dict[int, FunctionFacts] = {}
        self.code: Dict[int, HandlerCode] = {}
        self.flows: Dict[int, Flow] = {}
        self.seconds = seconds
        self.control = control or {}    # cr4, efer of the target, when known
        self.timed_out = False      # a flow of the handler being checked ran out of time
        self.deadline = 0.0
        self.start_clock()
        self.call_depth = call_depth     # callee levels analysed (isr-saved needs only the first)
        self.budget_notes: List[str] = []
        self._stubs: Dict[tuple, Tuple[HandlerCheck, tuple]] = {}
        self._stub_states: Dict[tuple, tuple] = {}     # stub shape -> states_at's answer
        self.tails: Dict[int, HandlerCode] = {}        # jump target -> its code (cfg.explore)
        self._shared: Dict[int, int] = {}     # first stub -> entries sharing its analysis
        # Only states_at's answers are wanted (the run tracker's save analysis),
        # not the checks': summaries of the deepest callees then say only
        # whether they return (see function), with the same states.
        self.states_only = states_only
        self._seen: Dict[int, int] = {}       # function -> order it was first summarised in
        self._active: List[int] = []          # functions being summarised (callers first)
        self._callers: Dict[int, tuple] = {}  # partial summary -> _active when it was made
        self._horizon: Optional[int] = None   # see _complete
        self._hidden: tuple = ()

    def start_clock(self) -> None:
        """Give the next analyses ``seconds`` from now.  One isr-check command
        shares one clock over all its handlers; a long-lived Analyzer (the run
        tracker's, which caches function summaries for the whole session)
        restarts it for each handler, or its budget would run out 20 s into
        the session and every later analysis would stop before it began."""
        self.deadline = time.monotonic() + self.seconds
        self.timed_out = False

    def name(self, address: int) -> str:
        symbol = self.symbolize(address) if self.symbolize else None
        return f"{address:#x} <{symbol}>" if symbol else f"{address:#x}"

    def text(self, insn) -> str:
        """The instruction as the user reads it (analysis always decodes Intel
        operand order; AT&T is for display)."""
        if not self.att:
            return insn.text
        if insn.address not in self._texts:
            found = disassemble(bytes(insn.detail.bytes), insn.address, self.bits, 1, att=True)
            self._texts[insn.address] = found[0].text if found else insn.text
        return self._texts[insn.address]

    def explore(self, address: int) -> HandlerCode:
        if address not in self.code:
            self.code[address] = explore(self.read, address, self.bits, self.reader)
        return self.code[address]

    # -- the worklist analysis ----------------------------------------------------
    def _flow(self, entry: int, initial: MachineState, visits: int, level: int, who: str) -> Flow:
        budget = Budget(visits, self.deadline, who)
        flow = run_flow(self.reader, self.machine, entry, initial, budget,
                        lambda insn, state, flow: self._call(insn, state, flow, level))
        if flow.stopped:
            self.budget_notes.append(flow.stopped)
        self.timed_out |= flow.out_of_time
        return flow

    def _call(self, insn, state: MachineState, flow: Flow, level: int):
        """Successors of a call: into the callee when it is followed, past it
        (ABI summary) when it is ordinary, none when it never returns."""
        callee = self.function(insn.target, level + 1)
        if callee.unusual is not None and state.depth is not None and level == 0:
            flow.followed[insn.target] = callee.unusual
            return [(insn.target, self.machine.push_return(state, insn.address, insn.next))]
        if insn.target is not None and not callee.returns:
            return []       # a noreturn call: the bytes after it are another function
        flow.summarised.add(insn.target)
        return [(insn.next, self._after_call(insn, state))]

    # -- called functions ---------------------------------------------------------
    def function(self, address: Optional[int], level: int = 1) -> FunctionFacts:
        if address is None:
            return FunctionFacts(0, unknown=True)
        if self._horizon is not None and address in self._hidden:
            return FunctionFacts(address)   # as its summary looked while it was being made
        if address in self.functions and (self._horizon is None or
                                          self._seen[address] < self._horizon):
            facts = self.functions[address]
            if facts.partial and level < self.call_depth:
                facts = self._complete(address)
            return facts
        if level > self.call_depth:
            return FunctionFacts(address, unknown=True)     # not cached: may be seen closer
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return FunctionFacts(address, unknown=True)
        self._seen[address] = len(self._seen)
        if self.states_only and level == self.call_depth and self._may_return(address):
            # A deepest callee matters to the states only by whether it
            # returns (a noreturn call ends its caller's path); its own
            # callees are never analysed.  Its summary's other facts (stack,
            # red zone, SIMD, whether it is ordinary) serve the checks.
            self.functions[address] = FunctionFacts(address, partial=True)
            self._callers[address] = tuple(self._active)
            return self.functions[address]
        facts = FunctionFacts(address)
        self.functions[address] = facts       # recursion ends here
        return self._summarise(facts, level)

    def _complete(self, address: int) -> FunctionFacts:
        """The whole summary of a function summarised partially, as function()
        would have made it then: what was summarised after it stays unseen
        (its own flow saw only the summaries before it), and it is
        summarised at the deepest level again; the callers being summarised
        then look as they did (unfinished: taken to return)."""
        facts = FunctionFacts(address)
        self._horizon, self._hidden = self._seen[address], self._callers.pop(address, ())
        try:
            self._summarise(facts, self.call_depth)
        finally:
            self._horizon, self._hidden = None, ()
        self.functions[address] = facts
        return facts

    def _may_return(self, address: int) -> bool:
        """Whether the summary of the function at ``address`` at the deepest
        level would say it returns, when that is known without running its
        flow: its flow visits every instruction reachable from its entry
        (calls return unless to a function summarised as noreturn), and it
        returns when one of them is a `ret`, or the flow stops (unreadable
        code, an indirect jump).  False: not known so (no `ret` within
        FUNCTION_VISITS instructions): the flow decides."""
        seen = set()
        work = [address]
        while work:
            at = work.pop()
            if at in seen:
                continue
            seen.add(at)
            if len(seen) > FUNCTION_VISITS:
                return False
            insn = self.reader.insn(at)
            if insn is None:
                return True
            m = insn.mnemonic
            if m in RET:
                return True
            if m.startswith("call"):
                callee = self.functions.get(insn.target) if insn.target != address else None
                if callee is not None and not callee.returns:
                    continue
                work.append(insn.next)
                continue
            if m.startswith("j") and insn.target is None:
                return True
            work.extend(successors(insn))
        return False

    def _summarise(self, facts: FunctionFacts, level: int) -> FunctionFacts:
        self._active.append(facts.address)
        try:
            return self._summary(facts, level)
        finally:
            self._active.pop()

    def _summary(self, facts: FunctionFacts, level: int) -> FunctionFacts:
        address = facts.address
        initial = MachineState(depth=0, slots=((0, ("ret", OWN_RETURN, -1)),))
        flow = self._flow(address, initial, FUNCTION_VISITS, level, self.name(address))
        facts.unknown = own_unknown = bool(flow.stops) or flow.stopped is not None
        facts.readable = address in flow.insns and \
            not any(why == "code not readable" for _, why in flow.stops)
        deepest = 0
        returns = False
        moved = None        # the clearest sign of an unusual function, when there is one
        # Code that saves or restores x87/SSE state itself (Linux's FPU code)
        # manages that state on purpose: its SIMD use is not the handler's bug.
        manages_simd = any(insn.mnemonic in SIMD_SAVES or insn.mnemonic in SIMD_RESTORES
                           for insn in flow.insns.values())
        slot = self.machine.slot
        for insn, state in flow.items():
            offset = writes_memory_below_sp(self.machine, insn, state)
            if offset is not None:
                facts.red_zone.append((insn.address, self.text(insn), offset))
            if writes_simd(insn) and not manages_simd:
                facts.simd.append((insn.address, self.text(insn)))
            if state.depth is not None:
                deepest = max(deepest, state.depth)
                if state.depth < 0 and facts.unusual is None:
                    facts.unusual = f"moves RSP above its return address at {insn.address:#x}"
            if facts.unusual is None:
                facts.unusual = self._writes_caller_frame(insn, state)
            m = insn.mnemonic
            if m in RET:
                top = state.slot(state.depth) if state.depth is not None else None
                if top is None or top[0] != "ret":
                    returns = True      # to a computed address (a retpoline): assume it returns
                elif top[1] == OWN_RETURN:
                    returns = True
                    if state.depth != 0 and moved is None:
                        moved = f"returns with RSP {state.depth} bytes below its return " \
                                f"address (it saves into its caller's frame)"
            elif m.startswith("call"):
                if state.depth is not None and state.depth % 16 == 0 and \
                        facts.eight_byte_stack is None:
                    facts.eight_byte_stack = insn.address
                callee = self.function(insn.target, level + 1)
                if facts.eight_byte_stack is None:
                    facts.eight_byte_stack = callee.eight_byte_stack
                facts.red_zone += callee.red_zone
                facts.simd += callee.simd
                facts.unknown |= callee.unknown
                if state.depth is not None:
                    deepest = max(deepest, state.depth + slot + callee.stack)
        facts.returns = returns or own_unknown
        facts.unusual = moved or facts.unusual
        facts.stack = deepest + slot
        code = HandlerCode(address, self.bits, flow.insns,
                           [(a, "ret") for a, i in flow.insns.items() if i.mnemonic in RET])
        facts.shortest = self._shortest(code, lambda kind: kind == "ret") or 0
        facts.red_zone = sorted(set(facts.red_zone))
        facts.simd = sorted(set(facts.simd))
        return facts

    def _writes_caller_frame(self, insn, state: MachineState) -> Optional[str]:
        if state.depth is None or insn.mnemonic.startswith(("push", "call")):
            return None
        for op in insn.detail.operands:
            if op.type == X86_OP_MEM and op.access & AC_WRITE:
                # its own return address (stack arguments above it are the
                # callee's to change in the C ABI)
                depth = self.machine.slot_depth(insn, op, state)
                if depth == 0:
                    return f"overwrites its return address at {insn.address:#x}"
        return None

    def _eight_byte_kernel(self) -> Optional[int]:
        """A call site of any function analysed so far made with RSP 8 off 16
        (compilers keep one stack alignment for a whole kernel)."""
        return next((f.eight_byte_stack for f in self.functions.values()
                     if f.eight_byte_stack is not None), None)

    def unsaved_at_call(self, state: MachineState) -> List[str]:
        """Scratch registers (SysV ABI) no stack slot holds the entry value of."""
        saved = {token[1] for _, token in state.slots if token[0] == "orig"}
        return [r for r in SCRATCH[self.bits] if r not in saved and r not in state.reported]

    def _after_call(self, insn, state: MachineState) -> MachineState:
        """The callee may change every scratch register; those the handler did
        not save are reported once, at the call, not again at the exit."""
        reported = state.reported | frozenset(self.unsaved_at_call(state))
        for name in SCRATCH[self.bits]:
            state = state.with_reg(name, ("val", "", insn.address))
        return evolve(state, reported=reported)

    def _shortest(self, code: HandlerCode, is_exit) -> Optional[int]:
        """Fewest instructions (calls counting their callee's quickest path)."""
        exits = {a for a, kind in code.exits if is_exit(kind)}
        best = {code.entry: 1}
        queue = [(1, code.entry)]
        while queue:
            cost, address = heapq.heappop(queue)
            if cost > best.get(address, cost):
                continue
            if address in exits:
                return cost
            insn = code.insns.get(address)
            if insn is None:
                continue
            step = 1
            if insn.mnemonic.startswith("call") and insn.target is not None \
                    and insn.target in self.functions:
                step += self.functions[insn.target].shortest
            for successor in code.successors(insn):
                if cost + step < best.get(successor, 1 << 62):
                    best[successor] = cost + step
                    heapq.heappush(queue, (cost + step, successor))
        return None

    # -- handlers -----------------------------------------------------------------
    def initial_state(self, error_code: Optional[bool]) -> MachineState:
        """The handler's entry: RSP at the frame the CPU pushed, whose fields
        are known by name (an iret that finds the saved RIP on top is right)."""
        slot = self.machine.slot
        if error_code is None:
            return MachineState(depth=0)
        fields = (("error_code",) if error_code else ()) + FRAME_FIELDS[self.bits]
        return MachineState(depth=0, slots=tuple(sorted(
            (-i * slot, ("frame", name, -1)) for i, name in enumerate(fields))))

    def handler_flow(self, handler: int, error_code: Optional[bool]) -> Flow:
        key = (handler, error_code)
        if key not in self.flows:
            self.budget_notes = []
            flow = self._flow(handler, self.initial_state(error_code), HANDLER_VISITS, 0,
                              self.name(handler))
            flow.budget_notes = list(self.budget_notes)
            if flow.out_of_time or self.timed_out:
                return flow         # cut by the clock, not by the code: not the answer to keep
            self.flows[key] = flow
        return self.flows[key]

    def _stub(self, handler: int):
        """(instructions, shared target) when the handler is a stub of a stub
        array (Linux's irq_entries_start: `push $vector; jmp common`): no
        register or memory use, only pushes of constants and a jump."""
        insns, address = [], handler
        for _ in range(STUB_INSNS):
            insn = self.reader.insn(address)
            if insn is None:
                return None
            if insn.mnemonic == "jmp" and insn.target is not None:
                return tuple(insns), insn.target
            ops = insn.detail.operands
            if not (insn.mnemonic in ("nop", "endbr64", "endbr32") or
                    insn.mnemonic.startswith("push") and len(ops) == 1 and ops[0].type == 2):
                return None
            insns.append(insn)
            address = insn.next
        return None

    def filler(self, handler: int) -> Optional[int]:
        return filler_at(self.reader._bytes, handler)

    def _unchecked(self, handler: int, vectors, why: str, findings=()) -> HandlerCheck:
        return HandlerCheck(handler, vectors, self.bits, tuple(findings), [], [], None, None, 0,
                            truncated=True, notes=[why])

    def check(self, handler: int, vectors=()) -> HandlerCheck:
        vectors = tuple(vectors)
        filler = self.filler(handler)
        if filler is not None:
            return self._unchecked(handler, vectors, "not analysed: no code at the handler", [
                Finding(no_code_rule(filler), no_code_message(filler, vectors),
                        vector=vectors[0] if len(vectors) == 1 else None,
                        address=handler, handler=handler, details={"static": True})])
        if time.monotonic() > self.deadline:
            return self._unchecked(handler, vectors, f"not analysed: this command's time budget "
                                   f"({self.seconds:.0f} s) ran out before this handler")
        pushes = {vector_info(v).pushes_error_code for v in vectors}
        error_code = pushes.pop() if len(pushes) == 1 else None
        stub = self._stub(handler)
        if stub is not None:
            shape = (tuple((i.mnemonic, i.size) for i in stub[0]), stub[1], error_code)
            if shape in self._stubs:
                return self._same_as(self._stubs[shape], handler, stub[0], tuple(vectors))
        self.timed_out = False
        result = self._check(handler, tuple(vectors), error_code)
        if self.timed_out:
            # calls cut short may look ordinary: no verdict rather than a false one
            return self._unchecked(handler, vectors, f"not checked: the analysis ran out of this "
                                   f"command's time budget ({self.seconds:.0f} s) in this handler")
        if stub is not None:
            self._stubs[shape] = (result, stub[0])
        return result

    def _same_as(self, earlier, handler: int, insns, vectors) -> HandlerCheck:
        """The check of a stub identical to one checked already but for its
        address and constants: its result, addresses moved to this stub."""
        result, their_insns = earlier
        moved = {a.address: b.address for a, b in zip(their_insns, insns)}
        moved[result.handler] = handler

        def move(finding):
            details = dict(finding.details)
            if details.get("culprit") in moved:
                details["culprit"] = moved[details["culprit"]]
            return replace(finding, address=moved.get(finding.address, finding.address),
                           handler=handler, details=details,
                           vector=vectors[0] if len(vectors) == 1 else None)
        # The notes are the first stub's, said there once (a stub array has
        # hundreds of entries); it counts the entries that share them.
        shared = self._shared.get(result.handler, 0) + 1
        self._shared[result.handler] = shared
        note = f"{shared} more stub{'s' if shared > 1 else ''} of this stub array (pushes of " \
               f"constants, then a jump to the same code) share this analysis and its notes"
        if shared > 1:
            result.notes[-1] = note
        else:
            result.notes.append(note)
        return replace(result, handler=handler, vectors=vectors,
                       findings=tuple(move(f) for f in result.findings), symbol=None,
                       notes=[f"analysed as the stub array entry at {result.handler:#x}, whose "
                              f"notes apply"] if result.findings else [])

    def _check(self, handler: int, vectors, error_code) -> HandlerCheck:
        code = self.explore(handler)
        frame_size = (6 if error_code else 5) * 8 if self.bits == 64 else \
            (4 if error_code else 3) * 4
        # The CPU aligned RSP to 16 before pushing the frame (64-bit).
        entry_mod = (-frame_size) % 16 if self.bits == 64 and error_code is not None else None
        flow = self.handler_flow(handler, error_code)
        found: Dict[Tuple[str, int], Finding] = {}
        exit_depths: Dict[int, set] = {}
        reached_exits = set()
        notes: List[str] = []
        base = {"vector": vectors[0] if len(vectors) == 1 else None, "handler": handler}
        deepest = 0

        def add(rule, address, message, group=None, level=None, **details):
            key = (rule, address if group is None else group)
            if key not in found:
                text = self._text_elsewhere(address)
                found[key] = Finding(rule, message, address=address,
                                     details={"static": True, "instruction": text, **details},
                                     level=level, **base)

        slot = self.machine.slot
        for insn, state in flow.items():
            if state.depth is not None:
                deepest = max(deepest, state.depth)
            offset = writes_memory_below_sp(self.machine, insn, state)
            if offset is not None:
                add("red-zone-use", insn.address,
                    f"`{self.text(insn)}` stores {-offset} bytes below RSP: an interrupt arriving "
                    f"here would overwrite it (the red zone does not exist in handlers)",
                    group=handler, offset=offset)
            if writes_simd(insn) and state.simd_saved is None:
                add("simd-clobbered", insn.address,
                    f"`{self.text(insn)}` changes x87/SSE state and the handler saves none "
                    f"(no fxsave/xsave before it)")
            self._check_aligned_store(insn, state, entry_mod, add)
            m = insn.mnemonic
            if m.startswith("call"):
                if insn.target not in flow.followed:
                    deepest = max(deepest, self._check_call(insn, state, entry_mod, add, notes))
            elif m in IRET:
                reached_exits.add((insn.address, "iret"))
                self._check_exit(insn, state, error_code, add, vectors)
                exit_depths.setdefault(insn.address, set()).add(state.depth)
            elif m in RET:
                top = state.slot(state.depth) if state.depth is not None else None
                if top is not None and top[0] == "ret":
                    continue        # a followed callee returning to the handler
                reached_exits.add((insn.address, "ret"))
                if state.depth is None:
                    notes.append(f"`{self.text(insn)}` at {insn.address:#x} runs after the handler "
                                 f"switched stacks: taken as a context switch, not a return "
                                 f"from the interrupt")
                else:
                    add("ret-instead-of-iret", insn.address,
                        f"`{self.text(insn)}` on a handler path returns like a function: CS, RFLAGS"
                        f"{', RSP and SS' if self.bits == 64 else ''} stay on the stack")
        depths = set().union(*exit_depths.values()) if exit_depths else set()
        if error_code and -slot in depths and 0 in depths:
            # Some paths pop the error code and others do not: the handler tells
            # entries with an error code from `int N` ones (a flag, a stack probe).
            for key in [k for k in found if k[0] == "error-code-not-popped"]:
                del found[key]
                notes.append(f"the iret at {key[1]:#x} leaves the stack as if no error code "
                             f"was pushed: this handler also serves entries without one "
                             f"(software int), which only the running code can tell apart")
        notes += self._flow_notes(flow)
        stack_usage = frame_size + deepest if error_code is not None or not vectors else \
            5 * slot + deepest
        result = HandlerCheck(handler, tuple(vectors), self.bits,
                              sort_findings(found.values()), sorted(reached_exits),
                              list(dict.fromkeys(code.stops + flow.stops)),
                              stack_usage, self._shortest(code, lambda kind: kind == "iret"),
                              len(code.insns), code.truncated or flow.stopped is not None)
        result.notes = list(dict.fromkeys(notes))
        return result

    def _flow_notes(self, flow: Flow) -> List[str]:
        notes = [f"followed {self.name(a)} as part of the handler: it {why}"
                 for a, why in sorted(flow.followed.items())]
        summarised = sorted(a for a in flow.summarised if a is not None)
        if summarised:
            shown = ", ".join(self.name(a) for a in summarised[:6])
            more = f" and {len(summarised) - 6} more" if len(summarised) > 6 else ""
            notes.append(f"calls summarised by the SysV ABI (scratch registers changed, rbx rbp "
                         f"r12-r15 RSP kept): {shown}{more}" if self.bits == 64 else
                         f"calls summarised by the C ABI (eax ecx edx changed, ebx esi edi ebp "
                         f"ESP kept): {shown}{more}")
        return notes + flow.budget_notes

    def _text_elsewhere(self, address):
        insn = self.reader.cache.get(address)
        return self.text(insn) if insn is not None else ""

    def _check_aligned_store(self, insn, state, entry_mod, add):
        if insn.mnemonic not in ALIGNED_STORES or entry_mod is None or state.depth is None:
            return
        for op in insn.detail.operands:
            if op.type != X86_OP_MEM:
                continue
            offset = self.machine.stack_offset(insn, op)
            if offset is None:
                continue
            where = (entry_mod - state.depth + offset) % 16
            if where:
                add("misaligned-simd-save", insn.address,
                    f"`{self.text(insn)}` needs a 16-byte aligned address, but RSP{offset:+#x} is "
                    f"{where} bytes off 16 on this path (aligned SSE store faults: #GP)",
                    misalignment=where)

    def _check_call(self, insn, state: MachineState, entry_mod, add, notes) -> int:
        machine = self.machine
        callee = self.function(insn.target)
        if self.bits == 64 and entry_mod is not None and state.depth is not None:
            rsp_mod = (entry_mod - state.depth) % 16
            evidence = callee.eight_byte_stack or self._eight_byte_kernel()
            if rsp_mod and insn.target is not None and not callee.readable:
                notes.append(f"`{self.text(insn)}` at {insn.address:#x} calls with RSP {rsp_mod} "
                             f"bytes off 16 into code that cannot all be read here (Linux with PTI "
                             f"hides kernel text while a CPU is in user mode): whether it needs "
                             f"16-byte alignment is not known, so this is not reported")
            elif rsp_mod and evidence is not None:
                # the kernel's code does the same itself: built for 8-byte alignment
                notes.append(f"`{self.text(insn)}` at {insn.address:#x} calls with RSP "
                             f"{rsp_mod} bytes off 16, as this kernel's own code does (call at "
                             f"{evidence:#x}): built for an 8-byte aligned stack (Linux's "
                             f"-mpreferred-stack-boundary=3), not a bug")
            elif rsp_mod:
                add("misaligned-call", insn.address,
                    f"`{self.text(insn)}` with RSP {rsp_mod} bytes off a multiple of 16: the "
                    f"SysV ABI promises callees an aligned stack", misalignment=rsp_mod)
        unsaved = self.unsaved_at_call(state)
        if unsaved:
            add("unsaved-scratch-across-call", insn.address,
                f"`{self.text(insn)}` may change {', '.join(unsaved)} (scratch in the C ABI), "
                f"which the handler has not saved", registers=unsaved)
        for address, text, offset in callee.red_zone[:1]:
            add("red-zone-use", address,
                f"`{text}` in code the handler calls stores {-offset} bytes below RSP"
                f"{f' (and {len(callee.red_zone) - 1} more stores)' if len(callee.red_zone) > 1 else ''}",
                group=insn.target, offset=offset)
        if state.simd_saved is None:
            for address, text in callee.simd[:1]:
                add("simd-clobbered", address,
                    f"`{text}` in code the handler calls changes x87/SSE state, which the "
                    f"handler does not save")
        depth = state.depth or 0
        return depth + machine.slot + callee.stack

    def states_at(self, handler: int, error_code: Optional[bool] = None):
        """(code, {address: [states]}) for every instruction the handler runs
        (followed callees included).  A stub of a stub array shares the
        states of the first stub of its shape (as check() shares its
        verdict): the code they jump to is the same, only the constants they
        push differ, and the save slots do not depend on those; its own
        pushes get the first stub's states at its own addresses."""
        stub = self._stub(handler)
        shape = None
        if stub is not None:
            shape = (tuple((i.mnemonic, i.size) for i in stub[0]), stub[1], error_code)
            earlier = self._stub_states.get(shape)
            if earlier is not None:
                flow, found, theirs = earlier
                moved = dict(found)
                mine = _stub_addresses(handler, stub[0])
                for their_address in theirs:
                    moved.pop(their_address, None)
                for their_address, address in zip(theirs, mine):
                    if their_address in found:
                        moved[address] = found[their_address]
                return flow, moved
        flow = self.handler_flow(handler, error_code)
        found: Dict[int, List[MachineState]] = {}
        for insn, state in flow.items():
            found.setdefault(insn.address, []).append(state)
        if shape is not None and not (flow.out_of_time or self.timed_out):
            self._stub_states[shape] = (flow, found, _stub_addresses(handler, stub[0]))
        return flow, found

    def _error_code_condition(self, vectors):
        """(condition, holds) for vectors whose error code exists only with a
        CPU feature (#CP: CET, #VC: SEV-ES, #SX: SVM), else None."""
        conditions = [ERROR_CODE_CONDITIONS[v] for v in vectors if v in ERROR_CODE_CONDITIONS]
        if not conditions or len(conditions) != len(vectors):
            return None
        text = "; ".join(dict.fromkeys(c[0] for c in conditions))
        verdicts = {c[1](self.control) for c in conditions}
        return text, (True if True in verdicts else None if None in verdicts else False)

    def _check_exit(self, insn, state: MachineState, error_code, add, vectors=()):
        slot = self.machine.slot
        changed = {name: token for name, token in state.changed().items()
                   if name not in state.reported and name not in ("rsp", "esp")
                   and token[0] != "unknown"}
        gprs = {n: t for n, t in changed.items() if n in self.machine.gprs}
        segments = {n: t for n, t in changed.items() if n not in self.machine.gprs}
        for rule, group in (("clobbered-register", gprs), ("segment-clobbered", segments)):
            if not group:
                continue
            writers = {name: token[2] for name, token in group.items()}
            first = min((a for a in writers.values() if a >= 0), default=insn.address)
            listing = ", ".join(
                f"{name} ({'written' if token[0] == 'val' else 'loaded with ' + token[1]} at "
                f"{token[2]:#x})" for name, token in sorted(group.items()))
            add(rule, first, f"reaches `{self.text(insn)}` at {insn.address:#x} without restoring "
                             f"{listing}", registers=writers, exit=insn.address)
        if state.depth is None or error_code is None:
            return
        top = state.slot(state.depth)
        if top is not None and top[0] == "frame" and top[1] in ("rip", "eip"):
            return      # the saved RIP is on top: a (copied) frame, wherever it stands
        expected = -slot if error_code else 0
        if error_code and state.depth == 0:
            message = f"`{self.text(insn)}` with the error code still on the stack (no `add " \
                      f"${slot},%{'rsp' if slot == 8 else 'esp'}` on this path)"
            when = self._error_code_condition(vectors)
            if when is None:
                add("error-code-not-popped", insn.address, message)
            else:
                condition, holds = when
                state_text = {True: "it holds on this target: a real bug",
                              False: "it does not hold on this target: a latent bug",
                              None: "whether it holds cannot be read from here"}[holds]
                add("error-code-not-popped", insn.address,
                    f"{message}; the CPU pushes this vector's error code only {condition}, and "
                    f"{state_text}", level=None if holds else WARNING, condition=condition,
                    condition_holds=holds)
        elif state.depth != expected:
            extra = state.depth - expected
            culprit = state.adjusts[0][1] if extra > 0 and state.adjusts else None
            why = ""
            if culprit is not None and culprit != insn.address:
                why = f", left by `{self._text_elsewhere(culprit)}` at {culprit:#x}"
            add("stack-imbalance-at-iret", insn.address,
                f"`{self.text(insn)}` with RSP {abs(extra)} bytes "
                f"{'below' if extra > 0 else 'above'} the saved RIP on this path{why}",
                bytes=-extra, culprit=culprit)
