"""Graceful shutdown in the guide's steps: stop taking input, drain, stop, and a forced
stop only when the time is up.

A two-stage pipeline: `Parse` turns raw readings into values and sends them to `Total`,
which keeps a running sum. The host streams readings, then shuts down in steps:
1. `rt.close_input(Parse)`: from now on a host send to `Parse` raises `rc.Closed` (the
   sample tries one); `Parse` still handles what is queued, and `Total` still takes what
   `Parse` sends it. (The guide deactivates its kernels here, which would also stop them
   handling what is queued: closing the input is the step it means.)
2. `rt.shutdown(drain=True, timeout=...)` waits until both queues are empty and nobody is
   inside a handler, then stops the program; it returns False if that took longer than
   the timeout, and only then does the sample force a stop, `shutdown(drain=False)`, as
   the guide's timeout branch does.
The sample checks that nothing was lost: every reading sent before the close was parsed
and added (`Total`'s sum equals the host's), and prints the counts.

    python samples/patterns/graceful_shutdown.py [opencl|sim] [READINGS]
"""

import sys

import numpy as np

import ringc as rc
from ringc import i32, i64


@rc.message
class Raw:
    seq: i32
    millivolts: i32


@rc.message
class Value:
    seq: i32
    microvolts: i64


@rc.ring_kernel(capacity=256)
class Total:
    count: i64
    microvolts: i64          # an exact sum (Metal has no f64)

    def on_value(self, m: Value):
        self.count += 1
        self.microvolts += m.microvolts


@rc.ring_kernel(capacity=256)
class Parse:
    def on_raw(self, m: Raw):
        rc.send(Total, Value(seq=m.seq, microvolts=i64(m.millivolts) * 1000))


def main(backend: str = "opencl", readings: int | None = None) -> dict:
    """Stream readings, shut down in steps; returns what each step saw."""
    n = readings or (2_000 if backend == "sim" else 200_000)
    raw = np.zeros(n, Raw.dtype)
    raw["seq"] = np.arange(n)
    raw["millivolts"] = np.arange(n) % 5000
    rt = rc.launch(Parse, backend=backend)
    rt.send(Parse, raw)
    print(f"sent {n:,} readings; {rt.status(Parse).pending:,} still queued at Parse")

    rt.close_input(Parse)                                       # step 1
    try:
        rt.send(Parse, Raw(seq=n, millivolts=1))
        refused = None
    except rc.Closed as exc:
        refused = str(exc)
    print(f"step 1, close_input(Parse): a new send is refused ({refused})")

    drained = rt.shutdown(drain=True, timeout=60.0)              # step 2
    if not drained:
        print("the drain took longer than its timeout: forcing the stop")
        rt.shutdown(drain=False)
    parse, total = rt.status(Parse), rt.status(Total)
    state = rt.checkpoint(Total)
    volts = int(state["microvolts"]) / 1e6
    exact = int(state["count"]) == n and int(state["microvolts"]) == 1000 * int(
        raw["millivolts"].sum())
    print(f"step 2, shutdown(drain=True): drained {'yes' if drained else 'no'}; Parse "
          f"handled {parse.processed:,}, Total {total.processed:,}, "
          f"{parse.pending + total.pending} left")
    print(f"Total's sum {volts:,.3f} V over {int(state['count']):,} "
          f"readings; every reading sent before the close is in it: "
          f"{'yes' if exact else 'NO'}")
    return {"refused": refused is not None, "drained": drained,
            "processed": (parse.processed, total.processed),
            "left": parse.pending + total.pending, "exact": exact}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "opencl",
         int(sys.argv[2]) if len(sys.argv) > 2 else None)
