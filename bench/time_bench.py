"""Time: what parking an idle program costs and saves, and how late timers are.

Measured in one run on one backend (`--backend opencl`, the default: PoCL's CPU device;
`sim` and `cuda` also run), each beside the baseline of the same program launched with
`park_after=None` (it never parks: the behaviour before parking existed):
- idle CPU: the process's CPU time (getrusage) over `--idle` seconds with nothing to do,
  as % of one core;
- wake-up: `rt.request` round trip after 1 s of idle (p50, p99) beside a request while the
  program is awake (back to back), and the baseline's after the same idle;
- timer lateness: `rc.send_after` messages with delays of 1-50 ms, arrival `rc.now()` less
  due time (p50, p99), and the same for the host's `send(delay=...)` (arrival on the
  device's clock less the host's due time);
- the hot path: back-to-back request round trips, parking on vs off;
- the machine's floor: how long a Python thread takes to wake another after 1 s idle
  (on a virtual machine an idle CPU may take milliseconds to run again).
`--quick`: short runs (a dry run). The request and bulk figures of runtime_bench.py are
the rest of "the hot path did not get slower".
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import Alarm, Due, Echo, Msg, Schedule  # noqa: E402

import ringc as rc  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle_cpu(rt, seconds: float) -> float:
    """% of one core the process used while the program had nothing to do."""
    rt.request(Echo, Msg(id=1), timeout=30)
    time.sleep(0.2)
    start, wall = cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds() - start) / (time.monotonic() - wall)


def request_us(rt, n: int, idle: float = 0.0) -> np.ndarray:
    """Round trips (µs), each after `idle` seconds of nothing."""
    out = []
    for i in range(n):
        if idle:
            time.sleep(idle)
        start = time.perf_counter_ns()
        rt.request(Echo, Msg(id=i), timeout=30)
        out.append((time.perf_counter_ns() - start) / 1e3)
    return np.array(out)


def thread_wake_us(n: int, idle: float = 1.0) -> np.ndarray:
    """The machine's floor for a wake-up: a Python thread woken by another after `idle`
    seconds of nothing (a virtual machine's idle CPU can take milliseconds)."""
    woken = threading.Event()
    at: list[int] = []

    def sleeper() -> None:
        while len(at) < n:
            woken.wait()
            at.append(time.perf_counter_ns())
            woken.clear()

    threading.Thread(target=sleeper, daemon=True).start()
    out = []
    for i in range(n):
        time.sleep(idle)
        start = time.perf_counter_ns()
        woken.set()
        while len(at) <= i:
            pass
        out.append((at[i] - start) / 1e3)
    return np.array(out)


def lateness_us(backend: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(device timers, host delayed sends): arrival less due time (µs)."""
    rng = random.Random(7)
    with rc.launch(Alarm, backend=backend) as rt:
        for _ in range(n):
            rt.send(Alarm, Schedule(delay_ns=rng.randint(1, 50) * 1_000_000))
            time.sleep(rng.random() * 0.02)
        device = [rt.receive(timeout=30) for _ in range(n)]
        for _ in range(n):
            delay = rng.randint(1, 50) / 1e3
            rt.send(Alarm, Due(due=rt.now() + round(delay * 1e9)), delay=delay)
            time.sleep(rng.random() * 0.02)
        host = [rt.receive(timeout=30) for _ in range(n)]
    return (np.array([(m.at - m.due) / 1e3 for m in device]),
            np.array([(m.at - m.due) / 1e3 for m in host]))


def pct(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="opencl")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle measured")
    args = parser.parse_args()
    idle_s = 1.0 if args.quick else args.idle
    wakes, hot = (3, 200) if args.quick else (10, 2000)
    try:
        parked = rc.launch(Echo, backend=args.backend)
    except rc.BackendUnavailable as exc:
        print(f"{args.backend}: skipped: {exc}")
        return
    with parked as rt:
        park_idle = idle_cpu(rt, idle_s)
        park_wake = request_us(rt, wakes, idle=1.0)
        park_hot = request_us(rt, hot)
    with rc.launch(Echo, backend=args.backend, park_after=None) as rt:
        spin_idle = idle_cpu(rt, min(idle_s, 3.0))
        spin_wake = request_us(rt, wakes, idle=1.0)
        spin_hot = request_us(rt, hot)
    device_late, host_late = lateness_us(args.backend, 20 if args.quick else 100)
    floor = thread_wake_us(wakes)

    print(f"time on {args.backend} (parking: park_after=0.01 s; baseline: park_after=None)")
    print(f"  idle CPU over {idle_s:g} s: {park_idle:.2f} % of one core parked, "
          f"{spin_idle:.1f} % polling (ratio {park_idle / max(spin_idle, 1e-9):.3f})")
    print(f"  request after 1 s idle: p50 {pct(park_wake, 50):.0f} us, p99 "
          f"{pct(park_wake, 99):.0f} us parked; p50 {pct(spin_wake, 50):.0f} us polling "
          f"(ratio {pct(park_wake, 50) / pct(spin_wake, 50):.1f})")
    print(f"  the machine's floor: a Python thread woken after 1 s idle: p50 "
          f"{pct(floor, 50):.0f} us, p99 {pct(floor, 99):.0f} us")
    print(f"  request back to back: p50 {pct(park_hot, 50):.1f} us parking on, "
          f"{pct(spin_hot, 50):.1f} us off (ratio {pct(park_hot, 50) / pct(spin_hot, 50):.2f})")
    print(f"  rc.send_after lateness: p50 {pct(device_late, 50):.0f} us, p99 "
          f"{pct(device_late, 99):.0f} us ({len(device_late)} timers of 1-50 ms)")
    print(f"  send(delay=) lateness:  p50 {pct(host_late, 50):.0f} us, p99 "
          f"{pct(host_late, 99):.0f} us ({len(host_late)} messages of 1-50 ms)")


if __name__ == "__main__":
    main()
