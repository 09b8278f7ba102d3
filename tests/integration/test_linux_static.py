"""isr-check and isr-saved on Linux (Debian's cloud kernel, 2 CPUs, no
symbols): the static analysis finishes on the whole IDT in bounded time and
memory with no error on Linux's correct entry code, and isr-saved finds
pt_regs where the entry code put them: on the entry stack at the entry, on
the task stack (a copy) in the C handler, on the interrupted stack for a
timer interrupt from the kernel.

Where a test needs the C handler's address (there are no symbols), it
decodes the stub's bytes itself with capstone inside GDB: the idtentry stub
calls error_entry, then the C handler.
"""

import pytest

from .conftest import LINUX_APPEND, batch
from .test_linux import UNTIL_FROM_RING3, printed_values, run_to

GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")


def linux_batch(linux, mode, commands, timeout=120, append=""):
    return batch(linux.vmlinuz, f"{LINUX_APPEND} isrdbg_mode={mode} {append}".strip(), commands,
                 timeout=timeout,
                 extra=["--initrd", linux.initrd, "--smp", 2, "--memory", "512M", "--tcg"])


PEAK_RSS = ("python print('isrdbg-test: rss_kb', next(int(line.split()[1]) for line in "
            "open('/proc/self/status') if line.startswith('VmHWM')))")

# Stopped at an idtentry stub: its second call is the C handler.  Break there
# on this CPU only (the other CPU runs the same code).
BREAK_AT_C_HANDLER = (
    "python exec(\"import capstone\\n"
    "pc = int(gdb.parse_and_eval('$pc'))\\n"
    "code = bytes(gdb.selected_inferior().read_memory(pc, 48))\\n"
    "engine = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)\\n"
    "calls = [int(i.op_str, 16) for i in engine.disasm(code, pc) if i.mnemonic == 'call']\\n"
    "print('isrdbg-test: c_handler', calls[1])\\n"
    "gdb.set_convenience_variable('c_handler', calls[1])\\n"
    "gdb.execute(f'break *{calls[1]:#x} thread {gdb.selected_thread().num}')\")")
UNTIL_C_HANDLER = (
    "python exec(\"for n in range(50):\\n"
    "    gdb.execute('continue')\\n"
    "    if int(gdb.parse_and_eval('$pc')) == int(gdb.convenience_variable('c_handler')):\\n"
    "        break\")")
PRINT_GPRS = [f"python print('isrdbg-test: {r}', int(gdb.parse_and_eval('(unsigned long)${r}')))"
              for r in GPRS]


def saved_docs(result):
    return result.docs("saved")


@pytest.mark.parametrize("append", ["", "pti=on"])
def test_check_all_on_linux(linux, append):
    """With pti=on, stopped in user mode, most kernel text cannot be read:
    what cannot be seen is not judged (notes say so), never an error."""
    result = linux_batch(linux, "pf", [*run_to(linux, "exercise_page_faults"),
                                       "isr-check --json all", PEAK_RSS],
                         append=append)
    assert result.returncode == 0, result.stdout + result.stderr
    values = printed_values(result)
    assert values["rss_kb"] < 1024 * 1024
    doc = result.doc("check")
    assert sorted(v for h in doc["handlers"] for v in h["vectors"]) == list(range(256))
    findings = [(h["vectors"], f) for h in doc["handlers"] for f in h["findings"]]
    # Linux's entry code is correct: nothing but gates left at freed init code
    assert [f["rule"] for _, f in findings if f["severity"] == "error"] == []
    assert {f["rule"] for _, f in findings} <= {"handler-in-freed-memory"}
    for vectors, finding in findings:
        assert set(vectors) <= {9, 15, 18} | set(range(20, 32)) - {29}, vectors
    by_vector = {v: h for h in doc["handlers"] for v in h["vectors"]}
    page_fault = by_vector[14]
    assert not page_fault["truncated"] or page_fault["notes"]
    assert any(n.startswith("followed 0x") and "saves into its caller's frame" in n
               for n in page_fault["notes"]), page_fault["notes"]
    assert any(n.startswith("calls summarised by the SysV ABI") for n in page_fault["notes"])
    assert [e["kind"] for e in page_fault["exits"]] == ["iret"]


def check_pt_regs(doc, interrupted, error_code):
    """The 15 GPR slots of pt_regs, in its order, holding the interrupted values."""
    slots = doc["slots"]
    assert [s["register"] for s in slots] == ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11",
                                               "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
                                               "rdi"]
    first = -0x78 if error_code else -0x80
    assert [s["frame_offset"] for s in slots] == list(range(first, first + 15 * 8, 8))
    assert all(s["matches"] is True for s in slots), slots
    for slot in slots:
        assert int(slot["value"], 16) == interrupted[slot["register"]], slot
    addresses = [int(s["address"], 16) for s in slots]
    assert addresses == list(range(addresses[0], addresses[0] + 15 * 8, 8))


def test_saved_at_a_page_fault_entry_and_in_its_c_handler(linux):
    result = linux_batch(linux, "pf", [
        *run_to(linux, "exercise_page_faults"), "isr-break 14", UNTIL_FROM_RING3,
        *PRINT_GPRS, "isr-saved --json", BREAK_AT_C_HANDLER,
        UNTIL_C_HANDLER, "isr-saved --json"])
    assert result.returncode == 0, result.stdout + result.stderr
    values = printed_values(result)
    at_entry, in_c = saved_docs(result)
    # At the stub's first instruction nothing is saved yet, and nothing is lost.
    assert at_entry["slots"] == [] and at_entry["lost"] == []
    # In the C handler (entered from ring 3): error_entry saved pt_regs on the
    # entry stack and sync_regs copied it to the task stack, where it is found.
    assert in_c["via_call"] is not None and int(in_c["rip"], 16) == values["c_handler"]
    check_pt_regs(in_c, values, error_code=True)
    frame = int(in_c["frame"], 16)
    assert not frame - 0x1000 < int(in_c["slots"][0]["address"], 16) < frame
    assert any("switched stacks" in n and "copy of its entry stack" in n for n in in_c["notes"])


def test_saved_in_a_timer_interrupt(linux):
    timer = 0xec        # LOCAL_TIMER_VECTOR
    result = linux_batch(linux, "pf", [
        *run_to(linux, "exercise_page_faults"), f"isr-break {timer}", "continue", *PRINT_GPRS,
        BREAK_AT_C_HANDLER, UNTIL_C_HANDLER, "isr-saved --json"])
    assert result.returncode == 0, result.stdout + result.stderr
    values = printed_values(result)
    [doc] = saved_docs(result)
    check_pt_regs(doc, values, error_code=False)


# Every gate's handler and whether its first 16 bytes are all int3, read here.
PRINT_FREED_GATES = (
    "python exec(\"inferior = gdb.selected_inferior()\\n"
    "for vector in range(256):\\n"
    "    raw = bytes(inferior.read_memory(0xfffffe0000000000 + 16 * vector, 16))\\n"
    "    low, high = int.from_bytes(raw[:8], 'little'), int.from_bytes(raw[8:], 'little')\\n"
    "    handler = (low & 0xFFFF) | ((low >> 48) << 16) | ((high & 0xFFFFFFFF) << 32)\\n"
    "    try:\\n"
    "        freed = set(bytes(inferior.read_memory(handler, 16))) == {0xcc}\\n"
    "    except gdb.MemoryError:\\n"
    "        freed = False\\n"
    "    if freed:\\n"
    "        print('isrdbg-test: freed', vector)\")")


def test_gates_at_freed_init_code_are_warned(linux):
    result = linux_batch(linux, "pf", [*run_to(linux, "exercise_page_faults"), PRINT_FREED_GATES,
                                       "isr-idt --json", "isr-check --json 0-31"])
    assert result.returncode == 0, result.stdout + result.stderr
    freed = [int(line.split()[-1]) for line in result.stdout.splitlines()
             if line.startswith("isrdbg-test: freed ")]
    assert 18 in freed          # #MC's handler is in .init.text on Debian's cloud kernel
    [warning] = result.doc("idt")["warnings"]
    assert warning["rule"] == "handler-in-freed-memory" and warning["vectors"] == freed
    checked = {v: h for h in result.doc("check")["handlers"] for v in h["vectors"]}
    for vector in range(32):
        rules = [(f["rule"], f["severity"]) for f in checked[vector]["findings"]]
        assert rules == ([("handler-in-freed-memory", "warning")] if vector in freed else [])


# From a timer entry that interrupted ring 0, run on this CPU to the C
# handler, then single-step until RSP is on another stack far away (Linux's
# per-CPU IRQ stack) outside the entry code.  Retried: the timer may also
# come from user mode, where Linux stays on the task stack.
TO_IRQ_STACK = """python
import capstone
engine = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
def reg(name):
    return int(gdb.parse_and_eval(f'(unsigned long)${name}'))
gdb.execute('set scheduler-locking step')    # stepi moves this CPU only
for attempt in range(30):
    gdb.execute('continue')
    try:                # the other CPU may have stopped where its stack is unreadable
        if int(gdb.parse_and_eval('*(unsigned long *)($rsp + 8)')) & 3:
            continue
    except gdb.MemoryError:
        continue
    stub, thread = reg('pc'), gdb.selected_thread().num
    code = bytes(gdb.selected_inferior().read_memory(stub, 48))
    calls = [int(i.op_str, 16) for i in engine.disasm(code, stub) if i.mnemonic == 'call']
    if len(calls) < 2:
        continue
    c_handler = calls[1]
    stop = gdb.Breakpoint(f'*{c_handler:#x}', internal=True)
    stop.thread = thread
    for n in range(50):
        gdb.execute('continue')
        if gdb.selected_thread().num == thread and reg('pc') == c_handler:
            break
    stop.delete()
    rsp0 = reg('rsp')
    on_irq_stack = False
    for n in range(400):
        gdb.execute('stepi', to_string=True)
        pc = reg('pc')
        if gdb.selected_thread().num != thread or stub - 0x1000 <= pc < stub + 0x1000:
            break
        if abs(reg('rsp') - rsp0) > 0x10000:
            on_irq_stack = True
            break
    if on_irq_stack:
        print('isrdbg-test: irq_rsp', reg('rsp'))
        break
end"""


def test_saved_on_the_irq_stack(linux):
    """Deep in a timer interrupt, on the IRQ stack: the handler's call is on
    the task stack whose RSP Linux saved at the top of the IRQ stack."""
    result = linux_batch(linux, "pf", [*run_to(linux, "exercise_page_faults"), "isr-break 0xec",
                                       *TO_IRQ_STACK.splitlines(),
                                       "isr-saved --json"], timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    values = printed_values(result)
    assert "irq_rsp" in values, result.stdout
    doc = result.doc("saved")
    assert any(n.startswith(f"RSP {values['irq_rsp']:#x} is on a stack of its own (an IRQ "
                            f"stack)") for n in doc["notes"]), doc["notes"]
    assert len(doc["slots"]) == 15 and all(s["matches"] is True for s in doc["slots"])
