"""Message batching: hold readings until a batch is full, then send them as one message.

`Batcher` keeps the readings it has not passed on yet in state (`held`, an array of
`Reading` records). It flushes them to the host as one `Batch` message, summed in one
pass, when

- the batch is full (BATCH readings),
- a reading arrives while the oldest held one has waited longer than MAX_WAIT_NS, or
- the program shuts down: the `on_stop` hook flushes what is left, and
  `shutdown(drain=True)` returns only once that last batch reached the host.

The host then gets one message per batch instead of one per reading.

Limits: the age rule is checked only when a reading arrives, as the guide's is; a quiet
batcher holds its readings until the next one or shutdown (flushing on a timer waits for
`@rc.every`). `shutdown(drain=False)` runs no `on_stop`, so held readings are not sent.

    python samples/patterns/message_batching.py [opencl|sim]
"""

import sys
import time

import numpy as np

import ringc as rc
from ringc import Array, f32, i32, i64, u32

BATCH = 32                        # readings per batch
MAX_WAIT_NS = 100_000_000         # 0.1 s: a held reading older than this forces a flush
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
        batch = Batch(reason=reason, count=self.count)
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
        elif rc.now() - self.oldest_at > MAX_WAIT_NS:
            self.flush(WAITED)

    def on_stop(self):
        self.flush(SHUTDOWN)


def readings(first: int, n: int) -> np.ndarray:
    batch = np.zeros(n, Reading.dtype)
    batch["seq"] = np.arange(first, first + n)
    batch["value"] = 0.5 * batch["seq"]
    return batch


def main(backend: str = "opencl") -> list:
    """A burst of 70 readings, a pause, one more, then 5 left for shutdown. Returns
    (reason, count) per batch, in the order the host got them."""
    sent = 0
    with rc.launch(Batcher, backend=backend) as rt:
        for n, pause in ((70, MAX_WAIT_NS / 1e9 + 0.1), (1, 0.0), (5, 0.0)):
            rt.send(Batcher, readings(sent, n))
            sent += n
            time.sleep(pause)
        rt.shutdown(drain=True, timeout=30.0)    # on_stop flushes the last 5
        batches = rt.receive_many(sent, timeout=0)
    for b in batches:
        print(f"batch of {int(b['count']):2} readings ({REASONS[int(b['reason'])]}), "
              f"total {float(b['total']):g}")
    seqs = np.concatenate([b["readings"]["seq"][:b["count"]] for b in batches])
    print(f"{sent} readings reached the host in {len(batches)} messages; each exactly once, "
          f"in order: {'yes' if seqs.tolist() == list(range(sent)) else 'NO'}")
    return [(REASONS[int(b["reason"])], int(b["count"])) for b in batches]


if __name__ == "__main__":
    main(*sys.argv[1:2])
