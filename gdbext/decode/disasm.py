"""Disassembly through capstone (imported lazily: the rest of isrdbg works
without it, and the loader says how to install it)."""

import re
from dataclasses import dataclass
from typing import List

from gdbext.errors import IsrError


class DisassemblerMissing(IsrError):
    def __init__(self):
        super().__init__("capstone is not installed for GDB's Python (run ./run setup, or "
                         "pip install capstone for the Python GDB embeds)")


@dataclass(frozen=True)
class Instruction:
    address: int
    size: int
    mnemonic: str
    operands: str
    raw: bytes

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {self.operands}".strip()


_ENGINES = {}


def _engine(bits: int, att: bool):
    key = (bits, att)
    if key not in _ENGINES:
        try:
            import capstone
        except ImportError:
            raise DisassemblerMissing() from None
        mode = capstone.CS_MODE_64 if bits == 64 else capstone.CS_MODE_32
        engine = capstone.Cs(capstone.CS_ARCH_X86, mode)
        engine.detail = True
        if att:
            engine.syntax = capstone.CS_OPT_SYNTAX_ATT
        _ENGINES[key] = engine
    return _ENGINES[key]


def disassemble(code: bytes, address: int, bits: int, count: int = 0,
                att: bool = True) -> List[Instruction]:
    """Decode up to ``count`` instructions (0: all that decode) from ``code``."""
    return [Instruction(i.address, i.size, i.mnemonic, i.op_str, bytes(i.bytes))
            for i in _engine(bits, att).disasm(code, address, count)]


def capstone_instructions(code: bytes, address: int, bits: int, att: bool = False,
                          count: int = 0):
    """Raw capstone instructions with details, for the analyses that need operands."""
    return _engine(bits, att).disasm(code, address, count)


_SWEEPERS = {}


def sweep(code: bytes, address: int, bits: int):
    """Linear sweep that steps over undecodable bytes: (address, size, mnemonic)."""
    if bits not in _SWEEPERS:
        try:
            import capstone
        except ImportError:
            raise DisassemblerMissing() from None
        engine = capstone.Cs(capstone.CS_ARCH_X86,
                             capstone.CS_MODE_64 if bits == 64 else capstone.CS_MODE_32)
        engine.skipdata = True
        _SWEEPERS[bits] = engine
    for insn_address, size, mnemonic, _ in _SWEEPERS[bits].disasm_lite(code, address):
        yield insn_address, size, mnemonic


# lidt is 0F 01 /3 with a memory operand (ModRM reg = 3, mod != 3) in every mode.
_LIDT_OPCODE = re.compile(b"\x0f\x01")


def lidt_sites(sections, bits: int):
    """Addresses just after every `lidt` in the code: where a new IDT is live.

    Only the places whose bytes can be a `lidt` are decoded (a kernel like
    Linux has 20 MB of text and a handful of them), in both modes for a
    64-bit kernel, which starts in 32-bit code.  A stray hit in data or inside
    another instruction only costs a breakpoint that never fires."""
    sites = set()
    for section in sections:
        data = section.data
        for match in _LIDT_OPCODE.finditer(data):
            offset = match.start()
            modrm = data[offset + 2] if offset + 2 < len(data) else 0xC0
            if (modrm >> 3) & 7 != 3 or modrm >> 6 == 3:
                continue
            for mode in ((64, 32) if bits == 64 else (32,)):
                decoded = disassemble(data[offset:offset + 16], section.address + offset,
                                      mode, count=1)
                if decoded and decoded[0].mnemonic.startswith("lidt"):
                    sites.add(decoded[0].address + decoded[0].size)
    return sorted(sites)
