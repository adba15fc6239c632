"""The device loop's cost per queue: a ring drained by a program of 1 kernel against the same
ring drained by a program of 16 (15 idle kernels beside it).

Each program is written to a temporary .py file (N kernels: `Idle0`..., then `Sink`) and
launched on one backend (`--backend opencl`, the default). The sink's ingress ring is
filled while it is deactivated; the time from `activate` until it has handled every
message gives the drain rate. The ratio is the 16-kernel rate over the 1-kernel rate
(the issue's goal: at least 0.9). `--quick`: a smaller ring.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ringc as rc  # noqa: E402
from ringc.frontend.files import import_file  # noqa: E402

PROGRAM = '''
import ringc as rc
from ringc import Array, f32, i32


@rc.message
class Msg:
    id: i32
    seq: i32
    values: Array[f32, 6]
{idle}

@rc.ring_kernel(capacity={capacity})
class Sink:
    seen: i32

    def on_msg(self, m: Msg):
        self.seen += 1
'''

IDLE = '''

@rc.ring_kernel(capacity=2)
class Idle{i}:
    def on_msg(self, m: Msg):
        pass
'''


def drain_rate(backend: str, kernels: int, capacity: int, rounds: int) -> float:
    """Best of `rounds` drains of a full ring, in messages per second."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"program_{kernels}.py"
        path.write_text(PROGRAM.format(capacity=capacity, idle="".join(
            IDLE.format(i=i) for i in range(kernels - 1))))
        module = import_file(path)
        sink = module.Sink
        kernels_ = [sink] + [getattr(module, f"Idle{i}") for i in range(kernels - 1)]
        with rc.launch(kernels_, backend=backend, park_after=None) as rt:
            data = np.zeros(capacity, dtype=module.Msg.dtype)
            return timed_drains(rt, sink, lambda: rt.send(sink, data), capacity, rounds)


def timed_drains(rt, kernel, fill, total: int, rounds: int, pause: float = 0.0) -> float:
    """Best of `rounds` drains, in messages per second: `fill()` queues `total` messages
    for `kernel` while it is deactivated; a drain lasts from `activate` until all are
    handled (the host polls the status back to back, or `pause` s apart)."""
    best = 0.0
    for _ in range(rounds):
        rt.deactivate(kernel)
        done = rt.status(kernel).processed
        fill()
        start = time.perf_counter()
        rt.activate(kernel)
        while rt.status(kernel).processed < done + total:
            if pause:
                time.sleep(pause)
        best = max(best, total / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="opencl")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    capacity, rounds = (1 << 14, 3) if args.quick else (1 << 18, 10)
    try:
        one = drain_rate(args.backend, 1, capacity, rounds)
    except rc.BackendUnavailable as exc:
        print(f"{args.backend}: skipped: {exc}")
        return
    many = drain_rate(args.backend, 16, capacity, rounds)
    print(f"device drain of a full ring ({capacity:,} messages of 32 B) on {args.backend}")
    print(f"  1-kernel program   {one / 1e6:7.1f} M msgs/s")
    print(f"  16-kernel program  {many / 1e6:7.1f} M msgs/s (ratio {many / one:.2f}; goal >= 0.9)")


if __name__ == "__main__":
    main()
