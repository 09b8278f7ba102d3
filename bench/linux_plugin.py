"""The plugin engine on a real kernel: Debian's Linux (2 CPUs, TCG, QEMU 10)
running isrdbg's /init, `isr-trace all` through isrdbg's QEMU trace plugin
against the same guest with isrdbg's GDB attached and nothing armed, as
/init's progress (loops per wall second), in the same run; and the same
window traced by the breakpoint engine, to compare what the two judged.

  attached         GDB attached, nothing armed (the reference: ratio 1);
  plugin-all       `isr-trace all`, plugin engine;
  plugin-watch-all `isr-watch --no-stop all`, plugin engine;
  breakpoints-all  `isr-trace engine breakpoints` then `isr-trace all`.

    .venv/bin/python bench/linux_plugin.py [--repeats 3] [--seconds 20]

The guest's progress is measured as bench/linux_progress.py does (its
measure_isrdbg: boot to /init's worker, arm, let the guest run SECONDS of
wall time, count progress lines); this adds QEMU 10 and the plugin.  Ratios
are the median over repeats of each run against that repeat's `attached` run.
Judged counts differ by design: the plugin sees every run at the guest's
speed, the breakpoint engine the runs of a guest it slows down; what must
agree is the findings (no error or warning from either).
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from linux_progress import APPEND, LINUX, ROOT, init_symbols, measure_isrdbg  # noqa: E402

sys.path.insert(0, str(ROOT))
from gdbext.tracking.findings import RULES  # noqa: E402

QEMU10_BIN = ROOT / ".qemu" / "10" / "bin"
CONFIGS = {"attached": "", "plugin-all": "isr-trace all",
           "plugin-watch-all": "isr-watch --no-stop all",
           "breakpoints-all": "python gdb.execute('isr-trace engine breakpoints'); "
                              "gdb.execute('isr-trace all')"}
REFERENCE = "attached"


def problems(doc):
    """Error and warning findings by rule."""
    return {rule: n for rule, n in doc.get("findings", {}).items()
            if rule in RULES and RULES[rule].severity != "info"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20, help="wall time per measurement")
    parser.add_argument("--every", type=int, default=5, help="loops per progress line")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    if not (QEMU10_BIN / "qemu-system-x86_64").exists():
        print("QEMU 10 is not set up (.qemu/10/bin): run ./run setup", file=sys.stderr)
        return 2
    # measure_isrdbg's isrdbg inherits this environment: QEMU 10, the plugin on
    os.environ["PATH"] = f"{QEMU10_BIN}{os.pathsep}{os.environ['PATH']}"
    os.environ.pop("ISRDBG_TRACE_PLUGIN", None)
    configs = args.configs.split(",")
    append = f"{APPEND} isrdbg_every={args.every}"
    worker = init_symbols()["worker_forever"]
    print(f"isrdbg Linux plugin-engine benchmark: "
          f"{(LINUX / 'vmlinuz.version').read_text().strip()}, 2 CPUs, TCG, QEMU 10, "
          f"{args.seconds:g} s per run, {args.repeats} repeats (median)", flush=True)
    results = {c: [] for c in configs}
    with tempfile.TemporaryDirectory(prefix="isrdbg-linux-plugin-") as tmp:
        for repeat in range(args.repeats):
            for config in configs:
                doc = measure_isrdbg(append, CONFIGS[config], args.seconds, Path(tmp), worker)
                results[config].append(doc)
                extra = ""
                if CONFIGS[config]:
                    extra = (f" arming={doc['arming']:.2f}s (GDB CPU {doc['arming_cpu']:.2f}s)"
                             f" gdb+{doc['rss_added_mib']:.0f}MiB"
                             f" engine={doc.get('engine')} judged={doc['recorded']} "
                             f"unpaired={doc['lost'] + doc['unmatched']} "
                             f"without-entry={doc.get('exits_without_entry')} "
                             f"dropped={doc.get('dropped', '-')} problems={problems(doc)} "
                             f"findings={doc.get('findings')}")
                print(f"  run {repeat + 1} {config:<15} loops={doc['loops']} "
                      f"rate={doc['rate']:.2f}/s{extra}", flush=True)
    reference = results.get(REFERENCE)
    print()
    print(f"{'config':<16} {'loops/s':>8} {'ratio':>6} {'judged/s':>9} {'unpaired':>9} "
          f"{'no entry':>9} {'dropped':>8} {'arming s':>9} {'GDB +MiB':>9}  "
          f"error/warning findings")
    for config, docs in results.items():
        ratio = float("nan")
        if reference:
            ratio = statistics.median(d["rate"] / r["rate"] if r["rate"] else float("nan")
                                      for d, r in zip(docs, reference))
        line = f"{config:<16} {statistics.median(d['rate'] for d in docs):>8.2f} {ratio:>6.2f}"
        if CONFIGS[config]:
            judged = statistics.median(d["recorded"] / d["elapsed"] for d in docs)
            unpaired = statistics.median((d["lost"] + d["unmatched"]) /
                                         max(1, d["recorded"] + d["lost"] + d["unmatched"])
                                         for d in docs)
            no_entry = statistics.median(d.get("exits_without_entry", 0) for d in docs)
            dropped = max(d.get("dropped", 0) for d in docs)
            found = {}
            for d in docs:
                for rule, n in problems(d).items():
                    found[rule] = found.get(rule, 0) + n
            arming = f"{min(d['arming'] for d in docs):.2f}-{max(d['arming'] for d in docs):.2f}"
            grown = statistics.median(d["rss_added_mib"] for d in docs)
            line += (f" {judged:>9.0f} {100 * unpaired:>8.2f}% {no_entry:>9.0f} {dropped:>8} "
                     f"{arming:>9} {grown:>9.0f}  {found or 'none'}")
        print(line)
    print(f"(ratio: median over repeats of /init's progress over that repeat's {REFERENCE} run; "
          f"judged/s: runs judged per wall second;\n unpaired: of the runs seen; no entry: "
          f"exits with no traced entry (syscall returns), not runs; arming: min-max wall time "
          f"of the\n command; GDB +MiB: GDB's resident memory grown by it, median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
