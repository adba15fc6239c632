"""Scatter-gather over several worker instances.

A query of 32 values reaches the Coordinator, which keeps the sender's return address,
scatters one 8-value part to each of 4 Worker instances, gathers their partial results as
they come back (each worker's `return` replies to the coordinator) and, once all four
arrived, answers the original sender with `rc.reply`.
"""

import ringc as rc
from ringc import Array, f32, i32

WORKERS = 4
PART = 8
INFLIGHT = 16        # queries in flight at once (slots of the gather table)


@rc.message
class Query:
    id: i32
    values: Array[f32, 32]


@rc.message
class Part:
    query: i32
    values: Array[f32, PART]


@rc.message
class Partial:
    query: i32
    total: f32
    peak: f32


@rc.message
class Result:
    id: i32
    total: f32
    peak: f32
    parts: i32


@rc.ring_kernel(capacity=256)
class Coordinator:
    waiting: Array[rc.Address, INFLIGHT]
    busy: Array[bool, INFLIGHT]
    ids: Array[i32, INFLIGHT]
    totals: Array[f32, INFLIGHT]
    peaks: Array[f32, INFLIGHT]
    arrived: Array[i32, INFLIGHT]

    def on_query(self, m: Query):
        slot = m.id % INFLIGHT
        if self.busy[slot]:
            rc.fail("gather_slot_busy")
        self.busy[slot] = True
        self.ids[slot] = m.id
        self.waiting[slot] = rc.sender()
        self.totals[slot] = 0.0
        self.peaks[slot] = -3.0e38
        self.arrived[slot] = 0
        for w in range(WORKERS):
            part = Part(query=m.id)
            for i in range(PART):
                part.values[i] = m.values[w * PART + i]
            rc.send(Worker, part, instance=w)

    def on_partial(self, m: Partial):
        slot = m.query % INFLIGHT
        if not self.busy[slot] or self.ids[slot] != m.query:
            rc.fail("unknown_query")
        self.totals[slot] += m.total
        self.peaks[slot] = max(self.peaks[slot], m.peak)
        self.arrived[slot] += 1
        if self.arrived[slot] == WORKERS:
            self.busy[slot] = False
            rc.reply(self.waiting[slot], Result(id=m.query, total=self.totals[slot],
                                                peak=self.peaks[slot], parts=WORKERS))


@rc.ring_kernel(instances=WORKERS, capacity=256)
class Worker:
    handled: i32

    def on_part(self, m: Part) -> Partial:
        self.handled += 1
        total = 0.0
        peak = m.values[0]
        for i in range(PART):
            total += m.values[i]
            peak = max(peak, m.values[i])
        return Partial(query=m.query, total=total, peak=peak)
