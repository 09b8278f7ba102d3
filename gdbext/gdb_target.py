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


class VectorRegister:
    """An xmm register's value as the per-interrupt path keeps it: a gdb.Value
    (its 16 bytes, fetched), turned into an int only when looked at -- GDB 13
    takes five calls for that -- and compared with another one by GDB.  An
    entry's and an exit's xmm registers are nearly always equal, so a trace
    rarely converts one.  Behaves as the int for everything the core does
    with register values (compare, hash, format)."""

    __slots__ = ("_value", "_int")

    def __init__(self, value: gdb.Value):
        self._value = value
        self._int = None

    def __int__(self) -> int:
        if self._int is None:
            self._int = _as_int(self._value, None)
            self._value = None
        return self._int

    __index__ = __int__

    def __eq__(self, other):
        if isinstance(other, VectorRegister):
            if self._int is None and other._int is None:
                try:
                    return bool(self._value == other._value)
                except gdb.error:
                    pass
            return int(self) == int(other)
        if isinstance(other, int):
            return int(self) == other
        return NotImplemented

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self):
        return hash(int(self))

    def __format__(self, spec):
        return format(int(self), spec)

    def __repr__(self):
        return f"{int(self):#x}"


class _FrameId:
    def __init__(self, sp, pc):
        self.sp, self.pc = sp, pc


try:
    from gdb.unwinder import Unwinder as _Unwinder, register_unwinder as _register_unwinder
except ImportError:     # a GDB without Python unwinders
    _Unwinder = object
    _register_unwinder = None


class _RegisterSnapshot(_Unwinder):
    """Reading registers inside a breakpoint's stop() without unwinding.

    Any register read goes through frame 0, and building frame 0 runs GDB's
    unwinders: prologue analysis reads the code at PC and the stack, and a
    Python Frame object unwinds frame 1 as well (its caller's code) -- about
    six memory round trips per stop, while the registers themselves are in
    GDB's register cache already (one `g` packet per stop).  While a request
    is set, this unwinder (consulted before GDB's own) claims frame 0 at the
    requested PC and reads the requested registers from the pending frame,
    i.e. straight from the register cache; it saves no register for the
    caller, so nothing unwinds further.  The frames built that way are
    dropped right after (gdb.invalidate_cached_frames): nothing else sees
    them."""

    def __init__(self):
        super().__init__("isrdbg-register-snapshot")
        self.request = None     # (pc, pc descriptor, sp descriptor, [(name, descriptor)], masks)
        self.values = None

    def __call__(self, pending_frame):
        request = self.request
        if request is None or pending_frame.level() != 0:
            return None
        pc, pc_register, sp_register, reads, masks = request
        pc_value = pending_frame.read_register(pc_register)
        if int(pc_value) != pc:
            return None
        values = {}
        for name, register in reads:
            value = pending_frame.read_register(register)
            mask = masks.get(name, -1)
            if mask == -1:
                mask = masks[name] = _mask(value)
            if mask is None:
                if value.is_lazy:
                    value.fetch_lazy()
                values[name] = VectorRegister(value)
            else:
                values[name] = int(value) & mask
        self.values = values
        sp_value = pending_frame.read_register(sp_register)
        return pending_frame.create_unwind_info(_FrameId(sp_value, pc_value))


_SNAPSHOT = None


def _snapshot_unwinder():
    global _SNAPSHOT
    if _SNAPSHOT is None and _register_unwinder is not None:
        try:
            unwinder = _RegisterSnapshot()
            _register_unwinder(None, unwinder, replace=True)
            _SNAPSHOT = unwinder
        except (RuntimeError, TypeError, AttributeError):
            _SNAPSHOT = False
    return _SNAPSHOT or None


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
        self._descriptor_cache = {}
        self._stop_cpu = None
        self._stop_bits = None

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
        """For work done in Breakpoint.stop(), where the target is halted (and
        the selected CPU cannot change)."""
        previous, self.in_stop_handler = self.in_stop_handler, True
        saved = self._stop_cpu, self._stop_bits
        self._stop_cpu = self._stop_bits = None
        try:
            yield self
        finally:
            self.in_stop_handler = previous
            self._stop_cpu, self._stop_bits = saved

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
        connection = gdb.selected_inferior().connection
        if connection is not None and connection.type == "remote" and thread.ptid[1] > 0:
            return thread.ptid[1] - 1
        return thread.num - 1

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
                  at: Optional[int] = None) -> Dict[str, int]:
        """Values of ``names``; with ``optional``, registers GDB lacks are left out.

        ``at``: inside a breakpoint's stop(), the breakpoint's address: the
        registers are read without unwinding the stack (see _RegisterSnapshot),
        and vector registers come as VectorRegister.
        """
        snapshot = _snapshot_unwinder() if at is not None and self.in_stop_handler else None
        if snapshot is None:
            return self._registers(names, optional)
        arch = gdb.selected_inferior().architecture()
        descriptors, masks = self._descriptors(arch)
        pc_name, sp_name = ("rip", "rsp") if "64" in arch.name() else ("eip", "esp")
        if pc_name not in descriptors:
            return self._registers(names, optional)
        names = tuple(names)
        reads = [(name, descriptors[name]) for name in names if name in descriptors]
        snapshot.request = (at, descriptors[pc_name], descriptors[sp_name], reads, masks)
        snapshot.values = None
        try:
            gdb.newest_frame()
        except gdb.error:
            pass        # "PC not saved": frame 1, which nothing needs
        finally:
            snapshot.request = None
            gdb.invalidate_cached_frames()
        values = snapshot.values
        if values is None:      # frame 0 was built before: read it the usual way
            return self._registers(names, optional)
        if len(values) < len(names):
            values.update(self._registers([n for n in names if n not in values], optional))
        return values

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

    @staticmethod
    def _target_error(error: gdb.error) -> TargetError:
        if _is_connection_lost(error):
            return TargetError("lost the connection to the target (did QEMU exit?)")
        return TargetError(str(error).splitlines()[0] if str(error) else "target error")
