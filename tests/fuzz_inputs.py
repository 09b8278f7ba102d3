"""Malformed and edge command lines for every isr command, `set isr`
parameter and $_isr_* function: the inputs of tests/integration/test_fuzz.py.

Deterministic: the full set is built from fixed word lists, and the sample
the normal suite runs is drawn with a fixed seed, so a failure reproduces.

A ``FuzzLine`` is either a CLI line (``mi`` None) or an MI command
(``mi`` = (MI name, argv)).  ``name`` is what an isrdbg error must start
with; ``ours`` says whether an error is isrdbg's wording (else it is GDB's
own, e.g. for `set isr mode bogus`, and only has to be one line).
"""

import random
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class FuzzLine:
    name: str
    line: str
    ours: bool = True
    mi: Optional[Tuple[str, Tuple[str, ...]]] = None

    def __str__(self):
        if self.mi is None:
            return self.line
        return " ".join((self.mi[0],) + tuple(repr(a) for a in self.mi[1]))


# SPEC words: valid, malformed and hostile.
SPECS = (
    "14", "0x20", "255", "0", "#PF", "pf", "page-fault", "nmi", "all", "exceptions", "irqs",
    "interrupts", "32-47", "0x20-0x2f", "13,14", "EXCEPTIONS", "#pf",
    "256", "-1", "-0", "+14", "0o17", "0b1110", "1_4", "014", "0x", "0X14", "14.0", "1e1",
    "\uff11\uff14", "\u0661\u0664", "\u00b9", "32-", "-32", "47-32", "32--40", "1-2-3",
    "#", "##PF", "#PF#", "pagefault", "page_fault", "Page Fault", ",", ",,", "14,", ",14",
    "9" * 40, "9" * 5000, "0x" + "f" * 40, "a" * 300, "\u200b14", "14\u00a0", "caf\u00e9",
    "\U0001f4a5", "$rsp", "$_isr_vector()", "*0", "&idt", "(14)", "14)", "'14'", '"14"',
    "'", '"', "\\", "\\n", "$(id)", "`id`", ";", "|", "&", "%s%n", "{}", "--", "-", "if",
)

OPTIONS = {
    "isr-idt": ("--all", "--json", "--al", "--jsn", "--all=1", "-a"),
    "isr-break": ("--hw", "--json", "--hw=1", "--HW", "--no-stop"),
    "isr-watch": ("--no-stop", "--json", "--nostop", "--no-stop=yes", "--hw"),
    "isr-delete": ("--json", "--all"),
    "isr-check": ("--json", "--all", "--verbose"),
    "isr-trace": ("--limit", "--limit 0", "--limit -1", "--limit x", "--limit 1.5",
                  "--limit 99999999999999999999999", "--limit 1", "--json", "--limit=3"),
    "isr-frame": ("--at", "--at 0", "--at $rsp", "--at $sp+8", "--at nosuch", "--at (",
                  "--at 0xffffffffffffffff", "--at -1", "--at 0x1ffffffffffffffff",
                  "--at \"$rsp\"", "--at 'x'", "--at {int}0", "--at $_isr_frame()",
                  "--vector", "--vector 300", "--vector all", "--vector 32-", "--vector #PF",
                  "--vector 14", "--json", "--at 0 --vector 14", "--frame"),
    "isr-diff": ("--vector", "--vector 14", "--vector all", "--vector -1", "--last",
                 "--last 0", "--last -5", "--last 3", "--last x", "--last 99999999999999999999",
                 "--all", "--json", "--last 1 --vector 32"),
    "isr-saved": ("--json", "--all", "14"),
    "isr-status": ("--json", "--all", "14", "now"),
    "info isr-breakpoints": ("--json", "14", "all", "--hw"),
    # only refused lines: a valid isr-interrupt stops the running target on purpose
    "isr-interrupt": ("14", "--all", "--json extra", "now", "--json=1"),
}

# Lines written out whole: regressions from issue 16 and shapes the
# combinations below do not reach.
EXPLICIT = (
    ("isr-idt", "isr-idt 32-"),
    ("isr-idt", "isr-idt 0o17"),
    ("isr-idt", "isr-idt +14"),
    ("isr-idt", "isr-idt -0"),
    ("isr-idt", "isr-idt \uff11\uff14"),
    ("isr-idt", "isr-idt \"14"),
    ("isr-idt", "isr-idt '14"),
    ("isr-idt", "isr-idt \\"),
    ("isr-idt", "isr-idt 14 " * 50),
    ("isr-break", "isr-break"),
    ("isr-break", "isr-break if"),
    ("isr-break", "isr-break 14 if"),
    ("isr-break", "isr-break if 1"),
    ("isr-break", "isr-break 14 if ("),
    ("isr-break", "isr-break 14 if nosuch_symbol == 1"),
    ("isr-break", "isr-break 14 if $_streq(\"a\",\"a\")"),
    ("isr-break", "isr-break 14 if $isr_error_code & 2"),
    ("isr-break", "isr-break 14 if if"),
    ("isr-break", "isr-break 14 iff 1"),
    ("isr-break", "isr-break --hw 14 if 1 if 2"),
    ("isr-break", "isr-break 14 if \"unterminated"),
    ("isr-break", "isr-break 14 if $_isr_vector(1)"),
    ("isr-watch", "isr-watch"),
    ("isr-watch", "isr-watch --no-stop"),
    ("isr-delete", "isr-delete"),
    ("isr-delete", "isr-delete 14"),
    ("isr-delete", "isr-delete 300"),
    ("isr-trace", "isr-trace"),
    ("isr-trace", "isr-trace report"),
    ("isr-trace", "isr-trace report --json"),
    ("isr-trace", "isr-trace report extra"),
    ("isr-trace", "isr-trace stop"),
    ("isr-trace", "isr-trace stop now"),
    ("isr-trace", "isr-trace clear"),
    ("isr-trace", "isr-trace clear --json"),
    ("isr-trace", "isr-trace --limit 2"),
    ("isr-trace", "isr-trace report 14"),
    ("isr-trace", "isr-trace REPORT"),
    ("isr-frame", "isr-frame"),
    ("isr-frame", "isr-frame 14"),
    ("isr-diff", "isr-diff"),
    ("isr-saved", "isr-saved"),
    ("isr-check", "isr-check"),
    ("isr-check", "isr-check all"),
    ("isr-status", "isr-status"),
    ("info isr-breakpoints", "info isr-breakpoints"),
)

# (parameter, values, whether isrdbg parses the value itself)
PARAMETER_VALUES = (
    ("idt-base", ("", "auto", "AUTO", "0", "0x1000", "-1", "0x1ffffffffffffffff",
                  "0xffffffffffffffff", "99999999999999999999999999", "1.5", "$rsp", "$pc",
                  "nosuch", "(", "\"str\"", "'c'", "{int}0", "$_isr_frame()", "1 2",
                  "\uff11", "0x", "1e3", "-0", "+1", "&scenario_start", "*(long*)0"), True),
    ("idt-limit", ("", "auto", "0", "0xfff", "0xffff", "0x10000", "-1", "65535", "65536",
                   "1.5", "nosuch", "0x1ffffffffffffffff"), True),
    ("mode", ("", "auto", "long", "LONG", "real", "protected", "bogus", "long long"), False),
    ("trace-history", ("", "0", "1", "-1", "1000", "99999999999", "x", "unlimited", "1.5"),
     False),
    ("idt-watch", ("", "on", "off", "maybe", "1", "0", "on off"), False),
    ("register-packet", ("", "on", "off", "maybe", "2"), False),
)

FUNCTIONS = ("$_isr_vector", "$_isr_error_code", "$_isr_frame", "$_isr_in_handler")
FUNCTION_ARGUMENTS = ("", "1", "1, 2", "\"a\"", "$rsp", "$_isr_vector()")

OTHER = (
    ("set isr", "set isr"),
    ("show isr", "show isr"),
    ("set isr", "set isr nosuch 1"),
    ("show isr", "show isr nosuch"),
    ("set isr", "set isr idt-base-x 1"),
)

MI_COMMANDS = ("isr-idt", "isr-break", "isr-watch", "isr-delete", "isr-frame", "isr-diff",
               "isr-saved", "isr-check", "isr-trace", "isr-status", "info isr-breakpoints",
               "isr-interrupt")


def mi_name(name: str) -> str:
    return "-" + name.replace("info ", "", 1)


def cli_lines() -> List[FuzzLine]:
    lines = [FuzzLine(name, line) for name, line in EXPLICIT]
    takes_specs = ("isr-idt", "isr-break", "isr-watch", "isr-delete", "isr-check", "isr-trace")
    for name in takes_specs:
        for spec in SPECS:
            lines.append(FuzzLine(name, f"{name} {spec}"))
    for name, options in OPTIONS.items():
        for option in options:
            lines.append(FuzzLine(name, f"{name} {option}"))
            if name in takes_specs:
                lines.append(FuzzLine(name, f"{name} {option} 14"))
    for parameter, values, ours in PARAMETER_VALUES:
        command = f"set isr {parameter}"
        for value in values:
            lines.append(FuzzLine(command, f"{command} {value}".rstrip(), ours))
        lines.append(FuzzLine(f"show isr {parameter}", f"show isr {parameter}"))
        lines.append(FuzzLine(f"show isr {parameter}", f"show isr {parameter} extra", False))
    for function in FUNCTIONS:
        for argument in FUNCTION_ARGUMENTS:
            # GDB evaluates $rsp before calling: no registers is GDB's error
            lines.append(FuzzLine(function, f"print {function}({argument})",
                                  ours="$rsp" not in argument))
    lines += [FuzzLine(name, line) for name, line in OTHER]
    return lines


def mi_lines() -> List[FuzzLine]:
    """The same arguments over MI (each word one MI argument, quoted as needed)."""
    lines = []
    for name in MI_COMMANDS:
        for spec in SPECS[::3]:
            lines.append(FuzzLine(name, "", mi=(mi_name(name), (spec,))))
        for option in OPTIONS.get(name, ()):
            lines.append(FuzzLine(name, "", mi=(mi_name(name), tuple(option.split()))))
        if name != "isr-interrupt":
            lines.append(FuzzLine(name, "", mi=(mi_name(name), ())))
    lines += [
        FuzzLine("isr-break", "", mi=("-isr-break", ("14", "if", '$_streq("a","a")'))),
        FuzzLine("isr-break", "", mi=("-isr-break", ("14", "if"))),
        FuzzLine("isr-break", "", mi=("-isr-break", ("14", "if", "("))),
        FuzzLine("isr-trace", "", mi=("-isr-trace", ("report", "--json"))),
        FuzzLine("isr-trace", "", mi=("-isr-trace", ("stop",))),
        FuzzLine("isr-trace", "", mi=("-isr-trace", ("clear",))),
        FuzzLine("isr-idt", "", mi=("-isr-idt", ("14", "\n"))),
        FuzzLine("isr-idt", "", mi=("-isr-idt", ("\t",))),
        FuzzLine("isr-idt", "", mi=("-isr-idt", ("",))),
    ]
    return lines


def everything() -> List[FuzzLine]:
    return list(dict.fromkeys(cli_lines() + mi_lines()))


def sample(lines: Sequence[FuzzLine], size: int, seed: int) -> List[FuzzLine]:
    """``size`` lines: every explicit (regression) line, then a seeded draw."""
    lines = list(lines)
    explicit = {line for _, line in EXPLICIT}
    chosen = [line for line in lines if line.mi is None and line.line in explicit]
    rest = [line for line in lines if line not in chosen]
    random.Random(seed).shuffle(rest)
    return chosen[:size] + rest[:max(0, size - len(chosen))]
