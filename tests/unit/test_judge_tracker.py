"""Judging handler runs and pairing entries with exits, on synthetic state."""

import struct

from gdbext.decode.frame import InterruptFrame
from gdbext.tracking.judge import ExitObservation
from gdbext.decode.snapshot import X86_64, Context
from gdbext.tracking.tracker import MAX_OPEN, NO_CONTEXT, Tracker

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


def memory_with(f):
    """A read() over memory that holds frame ``f`` as the CPU pushed it."""
    words = struct.pack("<5Q", f.rip, f.cs, f.rflags, f.rsp, f.ss)

    def read(address, size):
        offset = address - f.rip_slot
        if offset < 0 or offset + size > len(words):
            raise OSError("not mapped")
        return words[offset:offset + size]
    return read


def run_once(f, observation, gate="interrupt", read=None):
    tracker = Tracker()
    tracker.enter(0, (14,), 0x102000, gate, f, context(f))
    return tracker.exit(0, observation, read=read)


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
    words = [0x50, f.rip, f.cs, f.rflags, f.rsp]
    run = run_once(f, iret_at(f, sp=f.address, words=words), read=memory_with(f))
    assert rules(run) == ["error-code-not-popped"]
    assert "RSP 0x8fd0 on the error code 0x50" in run.findings[0].message


def test_stack_imbalance():
    f = frame()
    words = [0x1234, f.rip, f.cs, f.rflags, f.rsp]
    run = run_once(f, iret_at(f, sp=f.rip_slot - 8, words=words), read=memory_with(f))
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


def test_a_rewritten_frame_is_information():
    """exec or a signal rewrites the frame the CPU pops: RSP and RIP change on purpose."""
    f = frame()
    run = run_once(f, iret_at(f, words=[f.rip + 0x40, f.cs, f.rflags, f.rsp + 16, f.ss]))
    assert rules(run) == ["frame-modified"] and run.identity == "frame"
    assert "RSP 0x9000 -> 0x9010 (+16)" in run.findings[0].message


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


def test_exit_of_an_untracked_entry_while_runs_are_open_is_unpaired():
    tracker = Tracker()
    f = frame(rip=0x101100)
    tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f))
    assert tracker.exit(0, iret_at(frame(address=0x7000))) is None
    assert tracker.unmatched_exits == 1 and tracker.exits_without_entry == 0


def test_an_iret_no_run_could_own_is_an_exit_without_entry():
    tracker = Tracker()
    assert tracker.exit(0, iret_at(frame())) is None
    assert tracker.exits_without_entry == 1 and tracker.unmatched_exits == 0


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


# -- run identity on real kernels ---------------------------------------------------

def user_frame(address, rip, rsp, cs=0x33, ss=0x2B):
    return InterruptFrame(address=address, bits=64, has_error_code=False, error_code=None,
                          rip=rip, cs=cs, rflags=0x246, rsp=rsp, ss=ss, handler_cpl=0,
                          stack_switch="RSP0", alignment_padding=0)


def iret_from(sp, f, changes=None, cpl=0):
    """An iret at ``sp`` (any stack) popping ``f``'s context unchanged."""
    regs = dict(ENTRY_REGS, **(changes or {}))
    regs.update(rsp=sp, rip=0x103000, eflags=0x2)
    return ExitObservation("iret", 0x103000, regs,
                           struct.pack("<5Q", f.rip, f.cs, f.rflags, f.rsp, f.ss), sp, cpl,
                           "iretq")


ENTRY_STACK = 0xFFFFFE0000002FD8      # Linux: one per-CPU entry stack for every user entry
A_SPACE, B_SPACE = 0x1234000, 0x5678000


def test_an_exit_on_another_cpu_pairs_by_context():
    tracker = Tracker()
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    run = tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f), cr3=A_SPACE)
    done = tracker.exit(1, iret_from(0xFFFFC90000013F58, f), cr3=A_SPACE)
    assert done is run and run.identity == "context" and run.findings == ()


def test_a_shared_entry_stack_pairs_each_process_with_its_own_return():
    """Two processes enter from user mode on the same per-CPU entry stack; the
    first returns only after the second (it slept), from its task stack."""
    tracker = Tracker()
    fa = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    fb = user_frame(ENTRY_STACK, 0x402000, 0x7FFE0000)
    a = tracker.enter(0, (32,), 0x102000, "interrupt", fa, context(fa), cr3=A_SPACE)
    b = tracker.enter(0, (32,), 0x102000, "interrupt", fb, context(fb), cr3=B_SPACE)
    assert tracker.lost_runs == 0 and b.depth == 0
    assert tracker.exit(0, iret_from(0xFFFFC90000023F58, fb), cr3=B_SPACE) is b
    assert tracker.exit(1, iret_from(0xFFFFC90000013F58, fa), cr3=A_SPACE) is a
    assert a.findings == () and b.findings == ()


def test_pcid_bits_do_not_split_an_address_space():
    tracker = Tracker()
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    run = tracker.enter(0, (14,), 0x102000, "interrupt", f, context(f), cr3=A_SPACE | 0x801)
    assert tracker.exit(0, iret_from(ENTRY_STACK, f), cr3=A_SPACE | 0x3) is run


def test_another_address_space_does_not_pair():
    tracker = Tracker()
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    tracker.enter(0, (14,), 0x102000, "interrupt", f, context(f), cr3=A_SPACE)
    assert tracker.exit(0, iret_from(0xFFFFC90000013F58, f), cr3=B_SPACE) is None
    assert tracker.unmatched_exits == 1 and len(tracker.pending()) == 1


def test_a_rewritten_frame_shared_by_two_runs_is_not_judged():
    tracker = Tracker()
    fa = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    fb = user_frame(ENTRY_STACK, 0x402000, 0x7FFE0000)
    tracker.enter(0, (32,), 0x102000, "interrupt", fa, context(fa))
    tracker.enter(0, (32,), 0x102000, "interrupt", fb, context(fb))
    signal = user_frame(ENTRY_STACK, 0x409000, 0x7FFD0000)     # neither context
    assert tracker.exit(0, iret_from(ENTRY_STACK, signal)) is None
    assert dict(tracker.unmatched) == {"several open runs fit the exit": 1}
    assert len(tracker.pending()) == 2 and not tracker.completed


def test_an_entry_from_user_mode_nests_in_nothing():
    tracker = Tracker()
    syscall = user_frame(0x9000 - 40, 0x401000, 0x7FFF0000)
    tracker.enter(0, (0x80,), 0x102000, "trap", syscall, context(syscall))
    again = user_frame(0x9000 - 40 - 0x100, 0x401100, 0x7FFF0000)
    assert tracker.enter(0, (32,), 0x102000, "interrupt", again, context(again)).depth == 0


def test_kernel_stacks_side_by_side_do_not_look_nested():
    """4 KiB per-process kernel stacks: process 1 sleeps in a syscall; the
    timer interrupts kernel code on the stack just below, which is not its."""
    tracker = Tracker()
    top1, top2 = 0x20000, 0x1F000
    p1 = user_frame(top1 - 40, 0x401000, 0x7FFF0000)
    p2 = user_frame(top2 - 40, 0x401000, 0x7FFE0000)
    tracker.enter(0, (0x80,), 0x102000, "trap", p1, context(p1))
    tracker.exit(0, iret_from(p2.rip_slot, p2))            # (an exit with no entry)
    tracker.enter(1, (0x80,), 0x102000, "trap", p2, context(p2))
    assert tracker.stack_spacing == 0x1000
    # the CPU 0 now runs the scheduler on its own stack below process 1's
    sched = frame(address=top1 - 0x1000 - 0x200, rip=0x105000, rsp=top1 - 0x1000 - 0x1C0)
    assert tracker.enter(0, (32,), 0x102100, "interrupt", sched, context(sched)).depth == 0
    # an interrupt inside process 1's syscall handler does nest
    tracker2 = Tracker()
    tracker2.enter(0, (0x80,), 0x102000, "trap", p1, context(p1))
    tracker2.enter(1, (0x80,), 0x102000, "trap", p2, context(p2))
    inside = frame(address=top1 - 0x300, rip=0x102050, rsp=top1 - 0x2C0)
    assert tracker2.enter(0, (32,), 0x102100, "interrupt", inside, context(inside)).depth == 1


def test_a_context_interrupted_again_drops_the_run_that_missed_its_exit():
    tracker = Tracker()
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    first = tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f), cr3=A_SPACE)
    second = tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f), cr3=A_SPACE)
    assert first.lost and tracker.stats[(32,)].unpaired
    assert tracker.exit(0, iret_from(ENTRY_STACK, f), cr3=A_SPACE) is second


# -- intentional changes -----------------------------------------------------------

def _explained(kind, reason=""):
    from gdbext.analysis.restored import Restore

    def explain(run, names):
        return {name: Restore(name, kind, 0x8F00, -0x78, 0x102004, reason) for name in names}
    return explain


def test_a_register_restored_from_its_rewritten_slot_is_information():
    f = user_frame(0x9000 - 40, 0x401000, 0x7FFF0000)
    tracker = Tracker()
    tracker.enter(0, (0x80,), 0x102000, "trap", f, context(f))
    run = tracker.exit(0, iret_from(f.rip_slot, f, changes={"rax": 0x1}),
                       explain=_explained("restored"))
    assert rules(run) == ["context-changed-by-kernel"] and not run.findings[0].is_problem
    assert "rax 0x1000 -> 0x1 from its save slot at 0x8f00 (frame-0x78, saved at 0x102004)" \
        in run.findings[0].message


def test_a_change_without_evidence_is_counted_not_judged():
    f = user_frame(0x9000 - 40, 0x401000, 0x7FFF0000)
    tracker = Tracker()
    tracker.enter(0, (0x80,), 0x102000, "trap", f, context(f))
    run = tracker.exit(0, iret_from(f.rip_slot, f, changes={"rax": 0x1}),
                       explain=_explained("unknown", "the handler switched stacks"))
    assert run.findings == () and run.verdict.unjudged == (("rax", "the handler switched stacks"),)
    assert tracker.stats[(0x80,)].unjudged == {"the handler switched stacks": 1}


def test_a_lost_register_is_still_an_error():
    f = user_frame(0x9000 - 40, 0x401000, 0x7FFF0000)
    tracker = Tracker()
    tracker.enter(0, (0x80,), 0x102000, "trap", f, context(f))
    run = tracker.exit(0, iret_from(f.rip_slot, f, changes={"rbx": 0x1}),
                       explain=_explained("lost", "never saved"))
    assert rules(run) == ["clobbered-register"]


def test_per_cpu_gs_bases_are_not_judged_after_a_migration():
    """Linux: a process entered on CPU 1 returns on CPU 0, where the kernel's
    per-CPU base in KERNEL_GS_BASE is CPU 0's."""
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    tracker = Tracker()
    tracker.enter(1, (32,), 0x102000, "interrupt", f, context(f))
    moved = tracker.exit(0, iret_from(0xFFFFC90000013F58, f, changes={"k_gs_base": 0x4000}))
    assert moved.findings == () and [name for name, _ in moved.verdict.unjudged] == ["k_gs_base"]
    assert (moved.digest().cpu, moved.digest().exit_cpu) == (1, 0)
    tracker.enter(1, (32,), 0x102000, "interrupt", f, context(f))
    stayed = tracker.exit(1, iret_from(0xFFFFC90000013F58, f, changes={"k_gs_base": 0x4000}))
    assert rules(stayed) == ["segment-clobbered"]


# -- exits with no entry: syscall returns through the iret path ------------------------

SYSCALL_STACK = 0xFFFFC90000013F58


def test_a_syscall_return_beside_another_process_is_an_exit_without_entry():
    """Linux returns from `syscall` through the iretq interrupts use: no gate
    entered, so no run is missing; runs open in other address spaces cannot be it."""
    tracker = Tracker()
    other = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    tracker.enter(1, (32,), 0x102000, "interrupt", other, context(other), cr3=B_SPACE)
    returned = user_frame(ENTRY_STACK, 0x402000, 0x7FFE0000)
    assert tracker.exit(0, iret_from(ENTRY_STACK + 0x100, returned), cr3=A_SPACE) is None
    assert tracker.exits_without_entry == 1 and tracker.unmatched_exits == 0
    assert len(tracker.pending()) == 1 and tracker.lost_runs == 0


def test_an_open_run_in_the_same_address_space_keeps_the_exit_unpaired():
    """The open run may be the one returning (on another CPU, its frame
    rewritten by exec): uncertain, so unpaired."""
    tracker = Tracker()
    slept = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    tracker.enter(1, (0x80,), 0x102000, "trap", slept, context(slept), cr3=A_SPACE | 0x5)
    execve = user_frame(ENTRY_STACK, 0x400080, 0x7FFE0000)
    assert tracker.exit(0, iret_from(SYSCALL_STACK, execve), cr3=A_SPACE | 0x1000) is None
    assert tracker.unmatched == {NO_CONTEXT: 1} and tracker.exits_without_entry == 0


def test_an_unknown_address_space_keeps_the_exit_unpaired():
    tracker = Tracker()
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    tracker.enter(1, (32,), 0x102000, "interrupt", f, context(f))        # no CR3 known
    other = user_frame(ENTRY_STACK, 0x402000, 0x7FFE0000)
    assert tracker.exit(0, iret_from(SYSCALL_STACK, other), cr3=A_SPACE) is None
    assert tracker.unmatched_exits == 1 and tracker.exits_without_entry == 0


def test_an_exit_untraced_handlers_may_take_is_counted_apart_not_unpaired():
    """A narrow trace on a kernel with one shared iret (Linux): another
    handler's return to kernel code while a traced run is open is no
    unpaired run of the trace."""
    for untraced, counts in ((False, (1, 0)), (True, (0, 1))):
        tracker = Tracker()
        f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
        tracker.enter(1, (14,), 0x102000, "trap", f, context(f), cr3=B_SPACE)
        kernel = frame(rip=0xFFFFFFFF81000000, rsp=0xFFFFC90000010000)
        assert tracker.exit(0, iret_from(SYSCALL_STACK, kernel), cr3=A_SPACE,
                            untraced=untraced) is None
        assert (tracker.unmatched_exits, tracker.exits_not_traced) == counts
        # a return no open run could own stays an exit without entry either way
        alone = Tracker()
        assert alone.exit(0, iret_from(SYSCALL_STACK, kernel), untraced=untraced) is None
        assert (alone.exits_without_entry, alone.exits_not_traced) == (1, 0)


def test_a_return_to_kernel_code_is_unpaired_while_any_run_is_open():
    """Kernel contexts are the same in every address space."""
    tracker = Tracker()
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    tracker.enter(1, (32,), 0x102000, "interrupt", f, context(f), cr3=B_SPACE)
    kernel = frame(rip=0xFFFFFFFF81000000, rsp=0xFFFFC90000010000)
    assert tracker.exit(0, iret_from(SYSCALL_STACK, kernel), cr3=A_SPACE) is None
    assert tracker.unmatched_exits == 1 and tracker.exits_without_entry == 0


def test_the_late_exit_of_a_dropped_run_stays_unpaired():
    tracker = Tracker()
    f = user_frame(ENTRY_STACK, 0x401000, 0x7FFF0000)
    tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f), cr3=A_SPACE)
    for i in range(MAX_OPEN):          # the first run is dropped: too many open
        g = user_frame(ENTRY_STACK, 0x500000 + i, 0x7FFF0000)
        tracker.enter(0, (32,), 0x102000, "interrupt", g, context(g), cr3=B_SPACE)
    assert tracker.lost_runs == 1 and all(r.space == B_SPACE for r in tracker.pending())
    assert tracker.exit(0, iret_from(SYSCALL_STACK, f), cr3=A_SPACE) is None
    assert tracker.unmatched == {NO_CONTEXT: 1} and tracker.exits_without_entry == 0


def test_an_unreadable_popped_frame_stays_unpaired():
    tracker = Tracker()
    regs = dict(ENTRY_REGS, rsp=SYSCALL_STACK, rip=0x103000, eflags=0x2)
    observation = ExitObservation("iret", 0x103000, regs, b"", SYSCALL_STACK, 0, "iretq")
    assert tracker.exit(0, observation, cr3=A_SPACE) is None
    assert tracker.unmatched_exits == 1 and tracker.exits_without_entry == 0


# -- a process model's rewritten frames after a migration --------------------------------

KSTACK_TOP = 0x121000                 # a 4 KiB per-process kernel stack's top


def test_a_rewritten_frame_popped_on_another_cpu_pairs_by_its_address():
    """Switched out in a timer run on CPU 0, the process resumes on CPU 1,
    where the timer's way back delivers a signal: the iret pops the run's own
    frame (same address, same address space), rewritten."""
    tracker = Tracker()
    f = user_frame(KSTACK_TOP - 40, 0x401000, 0x7FFF0000)
    run = tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f), cr3=A_SPACE)
    signal = user_frame(KSTACK_TOP - 40, 0x409000, 0x7FFE0000)
    assert tracker.exit(1, iret_from(f.rip_slot, signal), cr3=A_SPACE) is run
    assert run.identity == "frame" and rules(run) == ["frame-modified"]


def test_a_rewritten_frame_on_another_cpu_needs_a_known_unique_address_space():
    tracker = Tracker()
    f = user_frame(KSTACK_TOP - 40, 0x401000, 0x7FFF0000)
    tracker.enter(0, (32,), 0x102000, "interrupt", f, context(f))           # no CR3 known
    signal = user_frame(KSTACK_TOP - 40, 0x409000, 0x7FFE0000)
    assert tracker.exit(1, iret_from(f.rip_slot, signal)) is None
    assert tracker.exit(1, iret_from(f.rip_slot, signal), cr3=A_SPACE) is None
    g = user_frame(KSTACK_TOP - 40, 0x402000, 0x7FFD0000)
    tracker.enter(0, (32,), 0x102000, "interrupt", g, context(g), cr3=B_SPACE)
    tracker.enter(2, (32,), 0x102000, "interrupt", f, context(f), cr3=B_SPACE)
    assert tracker.exit(1, iret_from(f.rip_slot, signal), cr3=B_SPACE) is None
    assert tracker.unmatched["several open runs fit the exit"] == 1
    assert not tracker.completed


def test_a_frame_in_this_address_space_beats_a_context_in_its_pti_twin():
    """proc-same-va: every process runs one program at the same addresses, and
    their top-level tables are adjacent pages, so two processes' CR3s differ
    only in bit 12, like Linux's PTI pair. A's sigreturn pops the context it
    saved - the very context B was interrupted at - from A's own frame."""
    tracker = Tracker()
    a_space, b_space = 0x168000, 0x169000
    interrupted = user_frame(0x11FFD8, 0x1054C0, 0x40001F00)
    b = tracker.enter(0, (32,), 0x102000, "interrupt", interrupted, context(interrupted),
                      cr3=b_space)
    in_handler = user_frame(0x120FD8, 0x1074D9, 0x40001E00)
    sigreturn = tracker.enter(0, (0x80,), 0x102100, "interrupt", in_handler,
                              context(in_handler), cr3=a_space)
    exit = iret_from(in_handler.rip_slot, interrupted)
    assert tracker.exit(0, exit, cr3=a_space) is sigreturn
    assert sigreturn.identity == "frame" and tracker.pending() == [b]


def test_a_frame_deep_in_a_kernel_stack_does_not_reach_into_the_next():
    """proc-preemptible: a timer run nested in process 1's syscall sits deep in
    its 4 KiB stack and is switched out. Process 0, whose stack lies right
    below, takes an interrupt with IF set in its own syscall code: that is no
    nesting in process 1's timer run (which would also say it enabled IF)."""
    tracker = Tracker()
    top0, top1 = 0x128000, 0x129000
    for top, rsp in ((top0, 0x7FFE0000), (top1, 0x7FFF0000)):   # learn the spacing
        syscall = user_frame(top - 40, 0x401000, rsp)
        tracker.enter(0, (0x80,), 0x102000, "trap", syscall, context(syscall))
    assert tracker.stack_spacing == 0x1000
    timer = frame(address=top1 - 0xE8, rip=0x10298A, rsp=top1 - 0xC0)
    preempted = tracker.enter(0, (32,), 0x102100, "interrupt", timer, context(timer))
    assert preempted.depth == 1
    # (process 0's syscall run is not known to run on this CPU any more: it was
    # switched out when process 1 entered, so this entry nests in nothing seen)
    other = frame(address=top0 - 0x90, rip=0x10C15D, rsp=top0 - 0x60)
    assert tracker.enter(0, (32,), 0x102100, "interrupt", other, context(other)).depth == 0
    assert preempted.enabled_interrupts_at is None
