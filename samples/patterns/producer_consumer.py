"""Producer-consumer with a rate limit: one kernel makes a work item every period, another
handles them.

The guide's producer loops forever: make an item, send it, `Task.Delay(10)`. A handler that
waited would keep its work-group from every other kernel, so `Producer` waits the ringc
way: each `Tick` makes one item, sends it to `Consumer` and schedules the next `Tick` to
itself with `rc.send_after`. The producer keeps a fixed-rate schedule (item k is due at
start + k·period, the way `@rc.every` ticks), so the time a tick takes to arrive does not
add up from item to item: the measured rate is the asked one. `Run` carries the period
and how long to run (so the host can choose them; `@rc.every` takes a constant period);
the producer stops by itself once the next item would be due at its end or later.

`Consumer` handles each item (here: the norm of its data) and emits the result to the
host with the time from production to handling (the guide's `ProcessingTimeUs`).

The host starts the producer and calls `shutdown(drain=True)` at once: a scheduled `Tick`
counts as pending, so the drain waits for the whole run, then stops the program cleanly.
Between two items the program has nothing to do: after PARK_AFTER it parks (launch option
`park_after`) until the host relaunches it for the next due `Tick`, so the run costs a
part of one core instead of a core polling (printed, measured with `resource.getrusage`
over the run; about 30 % on OpenCL on this project's machine, most of it the 2 ms of
polling before each park). With the default `park_after` (10 ms, as long as the period)
the program would never park and poll a whole core.

Limits: the guide's producer runs until stopped; this one runs for the time `Run` gives.
An item is never early, and is late by up to one pass of the device loop, or the host's
wake-up (a relaunch, under 1 ms here) while the program is parked. A late item does not
shift those after it; an item late by more than a period is made at once, so the schedule
catches up instead of skipping as `@rc.every` does.

    python samples/patterns/producer_consumer.py [opencl|sim] [seconds] [period]

(by default 3 s at one item every 10 ms; `main()` alone runs 0.5 s)
"""

import math
import resource
import sys
import time

import numpy as np

import ringc as rc
from ringc import Array, f32, i32, i64, u32

DATA = 8
PARK_AFTER = 0.002        # seconds the idle program polls before it parks


@rc.message
class Run:
    period_ns: i64        # one item per period
    run_ns: i64           # items are due at start + k·period while k·period < run_ns


@rc.message
class Tick:
    id: i32               # the item it is due for


@rc.message
class WorkItem:
    id: i32
    made_at: i64          # rc.now() when produced (the guide's Timestamp)
    data: Array[f32, DATA]


@rc.message
class WorkResult:
    id: i32
    norm: f32
    made_at: i64
    latency_ns: i64       # from production to handling


@rc.ring_kernel(capacity=16, timers=4)
class Producer:
    sequence: i32         # the next item's id
    period_ns: i64
    run_ns: i64
    started_at: i64
    late_ns: i64          # the latest any item was made after its due time

    def on_run(self, m: Run):
        self.period_ns = m.period_ns
        self.run_ns = m.run_ns
        self.started_at = rc.now()
        self.produce()

    def on_tick(self, m: Tick):
        self.produce()

    def produce(self):
        now = rc.now()
        due = self.started_at + i64(self.sequence) * self.period_ns
        self.late_ns = max(self.late_ns, now - due)
        item = WorkItem(id=self.sequence, made_at=now)
        for j in range(DATA):
            item.data[j] = f32((self.sequence + j) % 10)
        rc.send(Consumer, item)
        self.sequence += 1
        offset = i64(self.sequence) * self.period_ns
        if offset < self.run_ns:                       # the next one, on the schedule
            rc.send_after(max(self.started_at + offset - rc.now(), 0), Producer,
                          Tick(id=self.sequence))


@rc.ring_kernel(capacity=64)
class Consumer:
    handled: u32

    def on_work_item(self, m: WorkItem):
        total = 0.0
        for j in range(DATA):
            total += m.data[j] * m.data[j]
        self.handled += 1
        rc.emit(WorkResult(id=m.id, norm=math.sqrt(total), made_at=m.made_at,
                           latency_ns=rc.now() - m.made_at))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(backend: str = "opencl", seconds: float = 0.5, period: float = 0.01) -> dict:
    """One item every `period` seconds for `seconds`; check that each came back once, in
    production order, at the asked rate."""
    seconds, period = float(seconds), float(period)
    period_ns, run_ns = round(period * 1e9), round(seconds * 1e9)
    wanted = -(-run_ns // period_ns)                   # items due in [0, run_ns)
    with rc.launch(Producer, backend=backend, park_after=PARK_AFTER) as rt:
        cpu, wall = cpu_seconds(), time.monotonic()
        rt.send(Producer, Run(period_ns=period_ns, run_ns=run_ns))
        stopped = rt.shutdown(drain=True, timeout=seconds + 30.0)
        cpu, wall = cpu_seconds() - cpu, time.monotonic() - wall
        results = rt.receive_many(wanted + 1, timeout=0)
        producer = rt.checkpoint(Producer)
        handled = int(rt.checkpoint(Consumer)["handled"])
        dead = rt.dead_letters()
    made = int(producer["sequence"])
    in_order = results["id"].tolist() == list(range(made))
    expected = [math.sqrt(sum(((i + j) % 10) ** 2 for j in range(DATA))) for i in range(made)]
    correct = len(results) == made and bool(np.allclose(results["norm"], expected, rtol=1e-6))
    span = (int(results["made_at"][-1]) - int(results["made_at"][0])) / 1e9 if made > 1 else 0
    rate = (made - 1) / span if span else 0.0
    rate_ok = made > 1 and abs(rate * period - 1) < 0.05
    print(f"the producer made {made} items ({wanted} wanted: {seconds:g} s at one per "
          f"{period * 1e3:g} ms), at {rate:.1f} per second (asked {1 / period:g}); "
          f"the latest item {int(producer['late_ns']) / 1e6:.2f} ms after its due time")
    print(f"the consumer handled {handled}; each once, in production order: "
          f"{'yes' if in_order else 'NO'}; results correct: {'yes' if correct else 'NO'}; "
          f"production to handling {np.mean(results['latency_ns']) / 1e3:.0f} µs on average")
    print(f"stopped cleanly (shutdown(drain=True) waited for the last scheduled tick): "
          f"{'yes' if stopped else 'NO'}; dead letters: {len(dead)}")
    print(f"CPU time over the {wall:.2f} s run: {100 * cpu / wall:.0f} % of one core (the idle "
          f"program parks after {PARK_AFTER * 1e3:g} ms; one that polled would use 100 %)")
    return {"items": made, "wanted": wanted, "handled": handled, "in_order": in_order,
            "correct": correct, "rate_ok": rate_ok, "stopped": stopped,
            "dead_letters": len(dead)}


if __name__ == "__main__":
    args: list = [*(sys.argv[1:2] or ["opencl"]), *map(float, sys.argv[2:4] or ["3.0"])]
    main(*args)
