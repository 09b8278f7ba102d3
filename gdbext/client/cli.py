"""The `isrdbg` console script."""

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

from .. import __version__, source_root
from ..errors import IsrError, UsageError
from . import processes, trace_plugin
from .boot import ACCELS, DEFAULT_MEMORY, MAX_CPUS, BootSpec
from .elf import ARCHES
from .gdb_launch import (batch_script, gdb_argv, gdb_environment, parse_attach,
                         running_command, setup_commands)
from .qemu import Qemu

DEFAULT_BATCH_TIMEOUT = 120.0


def _targets_dir() -> Path:
    root = source_root()
    if root is None:
        raise UsageError("the bundled test kernels live in the source checkout; run isrdbg "
                         "from a clone of the repository (pip install -e .)")
    return root / "qemu_targets"


def bundled_kernel(arch: str) -> Path:
    return _targets_dir() / "build" / arch / "kernel.elf"


def build_targets(quiet: bool = False) -> None:
    """Build the test kernels with the project's own Makefile."""
    if shutil.which("make") is None:
        raise IsrError("make not found (install make, or run ./run setup)")
    jobs = str(os.cpu_count() or 1)
    result = subprocess.run(["make", "-s", "-C", str(_targets_dir()), f"-j{jobs}"],
                            stdout=subprocess.DEVNULL if quiet else None)
    if result.returncode != 0:
        raise IsrError(f"building the test kernels failed (make exit {result.returncode})")


@contextmanager
def _sigint_for_child_only():
    """While GDB owns the terminal, Ctrl-C interrupts the target, not us."""
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


_parse_attach = parse_attach


def run_gdb(boot: BootSpec, ex: List[str] = (), batch: bool = False,
            attach: Optional[str] = None, serial: Optional[Path] = None,
            timeout: Optional[float] = None, keep: bool = False) -> int:
    """Start QEMU (unless attaching) and GDB with isrdbg loaded; GDB's exit status."""
    plan = boot.plan(attaching=attach is not None)
    remote = _parse_attach(attach) if attach else None
    workdir = Path(tempfile.mkdtemp(prefix="isrdbg-"))
    qemu = gdb = None
    try:
        if remote is None:
            qemu = Qemu(plan, workdir, serial).start()
            remote = str(qemu.socket)
            if not batch:
                print(f"isrdbg: {plan.arch.qemu} paused at reset ({plan.describe()}); "
                      f"serial output goes to {qemu.serial}")
        program, note = plan.program_file(workdir)
        for note in (note, plan.kaslr_note()):
            if note:
                print(f"isrdbg: note: {note}", file=sys.stderr)
        commands = setup_commands(plan.arch, program, remote) + list(ex)
        env = gdb_environment()
        if qemu is not None:
            status = workdir / "qemu.status"
            processes.record_exit_status(qemu.process, status)
            env = gdb_environment(qemu.process.pid, status)
        if batch:
            return _run_batch(commands, workdir, env, timeout)
        gdb = processes.spawn_gdb(gdb_argv(commands, False), env=env)
        with _sigint_for_child_only():
            return gdb.wait()
    finally:
        processes.stop_gdb(gdb)
        if qemu is not None:
            qemu.stop()
        if keep:
            print(f"isrdbg: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_batch(commands: List[str], workdir: Path, env: dict, timeout: Optional[float]) -> int:
    """GDB running ``commands`` from a script: the first that fails ends it
    (connecting included) with a non-zero status.  GDB gets its own process
    group, ended whole (a `shell` command's children too)."""
    script, progress = workdir / "commands.gdb", workdir / "progress"
    script.write_text(batch_script(commands, progress))
    gdb = processes.spawn_gdb(gdb_argv([], True, script), env=env, own_session=True,
                              stdin=subprocess.DEVNULL)
    limit = DEFAULT_BATCH_TIMEOUT if timeout is None else timeout
    try:
        return gdb.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        command = running_command(commands, progress)
        processes.stop_gdb(gdb, group=True)     # first: what GDB says then comes before ours
        doing = f"GDB was still running `{command}`" if command else "GDB had not started"
        print(f"isrdbg: gave up after {limit:g}s: {doing}", file=sys.stderr)
        return 124
    finally:
        processes.stop_gdb(gdb, group=True)


# The demo session: (title, arch, kernel command line, GDB commands).
DEMO_STEPS = [
    ("The IDT of the x86_64 kernel once it is loaded", "x86_64", "scenario=idle",
     ["break scenario_start", "continue", "isr-idt", "isr-idt #PF 0x80"]),
    ("A page fault from ring 3, caught at the handler's entry", "x86_64",
     "scenario=pf-user-write-readonly", ["isr-break page-fault", "continue"]),
    ("A software int $14: same vector, but no error code on the stack", "x86_64",
     "scenario=int14", ["isr-break 14", "continue"]),
    ("The i386 kernel: 8-byte gates, a task gate for #DF, a #GP with a selector", "i386",
     "scenario=gp-selector", ["isr-break #GP", "continue", "isr-idt 8-14"]),
    ("A stub that pops two registers in the wrong order, caught as it returns and statically",
     "x86_64", "scenario=bad-pop-order",
     ["isr-watch all", "continue", "isr-check 0x50"]),
    ("Inside the C function a stub called: what the stub saved, and what it lost", "x86_64",
     "scenario=bad-scratch-not-saved",
     ["isr-break 0x54", "continue", "break bad_scratch_not_saved_c", "continue", "isr-saved"]),
]


# A kernel nobody here wrote: Debian's Linux (fetched by ./run setup) on 2 CPUs
# with the project's busy /init; every vector traced until /init has printed
# LINUX_DEMO_LINES more progress lines.  With a QEMU that has the plugin API
# (./run demo puts .qemu/10 first in PATH) the trace plugin records and the
# guest never stops for it.
LINUX_DEMO_TITLE = ("Debian's Linux on 2 CPUs: every vector traced while isrdbg's /init "
                    "runs (page faults, int $0x80, syscalls, signals, fork, migrations)")
LINUX_DEMO_APPEND = "console=ttyS0 nokaslr panic=-1 isrdbg_mode=all"
LINUX_DEMO_LINES = 6
LINUX_DEMO_BREAKPOINT_RUNS = 40


def linux_demo_step(targets: Path):
    """((title, BootSpec, commands, note), None) of the Linux step, or (None,
    why) when the kernel was not fetched."""
    linux = targets / "build" / "linux"
    vmlinuz, initrd, init = linux / "vmlinuz", linux / "initramfs.cpio", linux / "init"
    missing = [path for path in (vmlinuz, initrd, init) if not path.is_file()]
    if missing:
        return None, (f"no {_display_path(missing[0])}: ./run setup fetches Debian's kernel "
                      "(qemu_targets/linux/fetch-kernel.sh)")
    boot = BootSpec(vmlinuz, LINUX_DEMO_APPEND, initrd=initrd, smp=2, memory="512M")
    commands = [f"add-symbol-file {_display_path(init)}",     # /init's own symbols (user space)
                "hbreak worker_forever", "continue", "delete"]
    no_plugin = trace_plugin.why_not(boot.plan().arch.qemu)
    note = None
    if no_plugin is None:
        commands += ["isr-trace all", "hbreak emit", f"ignore $bpnum {LINUX_DEMO_LINES - 1}"]
    else:
        # every breakpoint stop costs Linux ~0.1 s under TCG (QEMU retranslates
        # its code): a few runs of two vectors, then the next progress line
        note = f"no trace plugin ({no_plugin}): a short trace with breakpoints"
        commands += [f"isr-trace --limit {LINUX_DEMO_BREAKPOINT_RUNS} 14 0x80", "hbreak emit"]
    commands += ["continue", "delete", "isr-trace report"]
    return (LINUX_DEMO_TITLE, boot, commands, note), None


# The demo's last step: the bundled scenario suite, run by `isrdbg run`.
DEMO_SUITE_TITLE = ("Every bundled scenario as a regression run: correct handlers without "
                    "findings, broken ones with exactly their rule")


def _echoed(commands: List[str]) -> List[str]:
    """Each command preceded by an echo of it, as a session would show it."""
    ex = []
    for command in commands:
        ex += [f"echo (gdb) {command}\\n", command]
    return ex


def run_demo() -> int:
    print("isrdbg demo: building the bundled kernels", flush=True)
    build_targets()
    status = 0
    for title, arch, append, commands in DEMO_STEPS:
        kernel = bundled_kernel(arch)
        print(f"\n=== {title}\n$ isrdbg gdb {_display_path(kernel)} --append '{append}' "
              f"--batch -ex ...", flush=True)
        status |= run_gdb(BootSpec(kernel, append), _echoed(commands), batch=True)
    step, why_not = linux_demo_step(_targets_dir())
    if step is None:
        print(f"\n=== {LINUX_DEMO_TITLE}\nisrdbg demo: skipped: {why_not}", flush=True)
    else:
        title, boot, commands, note = step
        print(f"\n=== {title}\n$ isrdbg gdb {_display_path(boot.kernel)} --initrd "
              f"{_display_path(boot.initrd)} --smp 2 --memory 512M --append "
              f"'{boot.append}' --batch -ex ...", flush=True)
        if note:
            print(f"isrdbg demo: {note}", flush=True)
        status |= run_gdb(boot, _echoed(commands), batch=True, timeout=600)
    from .runner import run_command
    suite = _targets_dir() / "scenarios"
    print(f"\n=== {DEMO_SUITE_TITLE}\n$ isrdbg run {_display_path(suite)}", flush=True)
    status |= run_command([suite], progress_lines=False)
    return status


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isrdbg", description=(
        "Debug x86 interrupt and exception handlers with GDB and QEMU."))
    parser.add_argument("--version", action="version", version=f"isrdbg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("build", help="build the bundled test kernels (qemu_targets/)")
    sub.add_parser("demo", help="build the kernels and show isrdbg at work on them")
    gdb = sub.add_parser("gdb", help="start QEMU on KERNEL, paused, and GDB with isrdbg loaded",
                         description="Start QEMU on KERNEL (paused, private gdbstub socket) "
                                     "and GDB with isrdbg loaded, symbols read and connected.")
    _target_options(gdb)
    gdb.add_argument("-ex", dest="ex", action="append", default=[], metavar="CMD",
                     help="GDB command to run after connecting (repeatable)")
    gdb.add_argument("--batch", action="store_true",
                     help="run the -ex commands and exit; non-zero if one failed")
    gdb.add_argument("--serial", type=Path, metavar="FILE", help="write COM1 output to FILE")
    gdb.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                     help=f"with --batch: give up after SECONDS (default {DEFAULT_BATCH_TIMEOUT:g})")
    gdb.add_argument("--keep", action="store_true",
                     help="keep the work directory (serial log, QEMU command line)")
    run = sub.add_parser("run", help="run scenario files (QEMU + GDB each, in parallel) and "
                                     "report what the handlers did",
                         description="Run each scenario file in its own QEMU and GDB, compare "
                                     "the findings with its expectation, print a table and "
                                     "write reports. Exit status: 0 all as expected, 1 findings "
                                     "unexpected or required ones missing, 2 infrastructure "
                                     "errors (kernel missing, boot failure, timeout, triple "
                                     "fault) or a malformed scenario file.")
    run.add_argument("scenarios", nargs="+", type=Path, metavar="SCENARIO",
                     help="scenario file (TOML), or a directory of them")
    run.add_argument("-j", "--jobs", type=int, metavar="N",
                     help=f"scenarios at a time (default: CPU count, {os.cpu_count() or 1})")
    run.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    run.add_argument("--json", type=Path, metavar="FILE",
                     help="write the JSON report (isrdbg/1 run-report)")
    run.add_argument("--keep-artifacts", type=Path, metavar="DIR",
                     help="keep each scenario's serial log, GDB log and QEMU command line "
                          "under DIR/ARCH/NAME/")
    repl = sub.add_parser("repl", help="an interactive isrdbg prompt: QEMU and GDB driven over "
                                       "GDB/MI, with completion, history and a status bar",
                          description="Start QEMU on KERNEL (or attach to HOST:PORT) and GDB "
                                      "with isrdbg, and prompt for isr and GDB commands.")
    _target_options(repl)
    repl.add_argument("--no-color", action="store_true", help="no colours in the output")
    return parser


def _target_options(parser) -> None:
    """What `isrdbg gdb` and `isrdbg repl` both need to start or reach a target."""
    parser.add_argument("kernel", nargs="?", type=Path,
                        help="kernel to boot: a multiboot ELF (its symbols are loaded too) or a "
                             "Linux bzImage; leave out to boot from --drive/--cdrom")
    parser.add_argument("--append", default="", metavar="ARGS", help="kernel command line")
    parser.add_argument("--initrd", type=Path, metavar="FILE",
                        help="initial RAM disk for a Linux bzImage")
    parser.add_argument("--symbols", type=Path, metavar="FILE",
                        help="ELF with the kernel's symbols for GDB (e.g. vmlinux); optional")
    parser.add_argument("--drive", dest="drives", action="append", default=[], type=Path,
                        metavar="IMAGE", help="disk image to boot from (raw or qcow2; repeatable)")
    parser.add_argument("--cdrom", type=Path, metavar="ISO", help="CD-ROM image to boot from")
    parser.add_argument("--memory", metavar="SIZE",
                        help=f"guest memory, e.g. 1G (default {DEFAULT_MEMORY})")
    parser.add_argument("--smp", type=_cpu_count, default=1, metavar="N",
                        help="number of CPUs, each its own socket so the BIOS tables list "
                             "them all (default 1)")
    # TCG by default: isrdbg's trace plugin and any number of breakpoints need
    # it, and a nested KVM (kvm_pvm here) cannot run every kernel.
    accel = parser.add_mutually_exclusive_group()
    accel.add_argument("--kvm", dest="accel", action="store_const", const="kvm",
                       help="run under KVM (hardware breakpoints only: four at most; no "
                            "trace plugin)")
    accel.add_argument("--tcg", dest="accel", action="store_const", const="tcg",
                       help="run under TCG, QEMU's emulator (the default: any number of "
                            "breakpoints, the trace plugin)")
    accel.add_argument("--accel", dest="accel", choices=ACCELS,
                       help="auto: KVM when /dev/kvm can be opened, else TCG")
    parser.set_defaults(accel="tcg")
    parser.add_argument("--attach", metavar="HOST:PORT",
                        help="connect to a QEMU you started (-s or -gdb tcp::PORT)")
    parser.add_argument("--arch", choices=sorted(ARCHES),
                        help="override the kernel's architecture (default: from the kernel, "
                             "x86_64 without one)")
    parser.add_argument("--qemu-arg", action="append", default=[], metavar="ARG",
                        help="extra QEMU argument (repeatable)")


def _cpu_count(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_CPUS:
        raise argparse.ArgumentTypeError(f"wants a number of CPUs from 1 to {MAX_CPUS}, "
                                         f"got {text!r}")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"wants a positive number of seconds, got {text!r}")
    return value


def boot_spec(args) -> BootSpec:
    """The BootSpec the target options describe."""
    return BootSpec(kernel=args.kernel, append=args.append, initrd=args.initrd,
                    symbols=args.symbols, memory=args.memory, smp=args.smp, accel=args.accel,
                    drives=tuple(args.drives), cdrom=args.cdrom, arch=args.arch,
                    qemu_args=tuple(args.qemu_arg))


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    # TERM (CI cancelling, kill) unwinds like Ctrl-C so QEMU and GDB are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))   # the terminal went away
    try:
        if args.command == "build":
            build_targets()
            return 0
        if args.command == "demo":
            return run_demo()
        if args.command == "run":
            from .runner import run_command
            if args.jobs is not None and args.jobs < 1:
                raise UsageError("-j wants a positive number of scenarios at a time")
            return run_command(args.scenarios, args.jobs, args.junit, args.json,
                               args.keep_artifacts)
        if args.command == "repl":
            from .repl import run_repl
            return run_repl(boot_spec(args), args.attach,
                            color=False if args.no_color else None)
        return run_gdb(boot_spec(args), args.ex, args.batch, args.attach, args.serial,
                       args.timeout, args.keep)
    except IsrError as error:
        print(f"isrdbg: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("isrdbg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
