"""Message batching: hold readings until a batch is full, then send them as one message.

`Batcher` keeps the readings it has not passed on yet in state (`held`, an array of
`Reading` records). It flushes them to the host as one `Batch` message, summed in one
pass, when

- the batch is full (BATCH readings), in the handler of the reading that filled it;
- the oldest held reading has waited MAX_WAIT_NS or longer: a periodic method,
  `@rc.every(0.001)`, looks every millisecond (the guide's 1 ms), between two messages,
  so a quiet batcher flushes on its own, without a reading to arrive or the host to ask;
- the program shuts down: the `on_stop` hook flushes what is left, and
  `shutdown(drain=True)` returns only once that last batch reached the host.

The host then gets one message per batch instead of one per reading. Each batch says why
it was sent and how long its oldest reading waited.

The run: a burst of 70 readings (two full batches; the 6 left are flushed by the timer),
one reading alone (flushed by the timer), then 5 more and shutdown at once (flushed by
`on_stop`). The host waits for the timer's batches instead of sleeping, so the outcome does
not depend on how the threads are scheduled.

Limits: the guide flushes once 1 ms has passed since the last flush; here the check runs
every 1 ms but the age limit is 0.1 s, so that no batch is cut short when a burst or the
shutdown is slowed down by a busy machine: from the last send to `on_stop` takes 0.3–1 ms
here, so with a 1 ms limit the timer, not `on_stop`, would often send the last batch. A
smaller MAX_WAIT_NS gives lower latency; a burst slower than it is split by the timer.
The tick runs every millisecond whether readings are held or not, and counts as work:
with the default `park_after` (10 ms) the program never parks, and on OpenCL one core
polls while the batcher is quiet (measured: 100 % of a core; the simulator's thread about
25 %). `shutdown(drain=False)` runs no `on_stop`, so held readings are not sent.

    python samples/patterns/message_batching.py [opencl|sim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32, i64, u32

BATCH = 32                        # readings per batch
MAX_WAIT_NS = 100_000_000         # 0.1 s: a held reading this old is flushed by the timer
FLUSH_PERIOD = 0.001              # seconds between two looks at the held readings' age
FULL, WAITED, SHUTDOWN = 0, 1, 2  # why a batch was sent
REASONS = {FULL: "full", WAITED: "waited too long", SHUTDOWN: "shutdown"}


@rc.message
class Reading:
    seq: i32
    value: f32


@rc.message
class Batch:
    reason: i32                   # FULL, WAITED or SHUTDOWN
    count: i32                    # readings[0:count] are the batch
    total: f32
    waited_ns: i64                # how long the oldest reading was held
    readings: Array[Reading, BATCH]


@rc.ring_kernel(capacity=256)
class Batcher:
    held: Array[Reading, BATCH]
    count: i32
    oldest_at: i64                # rc.now() when held[0] arrived
    batches: u32

    def flush(self, reason: i32):
        if self.count == 0:
            return
        batch = Batch(reason=reason, count=self.count, waited_ns=rc.now() - self.oldest_at)
        batch.readings = self.held
        total = 0.0
        for i in range(self.count):
            total += self.held[i].value
        batch.total = total
        rc.emit(batch)
        self.count = 0
        self.batches += 1

    def on_reading(self, m: Reading):
        if self.count == 0:
            self.oldest_at = rc.now()
        self.held[self.count] = m
        self.count += 1
        if self.count == BATCH:
            self.flush(FULL)

    @rc.every(FLUSH_PERIOD)
    def flush_old(self):
        if self.count > 0 and rc.now() - self.oldest_at >= MAX_WAIT_NS:
            self.flush(WAITED)

    def on_stop(self):
        self.flush(SHUTDOWN)


def readings(first: int, n: int) -> np.ndarray:
    batch = np.zeros(n, Reading.dtype)
    batch["seq"] = np.arange(first, first + n)
    batch["value"] = 0.5 * batch["seq"]
    return batch


def main(backend: str = "opencl") -> dict:
    """A burst of 70 readings, one alone, then 5 left for shutdown. Returns (reason, count)
    per batch, in the order the host got them."""
    sent, batches = 0, []
    with rc.launch(Batcher, backend=backend) as rt:
        for n, flushes in ((70, 3), (1, 1)):          # 2 full + the timer's, the timer's
            rt.send(Batcher, readings(sent, n))
            sent += n
            batches += list(rt.receive_many(flushes, timeout=10.0))
        rt.send(Batcher, readings(sent, 5))
        sent += 5
        rt.shutdown(drain=True, timeout=30.0)        # on_stop flushes the last 5
        batches += list(rt.receive_many(sent, timeout=0))
    for b in batches:
        n = int(b["count"])
        print(f"batch of {n:2} reading{'s' if n != 1 else ' '} ({REASONS[int(b['reason'])]}), "
              f"total {float(b['total']):g}")
    waited = [int(b["waited_ns"]) / 1e6 for b in batches if b["reason"] == WAITED]
    print("the timer flushed after the oldest had waited "
          + ", ".join(f"{w:.1f} ms" for w in waited) + f" (limit {MAX_WAIT_NS / 1e6:g} ms, "
          f"looked at every {FLUSH_PERIOD * 1e3:g} ms)")
    seqs = np.concatenate([b["readings"]["seq"][:b["count"]] for b in batches])
    in_order = seqs.tolist() == list(range(sent))
    print(f"{sent} readings reached the host in {len(batches)} messages; each exactly once, "
          f"in order: {'yes' if in_order else 'NO'}")
    return {"batches": [(REASONS[int(b["reason"])], int(b["count"])) for b in batches],
            "readings": sent, "in_order": in_order,
            "waited_ok": all(w >= MAX_WAIT_NS / 1e6 for w in waited)}


if __name__ == "__main__":
    main(*sys.argv[1:2])
