"""Persistent state: per-sensor moving averages kept on the device, checkpointed, restored.

`SensorAverages` keeps one `SensorStats` record per sensor in an array of records: how many
events it saw, and its latest WINDOW values in a ring. A `Query` answers the moving average
of those values. State lives on the device between messages, and nothing is lost between
them; what a crash loses is what happened since the last checkpoint.

Every CHECKPOINT_EVERY events the kernel emits `CheckpointDue`, and the host takes the
checkpoint: `rt.checkpoint(K)` copies the state between two messages (a numpy record named
after the state fields). After a crash (here `shutdown(drain=False)`), a fresh launch
`rt.restore`s the latest checkpoint and the host replays the events sent after it, from its
own log, so the averages come out exactly as if nothing had happened.

Limits: the device cannot write a checkpoint itself (the host copies it); a snapshot
restores into the same program (the same state layout).

    python samples/patterns/persistent_state.py [opencl|sim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32, u32

SENSORS = 8
WINDOW = 16                   # values in each sensor's moving average
CHECKPOINT_EVERY = 250        # events between checkpoints


@rc.message
class Event:
    sensor: i32
    value: f32


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
class CheckpointDue:
    processed: u32


@rc.ring_kernel(capacity=1024)
class SensorAverages:
    sensors: Array[SensorStats, SENSORS]
    processed: u32

    def on_event(self, m: Event):
        s = m.sensor                                # an unknown sensor: index_out_of_range
        self.sensors[s].latest[self.sensors[s].next] = m.value
        self.sensors[s].next = (self.sensors[s].next + 1) % WINDOW
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


def event_log(n: int, seed: int = 11) -> np.ndarray:
    """The host's record of what it sent: whole-number values, so sums are exact in f32."""
    rng = np.random.default_rng(seed)
    log = np.zeros(n, Event.dtype)
    log["sensor"] = rng.integers(0, SENSORS, n)
    log["value"] = rng.integers(0, 100, n)
    return log


def expected_averages(log: np.ndarray) -> list:
    """Each sensor's mean of its latest WINDOW values, as the kernel computes it."""
    means = []
    for s in range(SENSORS):
        latest = log["value"][log["sensor"] == s][-WINDOW:]
        means.append(np.float32(latest.sum()) / np.float32(len(latest)) if len(latest) else 0.0)
    return means


def main(backend: str = "opencl") -> dict:
    """Send 900 events, checkpointing when asked; crash; restore the last checkpoint into a
    new launch and replay the rest. Returns the checkpoints taken and whether the averages
    match an uninterrupted run."""
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
              f"(each when the kernel emitted CheckpointDue)")
        rt.shutdown(drain=False)                    # a crash: the state since is lost

    resume = int(snapshots[-1]["processed"])
    with rc.launch(SensorAverages, backend=backend) as rt:
        rt.restore(SensorAverages, snapshots[-1])
        rt.send(SensorAverages, log[resume:])
        averages = [rt.request(SensorAverages, Query(sensor=s), timeout=10.0)
                    for s in range(SENSORS)]
    print(f"crashed after {events} events; relaunched, restored the checkpoint of {resume} "
          f"and replayed the {events - resume} events after it")
    for a in averages[:3]:
        print(f"sensor {a.sensor}: {a.count} events, moving average of the latest {WINDOW}: "
              f"{a.mean:.4f}")
    matches = [a.mean for a in averages] == expected_averages(log) and \
        sum(a.count for a in averages) == events
    print(f"all {SENSORS} sensors match an uninterrupted run: {'yes' if matches else 'NO'}")
    return {"checkpoints": taken, "resumed_from": resume, "matches": matches}


if __name__ == "__main__":
    main(*sys.argv[1:2])
