"""Coordinator: workers register, a coordinator queues work and hands it to idle workers.

Each `Worker` instance registers itself from its `on_start` hook, before it takes any
message. `Coordinator` keeps a table of workers (an array of `WorkerStats` records, one per
instance: registered, idle or busy, tasks completed) and a FIFO of tasks not yet assigned
(a ring of `Task` records in state). A task from the host goes at once to an idle worker
(the idle ones are taken in turn), or waits in the FIFO. On a worker's `Complete` the
coordinator sends the result to the host and hands that worker the next waiting task, or
marks it idle. A worker holds one task at a time, so one that finishes sooner gets more.

The guide's worker sends "complete" and "ready" as two messages; here completion means
ready. A task arriving while the FIFO is full is dead-lettered with `backlog_full`.

A worker's queue holds more than the one task it is given: before the coordinator takes a
message, the device checks that every queue its handler may send to has room for what the
handler could send there, and `on_task`'s loop may send once per worker to any instance.

Limits: the guide's periodic rebalancing and heartbeats wait for timers (`@rc.every`) and
for reading other queues' depth on the device (`rc.pending`); the worker table is sized by
the number of instances, known when the program is compiled.

    python samples/patterns/coordinator.py [opencl|sim]
"""

import sys
from collections import Counter

import numpy as np

import ringc as rc
from ringc import Array, bool_, i32, u32

WORKERS = 4
BACKLOG = 256                    # tasks the coordinator can hold unassigned
IDLE, BUSY = 0, 1


@rc.message
class Register:
    worker: i32


@rc.message
class Task:
    id: i32
    rounds: i32                  # how much work the task is


@rc.message
class Complete:
    worker: i32
    id: i32
    result: u32


@rc.message
class TaskResult:
    id: i32
    worker: i32
    result: u32


@rc.message
class WorkerStats:               # a record: one per worker, in the coordinator's state
    registered: bool_
    state: i32                   # IDLE or BUSY
    completed: u32


@rc.ring_kernel(capacity=512)
class Coordinator:
    workers: Array[WorkerStats, WORKERS]
    backlog: Array[Task, BACKLOG]          # a FIFO ring: `waiting` tasks from `first`
    first: i32
    waiting: i32
    next_pick: i32                         # where the search for an idle worker starts

    def on_register(self, m: Register):
        self.workers[m.worker].registered = True
        self.assign_next(m.worker)

    def on_task(self, m: Task):
        if self.waiting == BACKLOG:
            rc.fail("backlog_full")
        self.backlog[(self.first + self.waiting) % BACKLOG] = m
        self.waiting += 1
        for turn in range(WORKERS):                 # idle workers in turn, from `next_pick`
            w = (self.next_pick + turn) % WORKERS
            if self.workers[w].registered and self.workers[w].state == IDLE:
                self.next_pick = (w + 1) % WORKERS
                self.assign_next(w)
                break

    def on_complete(self, m: Complete):
        self.workers[m.worker].completed += 1
        rc.emit(TaskResult(id=m.id, worker=m.worker, result=m.result))
        self.assign_next(m.worker)

    def assign_next(self, worker: i32):
        """Give `worker` the oldest waiting task, or mark it idle when there is none."""
        if self.waiting == 0:
            self.workers[worker].state = IDLE
            return
        task = self.backlog[self.first]
        self.first = (self.first + 1) % BACKLOG
        self.waiting -= 1
        self.workers[worker].state = BUSY
        rc.send(Worker, task, instance=worker)


@rc.ring_kernel(instances=WORKERS, capacity=16)
class Worker:
    def on_start(self):
        rc.send(Coordinator, Register(worker=rc.instance_id()))

    def on_task(self, m: Task):
        h = u32(m.id)
        for _ in range(m.rounds):                  # the work: a hash, `rounds` times over
            h = (h ^ (h >> 15)) * u32(2246822519)
        rc.send(Coordinator, Complete(worker=rc.instance_id(), id=m.id, result=h))


def main(backend: str = "opencl") -> dict:
    """200 tasks of uneven size through 4 workers. Returns the tasks each worker did and
    whether every task came back once."""
    tasks = 200
    batch = np.zeros(tasks, Task.dtype)
    batch["id"] = np.arange(tasks)
    batch["rounds"] = (np.arange(tasks) * 37) % 500
    with rc.launch(Coordinator, backend=backend) as rt:
        rt.send(Coordinator, batch)
        results = rt.receive_many(tasks, timeout=30.0)
        table = rt.checkpoint(Coordinator)["workers"]
    registered = int(table["registered"].sum())
    by_worker = Counter(results["worker"].tolist())
    once = sorted(results["id"].tolist()) == list(range(tasks))
    print(f"{registered} workers registered themselves from on_start")
    print(f"{len(results)} tasks done; each once: {'yes' if once else 'NO'}")
    print("tasks per worker: " + ", ".join(f"worker {w}: {by_worker[w]}"
                                           for w in range(WORKERS)))
    return {"registered": registered, "done": len(results), "once": once,
            "per_worker": [int(c) for c in table["completed"]]}


if __name__ == "__main__":
    main(*sys.argv[1:2])
