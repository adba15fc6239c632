"""`make run`: launch the pipeline sample and push a live stream of sensor readings
through it, then print what came back, each kernel's status and metrics, and the dead
letters. Runs on PoCL's OpenCL CPU device by default; `--backend sim` runs the simulator.

    python samples/run_pipeline.py [--backend opencl|sim|cuda] [--readings N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline import SENSORS, WINDOW, Aggregate, Clean, Reading, Score  # noqa: E402

import ringc as rc  # noqa: E402
from ringc.targets import run_targets  # noqa: E402


def table(rows: list[dict]) -> str:
    """Rows of equal keys as an aligned text table."""
    if not rows:
        return ""
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [[_cell(r[k]) for k in keys] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(keys))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def readings(n: int, seed: int = 7) -> np.ndarray:
    """A stream of windows: per-sensor levels with noise, a few spikes (alarms), some
    NaN or out-of-range samples (rejected), and a few unknown sensors (dead letters)."""
    rng = np.random.default_rng(seed)
    batch = np.zeros(n, Reading.dtype)
    batch["sensor"] = rng.integers(0, SENSORS, n)
    batch["sensor"][rng.random(n) < 0.001] = SENSORS + 3          # unknown sensor
    batch["seq"] = np.arange(n)
    level = 10.0 * (batch["sensor"] + 1)
    samples = level[:, None] + rng.normal(0, 2, (n, WINDOW))
    spikes = rng.random(n) < 0.01
    samples[spikes] += rng.normal(0, 200, (int(spikes.sum()), WINDOW))
    samples[rng.random((n, WINDOW)) < 0.002] = np.nan
    batch["samples"] = samples.astype(np.float32)
    return batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="opencl", choices=run_targets())
    parser.add_argument("--readings", type=int, default=None,
                        help="stream length (default 1,000,000; 20,000 on the simulator)")
    args = parser.parse_args(argv)
    n = args.readings or (20_000 if args.backend == "sim" else 1_000_000)
    stream = readings(n)
    started = time.perf_counter()
    with rc.launch(Clean, backend=args.backend) as rt:
        launched = time.perf_counter()
        print(f"launched the pipeline on {rt.device.name} ({rt.backend}) in "
              f"{launched - started:.2f} s: {' -> '.join(k.__name__ for k in rt.kernels())}")
        rt.send(Clean, stream)
        rt.shutdown(drain=True, timeout=60.0)       # waits until every kernel is idle
        summaries = rt.receive_many(n, timeout=0)   # what the host took out meanwhile
    took = time.perf_counter() - launched
    print(f"pushed {n:,} readings in {took:.2f} s ({n / took:,.0f} readings/s, host included);"
          f" {len(summaries):,} summaries came back\n")

    latest = {}
    for s in summaries:
        latest[int(s["sensor"])] = s
    print("latest summary per sensor")
    print(table([{"sensor": k, "windows": int(v["count"]), "alarms": int(v["alarms"]),
                         "mean score": float(v["mean_score"])}
                        for k, v in sorted(latest.items())]))
    print("\nkernels")
    statuses, metrics = rt.status(), rt.metrics()
    print(table([{"kernel": name, "sent": st.sent, "processed": st.processed,
                  "pending": st.pending, "dead": st.dead_lettered,
                  "msgs/s": metrics[name].throughput} for name, st in statuses.items()]))
    reasons = Counter(d.reason for d in rt.dead_letters())
    print("\ndead letters: " + (", ".join(f"{r} x{c}" for r, c in reasons.items()) or "none"))
    rejected = int(rt.checkpoint(Clean)["rejected"])
    print(f"samples rejected by Clean (NaN or out of range): {rejected:,}")
    conserved = all(rt.status(k).sent == rt.status(k).processed + rt.status(k).pending
                    + rt.status(k).dead_lettered for k in (Clean, Score, Aggregate))
    print(f"every kernel conserved its messages: {'yes' if conserved else 'NO'}")
    return 0 if conserved and len(summaries) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
