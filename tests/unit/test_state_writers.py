"""The trace plugin's classifier of instructions that may write the state it
caches (plugin/state_writers.c): x87/SSE/AVX registers, FS/GS bases, CR3,
EFER.  A "no" for a writer would leave a stale cache, and a stale entry
value compared with a fresh exit value accuses a correct handler; so besides
a table of known instructions, the whole one-, two- and three-byte opcode
space is decoded with capstone and every instruction capstone says writes
such state must be classified a writer."""

import ctypes
import subprocess
from pathlib import Path

import capstone
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "plugin" / "state_writers.c"


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    path = tmp_path_factory.mktemp("state_writers") / "state_writers.so"
    subprocess.run(["gcc", "-std=gnu11", "-O2", "-Wall", "-Werror", "-shared", "-fPIC",
                    "-o", str(path), str(SOURCE)], check=True)
    return ctypes.CDLL(str(path))


def _predicate(library, name):
    function = getattr(library, name)
    function.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
    function.restype = ctypes.c_bool
    return lambda code: function(code, len(code))


@pytest.fixture(scope="module")
def classify(library):
    return _predicate(library, "may_write_cached_state")


@pytest.fixture(scope="module")
def nulls_selectors(library):
    return _predicate(library, "may_null_selectors")


WRITERS = {
    "0f28c1": "movaps xmm0, xmm1",
    "660fefc0": "pxor xmm0, xmm0",
    "f30f6f00": "movdqu xmm0, [rax]",
    "c5f877": "vzeroupper",
    "62f17c4828c1": "vmovaps zmm0, zmm1 (EVEX)",
    "d9e8": "fld1",
    "dbe3": "fninit",
    "9b": "fwait",
    "0fae08": "fxrstor [rax]",
    "480fae08": "fxrstor64 [rax]",
    "0fae10": "ldmxcsr [rax]",
    "0fae28": "xrstor [rax]",
    "480fc718": "xrstors64 [rax]",
    "f3480faed0": "wrfsbase rax",
    "f3480faed8": "wrgsbase rax",
    "0f01f8": "swapgs",
    "0f01d1": "xsetbv",
    "0f01d8": "vmrun",
    "0f30": "wrmsr",
    "0f22d8": "mov cr3, rax",
    "8ee0": "mov fs, eax",
    "0fa1": "pop fs",
    "0fa9": "pop gs",
    "0fb400": "lfs eax, [rax]",
    "0f77": "emms",
    "0f3800c1": "pshufb mm0, mm1",
    "660f3a0fc108": "palignr xmm0, xmm1, 8",
    "0faa": "rsm",
    "8fe97801c1": "XOP",
}

NOT_WRITERS = {
    "4889c3": "mov rbx, rax",
    "40": "inc eax (32-bit code)",
    "48cf": "iretq (selectors are read at every event)",
    "cf": "iret",
    "0f05": "syscall",
    "480f07": "sysretq",
    "e800000000": "call",
    "ffd0": "call rax",
    "8fc0": "pop rax",
    "0fae00": "fxsave [rax] (reads the state)",
    "0faee8": "lfence",
    "0faef0": "mfence",
    "0faef8": "sfence",
    "f3480faec0": "rdfsbase rax",
    "0f01ca": "clac",
    "0f01cb": "stac",
    "0f32": "rdmsr",
    "0f20d8": "mov rax, cr3",
    "8ce0": "mov eax, fs",
    "0f0b": "ud2",
    "f30f1efa": "endbr64",
    "0f1f440000": "nop dword [rax+rax]",
    "f390": "pause",
    "0fa2": "cpuid",
}


@pytest.mark.parametrize("code", sorted(WRITERS))
def test_writers_are_classified_writers(classify, code):
    assert classify(bytes.fromhex(code)), WRITERS[code]


@pytest.mark.parametrize("code", sorted(NOT_WRITERS))
def test_frequent_harmless_instructions_are_not(classify, code):
    assert not classify(bytes.fromhex(code)), NOT_WRITERS[code]


@pytest.mark.parametrize("code", ["cf", "48cf", "66cf", "cb", "48cb", "ca0800"])
def test_returns_may_null_the_selectors(nulls_selectors, code):
    assert nulls_selectors(bytes.fromhex(code))


@pytest.mark.parametrize("code", ["c3", "0f07", "480f07", "0f35", "8ee0", "40", "e800000000"])
def test_other_instructions_do_not_count_as_returns(nulls_selectors, code):
    assert not nulls_selectors(bytes.fromhex(code))


def test_nothing_is_not_a_writer(classify):
    assert not classify(b"")
    assert not classify(b"\x66\xf3")        # prefixes alone


SELECTORS = ("ds", "es", "fs", "gs")
CACHED_REGISTERS = ("xmm", "ymm", "zmm", "mm", "st", "fpsw", "fpcw", "mxcsr", "cr0", "cr3",
                    "cr4")
# FS/GS loads take a base from the descriptor; returns only null the selectors
# (read at every event) and keep the bases
BASE_LOADERS_EXCEPT = ("iret", "retf", "sysret", "sysexit", "lret")
SIMD_GROUPS = ("sse", "avx", "mmx", "3dnow", "fpu", "fma", "xop", "aes", "sha", "pclmul",
               "f16c")
# in those groups, but only read the state or touch none of it
READ_ONLY = ("prefetch", "sfence", "lfence", "mfence", "clflush", "clwb", "movnti", "stmxcsr",
             "vstmxcsr", "fxsave", "xsave", "pause", "crc32", "movbe", "monitor", "mwait")
WRITER_MNEMONICS = ("fxrstor", "xrstor", "ldmxcsr", "vldmxcsr", "fninit", "finit", "frstor",
                    "fldenv", "fldcw", "emms", "femms", "wrmsr", "wrfsbase", "wrgsbase", "swapgs",
                    "rsm", "xsetbv", "vmrun", "vmload", "vzeroupper", "vzeroall")


def must_write(insn):
    mnemonic = insn.mnemonic
    if mnemonic.startswith(WRITER_MNEMONICS):
        return True
    _, written = insn.regs_access()
    names = [insn.reg_name(r) for r in written]
    if any(name.startswith(CACHED_REGISTERS) for name in names):
        return True
    if any(name in ("fs", "gs") for name in names) and not mnemonic.startswith(BASE_LOADERS_EXCEPT):
        return True
    groups = [insn.group_name(g) or "" for g in insn.groups]
    return (any(group.startswith(SIMD_GROUPS) for group in groups)
            and not mnemonic.startswith(READ_ONLY))


def opcode_space(long_mode):
    prefixes = [b"", b"\x66", b"\xf2", b"\xf3"] + ([b"\x48", b"\x66\x48"] if long_mode else [])
    opcodes = ([bytes([b]) for b in range(256)] + [b"\x0f" + bytes([b]) for b in range(256)] +
               [b"\x0f\x38" + bytes([b]) for b in range(256)] +
               [b"\x0f\x3a" + bytes([b]) for b in range(256)])
    modrms = [bytes([mod | reg << 3]) for reg in range(8) for mod in (0x00, 0xc0)]
    for prefix in prefixes:
        for opcode in opcodes:
            for modrm in modrms:
                yield prefix + opcode + modrm + b"\x00" * 8


@pytest.mark.parametrize("long_mode", [True, False], ids=["64-bit", "32-bit"])
def test_every_writer_capstone_knows_is_classified_a_writer(classify, nulls_selectors, long_mode):
    md = capstone.Cs(capstone.CS_ARCH_X86,
                     capstone.CS_MODE_64 if long_mode else capstone.CS_MODE_32)
    md.detail = True
    missed, decoded, writers = {}, 0, 0
    for candidate in opcode_space(long_mode):
        insn = next(md.disasm(candidate, 0x1000, 1), None)
        if insn is None:
            continue
        decoded += 1
        code = bytes(insn.bytes)
        if must_write(insn):
            writers += 1
            if not classify(code):
                missed.setdefault(insn.mnemonic, code.hex())
        _, written = insn.regs_access()
        if any(insn.reg_name(r) in SELECTORS for r in written) and \
                not (classify(code) or nulls_selectors(code)):
            missed.setdefault(insn.mnemonic, code.hex())
    assert decoded > 20000 and writers > 5000      # the sweep really covers the space
    assert not missed, f"writers classified harmless: {missed}"
