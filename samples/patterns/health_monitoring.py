"""Health monitoring: `rt.health()` through a day in the life of a worker kernel.

The guide's monitor reads a kernel's status and metrics and raises a warning for an input
queue over 90 %, a warning for low throughput, and an error for an inactive kernel with
messages waiting. `rt.health()` makes those checks for every kernel of the program (and
more: a handler stalled past `stall_after`, lost dead letters, a failed device) and says
"healthy", "degraded" or "unhealthy", with one sentence per finding. The guide's
low-throughput rule is the program's own business (its number depends on the work), so
`check()` below adds it on top, from `throughput_recent`, and only while messages wait:
an idle kernel's rate is rightly zero.

The sample walks the worker through four moments and prints the report of each:
1. serving requests: healthy;
2. deactivated while 62 jobs arrive (64 fit): its input is 97 % full and it is inactive
   with messages waiting: degraded, and slow by the sample's own rule;
3. activated again, the queue drained: healthy;
4. one job that keeps its handler busy for about a second, with `stall_after=0.25`:
   unhealthy while it runs, healthy once it returns.

    python samples/patterns/health_monitoring.py [opencl|sim]
"""

import sys
import time

import numpy as np

import ringc as rc
from ringc import i32, i64

MIN_RATE = 1000.0          # jobs/s: the guide's "low throughput" line, while jobs wait


@rc.message
class Job:
    id: i32
    rounds: i64            # how long the handler loops


@rc.message
class Done:
    id: i32
    checksum: i64


@rc.ring_kernel(capacity=64)
class Worker:
    done: i64

    def on_job(self, m: Job) -> Done:
        total = i64(0)
        for i in range(m.rounds):
            total += i % 7
        self.done += 1
        return Done(id=m.id, checksum=total)


def check(rt) -> tuple[str, list[str], list[str]]:
    """rt.health(), plus the guide's low-throughput warning while jobs wait."""
    health = rt.health()
    warnings = list(health.warnings)
    status = rt.status(Worker)
    rate = rt.metrics(Worker).throughput_recent
    if status.pending and rate < MIN_RATE:
        warnings.append(f"Worker handles {rate:,.0f} jobs/s with {status.pending} waiting "
                        f"(under {MIN_RATE:,.0f})")
    state = health.status if health.errors or not warnings else "degraded"
    return state, warnings, list(health.errors)


def report(moment: str, rt) -> str:
    state, warnings, errors = check(rt)
    print(f"{moment:38s} {state}")
    for line in errors + warnings:
        print(f"{'':40s}- {line}")
    return state


def main(backend: str = "opencl") -> dict:
    """The four moments; returns the status of each."""
    long_job = 3_000_000 if backend == "sim" else 3_000_000_000        # about a second
    seen = {}
    with rc.launch(Worker, backend=backend, stall_after=0.25) as rt:
        for i in range(20):
            rt.request(Worker, Job(id=i, rounds=100), timeout=30.0)
        seen["serving"] = report("1. serving requests", rt)

        rt.deactivate(Worker)
        jobs = np.zeros(62, Job.dtype)
        jobs["id"], jobs["rounds"] = np.arange(100, 162), 100
        rt.send(Worker, jobs)
        time.sleep(0.2)
        seen["deactivated"] = report("2. deactivated while 62 jobs arrive", rt)

        rt.activate(Worker)
        rt.receive_many(62, timeout=30.0)
        seen["drained"] = report("3. active again, queue drained", rt)

        rt.send(Worker, Job(id=999, rounds=long_job))
        deadline = time.monotonic() + 10.0
        while rt.health().status != "unhealthy" and time.monotonic() < deadline:
            time.sleep(0.02)
        seen["stalled"] = report("4. one job keeps its handler busy", rt)
        rt.receive(timeout=120.0)
        time.sleep(0.05)
        seen["recovered"] = report("   ... and returns", rt)
    return seen


if __name__ == "__main__":
    main(*sys.argv[1:])
