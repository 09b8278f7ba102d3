"""The plugin engine's cost to the guest: the bundled timer scenario at high
rates (10-100 kHz), `isr-trace 32` through isrdbg's QEMU trace plugin against
the same guest untraced, as handler runs per second, in the same run.

    .venv/bin/python bench/plugin_rate.py [--hz 10000,50000,100000] [--seconds 2] [--repeats 3]
        [--against DIR]

--against DIR also traces with the isrdbg checkout in DIR (e.g. `git worktree
add /tmp/old REV`, with its own plugin built), interleaved in the same
repeats: the row `plugin@old` measures a change against the code before it
under the same load.

Both configurations run on QEMU 10 (.qemu/10/bin, ./run setup) under TCG,
each in its own `isrdbg gdb --batch` process tree; "untraced" starts QEMU
without the plugin (ISRDBG_TRACE_PLUGIN=off) and arms nothing.  GDB times
the guest from `continue` at scenario_start until isrdbg's stop handling
begins at scenario_done (bench/gdb_side.py: what GDB does after that -
judging the ring's backlog, reading the tables again for the armed vectors -
is no time of the guest's), and the kernel counts the interrupts it handled.
Configurations are interleaved across repeats; the ratio is plugin / untraced of the medians, and "paired"
the median over repeats of each plugin run against the untraced run just
before it (drifting load on a shared machine cancels).  The trace's own
numbers say whether it kept up: runs judged, events the plugin lost to a
full ring (counted, never silent), runs left unpaired; "us/event" is the
time the guest's vCPU spent inside the plugin per event (the plugin times its
callbacks), the guest's own cost of being traced.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QEMU10_BIN = ROOT / ".qemu" / "10" / "bin"
CONFIGS = ("untraced", "plugin")


def measure(kernel, config, ticks, hz, timeout, root=ROOT):
    env = dict(os.environ, PATH=f"{QEMU10_BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("ISRDBG_TRACE_PLUGIN", None)
    if config == "untraced":
        env["ISRDBG_TRACE_PLUGIN"] = "off"
    call = "bench_rate('untraced')" if config == "untraced" else "bench_rate('trace')"
    argv = [sys.executable, "-m", "gdbext.client.cli", "gdb", str(kernel), "--tcg",
            "--append", f"scenario=timer ticks={ticks} hz={hz}", "--batch",
            "--timeout", str(timeout), "-ex", f"source {root / 'bench' / 'gdb_side.py'}",
            "-ex", f"python {call}"]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=root, env=env,
                          timeout=timeout + 30)
    docs = [json.loads(line[6:]) for line in proc.stdout.splitlines() if line.startswith("BENCH ")]
    if not docs:
        raise RuntimeError(f"isrdbg exited {proc.returncode}:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    doc = docs[-1]
    if config.startswith("plugin") and doc.get("engine") != "plugin":
        raise RuntimeError(f"the trace did not use the plugin engine: {doc}")
    return doc


def guest_rate(doc):
    """Interrupts handled per second of the guest's run: until isrdbg's stop
    handling began at scenario_done (bench/gdb_side.py), without the time GDB
    spent after that judging the records still in the ring (the backlog) and
    reading the tables again for the armed vectors."""
    if "guest_elapsed" in doc:
        return doc["handled"] / doc["guest_elapsed"]
    return doc["handled"] / (doc["elapsed"] - doc.get("backlog", 0.0))


def plugin_cost(doc):
    """Microseconds the vCPUs spent in the plugin per event (written or lost)."""
    events = doc.get("events", 0) + doc.get("dropped", 0)
    return doc.get("callback_ns", 0) / events / 1e3 if events else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="x86_64", choices=("x86_64", "i386"))
    parser.add_argument("--hz", default="10000,50000,100000", help="PIT rates, comma-separated")
    parser.add_argument("--seconds", type=float, default=2.0, help="guest seconds of timer")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="also trace with the isrdbg checkout in DIR (row plugin@old)")
    args = parser.parse_args(argv)
    configs = CONFIGS + (("plugin@old",) if args.against else ())
    if not (QEMU10_BIN / "qemu-system-x86_64").exists():
        print("QEMU 10 is not set up (.qemu/10/bin): run ./run setup", file=sys.stderr)
        return 2
    subprocess.run(["make", "-s", "-C", str(ROOT / "qemu_targets")], check=True,
                   stdout=subprocess.DEVNULL)
    kernel = ROOT / "qemu_targets" / "build" / args.arch / "kernel.elf"
    print(f"isrdbg plugin-engine benchmark: {args.arch} kernel, scenario timer, "
          f"{args.seconds:g} guest seconds per run, {args.repeats} repeats (median)", flush=True)
    rows = []
    for hz in [int(h) for h in args.hz.split(",")]:
        ticks = int(hz * args.seconds)
        timeout = 300
        results = {c: [] for c in configs}
        for repeat in range(args.repeats):
            for config in configs:
                old = config.endswith("@old")
                doc = measure(kernel, config, ticks, hz, timeout,
                              root=args.against.resolve() if old else ROOT)
                results[config].append(doc)
                extra = ""
                if config.startswith("plugin"):
                    extra = (f" backlog={doc.get('backlog', 0):.3f}s"
                             f" judged={doc['recorded']} unpaired={doc['lost']} "
                             f"unmatched={doc['unmatched']} events={doc.get('events')} "
                             f"dropped={doc.get('dropped')} "
                             f"plugin={plugin_cost(doc):.2f}us/event")
                print(f"  {hz:>6} Hz run {repeat + 1} {config:<10} handled={doc['handled']} "
                      f"elapsed={doc['elapsed']:.3f}s "
                      f"rate={doc['handled'] / doc['elapsed']:.0f}/s{extra}", flush=True)
        rate = {c: statistics.median(guest_rate(d) for d in docs)
                for c, docs in results.items()}
        paired = statistics.median(guest_rate(p) / guest_rate(u)
                                   for u, p in zip(results["untraced"], results["plugin"]))
        plugin = results["plugin"]
        judged = statistics.median(d["recorded"] / d["handled"] for d in plugin)
        dropped = max(d.get("dropped", 0) for d in plugin)
        unpaired = max(d["lost"] for d in plugin)
        cost = statistics.median(plugin_cost(d) for d in plugin)
        rows.append((hz, rate["untraced"], rate["plugin"], rate["plugin"] / rate["untraced"],
                     paired, judged, dropped, unpaired, cost))
        if args.against:
            old = results["plugin@old"]
            old_paired = statistics.median(guest_rate(p) / guest_rate(u)
                                           for u, p in zip(results["untraced"], old))
            rows.append((f"{hz}@old", rate["untraced"], rate["plugin@old"],
                         rate["plugin@old"] / rate["untraced"], old_paired,
                         statistics.median(d["recorded"] / d["handled"] for d in old),
                         max(d.get("dropped", 0) for d in old), max(d["lost"] for d in old),
                         statistics.median(plugin_cost(d) for d in old)))
    print()
    print(f"{'PIT Hz':>10} {'untraced runs/s':>16} {'plugin runs/s':>14} {'ratio':>6} "
          f"{'paired':>7} {'judged/handled':>15} {'max dropped':>12} {'max unpaired':>13} "
          f"{'us/event':>9}")
    for hz, untraced, plugin, ratio, paired, judged, dropped, unpaired, cost in rows:
        print(f"{hz:>10} {untraced:>16.0f} {plugin:>14.0f} {ratio:>6.2f} {paired:>7.2f} "
              f"{judged:>15.3f} {dropped:>12} {unpaired:>13} {cost:>9.2f}")
    print("(runs/s: interrupts the kernel handled per wall-clock second from scenario_start "
          "until it stopped at scenario_done\n (isrdbg's work after that stop left out); "
          "judged/handled: the share of those the trace paired and judged;\n dropped: events "
          "the plugin lost to a full ring, counted and reported; us/event: the guest's time "
          "inside the plugin per event)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
