"""`set isr ...` / `show isr ...`: settings for targets that are not QEMU."""

import gdb

from gdbext.x86 import CpuMode

from .base import SETTINGS, TRACKER


class _Prefix(gdb.Command):
    def __init__(self, name, doc):
        self.__doc__ = doc
        super().__init__(name, gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)


def _parse_optional_int(text, command):
    text = (text or "").strip()
    if text in ("", "auto"):
        return None
    try:
        return int(gdb.parse_and_eval(text))
    except gdb.error as error:
        raise gdb.GdbError(f"{command}: {error}") from None


class _OptionalNumber(gdb.Parameter):
    """A number, or "auto" to take it from the target."""

    def __init__(self, name, field, set_doc, show_doc, doc):
        self.field = field
        self.command = f"set isr {name}"
        self.set_doc, self.show_doc, self.__doc__ = set_doc, show_doc, doc
        super().__init__(f"isr {name}", gdb.COMMAND_DATA, gdb.PARAM_STRING)
        self.value = "auto"

    def get_set_string(self):
        number = _parse_optional_int(self.value, self.command)
        setattr(SETTINGS, self.field, number)
        self.value = "auto" if number is None else f"{number:#x}"
        return ""

    def get_show_string(self, svalue):
        return f"{self.show_doc} is {svalue}."


class _Mode(gdb.Parameter):
    """CPU mode that decides the gate format: auto (from CR0/EFER), real, protected, long."""

    set_doc = "Set the CPU mode used to decode the IDT."
    show_doc = "The CPU mode used to decode the IDT"

    def __init__(self):
        super().__init__("isr mode", gdb.COMMAND_DATA, gdb.PARAM_ENUM,
                         ["auto", "real", "protected", "long"])
        self.value = "auto"

    def get_set_string(self):
        SETTINGS.mode = None if self.value == "auto" else CpuMode.parse(self.value)
        return ""

    def get_show_string(self, svalue):
        return f"{self.show_doc} is {svalue}."


class _TraceHistory(gdb.Parameter):
    """How many completed handler runs isrdbg keeps (isr-trace, isr-diff --last):
the latest N, and as many runs with findings.  Counters stay exact whatever N."""

    set_doc = "Set how many completed handler runs are kept."
    show_doc = "The number of completed handler runs kept"

    def __init__(self):
        super().__init__("isr trace-history", gdb.COMMAND_DATA, gdb.PARAM_ZUINTEGER)
        self.value = TRACKER.history

    def get_set_string(self):
        if self.value < 1:
            self.value = TRACKER.history
            raise gdb.GdbError("set isr trace-history: keep at least 1 run")
        TRACKER.resize(self.value)
        return ""

    def get_show_string(self, svalue):
        return f"{self.show_doc} is {svalue}."


class _Switch(gdb.Parameter):
    """A `set isr NAME on|off` parameter, on by default; ``apply(on)`` acts on a change."""

    name = ""

    def __init__(self):
        super().__init__(f"isr {self.name}", gdb.COMMAND_DATA, gdb.PARAM_BOOLEAN)
        self.value = True

    def get_set_string(self):
        self.apply(bool(self.value))
        return ""

    def get_show_string(self, svalue):
        return f"{self.show_doc} is {svalue}."

    def apply(self, on: bool) -> None:
        raise NotImplementedError


class _IdtWatch(_Switch):
    """Whether isrdbg watches the gates of armed vectors for writes (a hardware
watchpoint), to re-arm at once when the kernel installs another handler.
GDB re-reads a watched range each time it inserts breakpoints, twice per
handler breakpoint hit; with `off`, gate changes are followed at every stop
and after every `lidt` only, and tracing is faster."""

    name = "idt-watch"
    set_doc = "Set whether writes to armed gates are watched."
    show_doc = "Watching writes to armed gates"

    def apply(self, on):
        from .arming import REGISTRY
        REGISTRY.watch_writes = on
        try:
            REGISTRY.refresh()
        except gdb.error:
            pass


class _RegisterPacket(_Switch):
    """Whether isrdbg's breakpoints read the registers at a handler's entry and
exit with one `g` packet sent straight to the remote stub (on), or through
GDB's frame 0 (off).  The packet costs one round trip to the stub and no
frame; it is used only where GDB talks to a remote stub and the packet's PC
is the breakpoint's address, else isrdbg falls back to frames by itself.
Turn it off for a stub whose `g` reply does not follow GDB's register
thread."""

    name = "register-packet"
    set_doc = "Set whether handler breakpoints read registers with one g packet."
    show_doc = "Reading registers at handler breakpoints with one g packet"

    def apply(self, on):
        from .state import TARGET
        TARGET.register_packet = on


def register():
    _Prefix("set isr", "Settings of the isrdbg interrupt-handler debugger.")
    _Prefix("show isr", "Show settings of the isrdbg interrupt-handler debugger.")
    _OptionalNumber("idt-base", "idt_base", "Set the IDT base address (auto: from QEMU).",
                    "The IDT base address",
                    "IDT base address for targets without a QEMU monitor, or `auto` "
                    "to read IDTR from QEMU.")
    _OptionalNumber("idt-limit", "idt_limit", "Set the IDT limit (auto: from QEMU or 256 gates).",
                    "The IDT limit",
                    "IDT limit in bytes minus one, or `auto`.")
    _Mode()
    _TraceHistory()
    _IdtWatch()
    _RegisterPacket()
