"""Running programs: what a persistent ring kernel buys over launching a kernel per message.

Measured in one run, on the default OpenCL device (PoCL's CPU device here) and beside the
simulator:
- `rt.request` round trip (p50, p99) vs one pyopencl launch per message (write the message,
  launch, read the reply, wait): the baseline's cost is the launch;
- bulk: 32-byte messages through a trivial handler (`Count`), and echoed back to the host
  (`Echo`), vs one launch per batch of the same size (the best a launch-based design does);
- a three-kernel pipeline (`First -> Second -> Third`, device-to-device hops).
Ratios are ringc's rate over the baseline's (higher is better; latency: baseline / ringc).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import Count, Echo, First, Msg, Third  # noqa: E402

import ringc as rc  # noqa: E402

BULK = 2_000_000
SIM_BULK = 5_000
REQUESTS = 3_000
SIM_REQUESTS = 300

BASELINE_SOURCE = """
typedef struct { int id; int seq; float values[6]; } msg;
__kernel void echo(__global const msg* in, __global msg* out) {
    size_t i = get_global_id(0);
    msg m = in[i];
    m.seq += 1;
    out[i] = m;
}
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


def request_latency(backend: str, n: int) -> tuple[float, float]:
    with rc.launch(Echo, backend=backend) as rt:
        msg = Msg(id=1)
        for _ in range(min(200, n)):                       # warm-up
            rt.request(Echo, msg, timeout=10.0)
        times = []
        for _ in range(n):
            start = time.perf_counter()
            rt.request(Echo, msg, timeout=10.0)
            times.append(time.perf_counter() - start)
    return percentiles(times)


def batch(n: int) -> np.ndarray:
    out = np.zeros(n, Msg.dtype)
    out["id"] = np.arange(n)
    return out


def bulk_rate(backend: str, kernel, n: int, back: bool) -> float:
    """Messages per second from the first send to the last one handled (or received)."""
    with rc.launch(kernel, backend=backend, output_capacity=1 << 16) as rt:
        data = batch(n)
        rt.send(kernel, data[:1000])                             # warm-up
        rt.receive_many(1000, timeout=30.0) if back else None
        start = time.perf_counter()
        rt.send(kernel, data)
        if back:
            got = rt.receive_many(n, timeout=300.0)
            assert len(got) == n
        else:
            rt.shutdown(drain=True, timeout=300.0)
        took = time.perf_counter() - start
        last = rt.status(Third if kernel is First else kernel)
        assert last.processed == n + 1000 and last.pending == 0
    return n / took


def pyopencl_baseline(n_single: int, n_batch: int) -> dict[str, float]:
    import pyopencl as cl

    from ringc.backends.opencl.loader import find_device

    ctx = cl.Context([find_device()])
    queue = cl.CommandQueue(ctx)
    kernel = cl.Program(ctx, BASELINE_SOURCE).build().echo
    mf = cl.mem_flags
    one = batch(1)
    reply = np.zeros(1, Msg.dtype)
    d_in = cl.Buffer(ctx, mf.READ_ONLY, one.nbytes)
    d_out = cl.Buffer(ctx, mf.WRITE_ONLY, one.nbytes)
    times = []
    for i in range(n_single + 100):
        start = time.perf_counter()
        cl.enqueue_copy(queue, d_in, one)
        kernel(queue, (1,), None, d_in, d_out)
        cl.enqueue_copy(queue, reply, d_out)
        queue.finish()
        if i >= 100:
            times.append(time.perf_counter() - start)
    p50, p99 = percentiles(times)
    data = batch(n_batch)
    out = np.zeros_like(data)
    b_in = cl.Buffer(ctx, mf.READ_ONLY, data.nbytes)
    b_out = cl.Buffer(ctx, mf.WRITE_ONLY, data.nbytes)
    rates = []
    for _ in range(4):
        start = time.perf_counter()
        cl.enqueue_copy(queue, b_in, data)
        kernel(queue, (n_batch,), None, b_in, b_out)
        cl.enqueue_copy(queue, out, b_out)
        queue.finish()
        rates.append(n_batch / (time.perf_counter() - start))
    assert (out["seq"] == 1).all()
    return {"p50": p50, "p99": p99, "single_rate": 1 / p50, "batch_rate": max(rates[1:])}


def main() -> int:
    print(__doc__.split("\n\n")[0])
    base = pyopencl_baseline(REQUESTS, BULK)
    p50, p99 = request_latency("opencl", REQUESTS)
    s50, s99 = request_latency("sim", SIM_REQUESTS)
    print(f"\nrt.request round trip ({REQUESTS:,} requests)")
    print(f"  ringc opencl       p50 {p50 * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us")
    print(f"  launch per message p50 {base['p50'] * 1e6:8.1f} us   p99 {base['p99'] * 1e6:8.1f} us"
          f"   -> ringc is {base['p50'] / p50:.1f}x faster at p50")
    print(f"  simulator          p50 {s50 * 1e6:8.1f} us   p99 {s99 * 1e6:8.1f} us"
          f"   -> ringc opencl is {s50 / p50:.1f}x faster")
    rows = [("trivial handler (Count), host -> device", Count, False),
            ("echo to the host (Echo), host -> device -> host", Echo, True),
            ("pipeline First -> Second -> Third", First, False)]
    print(f"\nbulk throughput, 32-byte messages ({BULK:,} per run; simulator {SIM_BULK:,})")
    for title, kernel, back in rows:
        rate = bulk_rate("opencl", kernel, BULK, back)
        sim = bulk_rate("sim", kernel, SIM_BULK, back)
        print(f"  {title}")
        print(f"    ringc opencl {rate / 1e6:7.2f} M msgs/s | launch per batch "
              f"{base['batch_rate'] / 1e6:7.2f} M/s ({rate / base['batch_rate']:.2f}x) | "
              f"launch per message {base['single_rate'] / 1e3:6.1f} k/s "
              f"({rate / base['single_rate']:,.0f}x) | simulator {sim / 1e3:6.1f} k/s "
              f"({rate / sim:,.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
