"""Scenario files for `isrdbg run`: parsing, validation and the verdict.

A scenario file (TOML) names a kernel, how to boot it, which vectors to
watch, and what to expect::

    kernel = "../build/x86_64/kernel.elf"    # relative to this file
    append = "scenario=bad-clobber-rbx"
    watch = "all"
    break_at = "scenario_start"

    [expect]
    exit_status = 3
    require = [{ rule = "clobbered-register", vector = 0x52 }]

Every key, its type and its default are in ``KEYS`` / ``EXPECT_KEYS`` /
``PATTERN_KEYS`` below; README.md "Scripted regression runs" documents the
format for users.  An unknown key, a wrong type or a bad value is a
``ScenarioError`` whose one-line message starts with ``FILE:LINE:``
(tomllib reports no positions for keys, so ``locate`` finds the key's line
in the text).

This module is pure: no gdb, no processes.  ``judge`` decides a scenario's
verdict from what a run observed, so the runner, the pytest plugin and the
unit tests share one rule.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Union

try:
    import tomllib
except ImportError:            # Python < 3.11
    import tomli as tomllib    # type: ignore[no-redef]

from gdbext.runs.boot_options import accel_problem, cpus_problem, memory_problem
from gdbext.errors import IsrError
from gdbext.tracking.findings import INFO, RULES
from gdbext.x86.vectors import parse_specs

DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 7 * 24 * 3600.0     # a week
ARCH_NAMES = ("i386", "x86_64")
SOURCES = ("run", "static")     # a finding seen in a handler run, or by isr-check


class ScenarioError(IsrError):
    """A scenario file is malformed: ``str(error)`` is ``FILE:LINE: message``."""

    def __init__(self, path: Union[str, Path], line: Optional[int], message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class FindingPattern:
    """One entry of ``allow`` or ``require``: a rule id, optionally narrowed
    to vectors and to where the finding was seen."""

    rule: str
    vectors: Optional[FrozenSet[int]] = None      # None: any vector
    source: Optional[str] = None                  # "run", "static" or None: either
    spec: Optional[str] = None                    # the vector as written, for messages
    register: Optional[str] = None                # the finding must name this register
    count: Optional[int] = None                   # exactly this many runs had it

    def matches(self, finding: "Observed") -> bool:
        if finding.rule != self.rule:
            return False
        if self.source is not None and finding.source != self.source:
            return False
        if self.vectors is not None and not self.vectors.intersection(finding.vectors):
            return False
        if self.register is not None and self.register not in finding.registers:
            return False
        if self.count is not None and finding.count != self.count:
            return False
        return True

    def describe(self) -> str:
        text = self.rule
        if self.register is not None:
            text += f" of {self.register}"
        if self.vectors is not None:
            text += f" on vector {self.spec}"
        if self.source is not None:
            text += " (static check)" if self.source == "static" else " (in a handler run)"
        if self.count is not None:
            text += f" in exactly {self.count} run{'s' if self.count != 1 else ''}"
        return text


@dataclass(frozen=True)
class Expectation:
    exit_status: Optional[int] = None
    allow: Tuple[FindingPattern, ...] = ()
    require: Tuple[FindingPattern, ...] = ()
    allow_info: bool = True
    min_runs: int = 1


@dataclass(frozen=True)
class Scenario:
    path: Path                       # the scenario file
    name: str
    kernel: Optional[Path]           # resolved against the file's directory; None: disk boot
    watch: Tuple[str, ...]           # SPEC words, as isr-watch takes them
    vectors: Tuple[int, ...]         # what they name
    append: str = ""
    qemu_args: Tuple[str, ...] = ()
    smp: int = 1
    initrd: Optional[Path] = None
    symbols: Optional[Path] = None
    drives: Tuple[Path, ...] = ()
    cdrom: Optional[Path] = None
    memory: Optional[str] = None     # None: the launcher's default
    accel: str = "tcg"               # regression runs want TCG's determinism by default
    arch: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT
    runs: Optional[int] = None       # stop once every watched vector ran this often
    break_at: Optional[str] = None
    check: bool = False
    description: str = ""
    skip_if_serial: Optional[str] = None    # regex: a matching serial line skips the verdict
    expect: Expectation = field(default_factory=Expectation)

    @property
    def watch_spec(self) -> str:
        return " ".join(self.watch)


@dataclass(frozen=True)
class Observed:
    """A finding a run observed, as the verdict sees it: ``count`` handler
    runs (or 1 for a static finding) of ``vectors`` had ``rule``."""

    rule: str
    vectors: Tuple[int, ...]
    source: str                      # "run" or "static"
    count: int = 1
    message: str = ""
    registers: FrozenSet[str] = frozenset()   # registers the kept findings name

    @property
    def severity(self) -> str:
        rule = RULES.get(self.rule)
        return rule.severity if rule else "error"

    def describe(self) -> str:
        where = "vector " + ",".join(str(v) for v in self.vectors) if self.vectors else "no vector"
        if self.source == "static":
            how = "static check"
        else:
            how = f"{self.count} handler run{'s' if self.count != 1 else ''}"
        text = f"{self.rule} on {where} ({how})"
        return f"{text}: {self.message}" if self.message else text


# -- the format -------------------------------------------------------------------------

# key -> (types accepted, description of the type for messages)
_STR = ((str,), "a string")
_INT = ((int,), "an integer")
_BOOL = ((bool,), "true or false")
_NUMBER = ((int, float), "a number")
_STR_LIST = ((list,), "a list of strings")
_SPEC = ((str, list), "a SPEC string or a list of SPEC strings")
_PATTERNS = ((list,), "a list of rule ids or {rule, vector, source} tables")

KEYS = {
    "name": _STR, "description": _STR, "kernel": _STR, "append": _STR,
    "qemu_args": _STR_LIST, "smp": _INT, "timeout": _NUMBER, "watch": _SPEC,
    "initrd": _STR, "symbols": _STR, "drives": _STR_LIST, "cdrom": _STR, "memory": _STR,
    "accel": _STR, "arch": _STR,
    "runs": _INT, "break_at": _STR, "check": _BOOL, "skip_if_serial": _STR,
    "expect": ((dict,), "a table"),
}
EXPECT_KEYS = {
    "exit_status": _INT, "allow": _PATTERNS, "require": _PATTERNS, "allow_info": _BOOL,
    "min_runs": _INT,
}
PATTERN_KEYS = {"rule": _STR, "vector": ((int, str), "a vector number or SPEC string"),
                "source": _STR, "register": _STR, "count": _INT}
REQUIRED = ("watch",)
BOOT_SOURCES = ("kernel", "drives", "cdrom")     # at least one of them


def _type_ok(value, types) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False                 # TOML true is not an integer
    return isinstance(value, types)


def _toml_name(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "an integer", float: "a float", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


# -- locating keys in the text ----------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _key_regex(key: str, first: bool = False) -> "re.Pattern":
    quoted = re.escape(key)
    lead = r"^\s*" if first else r"(^|[{,\s.])"
    return re.compile(rf'{lead}("{quoted}"|\'{quoted}\'|{quoted})\s*[=.]')


def _strip_strings(line: str) -> str:
    """The line with string contents blanked out and comments dropped, so
    that a key name inside a string or comment does not count."""
    out, quote, i = [], None, 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                out.append("  ")
                i += 2
                continue
            out.append(c if c == quote else " ")
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            out.append(c)
        elif c == "#":
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def locate(text: str, path: Sequence[Union[str, int]]) -> Optional[int]:
    """The 1-based line where the key ``path`` (table names, keys and list
    indexes, e.g. ("expect", "require", 1, "vector")) is written, as far as
    a line-based look at TOML can tell; the closest enclosing key's line
    when the exact one cannot be found; None when not even that is."""
    lines = [_strip_strings(line) for line in text.splitlines()]
    sections: List[Tuple[str, int, int]] = []     # (table name, header line, end line)
    current, start = "", 0
    for number, line in enumerate(lines):
        match = _HEADER.match(line)
        if match:
            sections.append((current, start, number))
            name = re.sub(r"\s*\.\s*", ".", match.group(1)).replace('"', "").replace("'", "")
            current, start = name, number
    sections.append((current, start, len(lines)))

    fallback = None
    for k in range(len(path), -1, -1):
        prefix = path[:k]
        if not all(isinstance(p, str) for p in prefix):
            continue
        rest = list(path[k:])
        candidates = [s for s in sections if s[0] == ".".join(prefix)]
        if rest and isinstance(rest[0], int):          # [[array.of.tables]]
            if rest[0] >= len(candidates):
                continue
            candidates = [candidates[rest[0]]]
            rest = rest[1:]
        for _, first, end in candidates:
            if not rest:
                return first + 1
            hit = _find_path(lines, first, end, rest)
            if hit is not None:
                return hit
            fallback = fallback or (first + 1 if prefix else None)
    return fallback


def _find_path(lines, first, end, rest) -> Optional[int]:
    """Line (1-based) of the key path ``rest`` within lines[first:end]; the
    deepest part found; None when its first key is not there."""
    regex = _key_regex(rest[0], first=True)
    for number in range(first, end):
        match = regex.search(lines[number])
        if match:
            break
    else:
        return None
    found = number
    position = (number, match.end())
    for part in rest[1:]:
        if isinstance(part, int):
            position = _nth_element(lines, position, part, end)
            if position is None:
                break
            found = position[0]
            continue
        regex = _key_regex(part)
        row, col = position
        hit = None
        for number in range(row, end):
            segment = lines[number][col:] if number == row else lines[number]
            match = regex.search(segment)
            if match:
                hit = (number, match.end() + (col if number == row else 0))
                break
            if "}" in segment or (number > row and _HEADER.match(lines[number])):
                break
        if hit is None:
            break
        found, position = hit[0], hit
    return found + 1


def _nth_element(lines, position, index, end):
    """(line, column) of element ``index`` of the array starting after ``position``."""
    row, col = position
    depth, count = 0, 0
    started = False
    for number in range(row, end):
        text = lines[number]
        for column in range(col if number == row else 0, len(text)):
            c = text[column]
            if not started:
                if c == "[":
                    started = True
                    depth = 1
                    if count == index:
                        return _next_token(lines, number, column + 1, end)
                continue
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    return None
            elif c == "," and depth == 1:
                count += 1
                if count == index:
                    return _next_token(lines, number, column + 1, end)
    return None


def _next_token(lines, row, col, end):
    for number in range(row, end):
        text = lines[number][col if number == row else 0:]
        stripped = text.lstrip()
        if stripped:
            return number, (col if number == row else 0) + len(text) - len(stripped)
    return row, col


# -- parsing ----------------------------------------------------------------------------

def load_scenario(path: Union[str, Path]) -> Scenario:
    """Read and validate a scenario file; ScenarioError (FILE:LINE: ...) if malformed."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScenarioError(path, None, f"cannot read: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")     # TOML is UTF-8, whatever the locale says
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ScenarioError(path, line, f"not UTF-8 text (byte {data[error.start]:#04x}); "
                                        f"TOML files are UTF-8") from None
    return parse_scenario(text, path)


def parse_scenario(text: str, path: Union[str, Path] = "<scenario>") -> Scenario:
    path = Path(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
        line = int(match.group(1)) if match else None
        if match:
            message = message[:match.start()]
        raise ScenarioError(path, line, f"not valid TOML: {message}") from None
    return _Validator(text, path).scenario(data)


class _Validator:
    def __init__(self, text: str, path: Path):
        self.text = text
        self.path = path

    def error(self, key_path, message) -> ScenarioError:
        return ScenarioError(self.path, locate(self.text, key_path), message)

    def check_keys(self, table: Dict[str, Any], allowed, where: Tuple) -> None:
        for key, value in table.items():
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                context = f" in [{'.'.join(str(w) for w in where)}]" if where else ""
                raise self.error(where + (key,), f"unknown key {key!r}{context} "
                                                 f"(known: {known})")
            types, described = allowed[key]
            if not _type_ok(value, types):
                name = ".".join(str(w) for w in where + (key,))
                raise self.error(where + (key,),
                                 f"{name} must be {described}, not {_toml_name(value)}")

    def scenario(self, data: Dict[str, Any]) -> Scenario:
        self.check_keys(data, KEYS, ())
        for key in REQUIRED:
            if key not in data:
                raise ScenarioError(self.path, None, f"missing key {key!r} (required: "
                                                     f"{', '.join(REQUIRED)})")
        if not any(key in data for key in BOOT_SOURCES):
            raise ScenarioError(self.path, None, "missing key 'kernel' (or 'drives'/'cdrom' for "
                                                 "a kernel that boots from a disk image)")
        kernel = self.file(data, "kernel")
        watch = data["watch"]
        words = [watch] if isinstance(watch, str) else watch
        for index, word in enumerate(words):
            if not isinstance(word, str):
                raise self.error(("watch", index), f"watch must be {_SPEC[1]}, "
                                                   f"not a list holding {_toml_name(word)}")
        for index, word in enumerate(words):
            try:
                parse_specs([word])
            except IsrError as error:
                where = ("watch", index) if isinstance(watch, list) else ("watch",)
                raise self.error(where, f"watch: {error}") from None
        try:
            vectors = parse_specs(words)
        except IsrError as error:          # an empty list
            raise self.error(("watch",), f"watch: {error}") from None
        qemu_args = data.get("qemu_args", [])
        for index, arg in enumerate(qemu_args):
            if not isinstance(arg, str):
                raise self.error(("qemu_args", index),
                                 f"qemu_args must be a list of strings, not a list holding "
                                 f"{_toml_name(arg)}")
        smp = data.get("smp", 1)
        for key, check in (("smp", cpus_problem), ("memory", memory_problem),
                           ("accel", accel_problem)):
            if key in data and check(data[key]):
                raise self.error((key,), f"{key} {check(data[key])}")
        if "arch" in data and data["arch"] not in ARCH_NAMES:
            raise self.error(("arch",), f"arch wants one of {', '.join(ARCH_NAMES)}, "
                                        f"got {data['arch']!r}")
        drives = data.get("drives", [])
        for index, drive in enumerate(drives):
            if not isinstance(drive, str):
                raise self.error(("drives", index), f"drives must be a list of strings, not a "
                                                    f"list holding {_toml_name(drive)}")
        timeout = float(data.get("timeout", DEFAULT_TIMEOUT))
        # not nan (every comparison false) nor inf; waits cannot take more than this
        if not (0 < timeout <= MAX_TIMEOUT):
            raise self.error(("timeout",), f"timeout must be a positive number of seconds "
                                           f"(at most {MAX_TIMEOUT:g}), not {timeout:g}")
        runs = data.get("runs")
        if runs is not None and runs < 1:
            raise self.error(("runs",), "runs must be at least 1")
        break_at = data.get("break_at")
        if break_at is not None and not break_at.strip():
            raise self.error(("break_at",), "break_at must name a symbol or location")
        check = data.get("check", break_at is not None)
        if check and break_at is None:
            raise self.error(("check",), "check = true needs break_at: the static check reads "
                                         "the kernel's IDT, so the run must stop once after the "
                                         "kernel loaded it (e.g. break_at = \"kmain\")")
        skip = data.get("skip_if_serial")
        if skip is not None:
            try:
                re.compile(skip)
            except re.error as error:
                raise self.error(("skip_if_serial",),
                                 f"skip_if_serial is not a regular expression: {error}") from None
        expect = self.expectation(data.get("expect", {}))
        if expect.exit_status is not None and runs is not None:
            raise self.error(("expect", "exit_status"),
                             "expect.exit_status cannot go with runs: with runs the runner "
                             "stops the kernel itself once the runs are collected")
        name = data.get("name") or self.path.stem
        return Scenario(path=self.path, name=name, kernel=kernel, watch=tuple(words),
                        vectors=vectors, append=data.get("append", ""),
                        qemu_args=tuple(qemu_args), smp=smp, timeout=timeout, runs=runs,
                        initrd=self.file(data, "initrd"), symbols=self.file(data, "symbols"),
                        drives=tuple(self.resolve(drive) for drive in drives),
                        cdrom=self.file(data, "cdrom"), memory=data.get("memory"),
                        accel=data.get("accel", "tcg"), arch=data.get("arch"),
                        break_at=break_at.strip() if break_at else None, check=bool(check),
                        description=data.get("description", ""), skip_if_serial=skip,
                        expect=expect)

    def resolve(self, text: str) -> Path:
        """A path as written in the file: relative to the file's directory."""
        path = Path(text).expanduser()
        return Path(os.path.normpath(path if path.is_absolute() else self.path.parent / path))

    def file(self, data: Dict[str, Any], key: str) -> Optional[Path]:
        return self.resolve(data[key]) if key in data else None

    def expectation(self, table: Dict[str, Any]) -> Expectation:
        self.check_keys(table, EXPECT_KEYS, ("expect",))
        min_runs = table.get("min_runs", 1)
        if min_runs < 0:
            raise self.error(("expect", "min_runs"), "expect.min_runs must not be negative")
        exit_status = table.get("exit_status")
        if exit_status is not None and not 0 <= exit_status <= 255:
            raise self.error(("expect", "exit_status"), "expect.exit_status must be 0..255")
        return Expectation(exit_status=exit_status,
                           allow=self.patterns(table.get("allow", []), "allow"),
                           require=self.patterns(table.get("require", []), "require"),
                           allow_info=table.get("allow_info", True), min_runs=min_runs)

    def patterns(self, entries: List[Any], key: str) -> Tuple[FindingPattern, ...]:
        found = []
        for index, entry in enumerate(entries):
            where = ("expect", key, index)
            table = isinstance(entry, dict)
            if isinstance(entry, str):
                entry = {"rule": entry}
            elif table:
                self.check_keys(entry, PATTERN_KEYS, where)
            else:
                raise self.error(where, f"expect.{key} entries must be rule ids or "
                                        f"{{rule, vector, source, register, count}} tables, not "
                                        f"{_toml_name(entry)}")
            if "rule" not in entry:
                raise self.error(where, f"expect.{key}[{index}] needs a rule")
            rule = entry["rule"]
            if rule not in RULES:
                raise self.error(where + ("rule",) if table else where,
                                 f"unknown rule {rule!r} (known: {', '.join(sorted(RULES))})")
            vectors = spec = None
            if "vector" in entry:
                value = entry["vector"]
                spec = str(value)
                try:
                    vectors = frozenset(parse_specs([spec]))
                except IsrError as error:
                    raise self.error(where + ("vector",), f"expect.{key}[{index}].vector: "
                                                          f"{error}") from None
                if isinstance(value, int):
                    spec = f"{value} ({value:#x})" if value >= 32 else str(value)
            source = entry.get("source")
            if source is not None and source not in SOURCES:
                raise self.error(where + ("source",), f"expect.{key}[{index}].source must be "
                                                      f"{' or '.join(map(repr, SOURCES))}")
            register = entry.get("register")
            if register is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", register):
                raise self.error(where + ("register",), f"expect.{key}[{index}].register must be "
                                                        f"a register name such as \"rbx\"")
            count = entry.get("count")
            if count is not None and count < 1:
                raise self.error(where + ("count",), f"expect.{key}[{index}].count must be at "
                                                     f"least 1")
            found.append(FindingPattern(rule, vectors, source, spec, register, count))
        return tuple(found)


def registers_named(details: Optional[Dict[str, Any]]) -> FrozenSet[str]:
    """The registers a finding's details name: ``registers`` is {name: [entry, exit]}
    (runs), {name: writer} or [names] (static)."""
    named = (details or {}).get("registers") or ()
    return frozenset(named)


def make_expectation(allow: Iterable[Any] = (), require: Iterable[Any] = (),
                     allow_info: bool = True, min_runs: int = 0,
                     exit_status: Optional[int] = None) -> Expectation:
    """An Expectation from Python values written as in a scenario's [expect]
    (rule ids, or dicts with rule, vector, source); ScenarioError if one is wrong."""
    table = {"allow": list(allow), "require": list(require), "allow_info": allow_info,
             "min_runs": min_runs}
    if exit_status is not None:
        table["exit_status"] = exit_status
    return _Validator("", Path("<expectation>")).expectation(table)


# -- the verdict ------------------------------------------------------------------------

PASS = "pass"
FAIL = "fail"
ERROR = "error"
SKIP = "skip"


@dataclass
class Verdict:
    status: str                          # PASS, FAIL or ERROR
    problems: List[str]                  # why it is not PASS (one line each)
    unexpected: List[Observed]
    missing: List[FindingPattern]


def judge(expect: Expectation, observed: Iterable[Observed], runs: int,
          exit_status: Optional[int], exited: bool, errors: Sequence[str] = (),
          skipped: Optional[str] = None) -> Verdict:
    """PASS when every observed finding is expected (required, allowed, or info
    while ``allow_info``), every required one occurred, enough runs were
    seen and the kernel exited as expected.  ``errors`` (infrastructure
    problems) make it ERROR whatever else holds; otherwise ``skipped`` (why:
    the serial line that matched skip_if_serial) makes it SKIP."""
    observed = list(observed)
    unexpected = [o for o in observed
                  if not (expect.allow_info and o.severity == INFO)
                  and not any(p.matches(o) for p in expect.require + expect.allow)]
    missing = [p for p in expect.require if not any(p.matches(o) for o in observed)]
    problems = [f"unexpected {o.describe()}" for o in unexpected]
    problems += [f"required {p.describe()} did not occur" for p in missing]
    if runs < expect.min_runs:
        problems.append(f"{runs} handler run{'s' if runs != 1 else ''} observed, expected at "
                        f"least {expect.min_runs}")
    if expect.exit_status is not None and exited and exit_status != expect.exit_status:
        problems.append(f"kernel exit status {exit_status}, expected {expect.exit_status}")
    if errors:
        # the run did not finish: what did not happen says nothing, what did does
        seen = [f"unexpected {o.describe()}" for o in unexpected]
        return Verdict(ERROR, list(errors) + seen, unexpected, missing)
    if skipped is not None:
        return Verdict(SKIP, [f"skipped: {skipped}"], unexpected, missing)
    return Verdict(FAIL if problems else PASS, problems, unexpected, missing)
