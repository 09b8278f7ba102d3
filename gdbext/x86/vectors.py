"""The one table of x86 vector facts, and parsing of vector SPECs.

Everything that needs to know what vector N is (its mnemonic, its name, whether
the CPU pushes an error code for it, how that code is laid out) asks this
module.  Sources: Intel SDM vol. 3A, table 6-1; AMD APM vol. 2, table 8-1.
"""

import re
from dataclasses import dataclass
from typing import Optional, Tuple

from gdbext.errors import UsageError

NUM_VECTORS = 256
FIRST_INTERRUPT = 32

# Layouts of the error code, named for the decoder that reads them.
EC_NONE = None
EC_ZERO = "zero"              # pushed, always 0 (#DF, #AC)
EC_SELECTOR = "selector"      # EXT / IDT / TI / index (#TS, #NP, #SS, #GP)
EC_PAGE_FAULT = "page-fault"  # P W/R U/S RSVD I/D PK SS SGX
EC_CONTROL_PROTECTION = "control-protection"
EC_VMM = "vmm-exit-code"      # #VC: the exit code of the event
EC_SECURITY = "security"      # #SX (AMD)


@dataclass(frozen=True)
class Vector:
    number: int
    mnemonic: str          # "#PF", "NMI", "" for interrupts
    name: str              # "Page Fault"
    kind: str              # "fault", "trap", "fault/trap", "abort", "interrupt", "reserved"
    error_code: Optional[str] = EC_NONE   # layout when the CPU pushes one, else None

    @property
    def pushes_error_code(self) -> bool:
        """True when the CPU pushes an error code *when it raises this exception*.

        Software ``int N`` and external interrupts never push one, whatever N is.
        """
        return self.error_code is not None

    @property
    def is_exception(self) -> bool:
        return self.number < FIRST_INTERRUPT

    @property
    def slug(self) -> str:
        """The name in SPEC form: "Page Fault" -> "page-fault"."""
        return "-".join(self.name.lower().replace("/", " ").split())

    @property
    def label(self) -> str:
        """"14 #PF Page Fault" as shown to users."""
        mnem = f" {self.mnemonic}" if self.mnemonic else ""
        return f"{self.number}{mnem} {self.name}"


def _exceptions():
    rows = [
        (0, "#DE", "Divide Error", "fault", EC_NONE),
        (1, "#DB", "Debug", "fault/trap", EC_NONE),
        (2, "NMI", "Non-Maskable Interrupt", "interrupt", EC_NONE),
        (3, "#BP", "Breakpoint", "trap", EC_NONE),
        (4, "#OF", "Overflow", "trap", EC_NONE),
        (5, "#BR", "BOUND Range Exceeded", "fault", EC_NONE),
        (6, "#UD", "Invalid Opcode", "fault", EC_NONE),
        (7, "#NM", "Device Not Available", "fault", EC_NONE),
        (8, "#DF", "Double Fault", "abort", EC_ZERO),
        (9, "", "Coprocessor Segment Overrun", "fault", EC_NONE),
        (10, "#TS", "Invalid TSS", "fault", EC_SELECTOR),
        (11, "#NP", "Segment Not Present", "fault", EC_SELECTOR),
        (12, "#SS", "Stack-Segment Fault", "fault", EC_SELECTOR),
        (13, "#GP", "General Protection", "fault", EC_SELECTOR),
        (14, "#PF", "Page Fault", "fault", EC_PAGE_FAULT),
        (15, "", "Reserved", "reserved", EC_NONE),
        (16, "#MF", "x87 Floating-Point Error", "fault", EC_NONE),
        (17, "#AC", "Alignment Check", "fault", EC_ZERO),
        (18, "#MC", "Machine Check", "abort", EC_NONE),
        (19, "#XM", "SIMD Floating-Point Exception", "fault", EC_NONE),
        (20, "#VE", "Virtualization Exception", "fault", EC_NONE),
        (21, "#CP", "Control Protection", "fault", EC_CONTROL_PROTECTION),
        (28, "#HV", "Hypervisor Injection", "fault", EC_NONE),
        (29, "#VC", "VMM Communication", "fault", EC_VMM),
        (30, "#SX", "Security Exception", "fault", EC_SECURITY),
    ]
    known = {row[0]: Vector(*row) for row in rows}
    for n in range(FIRST_INTERRUPT):
        known.setdefault(n, Vector(n, "", "Reserved", "reserved", EC_NONE))
    return known


def _build_table():
    table = _exceptions()
    for n in range(FIRST_INTERRUPT, NUM_VECTORS):
        table[n] = Vector(n, "", "Interrupt", "interrupt", EC_NONE)
    return tuple(table[n] for n in range(NUM_VECTORS))


VECTORS: Tuple[Vector, ...] = _build_table()

# SPEC words naming a set of vectors.
CLASSES = {
    "all": range(0, NUM_VECTORS),
    "exceptions": range(0, FIRST_INTERRUPT),
    "irqs": range(FIRST_INTERRUPT, NUM_VECTORS),
    "interrupts": range(FIRST_INTERRUPT, NUM_VECTORS),
}


def _name_index():
    """Every word that names one vector: "#pf", "pf", "page-fault", "nmi"."""
    index = {}
    for vec in VECTORS:
        if not vec.is_exception or vec.kind == "reserved":
            continue
        index[vec.slug] = vec.number
        if vec.mnemonic:
            index[vec.mnemonic.lower()] = vec.number
            index[vec.mnemonic.lower().lstrip("#")] = vec.number
    index["xf"] = index["#xf"] = 19  # AMD's name for #XM
    return index


NAMES = _name_index()


def vector(number: int) -> Vector:
    return VECTORS[number]


def spec_words():
    """Words offered by completion: class names, mnemonics, slugs."""
    return sorted(set(CLASSES) | {w for w in NAMES if not w.startswith("#")} |
                  {v.mnemonic for v in VECTORS if v.mnemonic.startswith("#")})


# A vector number as people write it: decimal or 0x-hex, ASCII digits only.
# int(text, 0) would also take 0o17, 0b1, +14, -0, 1_0 and non-ASCII digits.
_NUMBER = re.compile(r"(?:0|[1-9][0-9]*|0x[0-9a-f]+)", re.ASCII)


def _parse_number(text: str) -> int:
    if text.startswith("-") and _NUMBER.fullmatch(text[1:]):
        raise UsageError(f"vector {text[:9]} is out of range (0-255)")
    if not _NUMBER.fullmatch(text):
        shown = text if len(text) <= 24 else text[:24] + "..."
        raise UsageError(f"not a vector: {shown!r} (expected a number, range, name or "
                         f"class such as 14, 32-47, #PF, page-fault, exceptions)")
    if len(text) > 8:       # no vector needs more; also spares int() a huge string
        raise UsageError(f"vector {text[:8]}... is out of range (0-255)")
    value = int(text, 0)
    if not 0 <= value < NUM_VECTORS:
        raise UsageError(f"vector {value} is out of range (0-255)")
    return value


def parse_spec(text: str) -> Tuple[int, ...]:
    """One SPEC word to the sorted vectors it names.

    Accepts ``14``, ``0x20``, ``32-47``, ``#PF``/``pf``/``page-fault`` and the
    classes ``exceptions``, ``irqs``, ``all``.
    """
    word = text.strip().lower()
    if not word:
        raise UsageError("empty vector spec")
    if word in CLASSES:
        return tuple(CLASSES[word])
    if word in NAMES:
        return (NAMES[word],)
    if "-" in word and word[0] in "0123456789":
        first, _, last = word.partition("-")
        if not last:
            raise UsageError(f"range {text.strip()} has no end (e.g. 32-47)")
        lo, hi = _parse_number(first), _parse_number(last)
        if lo > hi:
            raise UsageError(f"empty vector range {text!r}: {lo} > {hi}")
        return tuple(range(lo, hi + 1))
    return (_parse_number(word),)


def parse_specs(words) -> Tuple[int, ...]:
    """Several SPEC words (or comma-separated ones) to their sorted union."""
    found = set()
    for word in words:
        for part in word.split(","):
            if part:
                found.update(parse_spec(part))
    if not found:
        raise UsageError("no vectors given")
    return tuple(sorted(found))


def format_vector_list(vectors) -> str:
    """Sorted vectors as compact ranges: [3, 33, 34, 35] -> "3,33-35"."""
    runs = []
    for v in sorted(set(vectors)):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def parse_one(text: str, option: str = "--vector") -> int:
    """A SPEC that must name exactly one vector (an option's value)."""
    found = parse_spec(text)
    if len(found) != 1:
        raise UsageError(f"{option} wants one vector, {text!r} names {len(found)}")
    return found[0]
