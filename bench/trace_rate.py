"""How fast isrdbg follows interrupts: handler runs per second on the bundled
timer scenario, for

  baseline  GDB with two bare gdb.Breakpoint subclasses (the handler's entry
            and its iret) whose stop() returns False and does nothing else;
  floor     the same breakpoints doing only what any tracer that diffs
            registers and checks frames must: one `g` packet and one read of
            the frame's words per hit (the best a trace can hope for);
  trace     isr-trace on the timer vector (full entry/exit diff and judging);
  watch     isr-watch on the timer vector (stops only on findings; none here);
  trace-nowatch   isr-trace with `set isr idt-watch off`;

plus the extension's load time against plain `gdb -batch`, and the latency
of isr-frame / isr-diff at a stop against GDB's own `info registers`.

    .venv/bin/python bench/trace_rate.py [--repeats 5] [--ticks 1000] [--hz 1000]
        [--bytecodes floor,trace] [--against DIR]

--against DIR runs the configurations that trace (not baseline, floor) also
from another checkout of isrdbg, e.g. `git worktree add /tmp/isrdbg-old REV`,
interleaved with this one's in the same repeats on the same kernel (rows
CONFIG@old): a change measured against the code before it under the same
load, which on a shared machine moves the rates far more than most changes.

Each configuration runs in its own `isrdbg gdb --batch` process tree (QEMU +
GDB), on the same kernel and scenario; GDB times `continue` from
scenario_start to scenario_done with the wall clock and the kernel counts the
interrupts it handled (timer_ticks, also printed on its serial line).
Configurations are interleaved across repeats and the median is reported.

QEMU's virtual clock stands still while the gdbstub holds the target, so the
guest spends ticks/hz seconds of its own time waiting for the timer whatever
the debugger does: "runs/s" is the plain rate (handled / elapsed), and
"debugger-bound" divides by the elapsed time minus that wait, which is the
debugger's own cost per run.  "gdb cpu" is the CPU time GDB's process used
per run (its own work and the extension's Python, not the waits on QEMU): on
a busy shared machine the rates swing with the host, this far less.  A much
higher hz does not measure more: when a
handler breakpoint costs longer than a timer period the next IRQ is always
pending at iret and the kernel never gets back to its loop (livelock).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GDB_SIDE = ROOT / "bench" / "gdb_side.py"
CONFIGS = ("baseline", "floor", "trace", "watch", "trace-nowatch")

sys.path.insert(0, str(ROOT))
from gdbext.client.gdb_launch import GDBINIT, gdb_environment  # noqa: E402


def isrdbg_batch(kernel, append, commands, timeout, env=None, serial=None, root=ROOT):
    """``root``: the isrdbg checkout whose launcher and extension run (the
    package is imported from the working directory)."""
    argv = [sys.executable, "-m", "gdbext.client.cli", "gdb", str(kernel), "--append", append,
            "--batch", "--timeout", str(timeout)]
    if serial is not None:
        argv += ["--serial", str(serial)]
    for command in commands:
        argv += ["-ex", command]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=root, env=env,
                          timeout=timeout + 30)
    docs = [json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if proc.returncode != 0 or not docs:
        raise RuntimeError(f"isrdbg exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    return docs[-1]


OLD = "@old"     # the suffix of a configuration run from the --against checkout


def measure_rate(kernel, config, ticks, hz, timeout, profile=None, bytecodes=False,
                 against=None):
    """One run of ``config``; ``CONFIG@old`` from the ``against`` checkout."""
    root = ROOT
    if config.endswith(OLD):
        config, root = config[:-len(OLD)], Path(against)
    env = dict(os.environ)
    if profile:
        env["BENCH_PROFILE_OUT"] = str(profile)
    call = (f"bench_rate('{config}'" + (", profile='tottime'" if profile else "")
            + (", bytecodes=True" if bytecodes else "") + ")")
    return isrdbg_batch(kernel, f"scenario=timer ticks={ticks} hz={hz}",
                        [f"source {root / 'bench' / 'gdb_side.py'}", f"python {call}"],
                        timeout, env, root=root)


def with_older(configs, against):
    """``configs``, each tracing one right after its run from the ``against``
    checkout (none without one)."""
    if not against:
        return configs
    return [c for config in configs
            for c in ([config] if config in ("baseline", "floor") else [config + OLD, config])]


def process_time(argv, repeats, bytecode_cache=None):
    """Median wall time of ``argv``; ``bytecode_cache``: a directory for
    Python's .pyc files (this environment may set PYTHONDONTWRITEBYTECODE,
    which makes every start compile the extension's sources anew)."""
    env = gdb_environment()
    if bytecode_cache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
        subprocess.run(argv, check=True, capture_output=True, env=env)     # fill the cache
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def median(values):
    return statistics.median(values) if values else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="x86_64", choices=("x86_64", "i386"))
    parser.add_argument("--ticks", type=int, default=1000, help="timer interrupts per run")
    parser.add_argument("--hz", type=int, default=1000, help="PIT rate")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--profile", metavar="CONFIG",
                        help="also run CONFIG once under cProfile (inside GDB) and print the top")
    parser.add_argument("--bytecodes", metavar="CONFIGS",
                        help="also run these configurations once counting the Python "
                             "bytecodes and calls their breakpoints' stop() execute per "
                             "handler run (load-independent; slow)")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--against", metavar="DIR",
                        help="also run the tracing configurations from this other isrdbg "
                             "checkout, interleaved (rows CONFIG@old)")
    args = parser.parse_args(argv)
    if args.against and not (Path(args.against) / "bench" / "gdb_side.py").is_file():
        parser.error(f"--against {args.against}: no isrdbg checkout there")

    subprocess.run(["make", "-s", "-C", str(ROOT / "qemu_targets")], check=True,
                   stdout=subprocess.DEVNULL)
    kernel = ROOT / "qemu_targets" / "build" / args.arch / "kernel.elf"
    configs = with_older(args.configs.split(","), args.against)
    timeout = max(120, args.ticks * 0.05)
    print(f"isrdbg trace benchmark: {args.arch} kernel, scenario timer ticks={args.ticks} "
          f"hz={args.hz}, {args.repeats} repeats per configuration (median)", flush=True)

    results = {c: [] for c in configs}
    for repeat in range(args.repeats):
        for config in configs:
            doc = measure_rate(kernel, config, args.ticks, args.hz, timeout,
                               against=args.against)
            results[config].append(doc)
            extra = ""
            if "recorded" in doc:
                extra = (f" recorded={doc['recorded']} lost={doc['lost']} "
                         f"unmatched={doc['unmatched']} repeats={doc['repeats']}")
            print(f"  run {repeat + 1} {config:<9} handled={doc['handled']} "
                  f"elapsed={doc['elapsed']:.3f}s rate={doc['handled'] / doc['elapsed']:.1f}/s"
                  f"{extra}", flush=True)

    wait = args.ticks / args.hz
    rows = {}
    for config, docs in results.items():
        rates = [d["handled"] / d["elapsed"] for d in docs]
        bound = [d["handled"] / max(d["elapsed"] - d["handled"] / args.hz, 1e-9) for d in docs]
        per_run = [(d["elapsed"] - d["handled"] / args.hz) / d["handled"] * 1e3 for d in docs]
        cpu = [d["cpu"] / d["handled"] * 1e3 for d in docs]
        in_stop = [d["in_stop"] / d["handled"] * 1e3 for d in docs]
        rows[config] = (median(rates), min(rates), max(rates), median(bound), median(per_run),
                        median(cpu), median(in_stop))
    base = rows.get("baseline")
    print()
    width = max([13] + [len(c) for c in configs])     # CONFIG@old names are longer
    print(f"{'config':<{width}} {'runs/s':>7} {'min-max':>13} {'ratio':>6} {'paired':>6} "
          f"{'best':>5}   {'debugger-bound runs/s':>21} {'ratio':>6} {'paired':>6} "
          f"{'ms/run':>7} {'gdb cpu':>8} {'stop()':>7}")
    for config, (rate, low, high, bound, per_run, cpu, in_stop) in rows.items():
        ratio = rate / base[0] if base else float("nan")
        bound_ratio = bound / base[3] if base else float("nan")
        paired = bound_paired = float("nan")
        if base:
            # each repeat against the baseline run just before it: drifting load cancels
            pairs = list(zip(results["baseline"], results[config]))
            paired = median([(c["handled"] / c["elapsed"]) / (b["handled"] / b["elapsed"])
                             for b, c in pairs])
            bound_paired = median([(b["elapsed"] - b["handled"] / args.hz) / b["handled"] /
                                   ((c["elapsed"] - c["handled"] / args.hz) / c["handled"])
                                   for b, c in pairs])
        best = high / base[2] if base else float("nan")
        print(f"{config:<{width}} {rate:>7.1f} {f'{low:.0f}-{high:.0f}':>13} {ratio:>6.2f} "
              f"{paired:>6.2f} {best:>5.2f}   {bound:>21.1f} {bound_ratio:>6.2f} "
              f"{bound_paired:>6.2f} {per_run:>7.3f} {cpu:>8.3f} {in_stop:>7.3f}")
    print(f"(ratio: of the medians; paired: median over repeats of the ratio to that repeat's "
          f"baseline run; best: of the fastest runs, the least disturbed on a shared "
          f"machine.\n guest time waiting for the timer: {wait:.2f}s per run of {args.ticks} "
          f"ticks; ms/run: median debugger time per handler run; gdb cpu: median CPU time\n"
          f" GDB's process used per handler run, in ms: Python and GDB's own work, without\n"
          f" the waits on QEMU, so it moves far less than the rates when the machine is busy;\n"
          f" stop(): median wall time per handler run inside the breakpoints' stop() methods,\n"
          f" in ms: their Python and the packets they send, the part a tracer adds to GDB)")
    if "floor" in results:
        # issue 17's target: isr-trace at >= 0.95 of the floor row in the same run
        shares = []
        for config, docs in results.items():
            if config in ("baseline", "floor"):
                continue
            share = median([(c["handled"] / c["elapsed"]) / (f["handled"] / f["elapsed"])
                            for f, c in zip(results["floor"], docs)])
            shares.append(f"{config} {share:.2f}")
        if shares:
            print("of the floor (median over repeats of the rate against that repeat's floor "
                  "run): " + ", ".join(shares))

    if args.bytecodes:
        print("\nPython in the breakpoints' stop() per handler run (opcode tracer, 300 ticks):")
        for config in with_older(args.bytecodes.split(","), args.against):
            doc = measure_rate(kernel, config, 300, args.hz, timeout, bytecodes=True,
                               against=args.against)
            print(f"  {config:<17} {doc['bytecodes'] / doc['handled']:6.0f} bytecodes "
                  f"{doc['calls'] / doc['handled']:5.0f} calls")

    if args.profile:
        out = Path(tempfile.gettempdir()) / "isrdbg-bench-profile.txt"
        measure_rate(kernel, args.profile, args.ticks, args.hz, timeout, profile=out)
        print(f"\ncProfile of {args.profile} inside GDB (by own time), also in {out}:")
        print(out.read_text())

    if not args.skip_startup:
        plain = process_time(["gdb", "-batch", "-nx"], 7)
        load = ["gdb", "-batch", "-nx", "-ex", f"source {GDBINIT}"]
        loaded = process_time(load, 7)
        with tempfile.TemporaryDirectory(prefix="isrdbg-pycache-") as cache:
            cached = process_time(load, 7, bytecode_cache=cache)
        how = ("without .pyc files (PYTHONDONTWRITEBYTECODE is set here)"
               if os.environ.get("PYTHONDONTWRITEBYTECODE") else "as configured")
        print(f"\nstartup (median of 7): gdb -batch {plain * 1e3:.0f} ms; with isrdbg loaded "
              f"{loaded * 1e3:.0f} ms {how} (+{(loaded - plain) * 1e3:.0f} ms), "
              f"{cached * 1e3:.0f} ms with a bytecode cache (+{(cached - plain) * 1e3:.0f} ms)")
        doc = isrdbg_batch(kernel, f"scenario=timer ticks=100000 hz={args.hz}",
                           [f"source {GDB_SIDE}", "python bench_latency()"], 120)
        latency = doc["latency"]
        reference = latency["info registers"]
        print("latency at a stop at the timer handler's entry (median of 30; cold = GDB's "
              "register cache flushed first):")
        for command, times in latency.items():
            print(f"  {command:<15} cold {times['cold'] * 1e3:7.2f} ms "
                  f"({times['cold'] / reference['cold']:5.1f}x info registers)   "
                  f"warm {times['warm'] * 1e3:7.2f} ms "
                  f"({times['warm'] / reference['warm']:5.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
