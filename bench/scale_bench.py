"""The scale-and-speed table: each measure of the host path and the device loop, today's
figure (measured before this work, on a 2-core PoCL machine) beside the one measured now,
the goal, and the ratio to the floor measured in the same run.

The floors: two C threads ping-ponging a cache line, and a raw persistent PoCL kernel
polled from Python (bench/floor_bench.py). Latencies print as multiples of the C
ping-pong's round trip; the figures in the "before" column are the issue's, not
re-measured (this file cannot run yesterday's code). Bulk rates are the best of three
streams in one launch (the first stream in a process also pays for the memory the host
buffer grows into: up to 2x slower). `--quick`: small counts, a dry run.
A backend that cannot run here prints `opencl: skipped: <why>`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import floor_bench  # noqa: E402
import launch_bench  # noqa: E402
import queues_bench  # noqa: E402
import runtime_bench  # noqa: E402
from bench_kernels import Echo, Msg  # noqa: E402

import ringc as rc  # noqa: E402

BACKEND = "opencl"
BUSY = "while True: pass"


def request_with_busy_neighbour(n: int) -> float:
    """p50 while another process spins on a core."""
    neighbour = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(0.2)
        return runtime_bench.request_latency(BACKEND, Echo, n)[0]
    finally:
        neighbour.kill()
        neighbour.wait()


def first_after_idle(trials: int, idle: float, **options) -> float:
    """Median time of the first request after `idle` seconds without one."""
    times = []
    with rc.launch(Echo, backend=BACKEND, **options) as rt:
        msg = Msg(id=1)
        for _ in range(200):
            rt.request(Echo, msg, timeout=10.0)
        for _ in range(trials):
            time.sleep(idle)
            start = time.perf_counter()
            rt.request(Echo, msg, timeout=10.0)
            times.append((time.perf_counter() - start) * 1e6)
    return float(np.median(times))


def row(name: str, before: str, now: float, unit: str, goal: str, met: bool,
        floor: str = "") -> str:
    shown = f"{now:.1f} {unit}" if now < 100 else f"{now:,.0f} {unit}"
    return (f"  {name:50s} {before:>14s} {shown:>14s} {goal:>14s}  "
            f"{'met   ' if met else 'missed'}  {floor}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a dry run")
    args = parser.parse_args()
    n_req, n_bulk = (300, 20_000) if args.quick else (5_000, 2_000_000)
    trials, idle, runs = (2, 0.2, 2) if args.quick else (5, 1.0, 5)
    drain_capacity, drain_rounds = (1 << 14, 2) if args.quick else (1 << 18, 6)
    try:
        with rc.launch(Echo, backend=BACKEND) as rt:
            device = rt._device.description
    except rc.BackendUnavailable as exc:
        print(f"{BACKEND}: skipped: {exc}")
        return
    ping = floor_bench.c_ping_pong_us(20_000)
    raw = floor_bench.raw_pocl_us(20_000)
    p50, p99 = runtime_bench.request_latency(BACKEND, Echo, n_req)
    busy = request_with_busy_neighbour(n_req)
    idle_parking = first_after_idle(trials, idle)
    idle_polling = first_after_idle(trials, idle, park_after=None)
    raw_idle = floor_bench.raw_pocl_us(trials, idle)
    rates = {name: runtime_bench.bulk_rate(BACKEND, kernel, n_bulk, back, rounds=3)
             for name, kernel, back in (("count", runtime_bench.Count, False),
                                        ("echo", Echo, True),
                                        ("pipeline", runtime_bench.First, False))}
    one = queues_bench.drain_rate(BACKEND, 1, drain_capacity, drain_rounds)
    many = queues_bench.drain_rate(BACKEND, 16, drain_capacity, drain_rounds)
    imported, launched = launch_bench.warm_startup(runs)

    def vs_floor(us: float) -> str:
        parts = []
        if isinstance(ping, float):
            parts.append(f"{us / ping:.0f}x C ping-pong")
        if isinstance(raw, float):
            parts.append(f"{us / raw:.0f}x raw PoCL")
        return ", ".join(parts)

    print(__doc__.split("\n\n")[0])
    print(f"backend: {BACKEND} on {device}; {os.cpu_count()} cores")
    print(f"floors: C ping-pong {ping if isinstance(ping, str) else f'{ping:.2f} us'}; "
          f"raw PoCL kernel polled from Python "
          f"{raw if isinstance(raw, str) else f'{raw:.2f} us'}")
    print(f"  {'measure':50s} {'before':>14s} {'now':>14s} {'goal':>14s}  result  vs floor")
    print(row("rt.request p50, quiet", "9.2 us", p50, "us", "<= 2 us", p50 <= 2,
              vs_floor(p50)))
    print(row("rt.request p99, quiet", "30-45 us", p99, "us", "<= 10 us", p99 <= 10,
              vs_floor(p99)))
    print(row("rt.request p50, busy neighbour process", "78-94 us", busy, "us",
              f"<= {2 * p50:.1f} us", busy <= 2 * p50, f"{busy / p50:.1f}x quiet"))
    print(row(f"first request after {idle:g} s idle (parks)", "156 us", idle_parking, "us",
              "<= 20 us", idle_parking <= 20, "relaunch included"))
    print(row(f"first request after {idle:g} s idle (park_after=None)", "156 us",
              idle_polling, "us", "<= 20 us", idle_polling <= 20,
              f"{idle_polling / raw_idle:.0f}x raw PoCL after the same idle "
              f"({raw_idle:.1f} us)" if isinstance(raw_idle, float) else ""))
    for name, before, goal in (("count", "31-34 M/s", 60e6), ("echo", "5.8 M/s", 20e6),
                               ("pipeline", "6-11 M/s", 20e6)):
        title = {"count": "bulk Count, host-fed, 32 B",
                 "echo": "echo host -> device -> host",
                 "pipeline": "3-kernel pipeline"}[name]
        print(row(title, before, rates[name] / 1e6, "M/s", f">= {goal / 1e6:.0f} M/s",
                  rates[name] >= goal))
    print(row("16-kernel drain / 1-kernel drain", "0.59", many / one, "", ">= 0.9",
              many / one >= 0.9, f"{one / 1e6:.0f} vs {many / 1e6:.0f} M/s"))
    print(row("warm rc.launch of a sample (new process)", "190 ms", launched, "ms",
              "<= 50 ms", launched <= 50))
    print(row("import ringc", "225 ms", imported, "ms", "<= 100 ms", imported <= 100))


if __name__ == "__main__":
    main()
