"""User settings (``set isr ...``) and how they combine with what the target
reports to give the CPU state the decoders use."""

from dataclasses import dataclass, replace
from typing import Optional

from gdbext.decode.qemu_monitor import InfoRegisters
from gdbext.x86.cpu import CpuMode, CpuState, DescriptorTableRegister, cpu_mode


@dataclass
class Settings:
    """Overrides for targets that cannot report IDTR or the mode (not QEMU),
    or for looking at a table that is not the loaded one."""

    idt_base: Optional[int] = None
    idt_limit: Optional[int] = None
    mode: Optional[CpuMode] = None    # None: from CR0/EFER

    @property
    def overrides_idt(self) -> bool:
        return self.idt_base is not None


def resolve_cpu_state(settings: Settings, cpu: int, info: Optional[InfoRegisters] = None,
                      cr0: Optional[int] = None, efer: Optional[int] = None,
                      cs: int = 0, default_mode: CpuMode = CpuMode.PROTECTED) -> CpuState:
    """Combine monitor output (``info``), registers from the target and settings.

    ``info`` wins for what only it knows (IDTR, GDTR, CPL); settings win over
    both; without either, ``cr0``/``efer`` give the mode, else ``default_mode``.
    """
    if info is not None:
        state = info.cpu_state()
    else:
        mode = cpu_mode(cr0, efer or 0) if cr0 is not None else default_mode
        control = {name: value for name, value in (("cr0", cr0), ("efer", efer)) if value is not None}
        state = CpuState(cpu=cpu, mode=mode, cpl=cs & 3, idtr=None, gdtr=None, source="settings",
                         control=control)
    if settings.mode is not None:
        state = replace(state, mode=settings.mode)
    if settings.idt_base is not None:
        limit = settings.idt_limit
        if limit is None:
            limit = 256 * state.mode.gate_size - 1
        state = replace(state, idtr=DescriptorTableRegister(settings.idt_base, limit),
                        source="settings")
    elif settings.idt_limit is not None and state.idtr is not None:
        state = replace(state, idtr=DescriptorTableRegister(state.idtr.base, settings.idt_limit))
    return state
