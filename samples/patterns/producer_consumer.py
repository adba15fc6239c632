"""Producer-consumer: one kernel makes work items, another handles them.

The guide's producer loops forever on the device. A handler that never returns would keep
its work-group from every other kernel, so `Producer` makes work in steps instead: each
`Produce` message sends at most STEP items to `Consumer` and, if more are wanted, sends
itself a `Produce` for the rest. Between two steps the program serves other queues, so the
consumer drains while the producer is still producing, and the producer never sends more at
once than the consumer's queue holds (a device send into a full queue waits, and dead-letters
with `queue_full` if the queue never frees).

`Consumer` handles each item (here: the norm of its data) and emits the result to the host.

Limits: the guide's rate limit (a delay between items) waits for timers (`rc.send_after`,
`@rc.every`); the producer here runs as fast as the consumer takes its work.

    python samples/patterns/producer_consumer.py [opencl|sim]
"""

import math
import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32, u32

STEP = 16                 # items per Produce step; at most the consumer's capacity
DATA = 8


@rc.message
class Produce:
    count: i32            # items still to make


@rc.message
class WorkItem:
    id: i32
    data: Array[f32, DATA]


@rc.message
class WorkResult:
    id: i32
    norm: f32


@rc.ring_kernel(capacity=16)
class Producer:
    sequence: i32         # the next item's id
    steps: u32

    def on_produce(self, m: Produce):
        made = min(m.count, STEP)
        for _ in range(made):
            item = WorkItem(id=self.sequence)
            for j in range(DATA):
                item.data[j] = f32((self.sequence + j) % 10)
            rc.send(Consumer, item)
            self.sequence += 1
        self.steps += 1
        if m.count > made:
            rc.send(Producer, Produce(count=m.count - made))


@rc.ring_kernel(capacity=64)
class Consumer:
    handled: u32

    def on_work_item(self, m: WorkItem):
        total = 0.0
        for j in range(DATA):
            total += m.data[j] * m.data[j]
        self.handled += 1
        rc.emit(WorkResult(id=m.id, norm=math.sqrt(total)))


def main(backend: str = "opencl") -> dict:
    """Ask for 1000 items; check that each result came back once, in production order."""
    wanted = 1000
    with rc.launch(Producer, backend=backend) as rt:
        rt.send(Producer, Produce(count=wanted))
        results = rt.receive_many(wanted, timeout=30.0)
        steps = int(rt.checkpoint(Producer)["steps"])
        dead = rt.dead_letters()
    in_order = results["id"].tolist() == list(range(wanted))
    expected = [math.sqrt(sum(((i + j) % 10) ** 2 for j in range(DATA))) for i in range(wanted)]
    correct = np.allclose(results["norm"], expected, rtol=1e-6)
    print(f"the producer made {wanted} items in {steps} steps of at most {STEP}")
    print(f"the consumer handled {len(results)}; each once, in production order: "
          f"{'yes' if in_order else 'NO'}; results correct: {'yes' if correct else 'NO'}")
    print(f"dead letters: {len(dead)}")
    return {"results": len(results), "steps": steps, "in_order": in_order,
            "correct": correct, "dead_letters": len(dead)}


if __name__ == "__main__":
    main(*sys.argv[1:2])
