"""Scenario files (gdbext.runs.scenario): the format, its FILE:LINE errors, and the
verdict; plus every bundled scenario file parses."""

from pathlib import Path

import pytest

from gdbext.runs.scenario import (ERROR, FAIL, PASS, SKIP, FindingPattern, Observed, ScenarioError,
                             judge, load_scenario, locate, make_expectation, parse_scenario)

ROOT = Path(__file__).resolve().parents[2]
FULL = '''\
name = "clobber"
description = "a broken handler"
kernel = "../build/kernel.elf"
append = "scenario=bad-clobber-rbx"
qemu_args = ["-cpu", "qemu64"]
smp = 2
timeout = 12.5
watch = ["0x52", "#PF"]
break_at = "scenario_start"
skip_if_serial = "not built"

[expect]
exit_status = 3
allow_info = false
min_runs = 2
allow = ["frame-modified", { rule = "interrupts-enabled-in-handler", vector = "32-47" }]
require = [
  { rule = "clobbered-register", vector = 0x52, source = "run" },
  { rule = "clobbered-register", vector = 82, source = "static" },
]
'''


def error_of(text, name="suite/sc.toml"):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, name)
    return str(caught.value)


def test_every_key(tmp_path):
    path = tmp_path / "dir" / "sc.toml"
    path.parent.mkdir()
    path.write_text(FULL)
    s = load_scenario(path)
    assert s.name == "clobber" and s.description == "a broken handler"
    assert s.kernel == tmp_path / "build" / "kernel.elf"       # relative to the file
    assert s.append == "scenario=bad-clobber-rbx" and s.qemu_args == ("-cpu", "qemu64")
    assert (s.smp, s.timeout, s.runs) == (2, 12.5, None)
    assert s.watch == ("0x52", "#PF") and s.watch_spec == "0x52 #PF" and s.vectors == (14, 82)
    assert s.break_at == "scenario_start" and s.check is True      # check follows break_at
    assert s.skip_if_serial == "not built"
    e = s.expect
    assert (e.exit_status, e.allow_info, e.min_runs) == (3, False, 2)
    assert e.allow == (FindingPattern("frame-modified"),
                       FindingPattern("interrupts-enabled-in-handler",
                                      frozenset(range(32, 48)), None, "32-47"))
    assert [(p.rule, p.vectors, p.source) for p in e.require] == [
        ("clobbered-register", frozenset({82}), "run"),
        ("clobbered-register", frozenset({82}), "static")]
    assert e.require[0].describe() == "clobbered-register on vector 82 (0x52) (in a handler run)"


def test_defaults():
    s = parse_scenario('kernel = "/k.elf"\nwatch = "all"\n', "/x/timer.toml")
    assert s.name == "timer" and s.kernel == Path("/k.elf") and s.vectors == tuple(range(256))
    assert (s.append, s.qemu_args, s.smp, s.timeout, s.runs) == ("", (), 1, 60.0, None)
    assert (s.break_at, s.check, s.skip_if_serial) == (None, False, None)
    e = s.expect
    assert (e.exit_status, e.allow, e.require, e.allow_info, e.min_runs) == \
        (None, (), (), True, 1)
    assert parse_scenario('kernel = "k"\nwatch = "14"\nbreak_at = "kmain"\ncheck = false\n'
                          ).check is False
    dotted = parse_scenario('kernel = "k"\nwatch = "14"\nexpect.exit_status = 1\n')
    assert dotted.expect.exit_status == 1


KNOWN_KEYS = ("accel, append, arch, break_at, cdrom, check, description, drives, expect, "
              "initrd, kernel, memory, name, qemu_args, runs, skip_if_serial, smp, symbols, "
              "timeout, watch")


@pytest.mark.parametrize("text,message", [
    ('kernel = "k"\nwatch = "14"\nwatchh = 3\n',
     "suite/sc.toml:3: unknown key 'watchh' (known: " + KNOWN_KEYS + ")"),
    ('kernel = "k"\n\nwatch = 14\n',
     "suite/sc.toml:3: watch must be a SPEC string or a list of SPEC strings, not an integer"),
    ('kernel = "k"\nwatch = "14"\ntimeout = true\n',
     "suite/sc.toml:3: timeout must be a number, not a boolean"),
    ('kernel = "k"\nwatch = "14"\nsmp = "2"\n', "suite/sc.toml:3: smp must be an integer, not a string"),
    ('kernel = "k"\nwatch = "14"\nqemu_args = ["-m",\n  4]\n',
     "suite/sc.toml:4: qemu_args must be a list of strings, not a list holding an integer"),
    ('kernel = "k"\nwatch = [\n  "14",\n  "nonsense",\n]\n',
     "suite/sc.toml:4: watch: not a vector: 'nonsense' (expected a number, range, name or "
     "class such as 14, 32-47, #PF, page-fault, exceptions)"),
    ('kernel = "k"\nwatch = "14"\n[expect]\nexit_status = 1\nalow = ["x"]\n',
     "suite/sc.toml:5: unknown key 'alow' in [expect] (known: allow, allow_info, exit_status, "
     "min_runs, require)"),
    ('kernel = "k"\nwatch = "14"\n[expect]\nexit_status = "1"\n',
     "suite/sc.toml:4: expect.exit_status must be an integer, not a string"),
    ('kernel = "k"\nwatch = "14"\n[expect]\nrequire = [\n'
     '  { rule = "clobbered-register", vector = 13 },\n'
     '  { rule = "clobbered-register", vectr = 13 },\n]\n',
     "suite/sc.toml:6: unknown key 'vectr' in [expect.require.1] (known: count, register, rule, source, vector)"),
    ('kernel = "k"\nwatch = "14"\n[expect]\nrequire = [{ rule = "clobbered-register" },\n'
     '  { rule = "clobbered-register", vector = "zzz" }]\n',
     "suite/sc.toml:5: expect.require[1].vector: not a vector: 'zzz' (expected a number, "
     "range, name or class such as 14, 32-47, #PF, page-fault, exceptions)"),
    ('kernel = "k"\nwatch = "14"\n[expect]\nallow = [{ rule = "frame-modified", source = "x" }]\n',
     "suite/sc.toml:4: expect.allow[0].source must be 'run' or 'static'"),
    ('kernel = "k"\nwatch = "14"\n[expect]\nallow = [13]\n',
     "suite/sc.toml:4: expect.allow entries must be rule ids or {rule, vector, source, "
     "register, count} tables, not an integer"),
    ('kernel = "k"\nwatch = "14"\n[expect]\nrequire = [{ rule = "frame-modified", '
     'register = "RBX!" }]\n',
     "suite/sc.toml:4: expect.require[0].register must be a register name such as \"rbx\""),
    ('kernel = "k"\nwatch = "14"\n[expect]\nrequire = [{ rule = "frame-modified", count = 0 }]\n',
     "suite/sc.toml:4: expect.require[0].count must be at least 1"),
    ('kernel = "k"\nwatch = "14"\nbreak_at = "kmain"\n[expect]\nallow = [{ vector = 13 }]\n',
     "suite/sc.toml:5: expect.allow[0] needs a rule"),
    ('kernel = "k"\nwatch = "14"\ncheck = true\n',
     "suite/sc.toml:3: check = true needs break_at: the static check reads the kernel's IDT, "
     "so the run must stop once after the kernel loaded it (e.g. break_at = \"kmain\")"),
    ('kernel = "k"\nwatch = "14"\nruns = 3\n[expect]\nexit_status = 1\n',
     "suite/sc.toml:5: expect.exit_status cannot go with runs: with runs the runner stops the "
     "kernel itself once the runs are collected"),
    ('kernel = "k"\nwatch = "14"\nruns = 0\n', "suite/sc.toml:3: runs must be at least 1"),
    ('kernel = "k"\nwatch = "14"\nskip_if_serial = "("\n',
     "suite/sc.toml:3: skip_if_serial is not a regular expression: missing ), unterminated "
     "subpattern at position 0"),
    ('kernel = "k"\nwatch = \n', "suite/sc.toml:2: not valid TOML: Invalid value"),
    ('watch = "14"\n', "suite/sc.toml: missing key 'kernel' (or 'drives'/'cdrom' for a kernel that "
     "boots from a disk image)"),
    ('kernel = "k"\nwatch = "14"\nsmp = 0\n',
     "suite/sc.toml:3: smp wants a number of CPUs from 1 to 255, got 0"),
    ('kernel = "k"\nwatch = "14"\nmemory = "lots"\n',
     "suite/sc.toml:3: memory wants a size such as 512M or 2G, got 'lots'"),
    ('kernel = "k"\nwatch = "14"\naccel = "hvf"\n',
     "suite/sc.toml:3: accel wants one of auto, kvm, tcg, got 'hvf'"),
    # a key name inside a string or a comment is not the key
    ('kernel = "k"  # watchh = 1\nappend = "watchh = 2"\nwatch = "14"\n\nwatchh = 3\n',
     "suite/sc.toml:5: unknown key 'watchh' (known: " + KNOWN_KEYS + ")"),
])
def test_errors_name_file_and_line(text, message):
    assert error_of(text) == message


def test_unknown_rule_lists_the_known_ones():
    message = error_of('kernel = "k"\nwatch = "14"\n[expect]\nrequire = [\n'
                       '  "clobbered-register",\n  "nope",\n]\n')
    assert message.startswith("suite/sc.toml:6: unknown rule 'nope' (known: clobbered-register, ")
    message = error_of('kernel = "k"\nwatch = "14"\n[expect]\nrequire = [\n'
                       '  { vector = 13,\n    rule = "nope" }]\n')
    assert message.startswith("suite/sc.toml:")   # inline tables are one line in TOML 1.0


def test_locate():
    text = ('a = 1\n[expect]\n# require = 0\nrequire = [\n  { rule = "x", vector = 1 },\n'
            '  { rule = "y",  vector = 2 },\n]\n[[runs]]\nx = 1\n[[runs]]\nx = 2\n')
    assert locate(text, ("a",)) == 1
    assert locate(text, ("expect",)) == 2
    assert locate(text, ("expect", "require")) == 4
    assert locate(text, ("expect", "require", 1)) == 6
    assert locate(text, ("expect", "require", 1, "vector")) == 6
    assert locate(text, ("expect", "nothing")) == 2            # the enclosing table
    assert locate(text, ("runs", 1, "x")) == 11
    assert locate(text, ("nothing",)) is None


def obs(rule, vectors, source="run", count=1):
    return Observed(rule, tuple(vectors), source, count)


def test_judge_no_findings_expected():
    expect = make_expectation(min_runs=1)
    assert judge(expect, [], runs=3, exit_status=1, exited=True).status == PASS
    verdict = judge(expect, [obs("clobbered-register", [82])], 1, 1, True)
    assert verdict.status == FAIL
    assert verdict.problems == ["unexpected clobbered-register on vector 82 (1 handler run)"]
    # info findings pass by default, not with allow_info=False
    info = [obs("frame-modified", [14], count=2)]
    assert judge(expect, info, 2, None, False).status == PASS
    strict = make_expectation(allow_info=False)
    assert judge(strict, info, 2, None, False).problems == [
        "unexpected frame-modified on vector 14 (2 handler runs)"]
    assert judge(make_expectation(allow=["frame-modified"], allow_info=False), info, 2, None,
                 False).status == PASS


def test_judge_required_and_allowed():
    expect = make_expectation(require=[{"rule": "error-code-not-popped", "vector": 13}],
                              allow=[{"rule": "misaligned-call", "source": "static"}])
    found = [obs("error-code-not-popped", [13]), obs("misaligned-call", [13], "static")]
    assert judge(expect, found, 1, None, False).status == PASS
    verdict = judge(expect, [obs("error-code-not-popped", [14])], 1, None, False)
    assert verdict.status == FAIL and verdict.problems == [
        "unexpected error-code-not-popped on vector 14 (1 handler run)",
        "required error-code-not-popped on vector 13 did not occur"]
    verdict = judge(expect, [obs("misaligned-call", [13], "run")], 1, None, False)
    assert "unexpected misaligned-call on vector 13 (1 handler run)" in verdict.problems
    # a vector set matches a run of any of its vectors; a shared handler's run matches too
    wide = make_expectation(require=[{"rule": "clobbered-register", "vector": "32-47"}])
    assert judge(wide, [obs("clobbered-register", [33, 34])], 1, None, False).status == PASS


def test_judge_exit_status_runs_errors_skip():
    expect = make_expectation(exit_status=1, min_runs=2)
    assert judge(expect, [], 2, 1, True).status == PASS
    assert judge(expect, [], 2, 3, True).problems == ["kernel exit status 3, expected 1"]
    assert judge(expect, [], 1, 1, True).problems == [
        "1 handler run observed, expected at least 2"]
    verdict = judge(expect, [], 2, 1, True, errors=["timeout: the kernel did not exit"])
    assert verdict.status == ERROR and verdict.problems == ["timeout: the kernel did not exit"]
    verdict = judge(expect, [], 0, 3, True, skipped="FAIL style-rust: not built: rustc missing")
    assert verdict.status == SKIP
    assert verdict.problems == ["skipped: FAIL style-rust: not built: rustc missing"]


def test_make_expectation_rejects_a_bad_rule():
    with pytest.raises(ScenarioError) as caught:
        make_expectation(require=["no-such-rule"])
    assert str(caught.value).startswith("<expectation>: unknown rule 'no-such-rule'")


def test_every_bundled_scenario_parses():
    files = sorted((ROOT / "qemu_targets" / "scenarios").rglob("*.toml"))
    assert len(files) > 40
    for path in files:
        scenario = load_scenario(path)
        arch = path.parent.name
        assert scenario.kernel.resolve() == ROOT / "qemu_targets" / "build" / arch / "kernel.elf"
        # NAME-smp2.toml: scenario NAME on 2 CPUs
        assert scenario.append == f"scenario={path.stem.removesuffix('-smp2')}"
        if path.stem.endswith("-smp2"):
            assert scenario.smp == 2
        assert scenario.check and scenario.break_at == "scenario_start"
        if path.stem.startswith("bad-"):
            assert scenario.expect.require, path


def test_boot_keys_for_real_kernels(tmp_path):
    s = parse_scenario('kernel = "linux/vmlinuz"\ninitrd = "linux/initramfs.cpio"\n'
                       'symbols = "/sym/vmlinux"\nmemory = "1G"\nsmp = 2\naccel = "kvm"\n'
                       'arch = "x86_64"\nwatch = "14"\n', tmp_path / "linux.toml")
    assert s.kernel == tmp_path / "linux" / "vmlinuz"
    assert s.initrd == tmp_path / "linux" / "initramfs.cpio"
    assert s.symbols == Path("/sym/vmlinux")
    assert (s.memory, s.smp, s.accel, s.arch) == ("1G", 2, "kvm", "x86_64")
    disk = parse_scenario('drives = ["os.img", "/data.qcow2"]\ncdrom = "boot.iso"\n'
                          'watch = "14"\n', tmp_path / "disk.toml")
    assert disk.kernel is None and disk.drives == (tmp_path / "os.img", Path("/data.qcow2"))
    assert disk.cdrom == tmp_path / "boot.iso" and disk.accel == "tcg" and disk.memory is None
