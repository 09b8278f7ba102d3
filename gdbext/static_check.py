"""Static checks of interrupt handlers (`isr-check`): find convention bugs in
the machine code before it runs.

Every path from the handler's entry is executed abstractly (stack_machine):
registers written and not restored before the exit, scratch registers not
saved around calls into normal code, the stack depth at each exit and call,
SSE use without saved SIMD state, stores below RSP.  Calls are taken to
return; the code they reach is analysed as a normal function (bounded) for
the red zone, SIMD use and stack usage.
"""

import heapq
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Tuple

from .cfg import IRET, RET, HandlerCode, explore
from .disasm import disassemble
from .findings import Finding, sort_findings
from .stack_machine import (Machine, MachineState, orig, writes_memory_below_sp, writes_simd,
                            X86_OP_MEM)
from .vectors import vector as vector_info

MAX_STEPS = 50_000
MAX_STATES_PER_INSN = 64
MAX_CALL_DEPTH = 4

SCRATCH = {64: ("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"),
           32: ("eax", "ecx", "edx")}
ALIGNED_STORES = {"movaps", "movapd", "movdqa", "vmovaps", "vmovapd", "vmovdqa", "vmovdqa32",
                  "vmovdqa64", "movntdq", "movntps", "movntpd"}


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


class Analyzer:
    """Checks handlers of one kernel; caches what it learns about functions."""

    def __init__(self, read: Callable[[int, int], bytes], bits: int, att: bool = False):
        self.read = read
        self.bits = bits
        self.att = att          # show instructions in AT&T syntax (GDB's default flavor)
        self._texts: Dict[int, str] = {}
        self.machine = Machine(bits)
        self.functions: Dict[int, FunctionFacts] = {}
        self.code: Dict[int, HandlerCode] = {}

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
            self.code[address] = explore(self.read, address, self.bits)
        return self.code[address]

    # -- called functions ---------------------------------------------------------
    def function(self, address: Optional[int], level: int = 0) -> FunctionFacts:
        if address is None:
            return FunctionFacts(0, unknown=True)
        if address in self.functions:
            return self.functions[address]
        facts = FunctionFacts(address)
        self.functions[address] = facts       # recursion ends here
        code = self.explore(address)
        facts.unknown = bool(code.stops) or code.truncated
        deepest = 0
        walked = list(self._walk(code))
        facts.returns = facts.unknown or any(kind == "ret" for _, kind in code.exits) and \
            any(insn.mnemonic in RET for insn, _ in walked)
        for insn, state in walked:
            offset = writes_memory_below_sp(self.machine, insn, state)
            if offset is not None:
                facts.red_zone.append((insn.address, self.text(insn), offset))
            if writes_simd(insn):
                facts.simd.append((insn.address, self.text(insn)))
            if state.depth is not None:
                deepest = max(deepest, state.depth)
            if insn.mnemonic.startswith("call") and level < MAX_CALL_DEPTH:
                callee = self.function(insn.target, level + 1)
                facts.red_zone += callee.red_zone
                facts.simd += callee.simd
                facts.unknown |= callee.unknown
                if state.depth is not None:
                    deepest = max(deepest, state.depth + self.machine.slot + callee.stack)
        facts.stack = deepest + self.machine.slot
        facts.shortest = self._shortest(code, lambda kind: kind == "ret") or 0
        facts.red_zone = sorted(set(facts.red_zone))
        facts.simd = sorted(set(facts.simd))
        return facts

    def _walk(self, code: HandlerCode):
        """Every (instruction, state before it) once per distinct state."""
        work = [(code.entry, MachineState(depth=0))]
        seen, per_insn, steps = set(), {}, 0
        while work:
            address, state = work.pop()
            insn = code.insns.get(address)
            if insn is None:
                continue
            key = (address, state.key())
            if key in seen or per_insn.get(address, 0) >= MAX_STATES_PER_INSN:
                continue
            seen.add(key)
            per_insn[address] = per_insn.get(address, 0) + 1
            steps += 1
            if steps > MAX_STEPS:
                code.truncated = True
                return
            yield insn, state
            after = self.machine.step(insn, state)
            if insn.mnemonic.startswith("call"):
                if insn.target is not None and not self.function(insn.target).returns:
                    continue    # a noreturn call: the bytes after it are another function
                after = self._after_call(insn, after)
            for successor in code.successors(insn):
                work.append((successor, after))

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
        return replace(state, reported=reported)

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
    def check(self, handler: int, vectors=()) -> HandlerCheck:
        code = self.explore(handler)
        pushes = {vector_info(v).pushes_error_code for v in vectors}
        error_code = pushes.pop() if len(pushes) == 1 else None
        frame_size = (6 if error_code else 5) * 8 if self.bits == 64 else \
            (4 if error_code else 3) * 4
        # The CPU aligned RSP to 16 before pushing the frame (64-bit).
        entry_mod = (-frame_size) % 16 if self.bits == 64 and error_code is not None else None
        found: Dict[Tuple[str, int], Finding] = {}
        exit_depths: Dict[int, set] = {}
        reached_exits = set()
        notes: List[str] = []
        base = {"vector": vectors[0] if len(vectors) == 1 else None, "handler": handler}
        deepest = 0

        def add(rule, address, message, group=None, **details):
            key = (rule, address if group is None else group)
            if key not in found:
                text = self._text_elsewhere(address)
                found[key] = Finding(rule, message, address=address,
                                     details={"static": True, "instruction": text, **details},
                                     **base)

        slot = self.machine.slot
        for insn, state in self._walk(code):
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
                deepest = max(deepest, self._check_call(insn, state, entry_mod, add))
            elif m in IRET:
                reached_exits.add((insn.address, "iret"))
                self._check_exit(insn, state, error_code, add)
                exit_depths.setdefault(insn.address, set()).add(state.depth)
            elif m in RET:
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
        stack_usage = frame_size + deepest if error_code is not None or not vectors else \
            5 * slot + deepest
        result = HandlerCheck(handler, tuple(vectors), self.bits,
                              sort_findings(found.values()), sorted(reached_exits),
                              list(code.stops),
                              stack_usage, self._shortest(code, lambda kind: kind == "iret"),
                              len(code.insns), code.truncated)
        result.notes = list(dict.fromkeys(notes))
        return result

    def _text_elsewhere(self, address):
        for code in self.code.values():
            if address in code.insns:
                return self.text(code.insns[address])
        return ""

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

    def _check_call(self, insn, state: MachineState, entry_mod, add) -> int:
        machine = self.machine
        if self.bits == 64 and entry_mod is not None and state.depth is not None:
            rsp_mod = (entry_mod - state.depth) % 16
            if rsp_mod:
                add("misaligned-call", insn.address,
                    f"`{self.text(insn)}` with RSP {rsp_mod} bytes off a multiple of 16: the "
                    f"SysV ABI promises callees an aligned stack", misalignment=rsp_mod)
        unsaved = self.unsaved_at_call(state)
        if unsaved:
            add("unsaved-scratch-across-call", insn.address,
                f"`{self.text(insn)}` may change {', '.join(unsaved)} (scratch in the C ABI), "
                f"which the handler has not saved", registers=unsaved)
        callee = self.function(insn.target)
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

    def states_at(self, handler: int):
        """{address: [states]} for every instruction of the handler's code."""
        code = self.explore(handler)
        found: Dict[int, List[MachineState]] = {}
        for insn, state in self._walk(code):
            found.setdefault(insn.address, []).append(state)
        return code, found

    def _check_exit(self, insn, state: MachineState, error_code, add):
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
        if state.depth is None:
            return
        expected = -slot if error_code else 0
        if error_code is None:
            return
        if error_code and state.depth == 0:
            add("error-code-not-popped", insn.address,
                f"`{self.text(insn)}` with the error code still on the stack (no `add ${slot},"
                f"%{'rsp' if slot == 8 else 'esp'}` on this path)")
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
