"""A handler's code as capstone sees it: the instructions reachable from its
entry, following jumps (a `call` is taken to return), and where it exits.

Shared by exit tracking (where to catch the iret) and the static checks.
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from gdbext.decode.disasm import capstone_instructions
from gdbext.errors import TargetMemoryError

MAX_INSTRUCTIONS = 8192
CHUNK = 256
FREED_BYTES = 16                # this many fill bytes at a handler: no code (see FILLERS)

IRET = {"iret", "iretd", "iretq"}
RET = {"ret", "retq", "retl", "retf", "retfq", "retfd", "lret", "lretq"}
NO_RETURN = {"ud2", "ud0", "ud1"}
OTHER_EXITS = {"sysret", "sysretq", "sysexit", "sysexitq"}


# Bytes a gate's handler address may hold instead of code: int3 is what Linux
# fills freed .init.text with; zeros are memory nothing was loaded into (an IVT
# at reset, a gate set up before its handler was copied).
FILLERS = {
    0xCC: ("handler-in-freed-memory", "int3 bytes (0xcc), as freed init code does"),
    0x00: ("handler-in-zeroed-memory", "zero bytes, memory no code was loaded into"),
}


def filler_at(read: Callable[[int, int], bytes], handler: int) -> Optional[int]:
    """The fill byte (a FILLERS key) the handler's first bytes all are, if any."""
    try:
        head = read(handler, FREED_BYTES)
    except TargetMemoryError:
        return None
    if len(head) == FREED_BYTES and len(set(head)) == 1 and head[0] in FILLERS:
        return head[0]
    return None


@dataclass(frozen=True)
class Insn:
    address: int
    size: int
    mnemonic: str
    op_str: str
    target: Optional[int]        # direct jump/call target
    detail: object = field(compare=False, repr=False, default=None)

    @property
    def next(self) -> int:
        return self.address + self.size

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.op_str}".strip()


@dataclass
class HandlerCode:
    entry: int
    bits: int
    insns: Dict[int, Insn] = field(default_factory=dict)
    exits: List[Tuple[int, str]] = field(default_factory=list)       # (address, "iret"/"ret"/...)
    stops: List[Tuple[int, str]] = field(default_factory=list)       # (address, why analysis stops)
    calls: List[Tuple[int, Optional[int]]] = field(default_factory=list)   # (site, target)
    truncated: bool = False

    def exit_addresses(self, kind: str) -> List[int]:
        return [address for address, k in self.exits if k == kind]

    def successors(self, insn: Insn) -> List[int]:
        return successors(insn)


def _direct_target(insn) -> Optional[int]:
    try:
        ops = insn.operands
    except Exception:   # detail off
        return None
    if len(ops) == 1 and ops[0].type == 2:   # X86_OP_IMM
        return ops[0].imm & ((1 << 64) - 1)
    return None


class CodeReader:
    """Decodes instructions at arbitrary addresses, one at a time (decoding
    with operand details is what costs: only reached code is decoded), from
    target memory read in aligned chunks (what costs on a remote target is
    the number of reads)."""

    def __init__(self, read: Callable[[int, int], bytes], bits: int):
        self.read = read
        self.bits = bits
        self.cache: Dict[int, Insn] = {}
        self.unreadable = set()
        self._chunks: Dict[int, bytes] = {}

    def _chunk(self, base: int) -> bytes:
        """An aligned chunk never crosses a page: it reads whole or not at all."""
        if base not in self._chunks:
            try:
                self._chunks[base] = bytes(self.read(base, CHUNK))
            except TargetMemoryError:
                self._chunks[base] = b""
        return self._chunks[base]

    def _bytes(self, address: int, size: int = 16) -> bytes:
        base = address - address % CHUNK
        data = self._chunk(base)[address - base:address - base + size]
        if len(data) < size and len(self._chunk(base)) == CHUNK:
            data += self._chunk(base + CHUNK)[:size - len(data)]
        return data

    def insn(self, address: int) -> Optional[Insn]:
        if address in self.cache:
            return self.cache[address]
        if address in self.unreadable:
            return None
        code = self._bytes(address)
        for raw in capstone_instructions(code, address, self.bits, count=1):
            branch = raw.mnemonic.startswith(("j", "call", "loop", "ljmp", "lcall"))
            self.cache[address] = Insn(raw.address, raw.size, raw.mnemonic, raw.op_str,
                                       _direct_target(raw) if branch else None, raw)
        if address not in self.cache:
            self.unreadable.add(address)    # unreadable, or no instruction decodes there
        return self.cache.get(address)


def successors(insn: Insn) -> List[int]:
    """Where execution goes after ``insn`` (a call is taken to return)."""
    m = insn.mnemonic
    if m in IRET or m in RET or m in NO_RETURN or m in OTHER_EXITS:
        return []
    if m == "jmp" or m == "ljmp":
        return [insn.target] if insn.target is not None else []
    if m.startswith("j") or m.startswith("loop") or m == "jecxz" or m == "jrcxz":
        return [t for t in (insn.target, insn.next) if t is not None]
    return [insn.next]


def _take_tail(code: HandlerCode, tail: HandlerCode) -> None:
    """Add the code walked from a jump target to ``code`` (what it has already
    is not listed twice)."""
    for listing, theirs in ((code.exits, tail.exits), (code.stops, tail.stops),
                            (code.calls, tail.calls)):
        listing.extend(item for item in theirs if item[0] not in code.insns)
    for address, insn in tail.insns.items():
        code.insns.setdefault(address, insn)
    code.truncated = code.truncated or tail.truncated


def explore(read: Callable[[int, int], bytes], entry: int, bits: int,
            reader: Optional[CodeReader] = None,
            tails: Optional[Dict[int, HandlerCode]] = None) -> HandlerCode:
    """Walk every path from ``entry`` (depth-first, jumps followed).
    ``tails``: code walked from the targets of unconditional jumps, kept
    across calls: a walk that jumps there takes that code whole instead of
    walking it again (the 200-odd stubs of Linux's IRQ stub array each push
    a vector and jump to the same code)."""
    reader = reader or CodeReader(read, bits)
    code = HandlerCode(entry, bits)
    filler = filler_at(reader._bytes, entry)
    if filler is not None:
        # no code to walk: 8192 decoded int3s (Linux's 12 gates into freed
        # init text) would only cost the memory and time of a truncated walk
        code.stops.append((entry, f"no code: {FILLERS[filler][1]}"))
        return code
    work = [entry]
    while work:
        address = work.pop()
        if tails is not None and address in tails and address != entry:
            _take_tail(code, tails[address])
            continue
        while address not in code.insns:
            if len(code.insns) >= MAX_INSTRUCTIONS:
                code.truncated = True
                return code
            insn = reader.insn(address)
            if insn is None:
                code.stops.append((address, "code not readable"))
                break
            code.insns[address] = insn
            m = insn.mnemonic
            if m in IRET:
                code.exits.append((address, "iret"))
            elif m in RET:
                code.exits.append((address, "ret"))
            elif m in OTHER_EXITS:
                code.exits.append((address, m))
            elif m.startswith("call"):
                code.calls.append((address, insn.target))
            elif m.startswith("j") and insn.target is None:
                code.stops.append((address, f"indirect jump `{insn.text}`: analysis stops here"))
            successors = code.successors(insn)
            if not successors:
                break
            if tails is not None and m == "jmp" and insn.target is not None \
                    and insn.target not in code.insns:
                if insn.target not in tails:
                    tails[insn.target] = explore(read, insn.target, bits, reader)
                work.append(insn.target)
                break
            work.extend(successors[:-1])
            address = successors[-1]
    return code
