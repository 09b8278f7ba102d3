from pathlib import Path

import pytest

from gdbext.decode.qemu_monitor import MonitorParseError, parse_info_kvm, parse_info_registers
from gdbext.x86.cpu import CpuMode

FIXTURES = Path(__file__).parent / "fixtures"

# What QEMU 7.2 prints for a CPU in 64-bit mode (captured from the bundled kernel).
LONG_MODE = """\
RAX=0000000000000000 RBX=0000000000010000 RCX=0000000000000000 RDX=0000000000000000
RSI=0000000000000000 RDI=0000000000000000 RBP=0000000000000000 RSP=0000000000107fc8
R8 =0000000000000000 R9 =0000000000000000 R10=0000000000000000 R11=0000000000000000
R12=0000000000000000 R13=0000000000000000 R14=0000000000000000 R15=0000000000000000
RIP=0000000000100a40 RFL=00000046 [---Z-P-] CPL=3 II=0 A20=1 SMM=0 HLT=0
ES =0010 0000000000000000 00000000 00009300 DPL=0 DS   [-WA]
CS =0008 0000000000000000 00000000 00209a00 DPL=0 CS64 [-R-]
SS =0010 0000000000000000 00000000 00009300 DPL=0 DS   [-WA]
DS =0010 0000000000000000 00000000 00009300 DPL=0 DS   [-WA]
FS =0000 0000000000000000 0000ffff 00009300 DPL=0 DS   [-WA]
GS =0000 0000000000000000 0000ffff 00009300 DPL=0 DS   [-WA]
LDT=0000 0000000000000000 0000ffff 00008200 DPL=0 LDT
TR =0028 0000000000104000 00000067 00008900 DPL=0 TSS64-avl
GDT=     0000000000103000 0000002f
IDT=     0000000000102000 00000fff
CR0=80010011 CR2=0000000000000000 CR3=0000000000105000 CR4=00000020
DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000
DR6=00000000ffff0ff0 DR7=0000000000000400
EFER=0000000000000d00
FCW=037f FSW=0000 [ST=0] FTW=00 MXCSR=00001f80
FPR0=0000000000000000 0000 FPR1=0000000000000000 0000
XMM00=0000000000000000 0000000000000000 XMM01=0000000000000000 0000000000000000
"""


def test_reset_state():
    regs = parse_info_registers((FIXTURES / "info_registers_x86_64_reset.txt").read_text())
    assert regs.cpu == 0
    assert (regs.idtr.base, regs.idtr.limit) == (0, 0xFFFF)
    assert (regs.gdtr.base, regs.gdtr.limit) == (0, 0xFFFF)
    assert regs.value("RIP", "EIP") == 0xFFF0
    assert regs.segments["CS"].selector == 0xF000
    assert regs.segments["CS"].base == 0xFFFF0000
    state = regs.cpu_state()
    assert state.mode is CpuMode.REAL
    assert state.cpl == 0


def test_long_mode():
    regs = parse_info_registers(LONG_MODE)
    assert (regs.idtr.base, regs.idtr.limit) == (0x102000, 0xFFF)
    assert (regs.gdtr.base, regs.gdtr.limit) == (0x103000, 0x2F)
    assert regs.values["R8"] == 0 and regs.values["RSP"] == 0x107FC8
    assert regs.values["CPL"] == 3
    assert regs.values["CR0"] == 0x80010011
    assert regs.values["EFER"] == 0xD00
    assert regs.segments["TR"].selector == 0x28
    assert regs.segments["CS"].notes.startswith("DPL=0 CS64")
    state = regs.cpu_state()
    assert state.mode is CpuMode.LONG
    assert state.cpl == 3


def test_protected_mode_from_cr0():
    text = LONG_MODE.replace("EFER=0000000000000d00", "EFER=0000000000000000")
    assert parse_info_registers(text).cpu_state().mode is CpuMode.PROTECTED


def test_cpu_number_is_read():
    assert parse_info_registers("CPU#3\n" + LONG_MODE).cpu == 3


def test_not_info_registers():
    with pytest.raises(MonitorParseError, match="not 'info registers' output: unknown command"):
        parse_info_registers("unknown command: 'info regsiters'\n")


# `info kvm` as QEMU 7.2 and 10.0 print it (the gdbstub relays "\r\n" too).
@pytest.mark.parametrize("text, kvm", [
    ("kvm support: enabled\r\n", True),
    ("kvm support: disabled\r\n", False),
    ("kvm support: not compiled\n", False),
])
def test_info_kvm(text, kvm):
    assert parse_info_kvm(text) is kvm


@pytest.mark.parametrize("text", ["", "unknown command: 'info kvm'\n", "kvm support: maybe\n"])
def test_info_kvm_rejects_other_replies(text):
    with pytest.raises(MonitorParseError, match="not 'info kvm' output"):
        parse_info_kvm(text)
