"""isrdbg on a real Linux kernel: Debian's cloud kernel (fetched by ./run setup,
never a fixed version) with 2 CPUs, running isrdbg's own /init
(qemu_targets/linux/init.c). No kernel symbols: every expectation comes from
the x86 architecture, from Linux's fixed IDT alias, or from our /init, whose
addresses nm and objdump give.

A test first runs the kernel to a function of /init (a hardware breakpoint on
a user address: it matches in every address space, mapped or not yet), so the
kernel has booted and its IDT is live, then asks isrdbg.
"""

import re
import subprocess
import time
from typing import Dict

import pytest

from .conftest import LINUX_APPEND, batch, symbols

# Linux maps a read-only alias of idt_table at the start of the CPU entry
# area (CPU_ENTRY_AREA_RO_IDT), with 4-level paging at this address.
LINUX_IDT_BASE = 0xfffffe0000000000
USER_SPACE_END = 0x0000800000000000
KERNEL_TEXT_START = 0xffffffff80000000

# Continues until the stop is a handler entry from ring 3: the kernel also
# takes page faults in ring 0 (copying from user memory), which this skips.
# CS of the interrupted context sits 16 bytes above RSP after the error code.
UNTIL_FROM_RING3 = ("python exec(\"for n in range(1, 200):\\n"
                    "    gdb.execute('continue')\\n"
                    "    if int(gdb.parse_and_eval('*(unsigned long *)($rsp + 16)')) & 3 == 3:\\n"
                    "        print('isrdbg-test: ring-3 stop after', n)\\n"
                    "        break\")")


def print_value(label: str, expression: str) -> str:
    return f"python print('isrdbg-test: {label}', int(gdb.parse_and_eval('{expression}')))"


def printed_values(result) -> Dict[str, int]:
    values = {}
    for line in result.stdout.splitlines():
        if line.startswith("isrdbg-test: ") and not line.startswith("isrdbg-test: ring-3"):
            label, value = line[len("isrdbg-test: "):].split()
            values[label] = int(value)
    return values


def linux_batch(linux, mode, commands, timeout=60):
    """Boots the kernel on 2 CPUs with /init doing only `mode` (a comma list
    of its exercises) and runs commands in isrdbg's GDB."""
    return batch(linux.vmlinuz, f"{LINUX_APPEND} isrdbg_mode={mode}", commands,
                 timeout=timeout,
                 extra=["--initrd", linux.initrd, "--smp", 2, "--memory", "512M", "--tcg"])


def run_to(linux, function: str):
    return [f"hbreak *{symbols(linux.init)[function]:#x}", "continue", "delete"]


def function_range(linux, function: str):
    table = symbols(linux.init)
    start = table[function]
    end = min(address for address in table.values() if address > start)
    return start, end


def gate(raw: bytes) -> dict:
    """An IDT gate, decoded here from its 16 bytes (SDM Vol. 3, 6.14.1)."""
    low = int.from_bytes(raw[:8], "little")
    high = int.from_bytes(raw[8:], "little")
    return {"handler": (low & 0xFFFF) | ((low >> 48) << 16) | ((high & 0xFFFFFFFF) << 32),
            "selector": (low >> 16) & 0xFFFF, "ist": (low >> 32) & 7,
            "type_code": (low >> 40) & 0xF, "dpl": (low >> 45) & 3,
            "present": bool((low >> 47) & 1)}


def test_idt_from_the_live_kernel(linux):
    vectors = [1, 2, 8, 14, 0x80]
    raw = [f"python print('isrdbg-test: gate{v}', int.from_bytes(gdb.selected_inferior()"
           f".read_memory({LINUX_IDT_BASE + 16 * v:#x}, 16).tobytes(), 'little'))"
           for v in vectors]
    result = linux_batch(linux, "syscall", [*run_to(linux, "_start"),
                                            "isr-idt --json " + " ".join(map(str, vectors)),
                                            *raw])
    assert result.returncode == 0, result.stdout + result.stderr
    idt = result.doc("idt")
    assert int(idt["base"], 16) == LINUX_IDT_BASE
    assert idt["mode"] == "long" and idt["gate_size"] == 16 and idt["count"] == 256
    entries = {entry["vector"]: entry for entry in idt["entries"]}
    assert sorted(entries) == vectors
    gates = {v: gate(printed_values(result)[f"gate{v}"].to_bytes(16, "little")) for v in vectors}
    for vector, entry in entries.items():
        # isrdbg's decoding equals the gate bytes decoded here.
        expected = gates[vector]
        assert int(entry["handler"], 16) == expected["handler"]
        assert (entry["selector"], entry["ist"], entry["type_code"], entry["dpl"],
                entry["present"]) == (expected["selector"], expected["ist"],
                                      expected["type_code"], expected["dpl"],
                                      expected["present"])
        # Linux: every one a present 64-bit interrupt gate into kernel text.
        assert entry["present"] and entry["type"] == "interrupt" and entry["type_code"] == 14
        assert int(entry["handler"], 16) >= KERNEL_TEXT_START
        assert entry["selector"] == 0x10 and entry["problems"] == []
    assert entries[14]["dpl"] == 0 and entries[14]["ist"] == 0
    assert entries[14]["error_code"] is True
    assert entries[0x80]["dpl"] == 3, "int $0x80 must be allowed from ring 3"
    assert entries[0x80]["ist"] == 0
    for vector in (1, 2, 8):      # #DB, NMI, #DF run on their own IST stacks
        assert entries[vector]["ist"] != 0 and entries[vector]["dpl"] == 0
    assert len({entries[v]["ist"] for v in (1, 2, 8)}) == 3


def test_user_page_fault_on_fresh_mmap_memory(linux):
    start, end = function_range(linux, "exercise_page_faults")
    result = linux_batch(linux, "pf", [*run_to(linux, "exercise_page_faults"),
                                       "isr-idt --json 14", "isr-break 14", UNTIL_FROM_RING3,
                                       "isr-frame --json", print_value("pc", "$pc"),
                                       print_value("cr2", "$cr2")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "isrdbg-test: ring-3 stop after" in result.stdout, result.stdout
    handler = int(result.doc("idt")["entries"][0]["handler"], 16)
    values = printed_values(result)
    frame = result.doc("frame")
    # The stop is the #PF gate's handler, and isrdbg says so.
    assert values["pc"] == handler
    assert frame["vector"] == 14 and int(frame["handler"], 16) == handler
    assert frame["source"] == "entry" and frame["bits"] == 64
    # The first write to a fresh page: user-mode write, page not present.
    assert frame["has_error_code"] is True and frame["size"] == 48
    assert frame["error_code"]["value"] == "0x6"
    fields = {f["name"]: f["value"] for f in frame["error_code"]["fields"]}
    assert (fields["P"], fields["W/R"], fields["U/S"], fields["I/D"]) == (0, 1, 1, 0)
    # From ring 3, in /init's page-fault exercise, on the kernel's entry stack.
    assert frame["cs"]["rpl"] == 3 and frame["ss"]["rpl"] == 3
    assert frame["interrupted_cpl"] == 3 and frame["handler_cpl"] == 0
    assert frame["privilege_change"] is True and frame["stack_switch"] == "RSP0"
    assert start <= int(frame["rip"], 16) < end
    assert int(frame["rsp"], 16) < USER_SPACE_END
    cr2 = int(frame["cr2"], 16)
    assert cr2 == values["cr2"] and cr2 < USER_SPACE_END and cr2 % 4096 == 0
    assert frame["rejected"] and all(r.startswith("without error code") for r in frame["rejected"])


def test_instruction_fetch_page_fault(linux):
    """/init's first instruction is on a page the kernel maps only when the
    CPU fetches it: the #PF frame's RIP is that unmapped address (= CR2)."""
    entry = symbols(linux.init)["_start"]
    result = linux_batch(linux, "syscall", [*run_to(linux, "_start"), "isr-break 14",
                                            UNTIL_FROM_RING3, "isr-frame --json"])
    assert result.returncode == 0, result.stdout + result.stderr
    frame = result.doc("frame")
    assert frame["vector"] == 14 and frame["has_error_code"] is True
    assert frame["error_code"]["value"] == "0x14"     # user-mode instruction fetch, not present
    assert int(frame["rip"], 16) == int(frame["cr2"], 16) == entry
    assert frame["cs"]["rpl"] == 3


def int80_return_address(linux) -> int:
    """The address after /init's `int $0x80` (cd 80), from objdump."""
    start, end = function_range(linux, "exercise_int80")
    listing = subprocess.run(["objdump", "-d", f"--start-address={start:#x}",
                              f"--stop-address={end:#x}", str(linux.init)],
                             capture_output=True, text=True, check=True).stdout
    found = re.findall(r"^\s*([0-9a-f]+):\s+cd 80\s", listing, re.M)
    assert len(found) == 1, listing
    return int(found[0], 16) + 2


def test_int80_from_ring3_has_no_error_code(linux):
    result = linux_batch(linux, "int80", [*run_to(linux, "exercise_int80"),
                                          "isr-idt --json 0x80", "isr-break 0x80", "continue",
                                          "isr-frame --json", print_value("pc", "$pc"),
                                          print_value("rax", "$rax")])
    assert result.returncode == 0, result.stdout + result.stderr
    handler = int(result.doc("idt")["entries"][0]["handler"], 16)
    values = printed_values(result)
    frame = result.doc("frame")
    assert values["pc"] == handler
    assert values["rax"] == 20          # the 32-bit ABI's getpid
    assert frame["vector"] == 0x80 and int(frame["handler"], 16) == handler
    assert frame["has_error_code"] is False and frame["error_code"] is None
    assert frame["size"] == 40
    assert frame["cs"]["rpl"] == 3 and frame["interrupted_cpl"] == 3
    assert frame["privilege_change"] is True and frame["stack_switch"] == "RSP0"
    assert int(frame["rip"], 16) == int80_return_address(linux)


def test_init_runs_everything_on_2_cpus(linux, tmp_path):
    """The /init itself, with plain QEMU and no debugger: every exercise
    passes its own check and the worker runs on both CPUs."""
    serial = tmp_path / "serial.log"
    qemu = subprocess.Popen(["qemu-system-x86_64", "-m", "512M", "-smp", "2,sockets=2",
                             "-kernel", str(linux.vmlinuz), "-initrd", str(linux.initrd),
                             "-append", f"{LINUX_APPEND} isrdbg_every=20", "-display", "none",
                             "-monitor", "none", "-serial", f"file:{serial}", "-no-reboot"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        loops = []
        while time.monotonic() < deadline and len(loops) < 6:
            time.sleep(0.5)
            text = serial.read_text(errors="replace") if serial.exists() else ""
            loops = re.findall(r"^isrdbg-init: loop (\d+) cpu (\d+) migrations (\d+)\r?$",
                               text, re.M)
    finally:
        qemu.kill()
        qemu.wait()
    assert "isrdbg-init: started mode=all every=20" in text, text[-2000:]
    assert len(loops) >= 6, text[-2000:]
    assert [int(n) for n, _, _ in loops[:6]] == [20, 40, 60, 80, 100, 120]
    assert "isrdbg-init: FAIL" not in text, text[-2000:]
    assert {cpu for _, cpu, _ in loops} == {"0", "1"}
    assert int(loops[-1][2]) >= 4
