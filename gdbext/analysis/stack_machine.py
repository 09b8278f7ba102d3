"""Abstract execution of a handler's code: what each register and stack slot
holds relative to the handler's entry, along every path.

A value is a token (kind, what, writer address): ``("orig", reg, _)`` is the
register's value at entry (the interrupted code's), ``("sp", depth, _)`` a
copy of the stack pointer at that depth (`mov %rsp,%rbx` before aligning the
stack), ``("val", "", address)`` anything computed at ``address``, and
``("unknown", "", address)`` what was loaded from a stack the analysis lost
track of (after the handler switched stacks): neither proof of a clobber nor
of a restore, ``("ret", next, site)`` the return address (``next``, in decimal) a
`call` at ``site`` pushed (a `ret` that pops it returns there, wherever the callee left it) and
``("frame", field, _)`` a field of the interrupt frame (an `iret` that finds
the saved RIP on top of the stack returns to the interrupted code, wherever
the handler copied the frame to).
The stack is tracked by depth: bytes pushed below the entry RSP (which points
at the interrupt frame).  This is what the static checks (`isr-check`) and the
saved-register view (`isr-saved`) read; it never runs the code.
"""

from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional, Tuple

X86_OP_REG, X86_OP_IMM, X86_OP_MEM = 1, 2, 3
AC_WRITE = 2

GPR64 = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
GPR32 = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")
SEGMENTS = ("ds", "es", "fs", "gs")
# Slots on a stack the handler switched to are kept from this depth on.
SWITCHED = 1 << 32
# pushal order (lowest address last pushed): eax ecx edx ebx esp ebp esi edi
PUSHA_ORDER = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")

_SUB = {}
for _full, _parts in {
    "rax": "eax ax al ah", "rbx": "ebx bx bl bh", "rcx": "ecx cx cl ch", "rdx": "edx dx dl dh",
    "rsi": "esi si sil", "rdi": "edi di dil", "rbp": "ebp bp bpl", "rsp": "esp sp spl",
}.items():
    for _part in _parts.split():
        _SUB[_part] = _full
for _n in range(8, 16):
    for _suffix in ("d", "w", "b"):
        _SUB[f"r{_n}{_suffix}"] = f"r{_n}"

SIMD_SAVES = {"fxsave", "fxsave64", "xsave", "xsave64", "xsaveopt", "xsaveopt64", "xsavec",
              "xsavec64", "xsaves", "xsaves64", "fsave", "fnsave"}
SIMD_RESTORES = {"fxrstor", "fxrstor64", "xrstor", "xrstor64", "xrstors", "xrstors64", "frstor"}


def full_register(name: str, bits: int) -> str:
    """The architectural register a (sub-)register name belongs to, in the
    width GDB shows: "al" -> "rax" on x86_64, "eax" on i386."""
    parent = _SUB.get(name, name)
    if bits == 32 and parent.startswith("r") and parent[1:] in ("ax", "bx", "cx", "dx", "si",
                                                                 "di", "bp", "sp"):
        return "e" + parent[1:]
    return parent


def is_simd_register(name: str) -> bool:
    return name.startswith(("xmm", "ymm", "zmm", "mm", "st", "k")) or name in (
        "mxcsr", "fpsw", "fpcw", "x87control", "x87status")


Token = Tuple[str, str, int]     # (kind, register or "", address of the writer)


def orig(reg: str) -> Token:
    return ("orig", reg, -1)


def same(a: Token, b: Token) -> bool:
    return a[0] == b[0] and a[1] == b[1]


@dataclass(frozen=True)
class MachineState:
    depth: Optional[int]                       # bytes below the entry RSP; None after and-align
    aligned: bool = False                      # RSP known 16-aligned although depth is unknown
    regs: Tuple[Tuple[str, Token], ...] = ()   # tracked registers not holding orig()
    slots: Tuple[Tuple[int, Token], ...] = ()  # depth -> what was stored there
    simd_saved: Optional[int] = None           # address of the fxsave/xsave that saved SIMD state
    simd_save_depth: Optional[int] = None
    reported: FrozenSet[str] = frozenset()     # registers a call finding already covers
    # what put the stack where it is: (bytes, address) of pushes/subs not yet undone
    adjusts: Tuple[Tuple[int, int], ...] = ()
    # after `mov %rax,%rsp` to a stack the analysis cannot see: the depth the
    # new RSP mirrors (Linux copies pt_regs to the task stack, same layout) and
    # the address of the switch; pushes and pops after it move the depth
    relocated: Optional[Tuple[int, int]] = None

    def reg(self, name: str) -> Token:
        for key, token in self.regs:
            if key == name:
                return token
        return orig(name)

    def slot(self, depth: int) -> Optional[Token]:
        for key, token in self.slots:
            if key == depth:
                return token
        return None

    def with_reg(self, name: str, token: Token) -> "MachineState":
        entry = () if token[0] == "orig" and token[1] == name else ((name, token),)
        return evolve(self, regs=_put(self.regs, name, entry))

    def with_slot(self, depth: int, token: Token) -> "MachineState":
        return evolve(self, slots=_put(self.slots, depth, ((depth, token),)))

    def changed(self) -> Dict[str, Token]:
        return dict(self.regs)

    def key(self):
        """States with the same key are joined where paths meet: the stack
        depth, the SIMD save, where a switched stack stands, which calls are
        in progress (their return addresses) and which registers hold copies
        of RSP keep paths apart.  Kept once made (asked at every arrival)."""
        found = self.__dict__.get("_key")
        if found is None:
            found = self.__dict__["_key"] = self._make_key()
        return found

    def _make_key(self):
        return (self.depth, self.simd_saved is not None,
                None if self.relocated is None else self.relocated[0],
                tuple((depth, token[1]) for depth, token in self.slots if token[0] == "ret"),
                # copies of RSP: Linux's error_entry returns one on one path
                # (the stack stays) and another stack on the other
                tuple((name, token[1]) for name, token in self.regs if token[0] == "sp"))

    def join(self, other: "MachineState") -> "MachineState":
        """What holds on both paths (same key): a register or slot that differs
        holds a value written on one of them (still a clobber, no accusation
        when one side is only unknown)."""
        if self is other or self == other:
            return self
        regs = self.regs
        if regs != other.regs:
            merged_regs = dict(regs)
            theirs = dict(other.regs)
            for name in set(merged_regs) | set(theirs):
                merged = _join_tokens(merged_regs.get(name, orig(name)),
                                      theirs.get(name, orig(name)))
                if same(merged, orig(name)):
                    merged_regs.pop(name, None)
                else:
                    merged_regs[name] = merged
            regs = tuple(sorted(merged_regs.items()))
        slots = self.slots
        if slots != other.slots:
            mine, yours = dict(slots), dict(other.slots)
            slots = tuple(sorted((depth, _join_tokens(mine[depth], yours[depth]))
                                 for depth in set(mine) & set(yours)))
        joined = evolve(self, regs=regs, slots=slots,
                         aligned=self.aligned and other.aligned,
                         simd_save_depth=self.simd_save_depth
                         if self.simd_save_depth == other.simd_save_depth else None,
                         reported=self.reported & other.reported)
        return joined


def evolve(state: MachineState, **changes) -> MachineState:
    """dataclasses.replace for MachineState, without its checks and its call
    of __init__: the analysis of Linux's handlers makes ~40,000 states, and
    replace() was a tenth of its time.  The cached key is not carried over."""
    new = object.__new__(MachineState)
    fields = new.__dict__
    fields.update(state.__dict__)
    fields.pop("_key", None)
    fields.update(changes)
    return new


def _put(pairs, name, entry):
    """``pairs`` (sorted by name, names unique) without ``name``'s pair, with
    ``entry`` (that pair, or nothing) in its sorted place."""
    for i, pair in enumerate(pairs):
        if pair[0] == name:
            return pairs[:i] + entry + pairs[i + 1:]
        if pair[0] > name:
            return pairs[:i] + entry + pairs[i:]
    return pairs + entry


# Register names by capstone register id (x86: the same in every mode); asking
# capstone is a foreign call, made tens of thousands of times per analysis.
_REG_NAMES: Dict[int, Optional[str]] = {}


def register_name(insn, reg_id) -> Optional[str]:
    try:
        return _REG_NAMES[reg_id]
    except KeyError:
        name = _REG_NAMES[reg_id] = insn.detail.reg_name(reg_id)
        return name


def written_registers(insn) -> Tuple[str, ...]:
    """Names of the registers ``insn`` writes (capstone's regs_access), kept
    on the instruction: every state that reaches it asks again."""
    cached = insn.__dict__.get("_written")
    if cached is None:
        try:
            _, written = insn.detail.regs_access()
        except Exception:
            written = ()
        cached = insn.__dict__["_written"] = tuple(register_name(insn, r) for r in written)
    return cached


class Machine:
    """Steps one instruction at a time over a MachineState."""

    def __init__(self, bits: int):
        self.bits = bits
        self.slot = bits // 8
        self.sp = "rsp" if bits == 64 else "esp"
        self.fp = "rbp" if bits == 64 else "ebp"
        self.gprs = GPR64 if bits == 64 else GPR32

    def tracked(self, name: str) -> Optional[str]:
        full = full_register(name, self.bits)
        if full in self.gprs or full in SEGMENTS:
            return full
        return None

    # -- operand helpers ----------------------------------------------------------
    def _reg_name(self, insn, reg_id) -> str:
        return register_name(insn, reg_id) if reg_id else ""

    def stack_offset(self, insn, op) -> Optional[int]:
        """For a memory operand [rsp + disp] (no index): disp; else None."""
        if op.type != X86_OP_MEM:
            return None
        base = full_register(self._reg_name(insn, op.mem.base), self.bits)
        if base != self.sp or op.mem.index:
            return None
        return op.mem.disp

    def stack_copy(self, state, name) -> Optional[int]:
        """The depth a register holds a copy of the stack pointer at, if it does."""
        token = state.reg(name) if name else None
        return int(token[1]) if token is not None and token[0] == "sp" else None

    def slot_depth(self, insn, op, state) -> Optional[int]:
        """The stack depth a memory operand addresses: [rsp+N], or [rbx+N] when
        rbx holds a copy of the stack pointer."""
        offset = self.stack_offset(insn, op)
        if offset is not None and state.depth is not None:
            return state.depth - offset
        if offset is not None and state.relocated is not None:
            return SWITCHED + state.relocated[0] - offset
        if op.type != X86_OP_MEM or op.mem.index:
            return None
        copy = self.stack_copy(state, self.tracked(self._reg_name(insn, op.mem.base)))
        return None if copy is None else copy - op.mem.disp

    # -- one instruction ----------------------------------------------------------
    def step(self, insn, state: MachineState) -> MachineState:
        raw = insn.detail
        m = insn.mnemonic
        ops = list(raw.operands)
        here = ("val", "", insn.address)

        if m in ("push", "pushq", "pushl", "pushw"):
            size = self._operand_size(insn, ops)
            token = here
            if ops and ops[0].type == X86_OP_REG:
                name = self.tracked(self._reg_name(insn, ops[0].reg))
                if name is not None:
                    token = state.reg(name)
            elif ops and ops[0].type == X86_OP_MEM:
                # `pushq 0x28(%rsp)`: a copy of a slot (Linux copies the frame)
                depth = self.slot_depth(insn, ops[0], state)
                copied = state.slot(depth) if depth is not None else None
                if copied is not None:
                    token = copied
            return self._push(state, size, token, insn.address)
        if m in ("pop", "popq", "popl", "popw"):
            size = self._operand_size(insn, ops)
            loaded = self._top(state, insn.address)
            state = self._pop(state, size)
            if ops and ops[0].type == X86_OP_REG:
                name = self.tracked(self._reg_name(insn, ops[0].reg))
                if name is not None:
                    state = state.with_reg(name, loaded)
            return state
        if m in ("pushal", "pusha", "pushad"):
            for name in PUSHA_ORDER:
                token = here if name == "esp" else state.reg(name)
                state = self._push(state, 4, token, insn.address)
            return state
        if m in ("popal", "popa", "popad"):
            for name in reversed(PUSHA_ORDER):
                loaded = self._top(state, insn.address)
                state = self._pop(state, 4)
                if name != "esp":
                    state = state.with_reg(name, loaded)
            return state
        if m in ("pushfq", "pushfd", "pushf", "pushfl"):
            return self._push(state, self.slot, here, insn.address)
        if m in ("popfq", "popfd", "popf", "popfl"):
            return self._pop(state, self.slot)
        if m == "leave":
            state = evolve(state, depth=self.stack_copy(state, self.fp), aligned=False)
            return self.step_pop_fp(insn, state)
        if m in ("call", "callq", "calll"):
            return state   # the caller accounts for calls (they return); RSP is unchanged after
        if m in SIMD_SAVES and state.simd_saved is None:
            return evolve(state, simd_saved=insn.address,
                           simd_save_depth=self._mem_depth(insn, ops, state))

        sp_result = self._stack_pointer_arith(insn, m, ops, state)
        if sp_result is not None:
            return sp_result
        if m == "lea" and len(ops) == 2:
            return self._lea(insn, ops, state)
        if m.startswith("mov") and len(ops) == 2:
            moved = self._move(insn, ops, state)
            if moved is not None:
                return moved
        return self._clobber_written(insn, state)

    def step_pop_fp(self, insn, state):
        loaded = self._top(state, insn.address)
        state = self._pop(state, self.slot)
        return state.with_reg(self.fp, loaded)

    def _operand_size(self, insn, ops) -> int:
        """Bytes a push/pop moves the stack by.  Segment registers are pushed
        as a full slot (capstone says 2) unless an operand-size prefix says
        `pushw`."""
        if ops and ops[0].type == X86_OP_REG and \
                self._reg_name(insn, ops[0].reg) in ("ds", "es", "fs", "gs", "ss", "cs"):
            return 2 if 0x66 in insn.detail.prefix else self.slot
        return ops[0].size if ops and ops[0].size in (2, 4, 8) else self.slot

    def push_return(self, state: MachineState, site: int, next_address: int) -> MachineState:
        """A `call` at ``site`` whose callee is followed: the return address."""
        return self._push(state, self.slot, ("ret", str(next_address), site), site)

    @staticmethod
    def _top(state, address) -> Token:
        """What a pop at ``address`` loads: the slot's token, re-attributed."""
        if state.depth is None:
            token = state.slot(SWITCHED + state.relocated[0]) if state.relocated else None
            return (token[0], token[1], address) if token else ("unknown", "", address)
        token = state.slot(state.depth)
        return (token[0], token[1], address) if token else ("val", "", address)

    def _mem_depth(self, insn, ops, state):
        for op in ops:
            depth = self.slot_depth(insn, op, state)
            if depth is not None:
                return depth
        return None

    def _push(self, state, size, token, address=-1):
        if token[0] == "orig":
            token = ("orig", token[1], address)   # remember which push saved it
        if state.depth is None:
            state = _move_relocated(state, size)
            if state.relocated is not None:
                state = state.with_slot(SWITCHED + state.relocated[0], token)
            return state
        depth = state.depth + size
        return evolve(state.with_slot(depth, token), depth=depth,
                       adjusts=state.adjusts + ((size, address),))

    def _pop(self, state, size):
        if state.depth is None:
            return _move_relocated(state, -size)
        return evolve(state, depth=state.depth - size, adjusts=_undo(state.adjusts, size))

    def _stack_pointer_arith(self, insn, m, ops, state):
        if not ops or ops[0].type != X86_OP_REG:
            return None
        if full_register(self._reg_name(insn, ops[0].reg), self.bits) != self.sp:
            return None
        if m in ("sub", "add") and len(ops) == 2 and ops[1].type == X86_OP_IMM:
            delta = ops[1].imm if m == "sub" else -ops[1].imm
            if state.depth is None:
                return _move_relocated(state, delta)
            adjusts = state.adjusts + ((delta, insn.address),) if delta > 0 \
                else _undo(state.adjusts, -delta)
            return evolve(state, depth=state.depth + delta, adjusts=adjusts)
        if m == "lea" and ops[1].type == X86_OP_MEM:
            # lea 8(%rsp),%rsp or lea -0xc(%ebp),%esp with ebp a stack-pointer copy
            depth = self.slot_depth(insn, ops[1], state)
            return evolve(state, depth=depth, aligned=False,
                           adjusts=state.adjusts if depth is None or state.depth is None
                           or depth >= state.depth else _undo(state.adjusts, state.depth - depth))
        if m == "and" and len(ops) == 2 and ops[1].type == X86_OP_IMM and ops[1].imm < 0:
            return evolve(state, depth=None, aligned=(-ops[1].imm) % 16 == 0, relocated=None)
        copy = None
        if m.startswith("mov") and len(ops) == 2 and ops[1].type == X86_OP_REG:
            # mov %rbx,%rsp: back to the depth saved in rbx
            copy = self.stack_copy(state, self.tracked(self._reg_name(insn, ops[1].reg)))
        if copy is not None:
            return evolve(state, depth=copy, aligned=False, relocated=None)
        if m.startswith("mov") and state.depth is not None:
            # Another stack (Linux: the task stack, pt_regs copied there).  Its
            # pushes are kept apart (depths from SWITCHED on), and it is taken
            # to mirror this depth if it is a copy (isr-saved verifies that).
            return evolve(state, depth=None, aligned=False,
                           relocated=(state.depth, insn.address))
        return evolve(state, depth=None, aligned=False, relocated=None)

    def _lea(self, insn, ops, state):
        dst, src = ops
        name = self.tracked(self._reg_name(insn, dst.reg))
        if name is None:
            return state
        base = self.tracked(self._reg_name(insn, src.mem.base))
        index = self._reg_name(insn, src.mem.index)
        if base == name and src.mem.disp == 0 and index in ("", "eiz", "riz"):
            return state    # `lea 0x0(%esi,%eiz,1),%esi`: a multi-byte nop
        depth = self.slot_depth(insn, src, state)
        if depth is not None:
            return state.with_reg(name, ("sp", str(depth), insn.address))
        return state.with_reg(name, ("val", "", insn.address))

    def _move(self, insn, ops, state):
        dst, src = ops
        # mov %rsp,%rbx: remember the depth, to come back by `mov %rbx,%rsp` / `leave`
        if dst.type == X86_OP_REG and src.type == X86_OP_REG and \
                full_register(self._reg_name(insn, src.reg), self.bits) == self.sp:
            name = self.tracked(self._reg_name(insn, dst.reg))
            if name is None:
                return None
            if state.depth is None:
                return state.with_reg(name, ("val", "", insn.address))
            return state.with_reg(name, ("sp", str(state.depth), insn.address))
        if dst.type == X86_OP_MEM and src.type == X86_OP_REG:
            depth = self.slot_depth(insn, dst, state)
            if depth is not None:
                name = self.tracked(self._reg_name(insn, src.reg))
                token = state.reg(name) if name else ("val", "", insn.address)
                if token[0] == "orig":
                    token = ("orig", token[1], insn.address)
                return state.with_slot(depth, token)
            return state
        if dst.type == X86_OP_REG:
            name = self.tracked(self._reg_name(insn, dst.reg))
            if name is None:
                return None
            # copies keep the token, so `mov %ds,%eax ... mov %eax,%ds` restores DS
            token = None
            if src.type == X86_OP_REG:
                source = self.tracked(self._reg_name(insn, src.reg))
                token = state.reg(source) if source is not None else None
            elif src.type == X86_OP_MEM:
                depth = self.slot_depth(insn, src, state)
                token = state.slot(depth) if depth is not None else None
            if token is not None:
                return state.with_reg(name, (token[0], token[1], insn.address))
        return None

    def _clobber_written(self, insn, state):
        for written in written_registers(insn):
            name = self.tracked(written)
            if name is not None:
                state = state.with_reg(name, ("val", "", insn.address))
        return state


def _move_relocated(state, delta):
    if state.relocated is None:
        return state
    return evolve(state, relocated=(state.relocated[0] + delta, state.relocated[1]))


def _join_tokens(a: Token, b: Token) -> Token:
    if same(a, b):
        return a
    if a[0] == "val":
        return a
    if b[0] == "val":
        return b
    if a[0] == "unknown":
        return a
    if b[0] == "unknown":
        return b
    return ("val", "", a[2] if a[2] >= 0 else b[2])


def _undo(adjusts, size):
    """Remove ``size`` bytes of the most recent stack adjustments."""
    adjusts = list(adjusts)
    while size > 0 and adjusts:
        last, address = adjusts.pop()
        if last > size:
            adjusts.append((last - size, address))
        size -= last
    return tuple(adjusts)


def writes_memory_below_sp(machine: Machine, insn, state: MachineState) -> Optional[int]:
    """A store to [rsp - N] (N > 0): the red zone, which interrupts overwrite.
    `lock addl $0,-4(%rsp)` (Linux's full barrier) changes nothing there."""
    if is_memory_barrier(insn):
        return None
    for op in insn.detail.operands:
        if op.type == X86_OP_MEM and op.access & AC_WRITE:
            offset = machine.stack_offset(insn, op)
            if offset is not None and offset < 0:
                return offset
    return None


def is_memory_barrier(insn) -> bool:
    """`lock add/or $0, mem`: a fence whose store leaves the memory as it was."""
    ops = insn.detail.operands
    return insn.mnemonic in ("lock add", "lock or", "lock sub", "lock xor") and \
        len(ops) == 2 and ops[1].type == X86_OP_IMM and ops[1].imm == 0


def writes_simd(insn) -> bool:
    """The instruction changes x87/SSE/AVX state (registers or MXCSR)."""
    if insn.mnemonic in SIMD_SAVES or insn.mnemonic in SIMD_RESTORES:
        return False
    if any(is_simd_register(n) for n in written_registers(insn)):
        return True
    return insn.mnemonic in ("ldmxcsr", "vldmxcsr", "fninit", "finit", "fldcw", "emms")
