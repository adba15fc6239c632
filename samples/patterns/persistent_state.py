"""Persistent state: per-sensor moving averages and per-user records kept on the device,
checkpointed, restored.

`SensorAverages` keeps one `SensorStats` record per sensor in an array of records: how many
events it saw, and its latest WINDOW values in a ring. A `Query` answers the moving average
of those values. Each event also names a user, by an arbitrary id (up to a million here),
and the kernel keeps a `UserState` record per user in an `rc.Map[i32, UserState, USERS]`,
as the guide's dictionary of user states: it gets the user's record or a new one
(`users.get(id, UserState())`, a copy), counts the event, notes its time and stores the
record back (`users[id] = ...`). A `UserQuery` answers one user's record. State lives on
the device between messages, and nothing is lost between them; what a crash loses is what
happened since the last checkpoint.

Every CHECKPOINT_EVERY events the kernel emits `CheckpointDue`, and the host takes the
checkpoint: `rt.checkpoint(K)` copies the state between two messages (a numpy record named
after the state fields). After a crash (here `shutdown(drain=False)`), a fresh launch
`rt.restore`s the latest checkpoint and the host replays the events sent after it, from its
own log, so the averages and every user's record come out exactly as if nothing had
happened. The map is part of the checkpoint (its `count`, `keys`, `used` and `items`),
so the users seen before the checkpoint come back with it.

Limits: the device cannot write a checkpoint itself (the host copies it: the guide's kernel
sends one); a snapshot restores into the same program (the same state layout). The map
holds at most USERS users: an event of one more new user is dead-lettered
(`container_full`) before it changes anything, where the guide's dictionary grows.

    python samples/patterns/persistent_state.py [opencl|sim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, bool_, f32, i32, u32

SENSORS = 8
WINDOW = 16                   # values in each sensor's moving average
CHECKPOINT_EVERY = 250        # events between checkpoints
USERS = 64                    # users the kernel can keep a record for


@rc.message
class Event:
    sensor: i32
    user: i32                 # any id: the key of the user's record
    time: u32                 # when it happened (ms), as the host stamped it
    value: f32


@rc.message
class UserState:              # a record: one per user, in the map
    events: u32
    last_time: u32
    total: f32


@rc.message
class SensorStats:            # a record: one per sensor, in state
    count: u32
    latest: Array[f32, WINDOW]
    next: i32                 # where the next value goes in `latest`


@rc.message
class Query:
    sensor: i32


@rc.message
class Average:
    sensor: i32
    count: u32
    mean: f32


@rc.message
class UserQuery:
    user: i32


@rc.message
class UserReport:
    user: i32
    known: bool_
    state: UserState


@rc.message
class CheckpointDue:
    processed: u32


@rc.ring_kernel(capacity=1024)
class SensorAverages:
    sensors: Array[SensorStats, SENSORS]
    users: rc.Map[i32, UserState, USERS]
    processed: u32

    def on_event(self, m: Event):
        s = m.sensor
        slot = self.sensors[s].next                 # an unknown sensor: index_out_of_range
        user = self.users.get(m.user, UserState())  # the user's record, or a new one
        user.events += 1
        user.last_time = m.time
        user.total += m.value
        self.users[m.user] = user                   # USERS held and a new one: container_full
        self.sensors[s].latest[slot] = m.value      # (both faults come before any store)
        self.sensors[s].next = (slot + 1) % WINDOW
        self.sensors[s].count += 1
        self.processed += 1
        if self.processed % CHECKPOINT_EVERY == 0:
            rc.emit(CheckpointDue(processed=self.processed))

    def on_query(self, m: Query) -> Average:
        stats = self.sensors[m.sensor]              # a copy of the record
        n = min(stats.count, u32(WINDOW))
        if n == 0:
            return Average(sensor=m.sensor)
        total = 0.0
        for i in range(n):
            total += stats.latest[i]
        return Average(sensor=m.sensor, count=stats.count, mean=total / f32(n))

    def on_user_query(self, m: UserQuery) -> UserReport:
        if m.user not in self.users:
            return UserReport(user=m.user)
        return UserReport(user=m.user, known=True, state=self.users[m.user])


def event_log(n: int, seed: int = 11) -> np.ndarray:
    """The host's record of what it sent: whole-number values, so sums are exact in f32;
    50 users with ids anywhere below a million, more of them active as time goes on;
    one event every 10 ms."""
    rng = np.random.default_rng(seed)
    log = np.zeros(n, Event.dtype)
    log["sensor"] = rng.integers(0, SENSORS, n)
    log["value"] = rng.integers(0, 100, n)
    ids = rng.choice(1_000_000, 50, replace=False)
    active = 10 + np.arange(n) * 41 // n                # users active by then: 10 to 50
    log["user"] = ids[(rng.random(n) * active).astype(int)]
    log["time"] = np.arange(n) * 10
    return log


def expected_averages(log: np.ndarray) -> list:
    """Each sensor's mean of its latest WINDOW values, as the kernel computes it."""
    means = []
    for s in range(SENSORS):
        latest = log["value"][log["sensor"] == s][-WINDOW:]
        means.append(np.float32(latest.sum()) / np.float32(len(latest)) if len(latest) else 0.0)
    return means


def expected_users(log: np.ndarray) -> dict:
    """Each user's (events, last time, total), as the kernel keeps them."""
    users: dict = {}
    for e in log:
        events, _, total = users.get(int(e["user"]), (0, 0, np.float32(0)))
        users[int(e["user"])] = (events + 1, int(e["time"]), total + e["value"])
    return users


def main(backend: str = "opencl") -> dict:
    """Send 900 events, checkpointing when asked; crash; restore the last checkpoint into a
    new launch and replay the rest. Returns the checkpoints taken, the users held and
    whether the averages and the user records match an uninterrupted run."""
    events = 900
    log = event_log(events)
    snapshots = []
    with rc.launch(SensorAverages, backend=backend) as rt:
        sent = 0
        while sent < events:
            chunk = min(CHECKPOINT_EVERY, events - sent)
            rt.send(SensorAverages, log[sent:sent + chunk])
            sent += chunk
            if chunk == CHECKPOINT_EVERY:           # the kernel asks at every multiple
                rt.receive(timeout=10.0)            # CheckpointDue
                snapshots.append(rt.checkpoint(SensorAverages))
        taken = [int(s["processed"]) for s in snapshots]
        print(f"checkpoints taken at {', '.join(map(str, taken))} events "
              f"(each when the kernel emitted CheckpointDue), holding "
              f"{', '.join(str(int(s['users']['count'])) for s in snapshots)} users")
        rt.shutdown(drain=False)                    # a crash: the state since is lost

    resume = int(snapshots[-1]["processed"])
    want = expected_users(log)
    saved = snapshots[-1]["users"]                  # the map, as the checkpoint holds it
    saved_users = set(saved["keys"][saved["used"] != 0].tolist())
    with rc.launch(SensorAverages, backend=backend) as rt:
        rt.restore(SensorAverages, snapshots[-1])
        rt.send(SensorAverages, log[resume:])
        averages = [rt.request(SensorAverages, Query(sensor=s), timeout=10.0)
                    for s in range(SENSORS)]
        reports = {user: rt.request(SensorAverages, UserQuery(user=user), timeout=10.0)
                   for user in sorted(want)}
        held = int(rt.checkpoint(SensorAverages)["users"]["count"])
    print(f"crashed after {events} events; relaunched, restored the checkpoint of {resume} "
          f"and replayed the {events - resume} events after it")
    print(f"the checkpoint's map held {len(saved_users)} users; the replay added "
          f"{held - len(saved_users)} new ones: {held} users in all")
    for a in averages[:3]:
        print(f"sensor {a.sensor}: {a.count} events, moving average of the latest {WINDOW}: "
              f"{a.mean:.4f}")
    for user in list(reports)[:3]:
        u = reports[user].state
        print(f"user {user}: {u.events} events, the last at {u.last_time} ms, "
              f"values totalling {u.total:g}")
    matches = [a.mean for a in averages] == expected_averages(log) and \
        sum(a.count for a in averages) == events
    users_match = held == len(want) and all(
        r.known and (r.state.events, r.state.last_time, r.state.total) == want[user]
        for user, r in reports.items())
    print(f"all {SENSORS} sensors match an uninterrupted run: {'yes' if matches else 'NO'}")
    print(f"all {held} users in the map match an uninterrupted run: "
          f"{'yes' if users_match else 'NO'}")
    return {"checkpoints": taken, "resumed_from": resume, "matches": matches,
            "users": held, "users_match": users_match}


if __name__ == "__main__":
    main(*sys.argv[1:2])
