"""What the runtime reports: `Status`, `Metrics`, `Health`, `DeadLetter`, and the
bookkeeping behind them (64-bit totals of the device's 32-bit counters and their recent
history, host send times, and latency histograms of bounded size)."""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..protocol import STATS

__all__ = ["Status", "Metrics", "Health", "DeadLetter", "Counters", "LatencyBook",
           "LatencyHistogram", "StallWatch"]

COUNTED = ("processed", "dead_lettered", "sent", "received", "dead_letters_lost",
           "handler_ns", "handler_timed")


@dataclass(frozen=True)
class Status:
    """One kernel (all its instances, or the one asked for) at the moment of the call.

    `sent` counts messages sent to it, by the host and by device code (dead-lettered
    `queue_full` / `no_such_instance` ones included); at a quiescent point
    `sent == processed + pending + dead_lettered`."""
    kernel: str
    instances: int
    active: bool            # every instance asked for takes messages
    launched: bool          # the program is loaded and serving (until shutdown ends)
    terminating: bool       # shutdown has begun
    processed: int          # handlers that completed
    pending: int            # queued and not yet taken (both rings of every queue)
    dead_lettered: int      # dead-lettered at this kernel, for any reason
    sent: int
    uptime: float           # seconds since launch (frozen at shutdown)
    dead_letters_lost: int = 0   # of those, lost: the host did not drain the queue in time


@dataclass(frozen=True)
class Metrics:
    """Rates and latencies of one kernel (or instance). Latency is the round trip the host
    sees, from `send`/`request` to the reply arriving in host memory, over every reply to
    a host-sent message since launch (a batch's replies sampled, at most 256 a batch), in
    a histogram: `latency_mean` and `latency_max` are exact, `latency_p50` and
    `latency_p99` are within 19 % (a bucket's width); all None before the first reply.
    `input_utilisation` is the fullest input ring's fill: 1.0 means the next message
    put in that ring waits. `handler_time_mean` is measured on the device, over every
    16th handling (every cooperative one), by the device's own clock (docs/runtime.md,
    "Time": on a heartbeat clock its resolution is the heartbeat's); None before one."""
    kernel: str
    throughput: float               # messages processed per second since launch
    throughput_recent: float        # ... in the last second
    latency_mean: float | None      # seconds
    latency_p50: float | None
    latency_p99: float | None
    latency_max: float | None
    handler_time_mean: float | None  # seconds
    input_utilisation: float        # 0..1
    output_utilisation: float       # the host output queue's fill (0..1), program-wide
    dead_letters: int
    processed: int


@dataclass(frozen=True)
class Health:
    """`Runtime.health()` (docs/runtime.md, "Health"): `status` is "unhealthy" when there
    are `errors` (a device error, lost dead letters, a handler stalled past `stall_after`,
    a program shut down), else "degraded" when there are `warnings` (an input queue over
    90 %, an inactive kernel with messages waiting), else "healthy"; `kernels` gives each
    kernel's own status. Each warning and error is one sentence naming the kernel."""
    status: str
    warnings: tuple[str, ...]
    errors: tuple[str, ...]
    kernels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetter:
    """A message the program could not deliver or handle. `kernel`/`instance` name where
    it was dead-lettered (None and -1 for the host output queue); `source` who sent it
    ("host" or "Kernel[i]"); `detail` the instance asked for (`no_such_instance`) or the
    replying queue id (`bad_address`)."""
    kernel: str | None
    instance: int
    reason: str
    message: Any            # the message object (an @rc.message class's)
    source: str
    correlation: int
    detail: int


class Counters:
    """64-bit totals of the stats lines' 32-bit counters: `update` must run more often than
    every 2^31 events per counter (the runtime's pump runs every few milliseconds)."""

    HISTORY_EVERY = 0.05         # s between the processed totals kept for recent rates
    HISTORY_SPAN = 1.5           # s of them kept

    def __init__(self, stats: np.ndarray):
        self.stats = stats                      # the arena's stats lines, STATS.dtype
        self.last = {name: stats[name].astype(np.uint32) for name in COUNTED}
        self.total = {name: self.last[name].astype(np.int64) for name in COUNTED}
        self.history: deque[tuple[float, np.ndarray]] = deque()

    def update(self) -> None:
        for name in COUNTED:
            now = self.stats[name].astype(np.uint32)
            self.total[name] += (now - self.last[name]).astype(np.int64)   # wraps in u32
            self.last[name] = now
        t = time.monotonic()
        if not self.history or t - self.history[-1][0] >= self.HISTORY_EVERY:
            self.history.append((t, self.total["processed"].copy()))
            while t - self.history[0][0] > self.HISTORY_SPAN:
                self.history.popleft()

    def sum(self, name: str, queues: range) -> int:
        return int(self.total[name][queues.start:queues.stop].sum())

    def recent_rate(self, queues: range, span: float = 1.0) -> float:
        """Messages processed per second by `queues` over about the last `span` seconds
        (since the oldest total kept, when the program is younger); 0 before any."""
        if not self.history:
            return 0.0
        now = time.monotonic()
        then, before = self.history[0]
        for t, processed in self.history:      # the last total kept at or before now - span
            if t > now - span:
                break
            then, before = t, processed
        done = int(self.total["processed"][queues.start:queues.stop].sum()
                   - before[queues.start:queues.stop].sum())
        return done / max(now - then, 1e-9)


def positive_seconds(name: str, value) -> float:
    """`value` as a float number of seconds > 0 (finite), else a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a number of seconds > 0, not {value!r}")
    return float(value)


class StallWatch:
    """Which queues have been inside one handling longer than `after` seconds: a queue
    stalls when it holds a message (`busy`) and neither its handled nor its
    dead-lettered count has moved since. Read by the host, so a stall shows within a
    pump period (a few ms) of passing `after`."""

    def __init__(self, num_queues: int, after: float):
        self.after = positive_seconds("stall_after", after)
        self.seen = np.zeros(num_queues, dtype=np.int64)
        self.since = np.full(num_queues, time.monotonic())
        self.stalled = np.zeros(num_queues, dtype=bool)

    def update(self, total: dict[str, np.ndarray], busy: np.ndarray) -> list[int]:
        """Take the counters' 64-bit totals and the `busy` words; returns the queues that
        stalled since the last update."""
        now = time.monotonic()
        progress = total["processed"] + total["dead_lettered"]
        moving = (progress != self.seen) | (busy == 0)
        self.seen = progress
        self.since[moving] = now
        stalled = now - self.since > self.after
        new = np.flatnonzero(stalled & ~self.stalled).tolist()
        self.stalled = stalled
        return new


# latency buckets (ns): 1 us to 67 s, four a doubling (each 19 % wider than the last)
BOUNDS_NS = tuple(round(1000 * 2 ** (i / 4)) for i in range(105))


@dataclass(frozen=True)
class LatencyHistogram:
    """Latencies in buckets: `counts[i]` of them at most `bounds[i]` seconds and above the
    bound before it; the last count is above the last bound. `sum` (seconds), `count` and
    `max` are exact."""
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    sum: float
    count: int
    max: float | None

    def quantile(self, q: float) -> float | None:
        """The bound of the bucket holding the q-th latency (never above `max`)."""
        if not self.count:
            return None
        rank, seen = q * self.count, 0
        for bound, n in zip(self.bounds, self.counts):
            seen += n
            if seen >= rank:
                return min(bound, self.max)
        return self.max


class LatencyBook:
    """Send times of host-sent correlation ranges, and a latency histogram per input
    queue (bounded memory: `BOUNDS_NS` buckets, whatever the traffic)."""

    KEEP_RANGES = 1 << 14

    def __init__(self, num_queues: int):
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.times: list[int] = []
        self.counts = np.zeros((num_queues, len(BOUNDS_NS) + 1), dtype=np.int64)
        self.sums = [0] * num_queues              # ns
        self.maxima = [0] * num_queues            # ns

    def sent(self, first: int, count: int, t_ns: int) -> None:
        if len(self.starts) >= self.KEEP_RANGES:
            half = self.KEEP_RANGES // 2
            del self.starts[:half], self.ends[:half], self.times[:half]
        self.starts.append(first)
        self.ends.append(first + count)
        self.times.append(t_ns)

    def replied(self, sources: np.ndarray, correlations: np.ndarray, t_ns: int) -> None:
        """Replies arrived at `t_ns` from queues `sources` in conversations `correlations`
        (device-started conversations, bit 63, are not the host's and are skipped)."""
        step = max(1, len(correlations) // 256)      # a big batch is sampled, not walked
        for source, corr in zip(sources[::step].tolist(), correlations[::step].tolist()):
            self.replied_one(source, corr, t_ns)

    def replied_one(self, source: int, corr: int, t_ns: int) -> None:
        if corr >> 63 or source >= len(self.sums):
            return
        i = bisect.bisect_right(self.starts, corr) - 1
        if i >= 0 and corr < self.ends[i]:
            self.record(source, t_ns - self.times[i])

    def record(self, queue: int, latency_ns: int) -> None:
        self.counts[queue, bisect.bisect_left(BOUNDS_NS, latency_ns)] += 1
        self.sums[queue] += latency_ns
        self.maxima[queue] = max(self.maxima[queue], latency_ns)

    def histogram(self, queues: range) -> LatencyHistogram:
        counts = self.counts[queues.start:queues.stop].sum(axis=0)
        count = int(counts.sum())
        top = max(self.maxima[queues.start:queues.stop], default=0)
        return LatencyHistogram(tuple(b / 1e9 for b in BOUNDS_NS),
                                tuple(int(c) for c in counts),
                                sum(self.sums[queues.start:queues.stop]) / 1e9, count,
                                top / 1e9 if count else None)


def stats_view(memory: np.ndarray, stats_offset: int, num_queues: int) -> np.ndarray:
    """The stats lines of the arena as a STATS.dtype array (a view)."""
    return memory[stats_offset:stats_offset + num_queues * STATS.size].view(STATS.dtype)
