"""A 1,024-element reduction per message, three ways, and f32x4 against scalar code.

Reductions (each message: 1,024 f32 values, the reply their sum):
- `cooperative`: a `concurrency="cooperative", group_size=128` kernel; each lane sums a
  strided eighth of a percent, then `rc.group_sum`;
- `ordered loop`: an ordered kernel's handler sums the 1,024 values in one loop (the
  baseline every ratio is against);
- `launch per message`: the same loop in a `mode="event_driven"` kernel, asked one request
  at a time, so every message is a launch of its own.
Each is measured two ways: `stream` (a full ring drained: the time from `activate` until
every message is handled) and `serial` (requests one after another, each waiting for its
reply). The vector part streams a weighted sum of 1,024 pairs, as `rc.f32x4` loads and
`rc.dot` against a scalar loop.

On PoCL's CPU device a work-group's 128 work-items run one after another between
barriers on one core (docs/device-program.md), so the cooperative kernel pays for its
barriers and gains nothing: the figures show that cost. On a GPU (`--backend cuda`) the
lanes run at once. `--quick`: small counts, a dry run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import queues_bench  # noqa: E402

import ringc as rc  # noqa: E402
from ringc import Array, f32, i32  # noqa: E402

N = 1024            # values a message carries
LANES = 128         # the cooperative kernel's group_size
CAPACITY = 512      # slots of each kernel's ring (a message is 8 KiB)


@rc.message
class Block:
    id: i32
    x: Array[f32, N]
    w: Array[f32, N]


@rc.message
class Total:
    id: i32
    total: f32


@rc.ring_kernel(capacity=CAPACITY, concurrency="cooperative", group_size=LANES)
class CooperativeSum:
    def on_block(self, m: Block) -> Total:
        partial = f32(0.0)
        for i in range(rc.lane(), N, rc.group_size()):
            partial += m.x[i]
        total = rc.group_sum(partial)
        return Total(id=m.id, total=total)


@rc.device
def loop_sum(m: Block) -> Total:
    """The ordered loop both LoopSum (persistent) and LaunchedSum (a launch a message) run."""
    total = f32(0.0)
    for i in range(N):
        total += m.x[i]
    return Total(id=m.id, total=total)


@rc.ring_kernel(capacity=CAPACITY)
class LoopSum:
    def on_block(self, m: Block) -> Total:
        return loop_sum(m)


@rc.ring_kernel(capacity=CAPACITY, mode="event_driven")
class LaunchedSum:
    def on_block(self, m: Block) -> Total:
        return loop_sum(m)


@rc.ring_kernel(capacity=CAPACITY)
class ScalarDot:
    def on_block(self, m: Block) -> Total:
        total = f32(0.0)
        for i in range(N):
            total += m.x[i] * m.w[i]
        return Total(id=m.id, total=total)


@rc.ring_kernel(capacity=CAPACITY)
class VectorDot:
    def on_block(self, m: Block) -> Total:
        total = f32(0.0)
        for i in range(0, N, 4):
            total += rc.dot(rc.f32x4.load(m.x, i), rc.f32x4.load(m.w, i))
        return Total(id=m.id, total=total)


def blocks(count: int) -> np.ndarray:
    data = np.zeros(count, dtype=Block.dtype)
    rng = np.random.default_rng(13)
    data["id"] = np.arange(count)
    data["x"] = rng.random((count, N), dtype=np.float32)
    data["w"] = rng.random((count, N), dtype=np.float32)
    return data


def stream(kernel, backend: str, messages: int, rounds: int) -> float:
    """Best drain of `messages` (msgs/s); the replies are checked against numpy."""
    data = blocks(messages)
    with rc.launch(kernel, backend=backend, park_after=None) as rt:
        rate = queues_bench.timed_drains(rt, kernel, lambda: rt.send(kernel, data),
                                         messages, rounds, pause=0.0002)
        replies = rt.receive_many(messages * rounds, timeout=60.0, type=Total)
    check(kernel, data, replies["total"][-messages:])
    return rate


def serial(kernel, backend: str, seconds: float) -> float:
    """Requests one after another for about `seconds` (msgs/s)."""
    data = blocks(16)
    with rc.launch(kernel, backend=backend) as rt:
        rt.request(kernel, data[0], timeout=60.0)          # built and running
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            reply = rt.request(kernel, data[done % 16], timeout=60.0)
            done += 1
        elapsed = time.perf_counter() - start
    check(kernel, data[(done - 1) % 16:][:1], [reply.total])
    return done / elapsed


def check(kernel, data: np.ndarray, totals) -> None:
    """Each reply's sum against numpy's, to float32 rounding (the orders differ)."""
    weights = data["w"] if kernel in (ScalarDot, VectorDot) else 1.0
    want = (data["x"].astype(np.float64) * weights).sum(axis=1)
    got = np.asarray(totals, dtype=np.float64)
    if not np.allclose(got, want, rtol=1e-4):
        raise SystemExit(f"{kernel.__name__}: wrong sums (a ringc bug)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("opencl", "cuda", "sim"), default="opencl")
    parser.add_argument("--quick", action="store_true", help="small counts: a dry run")
    args = parser.parse_args()
    messages, rounds, seconds = (64, 1, 0.3) if args.quick else (CAPACITY, 5, 2.0)
    try:
        facts = rc.device_facts(args.backend)
    except rc.BackendUnavailable as exc:
        print(f"{args.backend}: skipped: {exc}")
        return 0
    print(__doc__.split("\n\n")[0])
    print(f"on {facts}")
    base_stream = stream(LoopSum, args.backend, messages, rounds)
    base_serial = serial(LoopSum, args.backend, seconds)
    print(f"  {'reduction':20s} {'stream msgs/s':>14s} {'vs loop':>8s} "
          f"{'serial msgs/s':>14s} {'vs loop':>8s}")
    rows = [("cooperative (128)", CooperativeSum), ("ordered loop", LoopSum),
            ("launch per message", LaunchedSum)]
    for name, kernel in rows:
        rate = base_stream if kernel is LoopSum else (
            None if kernel is LaunchedSum else stream(kernel, args.backend, messages, rounds))
        one = base_serial if kernel is LoopSum else serial(kernel, args.backend, seconds)
        streamed = (f"{rate:14,.0f} {rate / base_stream:7.2f}x" if rate
                    else f"{'-':>14s} {'-':>8s}")
        print(f"  {name:20s} {streamed} {one:14,.0f} {one / base_serial:7.2f}x")
    scalar = stream(ScalarDot, args.backend, messages, rounds)
    vector = stream(VectorDot, args.backend, messages, rounds)
    print(f"  weighted sum of {N} pairs, stream: scalar {scalar:,.0f} msgs/s, f32x4 "
          f"{vector:,.0f} msgs/s ({vector / scalar:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
