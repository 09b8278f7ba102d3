"""What isr-check costs on ordinary code: 100 functions spread over each
bundled kernel's text, checked as if they were handlers, against a baseline in
the same run: capstone decoding the same functions' bytes once, linearly (the
least any analysis of that code must do).

    .venv/bin/python bench/static_check_cost.py [--repeats 5]

Prints, per kernel, the CPU seconds of both (median of the repeats), the
instructions the analysis visited, and the ratio analysis / decoding.  CPU
time, not wall time: the machine is shared.  Before the worklist analysis
(issue 15) the path enumeration took 0.45-0.9 s of CPU for these functions;
the worklist takes 0.3-0.57 s.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from gdbext.decode.disasm import disassemble                       # noqa: E402
from gdbext.analysis.static_check import Analyzer                    # noqa: E402
from test_static_bench import FUNCTIONS, functions, reader  # noqa: E402

KERNELS = {"x86_64": 64, "i386": 32}


def analysis_seconds(kernel: Path, bits: int, addresses):
    analyzer = Analyzer(reader(kernel), bits)
    started = time.process_time()
    visited = sum(analyzer.check(address, ()).instructions for address in addresses)
    return time.process_time() - started, visited


def decoding_seconds(kernel: Path, bits: int, addresses):
    read = reader(kernel)
    ends = sorted(addresses)[1:] + [max(addresses) + 4096]
    started = time.process_time()
    for start, end in zip(sorted(addresses), ends):
        disassemble(read(start, min(end - start, 4096)), start, bits, att=False)
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'kernel':8} {'analysis s':>10} {'decode s':>9} {'visited':>8} {'ratio':>6}")
    for arch, bits in KERNELS.items():
        kernel = ROOT / "qemu_targets" / "build" / arch / "kernel.elf"
        addresses = functions(kernel, FUNCTIONS)
        analysis, decode, visited = [], [], 0
        for _ in range(args.repeats):
            seconds, visited = analysis_seconds(kernel, bits, addresses)
            analysis.append(seconds)
            decode.append(decoding_seconds(kernel, bits, addresses))
        a, d = statistics.median(analysis), statistics.median(decode)
        print(f"{arch:8} {a:10.3f} {d:9.3f} {visited:8} {a / d if d else float('inf'):6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
