"""What tracing costs a real kernel: Debian's Linux (2 CPUs, TCG) running
isrdbg's /init, whose worker prints `isrdbg-init: loop N` every few loops;
progress is loops per second of wall time, for

  no-isrdbg   QEMU alone (no gdbstub client);
  attached    isrdbg's GDB connected, nothing armed (the reference: ratio 1);
  trace-pf-80 `isr-trace 14 0x80` (a page fault and an int $0x80 per loop);
  trace-ec    `isr-trace 0xec` (Linux's local APIC timer);
  watch-all   `isr-watch --no-stop all` (every vector).

Each configuration runs in its own `isrdbg gdb --batch` process tree: boot
to /init's worker (a hardware breakpoint at worker_forever), arm, let the
guest run SECONDS of wall time, stop it.  Configurations are interleaved
across repeats; each is reported as the median of its repeats and as a
ratio to `attached` (the median over repeats of the ratio to that repeat's
`attached` run, so drifting host load cancels).  Also reported: the time
`isr-watch --no-stop all` takes to arm and how much GDB's memory grows.

    .venv/bin/python bench/linux_progress.py [--repeats 3] [--seconds 20]

The engine is the breakpoint one: QEMU 7.2 has no trace plugin (on QEMU 10
set ISRDBG_TRACE_PLUGIN=off to compare the same thing).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GDB_SIDE = ROOT / "bench" / "linux_gdb_side.py"
LINUX = ROOT / "qemu_targets" / "build" / "linux"
APPEND = "console=ttyS0 nokaslr panic=-1"
CONFIGS = {"no-isrdbg": None, "attached": "", "trace-pf-80": "isr-trace 14 0x80",
           "trace-ec": "isr-trace 0xec", "watch-all": "isr-watch --no-stop all",
           # not in the defaults: one do-nothing breakpoint hit per loop, the
           # fixed cost of a silent hit (GDB's step over it, QEMU's side)
           "bare-hit": "python BareBreakpoint('*{exercise_int80:#x}', internal=True)"}
DEFAULTS = ("no-isrdbg", "attached", "trace-pf-80", "trace-ec", "watch-all")
REFERENCE = "attached"


def init_symbols():
    out = subprocess.run(["nm", str(LINUX / "init")], capture_output=True, text=True,
                         check=True).stdout
    return {parts[2]: int(parts[0], 16) for parts in map(str.split, out.splitlines())
            if len(parts) == 3}


def last_loop(serial: Path) -> int:
    text = serial.read_text(errors="replace") if serial.exists() else ""
    loops = [int(line.split()[2]) for line in text.splitlines()
             if line.startswith("isrdbg-init: loop ")]
    return loops[-1] if loops else 0


def measure_alone(append, seconds, workdir):
    """Loops per second with QEMU alone, counted from the first progress line."""
    serial = workdir / "alone.log"
    serial.unlink(missing_ok=True)
    qemu = subprocess.Popen(["qemu-system-x86_64", "-m", "512M", "-smp", "2,sockets=2",
                             "-kernel", str(LINUX / "vmlinuz"), "-initrd",
                             str(LINUX / "initramfs.cpio"), "-append", append,
                             "-display", "none", "-monitor", "none", "-serial",
                             f"file:{serial}", "-no-reboot"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while last_loop(serial) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        t0, n0 = time.perf_counter(), last_loop(serial)
        time.sleep(seconds)
        t1, n1 = time.perf_counter(), last_loop(serial)
    finally:
        qemu.kill()
        qemu.wait()
    return dict(arm=None, loops=n1 - n0, elapsed=t1 - t0, rate=(n1 - n0) / (t1 - t0))


def measure_isrdbg(append, arm, seconds, workdir, worker, qemu_args=()):
    """Loops per second in isrdbg's GDB with ``arm`` run at /init's worker."""
    serial = workdir / "serial.log"
    serial.unlink(missing_ok=True)
    commands = [f"hbreak *{worker:#x}", "continue", "delete", f"source {GDB_SIDE}",
                f"python bench_progress({arm!r}, {seconds}, {str(serial)!r})"]
    argv = [sys.executable, "-m", "gdbext.client.cli", "gdb", str(LINUX / "vmlinuz"),
            "--initrd", str(LINUX / "initramfs.cpio"), "--smp", "2", "--memory", "512M",
            "--tcg", "--append", append, "--serial", str(serial), "--batch",
            "--timeout", str(seconds + 240)] + [f"--qemu-arg={a}" for a in qemu_args]
    for command in commands:
        argv += ["-ex", command]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=seconds + 300)
    docs = [json.loads(line[6:]) for line in proc.stdout.splitlines()
            if line.startswith("BENCH ")]
    if not docs:
        raise RuntimeError(f"isrdbg exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    return docs[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20, help="wall time per measurement")
    parser.add_argument("--every", type=int, default=1,
                        help="loops per progress line (1: traced runs make a few loops at most)")
    parser.add_argument("--qemu-arg", action="append", default=[],
                        help="extra QEMU argument for the isrdbg runs (e.g. -icount)")
    parser.add_argument("--configs", default=",".join(DEFAULTS),
                        help=f"comma list of {', '.join(CONFIGS)}")
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    append = f"{APPEND} isrdbg_every={args.every}"
    symbols = init_symbols()
    worker = symbols["worker_forever"]
    print(f"isrdbg Linux progress benchmark: {(LINUX / 'vmlinuz.version').read_text().strip()}"
          f", 2 CPUs, TCG, {args.seconds:g} s per run, {args.repeats} repeats (median)",
          flush=True)
    results = {c: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="isrdbg-linux-bench-") as tmp:
        workdir = Path(tmp)
        for repeat in range(args.repeats):
            for config in configs:
                arm = CONFIGS[config]
                arm = arm.format(**symbols) if arm else arm
                doc = (measure_alone(append, args.seconds, workdir) if arm is None else
                       measure_isrdbg(append, arm, args.seconds, workdir, worker, args.qemu_arg))
                results[config].append(doc)
                extra = ""
                if arm:
                    extra = (f" arming={doc['arming']:.2f}s gdb+{doc['rss_added_mib']:.0f}MiB"
                             f" (gdb {doc['rss_end_mib']:.0f}MiB at the end)"
                             f" judged={doc['recorded']} unmatched={doc['unmatched']}"
                             f" outside={doc['outside']}")
                print(f"  run {repeat + 1} {config:<11} loops={doc['loops']} "
                      f"rate={doc['rate']:.2f}/s{extra}", flush=True)
    reference = results.get(REFERENCE)
    print()
    print(f"{'config':<12} {'loops/s':>8} {'min-max':>12} {'ratio':>6}  {'arming s':>8} "
          f"{'GDB +MiB':>8}")
    for config, docs in results.items():
        rates = [d["rate"] for d in docs]
        ratio = float("nan")
        if reference:
            ratio = statistics.median([d["rate"] / r["rate"] if r["rate"] else float("nan")
                                       for d, r in zip(docs, reference)])
        arming = statistics.median([d["arming"] for d in docs]) if docs[0].get("arm") else None
        grown = statistics.median([d["rss_added_mib"] for d in docs]) if arming is not None \
            else None
        print(f"{config:<12} {statistics.median(rates):>8.2f} "
              f"{f'{min(rates):.1f}-{max(rates):.1f}':>12} {ratio:>6.2f}  "
              f"{'' if arming is None else f'{arming:.2f}':>8} "
              f"{'' if grown is None else f'{grown:.0f}':>8}")
    print(f"(ratio: median over repeats of the rate over that repeat's {REFERENCE} run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
