"""How long compilation takes, per sample and target: ringc's own emission (frontend +
codegen, no toolchain) and the build by each toolchain present, measured in the same run.

The ratio column is toolchain time / emission time: how much of a cold build is ringc's.
Run with `make bench`. Timings are medians of REPEAT runs; the first run of each is warm-up.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from ringc.compiler import compile, load_file
from ringc.targets import check_all

REPEAT = 5
ROOT = Path(__file__).resolve().parent.parent


def median_seconds(fn, repeat: int = REPEAT) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    samples = sorted(p for p in (ROOT / "samples").glob("*.py")
                     if not p.stem.startswith("run_"))        # run_*: scripts that launch them
    print(f"{'sample':18} {'stage':22} {'ms':>9} {'x emission':>11}")
    for path in samples:
        frontend = median_seconds(lambda p=path: load_file(p))
        print(f"{path.stem:18} {'frontend (py -> IR)':22} {frontend * 1e3:9.2f}")
        program = load_file(path)
        for target in ("opencl", "cuda", "metal"):
            emission = median_seconds(lambda t=target, p=program: compile(p, t))
            print(f"{'':18} {'emit ' + target:22} {emission * 1e3:9.2f} {1.0:11.2f}")
            source = compile(program, target).source
            for result in check_all({target: source}):
                if result.ok is None:
                    print(f"{'':18} {'  ' + result.tool:22} {'skipped':>9}")
                    continue
                state = "" if result.ok else "  FAILED"
                print(f"{'':18} {'  ' + result.tool[:20]:22} {result.seconds * 1e3:9.2f} "
                      f"{result.seconds / emission:11.2f}{state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
