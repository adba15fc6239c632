"""Coordinator: workers register, a coordinator hands out work, and on timers checks the
workers' health and rebalances their queues (the guide's `PeriodicTasks`).

Each `Worker` instance registers itself from its `on_start` hook, before it takes any
message, and is answered with a `RegistrationAck`. `Coordinator` keeps, as the guide's
coordinator keeps its list and dictionary:

- `workers: rc.Map[i32, WorkerStats, MAX_WORKERS]`, the registered workers by id: up or
  down, how many tasks each holds (its queue depth), how many it completed, heartbeats;
- `in_flight: rc.Map[i32, Assignment, IN_FLIGHT]`, every task not done yet and the worker
  holding it (WAITING while no worker can take it).

A task goes to its home worker (its id mod WORKERS, as a partitioned cache would want),
or to the least-loaded worker when its home is down or full. A worker keeps its tasks in
its own queue (`todo: rc.Queue[Task, DEPTH]`) and works one per `Step` message it sends
itself, so it still answers the coordinator between two tasks. Each `Complete` goes to the
coordinator, which passes the result on to the host.

Two periodic methods (`@rc.every`) do the guide's periodic work:

- health: every worker sends a `Heartbeat` every HEARTBEAT_S (its own `@rc.every`).
  Every CHECK_S the coordinator counts the workers it has not heard from since its last
  check; one missing MISSED_LIMIT checks in a row is marked down, and each task it held is
  reassigned. Its late results are stale: counted and dropped, so each task is reported
  once. Its next heartbeat marks it up again.
- rebalance: every REBALANCE_S the coordinator compares the depths of the workers it heard
  from at the last check. One holding more than 1.5 times the average, and that completed
  nothing since the previous rebalance, is sent a `Migrate`: it hands back (`Handback`)
  its excess over the average from its queue, and those tasks go to the least loaded.

The run: 200 tasks while worker 1 is held (`Hold`: it answers, heartbeats and hand-backs
included, but starts no task, as a worker busy with other work would) and worker 3 is
silent (the host deactivates it: no heartbeat, no task). The rebalance drains worker 1's
queue, the health check takes worker 3's 50 tasks back, and all 200 come back once each,
from workers 0 and 2. Then worker 3 is reactivated: it is marked up again and its 50 late
results are dropped as stale, and eight more tasks go two to each home worker. A heartbeat
from a worker that never registered faults with `key_not_found` and is dead-lettered; a
worker past MAX_WORKERS or a task past IN_FLIGHT faults with `container_full`.

Limits: the health check counts missed checks instead of comparing `rc.now()` with each
worker's last heartbeat: when the whole program stalls (a busy host, a slow relaunch),
every heartbeat is late at once, and a deadline in nanoseconds would condemn every worker,
whereas each check that runs is followed by the heartbeats sent meanwhile. A worker whose
handler hangs is noticed, not stopped: a running handler cannot be cancelled. The tasks a
down worker held stay in its ring and queue, and count in its depth until their stale
results are in; the coordinator gives one worker at most DEPTH tasks, below its ring's
capacity, so it never waits for room in a ring nobody drains. The guide migrates a fixed
10 tasks; here the excess over the average. `Step` carries a field nobody reads: a
message needs one.

    python samples/patterns/coordinator.py [opencl|sim]
"""

import sys
import time

import numpy as np

import ringc as rc
from ringc import bool_, i32, u32

WORKERS = 4                      # Worker instances launched
MAX_WORKERS = 8                  # workers the coordinator can know
IN_FLIGHT = 256                  # tasks not done yet the coordinator can track
DEPTH = 64                       # tasks one worker may hold (its queue)
WAITING = -1                     # the worker of a task no worker holds
UP, DOWN = 0, 1
HEARTBEAT_S = 0.01               # a worker's heartbeat period
CHECK_S = 0.05                   # the coordinator's health-check period
MISSED_LIMIT = 3                 # checks without a heartbeat before a worker is down
REBALANCE_S = 0.02               # the coordinator's rebalance period
REGISTERED, WENT_DOWN, CAME_BACK = 0, 1, 2     # what a WorkerEvent reports
HELD, SILENT = 1, 3              # the workers the run holds and deactivates


@rc.message
class Register:                  # worker -> coordinator, from on_start
    worker: i32


@rc.message
class RegistrationAck:           # coordinator -> worker
    workers: i32                 # workers registered so far


@rc.message
class Heartbeat:                 # worker -> coordinator, every HEARTBEAT_S
    worker: i32


@rc.message
class Task:                      # host -> coordinator -> worker
    id: i32
    rounds: i32                  # how much work the task is


@rc.message
class Step:                      # worker -> itself: work the next task of its queue
    pass


@rc.message
class Hold:                      # host -> worker: stop (or resume) starting tasks
    on: bool_


@rc.message
class Migrate:                   # coordinator -> worker: hand back this many queued tasks
    count: i32


@rc.message
class Handback:                  # worker -> coordinator: a task it had not started
    worker: i32
    task: Task


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
class WorkerEvent:               # coordinator -> host: registered, down, back up
    worker: i32
    kind: i32


@rc.message
class WorkerStats:               # a record: one per registered worker
    state: i32                   # UP or DOWN
    depth: i32                   # tasks it holds (queued with it or in its ring), stale
                                 # ones included
    completed: u32
    completed_before: u32        # completed at the previous rebalance
    missed: i32                  # health checks in a row without a heartbeat
    heard: bool_                 # a heartbeat came since the last check


@rc.message
class Assignment:                # a record: one per task not done yet
    task: Task
    worker: i32                  # who holds it, or WAITING


@rc.ring_kernel(capacity=512)
class Coordinator:
    workers: rc.Map[i32, WorkerStats, MAX_WORKERS]
    in_flight: rc.Map[i32, Assignment, IN_FLIGHT]
    reassigned: u32              # tasks taken back from a worker marked down
    migrated: u32                # tasks handed back by the rebalance and given out again
    stale: u32                   # results and hand-backs of tasks no longer theirs

    def on_register(self, m: Register):
        self.workers[m.worker] = WorkerStats(state=UP)       # container_full past MAX
        rc.send(Worker, RegistrationAck(workers=len(self.workers)), instance=m.worker)
        rc.emit(WorkerEvent(worker=m.worker, kind=REGISTERED))
        self.assign_waiting()

    def on_heartbeat(self, m: Heartbeat):
        self.workers[m.worker].heard = True                  # key_not_found: unregistered
        if self.workers[m.worker].state == DOWN:
            self.workers[m.worker].state = UP
            self.workers[m.worker].missed = 0
            rc.emit(WorkerEvent(worker=m.worker, kind=CAME_BACK))
            self.assign_waiting()

    def on_task(self, m: Task):
        self.in_flight[m.id] = Assignment(task=m, worker=WAITING)   # container_full
        home = m.id % WORKERS
        if home in self.workers and self.workers[home].state == UP and \
                self.workers[home].depth < DEPTH:
            self.give(m.id, home)
        else:
            self.give(m.id, self.least_loaded(WAITING))

    def on_complete(self, m: Complete):
        if not self.holds(m.worker, m.id):
            self.drop_stale(m.worker)        # reassigned while the worker was down
            return
        self.in_flight.remove(m.id)
        self.workers[m.worker].depth -= 1
        self.workers[m.worker].completed += 1
        rc.emit(TaskResult(id=m.id, worker=m.worker, result=m.result))

    def on_handback(self, m: Handback):
        if not self.holds(m.worker, m.task.id):
            self.drop_stale(m.worker)
            return
        self.workers[m.worker].depth -= 1
        self.migrated += 1
        self.give(m.task.id, self.least_loaded(m.worker))

    @rc.every(CHECK_S)
    def check_health(self):
        for w in self.workers:
            if self.workers[w].state == UP:
                if self.workers[w].heard:
                    self.workers[w].missed = 0
                else:
                    self.workers[w].missed += 1
                    if self.workers[w].missed >= MISSED_LIMIT:
                        self.mark_down(w)
            self.workers[w].heard = False

    @rc.every(REBALANCE_S)
    def rebalance(self):
        total = 0
        n = 0
        for w in self.workers:
            if self.responsive(w):
                total += self.workers[w].depth
                n += 1
        for w in self.workers:
            if self.responsive(w) and self.behind(w, total, n):
                rc.send(Worker, Migrate(count=self.workers[w].depth - total // n),
                        instance=w)
            self.workers[w].completed_before = self.workers[w].completed
        self.assign_waiting()

    def mark_down(self, w: i32):
        """Reassign what w holds. Its depth stays: the tasks are still in its queue, and
        come back as stale results if it ever runs again."""
        self.workers[w].state = DOWN
        rc.emit(WorkerEvent(worker=w, kind=WENT_DOWN))
        for t in self.in_flight:
            if self.in_flight[t].worker == w:
                self.reassigned += 1
                self.give(t, self.least_loaded(w))

    def drop_stale(self, w: i32):
        self.stale += 1
        self.workers[w].depth -= 1

    def assign_waiting(self):
        for t in self.in_flight:
            if self.in_flight[t].worker == WAITING:
                self.give(t, self.least_loaded(WAITING))

    def give(self, t: i32, w: i32):
        """Task t to worker w, or WAITING when w is WAITING."""
        self.in_flight[t].worker = w
        if w != WAITING:
            self.workers[w].depth += 1
            task = self.in_flight[t].task
            rc.send(Worker, task, instance=w)

    def least_loaded(self, other_than: i32) -> i32:
        """The responsive worker holding the fewest tasks (the lowest id of a tie) that
        has room, other than `other_than`; WAITING when there is none."""
        best = WAITING
        for w in self.workers:
            if w != other_than and self.responsive(w) and self.workers[w].depth < DEPTH:
                if best == WAITING or self.workers[w].depth < self.workers[best].depth \
                        or (self.workers[w].depth == self.workers[best].depth and w < best):
                    best = w
        return best

    def behind(self, w: i32, total: i32, n: i32) -> bool:
        """Holding over 1.5 times the average of n workers, and not one task completed
        since the previous rebalance."""
        return 2 * self.workers[w].depth * n > 3 * total and \
            self.workers[w].completed == self.workers[w].completed_before

    def responsive(self, w: i32) -> bool:
        """Up, and heard from at the last health check."""
        return self.workers[w].state == UP and self.workers[w].missed == 0

    def holds(self, w: i32, t: i32) -> bool:
        return t in self.in_flight and self.in_flight[t].worker == w


@rc.ring_kernel(instances=WORKERS, capacity=128)
class Worker:
    todo: rc.Queue[Task, DEPTH]
    registered: bool_
    held: bool_
    stepping: bool_              # a Step is on its way

    def on_start(self):
        rc.send(Coordinator, Register(worker=rc.instance_id()))

    def on_registration_ack(self, m: RegistrationAck):
        self.registered = True

    @rc.every(HEARTBEAT_S)
    def heartbeat(self):
        if self.registered:
            rc.send(Coordinator, Heartbeat(worker=rc.instance_id()))

    def on_task(self, m: Task):
        self.todo.push(m)                # the coordinator gives at most DEPTH
        self.step_later()

    def on_hold(self, m: Hold):
        self.held = m.on
        self.step_later()

    def on_migrate(self, m: Migrate):
        n = 0
        while n < m.count and not self.todo.empty():
            task = self.todo.pop()
            rc.send(Coordinator, Handback(worker=rc.instance_id(), task=task))
            n += 1

    def on_step(self, m: Step):
        self.stepping = False
        if self.held or self.todo.empty():
            return
        task = self.todo.pop()
        h = u32(task.id)
        for _ in range(task.rounds):               # the work: a hash, `rounds` times over
            h = (h ^ (h >> 15)) * u32(2246822519)
        rc.send(Coordinator, Complete(worker=rc.instance_id(), id=task.id, result=h))
        self.step_later()

    def step_later(self):
        if not self.stepping and not self.held and not self.todo.empty():
            self.stepping = True
            rc.send(Worker, Step(), instance=rc.instance_id())


def make_tasks(first: int, count: int) -> np.ndarray:
    batch = np.zeros(count, Task.dtype)
    batch["id"] = np.arange(first, first + count)
    batch["rounds"] = (batch["id"] * 37) % 500
    return batch


def wait_for(rt, kind: int, count: int, events: list, timeout: float = 10.0) -> None:
    """Receive WorkerEvents into `events` ((worker, kind) pairs) until `count` of
    `kind` are there."""
    deadline = time.monotonic() + timeout
    while sum(k == kind for _, k in events) < count and time.monotonic() < deadline:
        got = rt.receive_many(1, timeout=deadline - time.monotonic(), type=WorkerEvent)
        events += [(int(e["worker"]), int(e["kind"])) for e in got]


def main(backend: str = "opencl") -> dict:
    """Four workers register; 200 tasks while worker 1 is held and worker 3 silent; worker 3
    back; 8 more tasks; a heartbeat from a worker the coordinator does not know. Returns
    the workers registered, the tasks done (each once? right?), the workers that did them,
    who went down and came back, the tasks reassigned and rebalanced, the stale results,
    the second batch per worker, what is left at the end and the dead letters."""
    first = make_tasks(0, 200)
    second = make_tasks(200, 8)
    events: list = []
    with rc.launch(Coordinator, backend=backend) as rt:
        wait_for(rt, REGISTERED, WORKERS, events)
        rt.send(Worker, Hold(on=True), instance=HELD)
        rt.deactivate(Worker, instance=SILENT)
        rt.send(Coordinator, first)
        taken = list(rt.receive_many(len(first), timeout=30.0, type=TaskResult))
        rt.activate(Worker, instance=SILENT)
        rt.send(Worker, Hold(on=False), instance=HELD)
        wait_for(rt, CAME_BACK, 1, events)
        deadline = time.monotonic() + 10.0            # until its late results are in
        while rt.checkpoint(Coordinator)["stale"] < len(first) // WORKERS and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        rt.send(Coordinator, second)
        later = rt.receive_many(len(second), timeout=30.0, type=TaskResult)
        rt.send(Coordinator, Heartbeat(worker=7))     # a worker that never registered
        rt.shutdown(drain=True, timeout=10.0)
        events += [(int(e["worker"]), int(e["kind"]))
                   for e in rt.receive_many(100, timeout=0, type=WorkerEvent)]
        dead = [d.reason for d in rt.dead_letters()]
        state = rt.checkpoint(Coordinator)             # containers are part of state
    results = np.array(taken, TaskResult.dtype)
    table = state["workers"]
    used = table["used"].astype(bool)
    up = table["items"]["state"][used] == UP
    registered = sum(k == REGISTERED for _, k in events)
    went_down = sorted(w for w, k in events if k == WENT_DOWN)
    came_back = sorted(w for w, k in events if k == CAME_BACK)
    everything = np.concatenate([results, later])
    once = sorted(everything["id"].tolist()) == list(range(208))
    right = all(int(r["result"]) == expected_hash(int(r["id"])) for r in everything)
    did = sorted(set(results["worker"].tolist()))
    second_per_worker = [int(n) for n in np.bincount(later["worker"], minlength=WORKERS)]
    reassigned, stale = int(state["reassigned"]), int(state["stale"])
    rebalanced = int(state["migrated"]) > 0
    print(f"{registered} workers registered themselves from on_start")
    print(f"worker {HELD} held, worker {SILENT} silent; 200 tasks: {len(results)} done, "
          f"by workers {did}")
    print(f"health check: worker(s) {went_down} marked down, {reassigned} tasks reassigned")
    print(f"rebalance: worker {HELD}'s queue moved to others: {'yes' if rebalanced else 'NO'}")
    print(f"worker {SILENT} reactivated: back up {came_back}; {stale} stale results dropped")
    print(f"8 more tasks, per worker: {second_per_worker}")
    print(f"{len(everything)} tasks done; each once: {'yes' if once else 'NO'}; "
          f"results right: {'yes' if right else 'NO'}")
    in_flight = int(state["in_flight"]["count"])
    held = int(table["items"]["depth"][used].sum())
    print(f"after shutdown: {int(up.sum())} of {int(table['count'])} workers up, "
          f"{in_flight} tasks in flight, {held} held by workers")
    print(f"heartbeat from unknown worker 7: dead-lettered ({', '.join(dead)})")
    return {"registered": registered, "done": len(everything), "once": once, "right": right,
            "did_first_batch": did, "went_down": went_down, "reassigned": reassigned,
            "rebalanced": rebalanced, "came_back": came_back, "stale": stale,
            "second_per_worker": second_per_worker, "up_at_end": int(up.sum()),
            "in_flight_at_end": in_flight, "held_at_end": held, "dead_letters": dead}


def expected_hash(task: int) -> int:
    """The worker's hash, on the host."""
    h = np.uint32(task)
    with np.errstate(over="ignore"):
        for _ in range((task * 37) % 500):
            h = (h ^ (h >> np.uint32(15))) * np.uint32(2246822519)
    return int(h)


if __name__ == "__main__":
    main(*sys.argv[1:2])
