"""What the runtime reports: `Status`, `Metrics`, `DeadLetter`, and the bookkeeping behind
them (64-bit totals of the device's 32-bit counters, host send times for latency)."""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..protocol import STATS

__all__ = ["Status", "Metrics", "DeadLetter", "Counters", "LatencyBook", "format_table"]

COUNTED = ("processed", "dead_lettered", "sent", "received", "dead_letters_lost")


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
    """Rates and latencies of one kernel. Latency is the round trip the host sees: from
    `send`/`request` to the reply arriving in host memory, sampled over the latest 10,000
    replies to host-sent messages; None when the kernel has replied to none."""
    kernel: str
    throughput: float               # messages processed per second since launch
    latency_mean: float | None      # seconds
    latency_p99: float | None       # seconds
    input_utilisation: float        # pending / slots of its input queues (0..1)
    output_utilisation: float       # the host output queue's fill (0..1), program-wide
    dead_letters: int
    processed: int


@dataclass(frozen=True)
class DeadLetter:
    """A message the program could not deliver or handle. `kernel`/`instance` name where
    it was dead-lettered (None and -1 for the host output queue); `source` who sent it
    ("host" or "Kernel[i]"); `detail` the instance asked for (`no_such_instance`) or the
    replying queue id (`bad_address`)."""
    kernel: str | None
    instance: int
    reason: str
    message: object
    source: str
    correlation: int
    detail: int


class Counters:
    """64-bit totals of the stats lines' 32-bit counters: `update` must run more often than
    every 2^31 events per counter (the runtime's pump runs every few milliseconds)."""

    def __init__(self, stats: np.ndarray):
        self.stats = stats                      # the arena's stats lines, STATS.dtype
        self.last = {name: stats[name].astype(np.uint32) for name in COUNTED}
        self.total = {name: self.last[name].astype(np.int64) for name in COUNTED}

    def update(self) -> None:
        for name in COUNTED:
            now = self.stats[name].astype(np.uint32)
            self.total[name] += (now - self.last[name]).astype(np.int64)   # wraps in u32
            self.last[name] = now

    def sum(self, name: str, queues: range) -> int:
        return int(self.total[name][queues.start:queues.stop].sum())


class LatencyBook:
    """Send times of host-sent correlation ranges, and latency samples per input queue."""

    KEEP_RANGES = 1 << 14
    KEEP_SAMPLES = 10_000

    def __init__(self, num_queues: int):
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.times: list[int] = []
        self.samples = [deque(maxlen=self.KEEP_SAMPLES) for _ in range(num_queues)]

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
        if corr >> 63 or source >= len(self.samples):
            return
        i = bisect.bisect_right(self.starts, corr) - 1
        if i >= 0 and corr < self.ends[i]:
            self.samples[source].append(t_ns - self.times[i])

    def stats(self, queues: range) -> tuple[float | None, float | None]:
        values = [v for q in queues for v in self.samples[q]]
        if not values:
            return None, None
        arr = np.asarray(values, dtype=np.float64) / 1e9
        return float(arr.mean()), float(np.percentile(arr, 99))


def stats_view(memory: np.ndarray, stats_offset: int, num_queues: int) -> np.ndarray:
    """The stats lines of the arena as a STATS.dtype array (a view)."""
    return memory[stats_offset:stats_offset + num_queues * STATS.size].view(STATS.dtype)


def format_table(rows: list[dict]) -> str:
    """Rows of equal keys as an aligned text table (for `make run` and examples)."""
    if not rows:
        return ""
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [[_cell(r[k]) for k in keys] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(keys))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
