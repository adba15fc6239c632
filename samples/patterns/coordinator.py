"""Coordinator: workers register, a coordinator queues work and hands it to ready workers.

Each `Worker` instance registers itself from its `on_start` hook, before it takes any
message. `Coordinator` keeps three containers, as the guide's coordinator keeps its list,
dictionary and queue:

- `workers: rc.Map[i32, WorkerStats, ...]`, the registered workers by id: idle or busy,
  the task each one holds, the tasks each completed;
- `idle: rc.Queue[i32, ...]`, the workers waiting for a task, the longest waiting first;
- `backlog: rc.Queue[Task, BACKLOG]`, the work queue: tasks no worker has taken yet.

Registration is answered with a `RegistrationAck`; a worker then reports `Ready`. A ready
worker gets the oldest task of the backlog, or joins the idle queue when there is none;
a task from the host goes to the longest-idle worker, or waits in the backlog. When a
worker finishes it sends `Complete` (the coordinator counts it and sends the result to the
host) and then `Ready` again, as the guide's worker does. Only `Ready` assigns work (the
guide's coordinator assigns on both, which would hand a worker two tasks at once), so a
worker holds one task at a time and one that finishes sooner gets more.

A `Ready` or `Complete` from a worker that never registered faults with `key_not_found`
and is dead-lettered; a task arriving while the backlog is full faults with
`container_full`.

Limits: the guide's periodic rebalancing and heartbeats (`PeriodicTasks`) wait for timers
(`@rc.every`), and moving queued work between workers waits for reading other queues'
depth on the device (`rc.pending`). Here work is pulled, one task per worker, so no
worker's queue grows for rebalancing to drain. The table holds at most MAX_WORKERS.

    python samples/patterns/coordinator.py [opencl|sim]
"""

import sys
from collections import Counter

import numpy as np

import ringc as rc
from ringc import i32, u32

WORKERS = 4                      # Worker instances launched
MAX_WORKERS = 8                  # workers the coordinator can know
BACKLOG = 256                    # tasks the coordinator can hold unassigned
IDLE, BUSY = 0, 1


@rc.message
class Register:                  # worker -> coordinator, from on_start
    worker: i32


@rc.message
class RegistrationAck:           # coordinator -> worker
    workers: i32                 # workers registered so far


@rc.message
class Ready:                     # worker -> coordinator: give me a task
    worker: i32


@rc.message
class Task:                      # host -> coordinator -> worker
    id: i32
    rounds: i32                  # how much work the task is


@rc.message
class Complete:                  # worker -> coordinator
    worker: i32
    id: i32
    result: u32


@rc.message
class TaskResult:                # coordinator -> host
    id: i32
    worker: i32
    result: u32


@rc.message
class WorkerStats:               # a record: one per registered worker
    state: i32                   # IDLE or BUSY
    task: i32                    # the task it holds while BUSY
    completed: u32


@rc.ring_kernel(capacity=512)
class Coordinator:
    workers: rc.Map[i32, WorkerStats, MAX_WORKERS]
    idle: rc.Queue[i32, MAX_WORKERS]
    backlog: rc.Queue[Task, BACKLOG]

    def on_register(self, m: Register):
        self.workers[m.worker] = WorkerStats(state=IDLE)      # container_full past MAX
        rc.send(Worker, RegistrationAck(workers=len(self.workers)), instance=m.worker)

    def on_ready(self, m: Ready):
        self.workers[m.worker].state = IDLE                   # key_not_found: unregistered
        if self.backlog.empty():
            self.idle.push(m.worker)
        else:
            task = self.backlog.pop()
            self.assign(m.worker, task)

    def on_task(self, m: Task):
        if self.idle.empty():
            self.backlog.push(m)                              # container_full when full
        else:
            w = self.idle.pop()
            self.assign(w, m)

    def on_complete(self, m: Complete):
        self.workers[m.worker].completed += 1
        rc.emit(TaskResult(id=m.id, worker=m.worker, result=m.result))

    def assign(self, worker: i32, task: Task):
        self.workers[worker].state = BUSY
        self.workers[worker].task = task.id
        rc.send(Worker, task, instance=worker)


@rc.ring_kernel(instances=WORKERS, capacity=16)
class Worker:
    def on_start(self):
        rc.send(Coordinator, Register(worker=rc.instance_id()))

    def on_registration_ack(self, m: RegistrationAck):
        rc.send(Coordinator, Ready(worker=rc.instance_id()))

    def on_task(self, m: Task):
        h = u32(m.id)
        for _ in range(m.rounds):                  # the work: a hash, `rounds` times over
            h = (h ^ (h >> 15)) * u32(2246822519)
        rc.send(Coordinator, Complete(worker=rc.instance_id(), id=m.id, result=h))
        rc.send(Coordinator, Ready(worker=rc.instance_id()))


def main(backend: str = "opencl") -> dict:
    """200 tasks of uneven size through 4 workers, then a Ready from a worker the
    coordinator does not know. Returns the workers registered, the tasks done (each once?),
    the tasks each worker completed, the idle workers and waiting tasks at the end and the
    dead letters."""
    tasks = 200
    batch = np.zeros(tasks, Task.dtype)
    batch["id"] = np.arange(tasks)
    batch["rounds"] = (np.arange(tasks) * 37) % 500
    with rc.launch(Coordinator, backend=backend) as rt:
        rt.send(Coordinator, batch)
        results = rt.receive_many(tasks, timeout=30.0, type=TaskResult)
        rt.send(Coordinator, Ready(worker=7))           # a worker that never registered
        rt.shutdown(drain=True, timeout=10.0)
        dead = [d.reason for d in rt.dead_letters()]
        state = rt.checkpoint(Coordinator)             # containers are part of state
    table = state["workers"]
    used = table["used"].astype(bool)
    completed = dict(zip(table["keys"][used].tolist(),
                         table["items"]["completed"][used].tolist(), strict=True))
    per_worker = [int(completed.get(w, 0)) for w in range(WORKERS)]
    by_worker = Counter(results["worker"].tolist())
    once = sorted(results["id"].tolist()) == list(range(tasks))
    right = all(r["result"] == expected_hash(int(r["id"])) for r in results)
    print(f"{int(table['count'])} workers registered themselves from on_start")
    print(f"{len(results)} tasks done; each once: {'yes' if once else 'NO'}; "
          f"results right: {'yes' if right else 'NO'}")
    print("tasks per worker: " + ", ".join(f"worker {w}: {by_worker[w]}"
                                           for w in range(WORKERS)))
    idle, waiting = int(state["idle"]["count"]), int(state["backlog"]["count"])
    print(f"after shutdown: {idle} of {int(table['count'])} workers idle, "
          f"{waiting} tasks waiting")
    print(f"Ready from unknown worker 7: dead-lettered ({', '.join(dead)})")
    return {"registered": int(table["count"]), "done": len(results), "once": once,
            "right": right, "per_worker": per_worker,
            "idle_at_end": idle, "waiting_at_end": waiting,
            "dead_letters": dead}


def expected_hash(task: int) -> int:
    """The worker's hash, on the host."""
    h = np.uint32(task)
    with np.errstate(over="ignore"):
        for _ in range((task * 37) % 500):
            h = (h ^ (h >> np.uint32(15))) * np.uint32(2246822519)
    return int(h)


if __name__ == "__main__":
    main(*sys.argv[1:2])
