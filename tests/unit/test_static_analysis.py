"""The worklist analysis behind isr-check/isr-saved on assembled byte
fixtures: joins where paths meet, the SysV summary of ordinary calls,
following callees that are not ordinary functions, budgets."""

import time

import pytest

from gdbext.analysis import static_check
from gdbext.analysis.cfg import explore
from gdbext.analysis.static_check import Analyzer

from .asm_fixture import assemble, needs_as

pytestmark = needs_as

SAVE_SCRATCH = "push %rax; push %rcx; push %rdx; push %rsi; push %rdi; push %r8; push %r9; " \
               "push %r10; push %r11"
RESTORE_SCRATCH = "pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; pop %rdx; " \
                  "pop %rcx; pop %rax"


def check(source, bits=64, vectors=(0x40,), **kwargs):
    image = assemble(source, bits)
    analyzer = Analyzer(image.read, bits, **kwargs)
    return image, analyzer, analyzer.check(image["h"], vectors)


def rules(result):
    return [(f.rule, f.address) for f in result.findings]


def test_paths_join_where_they_meet():
    image, analyzer, result = check("""
h:  push %rbx
    test %rax, %rax
    je 1f
    mov $1, %ebx
    jmp 2f
1:  mov $2, %ebx
2:  pop %rbx
    iretq""")
    assert rules(result) == []
    flow, states = analyzer.states_at(image["h"], False)
    pop = image["h"] + 1 + 3 + 2 + 5 + 2 + 5
    assert len(states[pop]) == 1        # both branches joined into one state


def test_a_clobber_on_one_branch_survives_the_join():
    image, _, result = check("""
h:  test %rax, %rax
    je 1f
bug: mov $1, %ecx
1:  iretq""")
    assert rules(result) == [("clobbered-register", image["bug"])]
    assert set(result.findings[0].details["registers"]) == {"rcx"}


def test_exponentially_many_paths_take_linear_work():
    diamonds = "\n".join(f"test %rax, %rax; je 1{i}f; inc %rbx; 1{i}: nop"
                         .replace(f"1{i}f", f"L{i}").replace(f"1{i}:", f"L{i}:")
                         for i in range(300))
    started = time.perf_counter()
    image, _, result = check(f"h: push %rbx\n{diamonds}\npop %rbx\nbug: xor %edx, %edx\niretq")
    assert time.perf_counter() - started < 2
    assert rules(result) == [("clobbered-register", image["bug"])]
    assert not result.truncated


def test_ordinary_calls_are_summarised_by_the_sysv_abi():
    image, _, result = check(f"""
h:  {SAVE_SCRATCH}
    call f
    {RESTORE_SCRATCH}
    iretq
f:  mov $1, %eax
    push %rbx
    mov $2, %ebx
    pop %rbx
    ret""")
    assert rules(result) == []
    assert any("summarised by the SysV ABI" in n and f"{image['f']:#x}" in n
               for n in result.notes)


def test_scratch_registers_not_saved_around_a_call():
    image, _, result = check("""
h:  push %rax
site: call f
    pop %rax
    iretq
f:  ret""")
    [finding] = result.findings
    assert finding.rule == "unsaved-scratch-across-call" and finding.address == image["site"]
    assert finding.details["registers"] == ["rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11"]


# Linux's error_entry: PUSH_AND_CLEAR_REGS save_ret=1 saves into its
# caller's frame (over its own return address) and returns with RSP lower.
ERROR_ENTRY = """
error_entry:
    push %rsi
    mov 8(%rsp), %rsi
    mov %rdi, 8(%rsp)
    push %rdx; push %rcx; push %rax; push %r8; push %r9; push %r10; push %r11
    push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15
    push %rsi
    xor %esi, %esi; xor %edx, %edx; xor %ecx, %ecx; xor %ebx, %ebx; xor %ebp, %ebp
    xor %r8d, %r8d; xor %r12d, %r12d
    lea 8(%rsp), %rax
    ret
"""


def test_a_callee_that_saves_into_its_callers_frame_is_followed():
    image, analyzer, result = check(f"""
h:  call error_entry
    mov %rax, %rsp
    mov %rsp, %rdi
    call c_handler
    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx; pop %r11; pop %r10
    pop %r9; pop %r8; pop %rax; pop %rcx; pop %rdx; pop %rsi; pop %rdi
    add $8, %rsp
    iretq
c_handler:             # built for 8-byte stack alignment, as Linux is
    call leaf
    ret
leaf:
    mov $5, %eax
    ret
{ERROR_ENTRY}""", vectors=(14,))
    assert rules(result) == []
    assert any(n.startswith(f"followed {image['error_entry']:#x}") and "returns with RSP 120"
               in n for n in result.notes), result.notes
    assert any("summarised" in n and f"{image['c_handler']:#x}" in n for n in result.notes)
    assert any("built for an 8-byte aligned stack (Linux's -mpreferred-stack-boundary=3), not a "
               "bug" in n for n in result.notes)


def test_misaligned_call_into_code_that_keeps_16_byte_alignment():
    image, _, result = check("""
h:  push %rax; push %rcx; push %rdx; push %rsi; push %rdi; push %r8; push %r9; push %r10
    push %r11
    sub $8, %rsp
bug: call f
    add $8, %rsp
    pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax
    iretq
f:  sub $8, %rsp
    call g
    add $8, %rsp
    ret
g:  ret""")
    assert [(f.rule, f.address, f.details["misalignment"]) for f in result.findings] == \
        [("misaligned-call", image["bug"], 8)]


def test_the_followed_callee_still_catches_a_missing_restore():
    image, _, result = check(f"""
h:  call error_entry
    mov %rax, %rsp
    call c_handler
    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx; pop %r11; pop %r10
    pop %r9; pop %r8; pop %rax; pop %rcx; pop %rdx; pop %rsi
    add $16, %rsp
bug: iretq
c_handler:
    call c_handler2
    ret
c_handler2:
    ret
{ERROR_ENTRY}""", vectors=(14,))
    assert [f.rule for f in result.findings] == ["clobbered-register"]
    assert set(result.findings[0].details["registers"]) == {"rdi"}


def test_a_copied_interrupt_frame_is_a_correct_iret():
    """Linux's NMI entry copies the frame and returns through the copy."""
    _, _, result = check("""
h:  sub $8, %rsp
    pushq 0x28(%rsp); pushq 0x28(%rsp); pushq 0x28(%rsp); pushq 0x28(%rsp); pushq 0x28(%rsp)
    iretq""", vectors=(2,))
    assert rules(result) == []


def test_a_wrong_iret_depth_is_still_caught():
    image, _, result = check("h: push %rax\n mov $1, %eax\n pop %rax\nsub $8, %rsp\nbug: iretq",
                             vectors=(2,))
    assert [(f.rule, f.address) for f in result.findings] == \
        [("stack-imbalance-at-iret", image["bug"])]


def test_a_loop_that_pushes_ends():
    _, _, result = check("h: push %rax\n1: push %rax\n dec %ecx\n jnz 1b\n iretq")
    assert result.instructions == 5


def test_the_budget_ends_in_a_note(monkeypatch):
    monkeypatch.setattr(static_check, "HANDLER_VISITS", 50)
    body = "\n".join("inc %rax" for _ in range(200))
    image, _, result = check(f"h: push %rax\n{body}\npop %rax\niretq")
    assert result.truncated
    assert any(n.startswith(f"analysis stopped after 50 instructions in {image['h']:#x}")
               for n in result.notes), result.notes


def test_deep_call_chains_stay_bounded():
    chain = "\n".join(f"f{i}: sub $8, %rsp\n call f{i + 1}\n add $8, %rsp\n ret"
                      for i in range(400))
    _, analyzer, result = check(f"""
h:  {SAVE_SCRATCH}
    call f0
    {RESTORE_SCRATCH}
    iretq
{chain}
f400: ret""")
    assert rules(result) == []
    assert len(analyzer.functions) <= static_check.MAX_CALL_DEPTH + 1


def test_32bit_segment_pushes_move_esp_by_four():
    image, analyzer, result = check("""
h:  pushl %ds
    pushl %es
    pushal
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
at: popal
    popl %es
    popl %ds
    iret""", bits=32, vectors=(0x45,))
    assert rules(result) == []
    _, states = analyzer.states_at(image["h"], False)
    [state] = states[image["at"]]
    slots = {token[1]: depth for depth, token in state.slots if token[0] == "orig"}
    assert slots == {"ds": 4, "es": 8, "eax": 12, "ecx": 16, "edx": 20, "ebx": 24,
                     "ebp": 32, "esi": 36, "edi": 40}


def test_a_handler_in_freed_memory_is_a_warning_not_8192_instructions():
    image = assemble("h: .fill 64, 1, 0xcc")
    result = Analyzer(image.read, 64).check(image["h"], (18,))
    assert [(f.rule, f.severity, f.address) for f in result.findings] == \
        [("handler-in-freed-memory", "warning", image["h"])]
    assert result.instructions == 0 and result.notes == ["not analysed: no code at the handler"]


def test_the_exit_walk_stops_at_fill_bytes():
    """Linux has 12 gates into freed init text: walking 8192 int3s each cost
    the plugin engine's arming 0.3 s and ~35 MB; the walk says why it stops."""
    image = assemble("h: .fill 64, 1, 0xcc")
    code = explore(image.read, image["h"], 64)
    assert code.insns == {} and code.exits == []
    assert code.stops == [(image["h"], "no code: int3 bytes (0xcc), as freed init code does")]


def test_stub_array_entries_share_one_analysis():
    """Linux's irq_entries_start: `push $vector; jmp common` per vector."""
    image = assemble("""
s32: push $32
     jmp common
s33: push $33
     jmp common
common:
     push %rax
bug: mov $1, %ebx
     pop %rax
     add $8, %rsp
     iretq""")
    analyzer = Analyzer(image.read, 64)
    first = analyzer.check(image["s32"], (32,))
    second = analyzer.check(image["s33"], (33,))
    assert [(f.rule, f.address, f.vector, f.handler) for f in second.findings] == \
        [("clobbered-register", image["bug"], 33, image["s33"])]
    assert [(f.rule, f.address) for f in first.findings] == [("clobbered-register", image["bug"])]
    assert second.handler == image["s33"] and second.vectors == (33,)
    assert second.exits == first.exits
    # the notes are said once, at the first entry
    assert first.notes[-1].startswith("1 more stub of this stub array")
    assert second.notes == [f"analysed as the stub array entry at {image['s32']:#x}, whose "
                            f"notes apply"]


STUB_ARRAY = """
s32: push $32
     jmp common
s33: push $33
     jmp common
common:
     push %rax
     push %rbx
     mov $1, %ebx
     pop %rbx
     pop %rax
     add $8, %rsp
done: iretq"""


def test_stub_array_entries_share_the_save_states_and_the_walk():
    """Arming every vector on Linux analyses 200-odd IRQ stubs: the second stub
    of a shape reuses the first's states (at its own push too) and its walk
    takes the common code whole; both answers equal a fresh analysis."""
    image = assemble(STUB_ARRAY)
    analyzer = Analyzer(image.read, 64)
    _, first = analyzer.states_at(image["s32"])
    flows = len(analyzer.flows)
    _, second = analyzer.states_at(image["s33"])
    assert len(analyzer.flows) == flows                  # no second flow
    _, fresh = Analyzer(image.read, 64).states_at(image["s33"])

    def saved_registers(states):     # the stub's own constant is pushed at its own address
        return [[slot for slot in state.slots if slot[1][0] == "orig"] for state in states]
    assert saved_registers(second[image["done"]]) == saved_registers(fresh[image["done"]]) \
        == saved_registers(first[image["done"]]) == [[(16, ("orig", "rax", image["common"])),
                                                      (24, ("orig", "rbx", image["common"] + 1))]]
    assert set(second) == set(fresh) and image["s33"] in second

    shared = explore(image.read, image["s32"], 64, analyzer.reader, analyzer.tails)
    again = explore(image.read, image["s33"], 64, analyzer.reader, analyzer.tails)
    alone = explore(image.read, image["s33"], 64)
    assert list(analyzer.tails) == [image["common"]]
    assert sorted(again.insns) == sorted(alone.insns)
    assert again.exits == alone.exits == shared.exits == [(image["done"], "iret")]


# outer (an ordinary function) calls error_entry and a noreturn function:
# both are its callees, the deepest level summarised.  Walked past the
# noreturn call, `pop %rax; ret` would make outer unusual (RSP above its
# return address) and h1 would follow it; h2 then calls error_entry itself.
DEEP_CALLEES = f"""
h1: push %rbx
    call outer
    pop %rbx
    iretq
h2: call error_entry
    mov %rax, %rsp
    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx; pop %r11; pop %r10
    pop %r9; pop %r8; pop %rax; pop %rcx; pop %rdx; pop %rsi; pop %rdi
    add $8, %rsp
exit2: iretq
outer:
    test %rdi, %rdi
    jne 2f
    call die
    pop %rax
    ret
2:  call error_entry
    ret
die: jmp die
{ERROR_ENTRY}"""


def test_the_trackers_save_analysis_makes_the_same_states_with_less_work():
    """The run tracker's Analyzer (states_only) says of its deepest callees
    only whether they return, unless a caller needs more: the states are
    those of the full analysis, a noreturn callee still ends its caller's
    path, and a callee first seen at the deepest level then called by a
    handler itself is summarised whole (error_entry: followed)."""
    image = assemble(DEEP_CALLEES)
    full = Analyzer(image.read, 64)
    light = Analyzer(image.read, 64, states_only=True)
    first = [analyzer.states_at(image["h1"])[1] for analyzer in (full, light)]
    assert first[0] == first[1]
    assert light.functions[image["error_entry"]].partial       # only whether it returns
    assert not light.functions[image["die"]].returns
    assert light.functions[image["outer"]].unusual is None
    second = [analyzer.states_at(image["h2"])[1] for analyzer in (full, light)]
    assert second[0] == second[1]
    assert not light.functions[image["error_entry"]].partial
    assert light.functions[image["error_entry"]].unusual is not None
    # followed: its pushes are the handler's save slots at the exit
    assert any(token == ("orig", "rbx", token[2]) for state in second[1][image["exit2"]]
               for _, token in state.slots)


def test_a_spent_time_budget_checks_nothing_more():
    image = assemble("h: mov $1, %ebx\n iretq")
    result = Analyzer(image.read, 64, seconds=0).check(image["h"], (0x40,))
    assert result.findings == () and result.truncated
    assert result.notes == ["not analysed: this command's time budget (0 s) ran out before "
                            "this handler"]


DUMMY_ERROR_CODE_STUB = "h: push $0\n push %rax\n pop %rax\n add $8, %rsp\nbug: iretq"


@pytest.mark.parametrize("vector,control,severity,holds", [
    (21, {"cr4": 1 << 23}, "error", True),        # #CP with CET on: the CPU pushes one
    (21, {"cr4": 0}, "warning", False),
    (30, {"efer": 1 << 12}, "error", True),       # #SX with SVM on
    (30, {"efer": 0}, "warning", False),
    (29, {"cr4": 1 << 23}, "warning", None),      # #VC: SEV-ES cannot be read from here
])
def test_error_code_only_with_a_feature(vector, control, severity, holds):
    """A stub pushing a dummy error code for #CP/#VC/#SX is wrong only where
    the CPU raises that exception with an error code."""
    image, _, result = check(DUMMY_ERROR_CODE_STUB, vectors=(vector,), control=control)
    [finding] = result.findings
    assert (finding.rule, finding.address, finding.severity) == \
        ("error-code-not-popped", image["bug"], severity)
    assert finding.details["condition_holds"] is holds
    assert finding.details["condition"] in finding.message


def test_error_code_not_popped_on_page_fault_stays_an_error():
    image, _, result = check(DUMMY_ERROR_CODE_STUB, vectors=(14,), control={"cr4": 0})
    assert [(f.rule, f.severity) for f in result.findings] == [("error-code-not-popped", "error")]


SWITCHING_HANDLER = """
h:  push %rbx
    mov %rsp, %rbx
    mov stack_top(%rip), %rsp       # another stack, as Linux's NMI entry from user mode
    {saves}
site: call f
    {restores}
    mov %rbx, %rsp
    pop %rbx
    iretq
f:  ret
stack_top: .quad 0x9000"""


def test_pushes_after_a_stack_switch_are_saves():
    saves = "push %rax; push %rcx; push %rdx; push %rsi; push %rdi; push %r8; push %r9; " \
            "push %r10; push %r11"
    restores = "pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; pop %rdx; pop %rcx; " \
               "pop %rax"
    _, _, result = check(SWITCHING_HANDLER.format(saves=saves, restores=restores))
    assert rules(result) == []


def test_a_register_not_pushed_after_a_stack_switch_is_caught():
    saves = "push %rax; push %rdx; push %rsi; push %rdi; push %r8; push %r9; push %r10; push %r11"
    restores = "pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; pop %rdx; pop %rax"
    image, _, result = check(SWITCHING_HANDLER.format(saves=saves, restores=restores))
    assert [(f.rule, f.address, f.details["registers"]) for f in result.findings] == \
        [("unsaved-scratch-across-call", image["site"], ["rcx"])]


CALLS_F = f"""
h:  {SAVE_SCRATCH}
    call f
    {RESTORE_SCRATCH}
    iretq
"""


def test_a_memory_barrier_below_rsp_is_no_red_zone_use():
    """Linux's smp_mb(): `lock addl $0,-4(%rsp)` leaves the memory as it was."""
    _, _, result = check(CALLS_F + "f: lock addl $0, -4(%rsp)\n ret")
    assert rules(result) == []
    image, _, result = check(CALLS_F + "f:\nbug: movl $1, -4(%rsp)\n ret")
    assert rules(result) == [("red-zone-use", image["bug"])]


def test_simd_use_in_code_that_saves_that_state_itself_is_not_reported():
    """Linux's FPU code (fnclex before xrstor) manages x87/SSE state on purpose."""
    _, _, result = check(CALLS_F + "f: fnclex\n fxrstor (%rdi)\n ret")
    assert rules(result) == []
    image, _, result = check(CALLS_F + "f:\nbug: fnclex\n ret")
    assert rules(result) == [("simd-clobbered", image["bug"])]


def test_a_handler_in_zeroed_memory_is_a_warning_and_costs_nothing():
    """An IVT at reset, or a gate set before its handler was copied: zeros are
    no code (they decode as `add %al,(%rax)` forever)."""
    image = assemble("h: .fill 64, 1, 0")
    result = Analyzer(image.read, 64).check(image["h"], tuple(range(32)))
    assert [(f.rule, f.severity) for f in result.findings] == \
        [("handler-in-zeroed-memory", "warning")]
    assert result.findings[0].message == (
        "the handler address holds zero bytes, memory no code was loaded into: delivering "
        "vectors 0-31 would run no handler")
    assert result.instructions == 0


def test_a_long_lived_analyzer_restarts_its_clock():
    """The run tracker keeps one Analyzer for the session: its time budget is
    per analysis, or every analysis after the first 20 s would stop at once."""
    image = assemble("""
h:  push %rax
    .rept 600
    mov $1, %eax
    .endr
at: pop %rax
    iretq""")       # long enough for the clock to be looked at (every 256 visits)
    analyzer = Analyzer(image.read, 64, seconds=0.0)     # its clock already ran out
    _, states = analyzer.states_at(image["h"])
    assert image["at"] not in states
    analyzer.seconds = 5.0
    analyzer.start_clock()
    _, states = analyzer.states_at(image["h"])
    assert image["at"] in states
