"""The target adapter: the one module that reads the target through GDB's API.

It gives the core what it asks for (memory, registers, the CPU state behind
IDTR) and turns GDB's failures into one-line ``IsrError``s.
"""

from typing import Dict, Iterable, Mapping, Optional

import gdb  # noqa: the adapter is the one core module that may

from gdbext.errors import TargetError, TargetMemoryError
from gdbext.decode.qemu_monitor import (InfoRegisters, MonitorParseError, parse_byte_dump,
                           parse_info_registers)
from gdbext.x86.register_file import LayoutError, RawRegisters, RegisterLayout
from gdbext.decode.settings import Settings, resolve_cpu_state
from gdbext.x86.cpu import CpuMode, CpuState


_LANE = (1 << 64) - 1


def _mask(value: gdb.Value) -> Optional[int]:
    """How to read a register of ``value``'s type as an integer: the mask of
    its width, or None for a vector register (xmm)."""
    kind = value.type.strip_typedefs()
    if kind.code in (gdb.TYPE_CODE_UNION, gdb.TYPE_CODE_STRUCT):
        return None
    return (1 << (8 * kind.sizeof)) - 1


def _as_int(value: gdb.Value, mask: Optional[int] = -1) -> int:
    """A register as an integer; vector registers (xmm) through their uint128 view."""
    if mask == -1:
        mask = _mask(value)
    if mask is None:
        # GDB 13 cannot convert 128-bit integers: combine the two 64-bit lanes.
        lanes = value["v2_int64"]
        return (int(lanes[1]) & _LANE) << 64 | (int(lanes[0]) & _LANE)
    # GDB types rax and friends as signed: report the bits as the CPU holds them.
    return int(value) & mask


RUNNING = "the target is running; stop it first (Ctrl-C or `interrupt`)"


class NoMonitor(TargetError):
    """The target is not QEMU: it has no ``monitor info registers``."""


def _is_connection_lost(error: gdb.error) -> bool:
    text = str(error)
    return "Remote connection closed" in text or "Remote communication error" in text


class _InBreakpoint:
    """GdbTarget.stopped_in_breakpoint's context (a class: it runs twice per
    interrupt, and a generator-based context manager costs several times more)."""

    __slots__ = ("target", "saved")

    def __init__(self, target):
        self.target = target

    def __enter__(self):
        target = self.target
        self.saved = target.in_stop_handler, target._stop_cpu, target._stop_bits
        target.in_stop_handler = True
        target._stop_cpu = target._stop_bits = None
        return target

    def __exit__(self, *exc):
        target = self.target
        target.in_stop_handler, target._stop_cpu, target._stop_bits = self.saved
        return False


class GdbTarget:
    """The inferior GDB has selected, seen as the core's Target protocol."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # Inside a Breakpoint.stop() GDB still reports the thread as running,
        # though the target is halted and can be read.
        self.in_stop_handler = False
        self._descriptor_cache = {}
        self._layouts = {}      # architecture -> RegisterLayout, or False: none
        self._wire = None       # see _wire_for
        self.register_packet = True     # `set isr register-packet`
        self._stop_cpu = None
        self._stop_bits = None
        # Why the last target went away ("the target exited: QEMU status 3
        # ..."), until a new one is connected (gdbext/gdbside/lifecycle.py).
        self.gone: Optional[str] = None

    # -- state checks -------------------------------------------------------------
    @property
    def connected(self) -> bool:
        # connection_num, not connection: no gdb.TargetConnection object is
        # made just to ask (see processes.GDB_END_SIGNAL for what they cost)
        inferior = gdb.selected_inferior()
        return (inferior.is_valid() and inferior.connection_num is not None
                and gdb.selected_thread() is not None)

    def forget_connection(self) -> None:
        """The target went away: hold nothing of its connection."""
        self._wire = None

    def require_stopped(self) -> None:
        """Raise ``TargetError`` unless a target is connected and stopped."""
        if not self.connected:
            if self.gone:
                raise TargetError(f"no target connected ({self.gone})")
            raise TargetError("no target connected (start one with `isrdbg gdb KERNEL` "
                              "or `target remote ...`)")
        self.require_not_running()

    def require_not_running(self) -> None:
        """Raise ``TargetError`` while the selected thread runs (no target is
        fine): GDB can neither insert nor delete breakpoints then."""
        thread = gdb.selected_thread()
        if thread is not None and thread.is_running() and not self.in_stop_handler:
            raise TargetError(RUNNING)

    def stopped_in_breakpoint(self) -> "_InBreakpoint":
        """For work done in Breakpoint.stop(), where the target is halted (and
        the selected CPU cannot change)."""
        return _InBreakpoint(self)

    @property
    def cpu(self) -> int:
        """Index of the selected CPU: QEMU numbers its gdbstub threads CPU + 1."""
        if self.in_stop_handler:
            if self._stop_cpu is None:
                self._stop_cpu = self._selected_cpu()
            return self._stop_cpu
        return self._selected_cpu()

    def _selected_cpu(self) -> int:
        thread = gdb.selected_thread()
        if thread is None:
            return 0
        lwp = thread.ptid[1]
        if lwp > 0 and self._is_remote():
            return lwp - 1
        return thread.num - 1

    @staticmethod
    def _is_remote() -> bool:
        """A remote stub (QEMU's), where thread ids are CPU numbers + 1."""
        inferior = gdb.selected_inferior()
        if inferior.connection_num is None:
            return False
        return inferior.connection.type == "remote"

    @property
    def architecture(self) -> str:
        return gdb.selected_inferior().architecture().name()

    @property
    def address_bits(self) -> int:
        if self.in_stop_handler:
            if self._stop_bits is None:
                self._stop_bits = 64 if "64" in self.architecture else 32
            return self._stop_bits
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

    def registers(self, names: Iterable[str], optional: bool = False,
                  at: Optional[int] = None) -> Mapping[str, int]:
        """Values of ``names``; with ``optional``, registers GDB lacks are left out.

        ``at``: inside a breakpoint's stop(), the breakpoint's address: the
        registers come from one `g` packet (a RawRegisters, optional names
        left out) when the target is a remote stub, without building a frame.
        """
        if at is not None and self.in_stop_handler and self.register_packet:
            raw = self._raw_registers(tuple(names), at)
            if raw is not None:
                return raw
        return self._registers(names, optional)

    def _raw_registers(self, names, pc: int) -> Optional[RawRegisters]:
        """``names`` from a `g` packet sent now, or None where that cannot be
        done or trusted.  GDB has just fetched the stopped CPU's registers to
        find the breakpoint, so the stub's register thread (Hg) is that CPU;
        the packet's PC must still be the breakpoint's address."""
        inferior = gdb.selected_inferior()
        connection = inferior.connection
        arch = inferior.architecture().name()
        wire = self._wire
        if wire is None or wire[0] is not connection or wire[1] != arch:
            wire = self._wire = self._wire_for(connection, arch)
        _, _, send, layout, pc_name = wire
        if send is None:
            return None
        try:
            registers = layout.decode(send("g"), names + (pc_name,))
            if registers[pc_name] != pc:
                return None
        except (gdb.error, LayoutError, KeyError):
            return None
        return registers

    def _wire_for(self, connection, arch: str):
        """(connection, architecture, its send_packet, the g layout, the PC's
        name) for the per-interrupt path; send_packet None where there is no
        remote stub."""
        send = getattr(connection, "send_packet", None)
        layout = self._layouts.get(arch)
        if layout is None:
            layout = self._layouts[arch] = self._register_layout()
        if layout is False:
            send = None
        return connection, arch, send, layout, "rip" if "64" in arch else "eip"

    @staticmethod
    def _register_layout():
        try:
            return RegisterLayout.parse(gdb.execute("maint print remote-registers",
                                                    to_string=True))
        except (gdb.error, LayoutError):
            return False    # not a remote target: frames it is

    def _registers(self, names: Iterable[str], optional: bool) -> Dict[str, int]:
        # The innermost frame: the CPU's registers even after `up`.
        frame = gdb.newest_frame()
        descriptors, masks = self._descriptors(frame.architecture())
        values = {}
        for name in names:
            try:
                value = frame.read_register(descriptors.get(name, name))
                mask = masks.get(name, -1)
                if mask == -1:
                    mask = masks[name] = _mask(value)
                values[name] = _as_int(value, mask)
            except ValueError:  # register this architecture does not have
                if optional:
                    continue
                raise TargetError(f"GDB's {self.architecture} register set has no {name}") from None
            except gdb.error as error:
                raise self._target_error(error) from error
        return values

    def _descriptors(self, arch):
        """(descriptors, masks) by register name, per architecture.  GDB looks
        a register name up by scanning every register's name, some 5 us for
        xmm0 (number 164 of x86-64's); a descriptor goes straight to it.  The
        masks (see _mask) spare asking each value for its type."""
        name = arch.name()
        found = self._descriptor_cache.get(name)
        if found is None:
            try:
                descriptors = {d.name: d for d in arch.registers()}
            except (AttributeError, gdb.error):    # GDB before 11
                descriptors = {}
            found = self._descriptor_cache[name] = (descriptors, {})
        return found

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

    def _target_error(self, error: gdb.error) -> TargetError:
        if _is_connection_lost(error):
            if self.gone:   # isrdbg knows why (gdbext/gdbside/lifecycle.py)
                return TargetError(f"lost the connection to the target: {self.gone}")
            return TargetError("lost the connection to the target (did QEMU exit?)")
        return TargetError(str(error).splitlines()[0] if str(error) else "target error")
