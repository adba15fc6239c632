"""A pipeline of three kernels: readings are cleaned, scored, then aggregated per sensor.

    host --Reading--> Clean --Clean--> Score --Scored--> Aggregate --Summary--> host (rc.emit)

Each stage runs resident on the device; messages move stage to stage without the host.
"""

import math

import ringc as rc
from ringc import Array, f32, i32, i64, u32

SENSORS = 8
WINDOW = 4
LIMIT = 1000.0


@rc.message
class Reading:
    sensor: i32
    seq: i64
    samples: Array[f32, WINDOW]


@rc.message
class Cleaned:
    sensor: i32
    seq: i64
    mean: f32
    spread: f32


@rc.message
class Scored:
    sensor: i32
    seq: i64
    score: f32
    alarm: bool


@rc.message
class Summary:
    sensor: i32
    count: u32
    alarms: u32
    mean_score: f32


@rc.ring_kernel(capacity=1024)
class Clean:
    """Drops out-of-range samples and summarises the window."""

    rejected: i64

    def on_reading(self, m: Reading):
        if m.sensor < 0 or m.sensor >= SENSORS:
            rc.fail("unknown_sensor")
        total = 0.0
        kept = 0
        lo = LIMIT
        hi = -LIMIT
        for i in range(WINDOW):
            x = m.samples[i]
            if math.isnan(x) or abs(x) > LIMIT:
                self.rejected += 1
                continue
            total += x
            kept += 1
            lo = min(lo, x)
            hi = max(hi, x)
        if kept == 0:
            rc.fail("empty_window")
        rc.send(Score, Cleaned(sensor=m.sensor, seq=m.seq, mean=total / kept, spread=hi - lo))


@rc.ring_kernel(capacity=1024)
class Score:
    """Scores each window against a running per-sensor baseline."""

    baseline: Array[f32, SENSORS]
    seen: Array[u32, SENSORS]

    def on_cleaned(self, m: Cleaned):
        s = m.sensor
        if self.seen[s] == 0:
            self.baseline[s] = m.mean
        delta = m.mean - self.baseline[s]
        self.baseline[s] = self.baseline[s] * 0.9 + m.mean * 0.1
        self.seen[s] += 1
        score = math.sqrt(delta * delta + m.spread * m.spread)
        rc.send(Aggregate, Scored(sensor=s, seq=m.seq, score=score, alarm=score > 50.0))


@rc.ring_kernel(capacity=1024)
class Aggregate:
    """Counts windows and alarms per sensor; every REPORT windows, emits a summary."""

    count: Array[u32, SENSORS]
    alarms: Array[u32, SENSORS]
    score_sum: Array[f32, SENSORS]

    def on_scored(self, m: Scored):
        s = m.sensor
        self.count[s] += 1
        if m.alarm:
            self.alarms[s] += 1
        self.score_sum[s] += m.score
        if self.count[s] % 4 == 0:
            rc.emit(Summary(sensor=s, count=self.count[s], alarms=self.alarms[s],
                            mean_score=self.score_sum[s] / f32(self.count[s])))
