"""`set isr ...` / `show isr ...`: settings for targets that are not QEMU."""

import re

import gdb

from gdbext.x86.cpu import CpuMode

from .base import SETTINGS, TRACKER, one_line


# Every `set isr`/`show isr` parameter by its name after "isr " (for `show isr`).
PARAMETERS = {}


class _Prefix(gdb.Command):
    """`set isr` / `show isr` with nothing after them act as GDB's own
    prefixes (`set print`, `show print`) do: list the settings."""

    def __init__(self, name, doc):
        self.name = name
        self.__doc__ = doc
        super().__init__(name, gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)

    def invoke(self, argument, from_tty):
        words = argument.split()
        if words:   # GDB hands a prefix with invoke() the words it has no subcommand for
            raise gdb.GdbError(f"{self.name}: no setting {words[0]!r} "
                               f"(see `help {self.name}`)")
        if self.name.startswith("show"):
            for name in sorted(PARAMETERS):
                shown = gdb.execute(f"show isr {name}", to_string=True).strip()
                gdb.write(f"isr {name}:  {shown}\n")
        else:
            gdb.write(f'"{self.name}" must be followed by the name of a setting.\n')
            gdb.write(gdb.execute(f"help {self.name}", to_string=True))


def _parameter(parameter):
    PARAMETERS[parameter.name] = parameter
    return parameter


# Written as numbers, checked here: GDB would truncate 0x1ffffffffffffffff to
# 64 bits.  Anything else is a GDB expression (&idt_table, $rsp + 8).
_LITERAL = re.compile(r"-?(?:[0-9]+|0x[0-9a-f]+)", re.ASCII | re.IGNORECASE)
_INTEGRAL = (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_ENUM, gdb.TYPE_CODE_BOOL,
             gdb.TYPE_CODE_CHAR)


def parse_optional_int(text, command, maximum):
    """``text`` as a number in 0..``maximum``, or None for "auto" (or nothing)."""
    text = (text or "").strip()
    if text in ("", "auto"):
        return None
    if _LITERAL.fullmatch(text):
        if len(text.lstrip("-")) > 20:
            raise gdb.GdbError(f"{command}: {text[:20]}... is out of range (0-{maximum:#x})")
        hexadecimal = text.lstrip("-")[:2].lower() == "0x"
        number = int(text, 16 if hexadecimal else 10)
    else:
        try:
            value = gdb.parse_and_eval(text)
            code = value.type.strip_typedefs().code
            if code == gdb.TYPE_CODE_VOID:
                raise gdb.GdbError(f"{command}: {text} has no value")
            if code not in _INTEGRAL:
                raise gdb.GdbError(f"{command}: {text} is not a number or an address")
            number = int(value)
        except gdb.error as error:
            raise gdb.GdbError(f"{command}: {one_line(error)}") from None
    if not 0 <= number <= maximum:
        raise gdb.GdbError(f"{command}: {text} is out of range (0-{maximum:#x})")
    return number


class _OptionalNumber(gdb.Parameter):
    """A number, or "auto" to take it from the target."""

    def __init__(self, name, field, maximum, set_doc, show_doc, doc):
        self.name = name
        self.field = field
        self.maximum = maximum
        self.command = f"set isr {name}"
        self.set_doc, self.show_doc, self.__doc__ = set_doc, show_doc, doc
        super().__init__(f"isr {name}", gdb.COMMAND_DATA, gdb.PARAM_STRING)
        self.value = self.accepted = "auto"

    def get_set_string(self):
        try:
            number = parse_optional_int(self.value, self.command, self.maximum)
        except gdb.GdbError:
            self.value = self.accepted     # GDB stored the rejected text: `show` must not
            raise
        setattr(SETTINGS, self.field, number)
        self.value = self.accepted = "auto" if number is None else f"{number:#x}"
        return ""

    def get_show_string(self, svalue):
        return f"{self.show_doc} is {svalue}."


class _Mode(gdb.Parameter):
    """The CPU mode isrdbg decodes the IDT's gates for: auto (from CR0/EFER), real,
protected, long."""

    name = "mode"

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

    name = "trace-history"
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
Up to 8 armed gates are watched without a memory read at breakpoint hits;
over more, GDB re-reads the watched range each time it inserts breakpoints,
twice per handler breakpoint hit.  With `off`, gate changes are followed at
every stop and after every `lidt` only."""

    name = "idt-watch"
    set_doc = "Set whether writes to armed gates are watched."
    show_doc = "Watching writes to armed gates"

    def apply(self, on):
        from gdbext.gdbside.arming import REGISTRY
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
        from gdbext.gdbside.state import TARGET
        TARGET.register_packet = on


def register():
    _Prefix("set isr", "Settings of the isrdbg interrupt-handler debugger.")
    _Prefix("show isr", "Show settings of the isrdbg interrupt-handler debugger.")
    _parameter(_OptionalNumber(
        "idt-base", "idt_base", (1 << 64) - 1, "Set the IDT base address (auto: from QEMU).",
        "The IDT base address",
        "The IDT base address isrdbg reads, for targets without a QEMU monitor, or `auto` "
        "to read IDTR from QEMU."))
    _parameter(_OptionalNumber(
        "idt-limit", "idt_limit", 0xffff, "Set the IDT limit (auto: from QEMU or 256 gates).",
        "The IDT limit",
        "The IDT limit isrdbg uses, in bytes minus one (0-0xffff), or `auto`."))
    for parameter in (_Mode, _TraceHistory, _IdtWatch, _RegisterPacket):
        _parameter(parameter())
