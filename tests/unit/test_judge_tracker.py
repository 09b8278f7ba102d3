"""Judging handler runs and pairing entries with exits, on synthetic state."""

import struct

from gdbext.frame import InterruptFrame
from gdbext.judge import ExitObservation
from gdbext.snapshot import X86_64, Context
from gdbext.tracker import Tracker

ENTRY_REGS = {name: 0x1000 + i for i, name in enumerate(X86_64.tracked)}


def frame(address=0x9000 - 48, error_code=None, rip=0x101000, rsp=0x9000, cpu_ss=0x10):
    return InterruptFrame(address=address, bits=64, has_error_code=error_code is not None,
                          error_code=error_code, rip=rip, cs=0x08, rflags=0x202, rsp=rsp,
                          ss=cpu_ss, handler_cpl=0, stack_switch=None, alignment_padding=0)


def context(f):
    return Context(dict(ENTRY_REGS), f.rip, f.cs, f.rflags, f.rsp, f.ss)


def iret_at(f, sp=None, changes=None, words=None, flags=0x2, kind="iret", mnemonic="iretq"):
    regs = dict(ENTRY_REGS, **(changes or {}))
    sp = f.rip_slot if sp is None else sp
    regs.update(rsp=sp, rip=0x103000, eflags=flags)
    words = words or [f.rip, f.cs, f.rflags, f.rsp, f.ss]
    return ExitObservation(kind, 0x103000, regs, struct.pack("<5Q", *words), sp, 0, mnemonic)


def run_once(f, observation, gate="interrupt"):
    tracker = Tracker()
    tracker.enter(0, (14,), 0x102000, gate, f, context(f))
    return tracker.exit(0, observation)


def rules(run):
    return [finding.rule for finding in run.findings]


def test_correct_handler_has_no_findings():
    f = frame(error_code=2)
    run = run_once(f, iret_at(f))
    assert run.findings == () and run.verdict.changes == ()


def test_clobbered_registers_are_named():
    f = frame()
    run = run_once(f, iret_at(f, changes={"rbx": 0xDEAD, "rax": 0x1}))
    assert rules(run) == ["clobbered-register"]
    finding = run.findings[0]
    assert finding.details["registers"] == {"rax": [ENTRY_REGS["rax"], 1],
                                            "rbx": [ENTRY_REGS["rbx"], 0xDEAD]}
    assert finding.vector == 14 and finding.address == 0x103000 and finding.severity == "error"


def test_segment_and_simd():
    f = frame()
    run = run_once(f, iret_at(f, changes={"ds": 0x23, "xmm3": 0xFF, "mxcsr": 0x1FA0}))
    assert sorted(rules(run)) == ["segment-clobbered", "simd-clobbered"]


def test_error_code_not_popped():
    f = frame(error_code=0x50)
    run = run_once(f, iret_at(f, sp=f.address))
    assert rules(run) == ["error-code-not-popped"]
    assert "RSP 0x8fd0 on the error code 0x50" in run.findings[0].message


def test_stack_imbalance():
    f = frame()
    run = run_once(f, iret_at(f, sp=f.rip_slot - 8))
    assert rules(run) == ["stack-imbalance-at-iret"]
    assert run.findings[0].details["bytes"] == -8
    assert "8 bytes left on the stack" in run.findings[0].message


def test_ret_instead_of_iret():
    f = frame()
    run = run_once(f, iret_at(f, kind="ret", mnemonic="ret"))
    assert rules(run) == ["ret-instead-of-iret"]


def test_frame_modified_is_information():
    f = frame()
    run = run_once(f, iret_at(f, words=[f.rip + 3, f.cs, f.rflags, f.rsp, f.ss]))
    assert rules(run) == ["frame-modified"]
    assert run.findings[0].severity == "info" and not run.findings[0].is_problem
    assert "resumes 3 bytes later" in run.findings[0].message


def test_stack_not_restored():
    f = frame()
    run = run_once(f, iret_at(f, words=[f.rip, f.cs, f.rflags, f.rsp + 16, f.ss]))
    assert rules(run) == ["stack-not-restored"]


def test_interrupts_enabled_only_for_interrupt_gates():
    f = frame()
    assert rules(run_once(f, iret_at(f, flags=0x202))) == ["interrupts-enabled-in-handler"]
    assert rules(run_once(f, iret_at(f, flags=0x202), gate="trap")) == []


def test_nested_runs_pair_by_frame():
    tracker = Tracker()
    outer = frame(address=0x9000 - 40, rip=0x101000)
    inner = frame(address=0x8E00 - 40, rip=0x102010, rsp=0x8E00)
    a = tracker.enter(0, (3,), 0x102000, "interrupt", outer, context(outer))
    b = tracker.enter(0, (6,), 0x102100, "interrupt", inner, context(inner))
    assert b.depth == 1
    assert tracker.exit(0, iret_at(inner)) is b
    assert tracker.exit(0, iret_at(outer)) is a
    assert b.findings == ()
    # the inner frame saved IF=1: the outer interrupt-gate handler had enabled interrupts
    assert rules(a) == ["interrupts-enabled-in-handler"]
    assert "nested at 0x102010" in a.findings[0].message
    assert tracker.stats[(3,)].runs == 1 and tracker.stats[(6,)].max_depth == 1


def test_task_switch_returns_on_another_stack():
    """xv6: thread A's timer entry returns only after thread B's earlier one."""
    tracker = Tracker()
    on_b = frame(address=0x6000 - 40, rip=0x104000, rsp=0x6000)
    on_a = frame(address=0x9000 - 40, rip=0x101000)
    run_b = tracker.enter(0, (32,), 0x102000, "interrupt", on_b, context(on_b))
    run_a = tracker.enter(0, (32,), 0x102000, "interrupt", on_a, context(on_a))
    assert tracker.exit(0, iret_at(on_b)) is run_b       # switched to B first
    assert [r.sequence for r in tracker.pending()] == [run_a.sequence]
    assert tracker.exit(0, iret_at(on_a)) is run_a


def test_exit_of_an_untracked_entry():
    tracker = Tracker()
    assert tracker.exit(0, iret_at(frame())) is None
    assert tracker.unmatched_exits == 1


def test_reused_frame_drops_the_stale_run():
    tracker = Tracker()
    f = frame()
    tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f))
    tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f))
    assert len(tracker.pending()) == 1 and tracker.lost_runs == 1


def test_history_is_bounded():
    tracker = Tracker(history=10)
    f = frame()
    for _ in range(100):
        tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f))
        tracker.exit(0, iret_at(f))
    assert len(tracker.completed) == 10 and tracker.stats[(32,)].runs == 100
