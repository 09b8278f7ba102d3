"""The target adapter: the one module that reads the target through GDB's API.

It gives the core what it asks for (memory, registers, the CPU state behind
IDTR) and turns GDB's failures into one-line ``IsrError``s.
"""

from contextlib import contextmanager
from typing import Dict, Iterable, Optional

import gdb  # noqa: the adapter is the one core module that may

from .errors import TargetError, TargetMemoryError
from .qemu_monitor import (InfoRegisters, MonitorParseError, parse_byte_dump,
                           parse_info_registers)
from .settings import Settings, resolve_cpu_state
from .x86 import CpuMode, CpuState


def _as_int(value: gdb.Value) -> int:
    """A register as an integer; vector registers (xmm) through their uint128 view."""
    if value.type.strip_typedefs().code in (gdb.TYPE_CODE_UNION, gdb.TYPE_CODE_STRUCT):
        # GDB 13 cannot convert 128-bit integers: combine the two 64-bit lanes.
        lanes = value["v2_int64"]
        mask = (1 << 64) - 1
        return (int(lanes[1]) & mask) << 64 | (int(lanes[0]) & mask)
    # GDB types rax and friends as signed: report the bits as the CPU holds them.
    return int(value) & ((1 << (8 * value.type.sizeof)) - 1)


class NoMonitor(TargetError):
    """The target is not QEMU: it has no ``monitor info registers``."""


def _is_connection_lost(error: gdb.error) -> bool:
    text = str(error)
    return "Remote connection closed" in text or "Remote communication error" in text


class GdbTarget:
    """The inferior GDB has selected, seen as the core's Target protocol."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # Inside a Breakpoint.stop() GDB still reports the thread as running,
        # though the target is halted and can be read.
        self.in_stop_handler = False

    # -- state checks -------------------------------------------------------------
    def require_stopped(self) -> None:
        """Raise ``TargetError`` unless a target is connected and stopped."""
        inferior = gdb.selected_inferior()
        thread = gdb.selected_thread()
        if inferior.connection is None or thread is None or not inferior.is_valid():
            raise TargetError("no target connected (start one with `isrdbg gdb KERNEL` "
                              "or `target remote ...`)")
        if thread.is_running() and not self.in_stop_handler:
            raise TargetError("the target is running; stop it first (Ctrl-C or `interrupt`)")

    @contextmanager
    def stopped_in_breakpoint(self):
        """For work done in Breakpoint.stop(), where the target is halted."""
        previous, self.in_stop_handler = self.in_stop_handler, True
        try:
            yield self
        finally:
            self.in_stop_handler = previous

    @property
    def cpu(self) -> int:
        """Index of the selected CPU: QEMU numbers its gdbstub threads CPU + 1."""
        thread = gdb.selected_thread()
        if thread is None:
            return 0
        connection = gdb.selected_inferior().connection
        if connection is not None and connection.type == "remote" and thread.ptid[1] > 0:
            return thread.ptid[1] - 1
        return thread.num - 1

    @property
    def architecture(self) -> str:
        return gdb.selected_inferior().architecture().name()

    @property
    def address_bits(self) -> int:
        return 64 if "64" in self.architecture else 32

    # -- reading ------------------------------------------------------------------
    def read_memory(self, address: int, size: int) -> bytes:
        try:
            return bytes(gdb.selected_inferior().read_memory(address, size))
        except gdb.MemoryError as error:
            raise TargetMemoryError(address, size, "not mapped or not readable") from error
        except gdb.error as error:
            raise self._target_error(error) from error

    def is_mapped(self, address: int) -> bool:
        try:
            gdb.selected_inferior().read_memory(address, 1)
            return True
        except gdb.error:
            return False

    def read_physical(self, address: int, size: int) -> bytes:
        """Physical memory, through QEMU's monitor (page tables need not be mapped)."""
        text = self.monitor(f"xp /{size}bx {address:#x}")
        try:
            return parse_byte_dump(text, address, size)
        except MonitorParseError:
            raise TargetMemoryError(address, size, "physical memory not readable") from None

    @property
    def att_syntax(self) -> bool:
        """Disassemble as GDB would: `set disassembly-flavor`."""
        try:
            return gdb.parameter("disassembly-flavor") != "intel"
        except gdb.error:
            return True

    def registers(self, names: Iterable[str], optional: bool = False) -> Dict[str, int]:
        """Values of ``names``; with ``optional``, registers GDB lacks are left out."""
        # The innermost frame: the CPU's registers even after `up`.
        frame = gdb.newest_frame()
        values = {}
        for name in names:
            try:
                values[name] = _as_int(frame.read_register(name))
            except ValueError:  # register this architecture does not have
                if optional:
                    continue
                raise TargetError(f"GDB's {self.architecture} register set has no {name}") from None
            except gdb.error as error:
                raise self._target_error(error) from error
        return values

    def monitor(self, command: str) -> str:
        try:
            return gdb.execute(f"monitor {command}", to_string=True)
        except gdb.error as error:
            if "not supported" in str(error):
                raise NoMonitor("this target has no QEMU monitor") from error
            raise self._target_error(error) from error

    def info_registers(self) -> InfoRegisters:
        """QEMU's ``info registers`` for the CPU GDB has selected."""
        self.monitor(f"cpu {self.cpu}")
        text = self.monitor("info registers")
        try:
            return parse_info_registers(text)
        except MonitorParseError as error:
            raise TargetError(f"unexpected QEMU monitor reply: {error}") from error

    def cpu_state(self) -> CpuState:
        self.require_stopped()
        if self.settings.overrides_idt:
            regs = self.registers(["cr0", "efer", "cs"], optional=True)
            default = CpuMode.LONG if self.address_bits == 64 else CpuMode.PROTECTED
            return resolve_cpu_state(self.settings, self.cpu, None, regs.get("cr0"),
                                     regs.get("efer"), regs.get("cs", 0), default)
        try:
            info = self.info_registers()
        except NoMonitor as error:
            raise TargetError(f"cannot read IDTR: {error}; give the table with "
                              f"`set isr idt-base ADDR` (and `set isr idt-limit N`)") from error
        return resolve_cpu_state(self.settings, self.cpu, info)

    def symbolize(self, address: int) -> Optional[str]:
        """``symbol+offset`` for ``address``, from full or minimal symbols."""
        try:
            text = gdb.execute(f"info symbol {address:#x}", to_string=True).strip()
        except gdb.error:
            return None
        if text.startswith("No symbol matches"):
            return None
        name = text.split(" in section ")[0]
        return name.replace(" + ", "+") if "+" in name else f"{name}+0"

    @staticmethod
    def _target_error(error: gdb.error) -> TargetError:
        if _is_connection_lost(error):
            return TargetError("lost the connection to the target (did QEMU exit?)")
        return TargetError(str(error).splitlines()[0] if str(error) else "target error")
