"""Running programs: what a persistent ring kernel buys over launching a kernel per message.

Measured in one run, on one backend (`--backend opencl`, the default: PoCL's CPU device
here; `--backend cuda`: the first GPU) and beside the simulator:
- `rt.request` round trip (p50, p99) vs one launch per message through the backend's own
  API (pyopencl; cuda-bindings' driver API): write the message, launch, read the reply,
  wait; the baseline's cost is the launch;
- one kernel-to-kernel hop: `rt.request` through `Relay -> Answer -> host`, less Echo's,
  beside two dependent launches per message;
- bulk: 32-byte messages through a trivial handler (`Count`), and echoed back to the host
  (`Echo`), vs one launch per batch of the same size (the best a launch-based design does);
- a three-kernel pipeline (`First -> Second -> Third`, device-to-device hops).
Ratios are ringc's rate over the baseline's (higher is better; latency: baseline / ringc).
On CUDA the issue's aims stand beside the figures. `--quick`: small counts (a dry run);
`--json PATH`: every figure also goes to PATH. A backend that cannot run here prints
`<backend>: skipped: <why>` and the run exits with status 0.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import Count, Echo, First, Msg, Relay, Third  # noqa: E402

import ringc as rc  # noqa: E402


@dataclass(frozen=True)
class Counts:
    bulk: int
    sim_bulk: int
    requests: int
    sim_requests: int


FULL = Counts(bulk=2_000_000, sim_bulk=5_000, requests=3_000, sim_requests=300)
QUICK = Counts(bulk=2_000, sim_bulk=2_000, requests=200, sim_requests=50)
AIM_P50_US, AIM_VS_LAUNCH, AIM_BULK_RATE = 5.0, 5.0, 50e6          # CUDA's, from the issue

BASELINE_SOURCE = """
typedef struct { int id; int seq; float values[6]; } msg;
__kernel void echo(__global const msg* in, __global msg* out) {
    size_t i = get_global_id(0);
    msg m = in[i];
    m.seq += 1;
    out[i] = m;
}
"""

CUDA_BASELINE_SOURCE = """
struct msg { int id; int seq; float values[6]; };
extern "C" __global__ void echo(const msg* in, msg* out, unsigned int n) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        msg m = in[i];
        m.seq += 1;
        out[i] = m;
    }
}
"""


def trip_times(trip, n: int, warm_up: int) -> list[float]:
    """Microseconds of each of `n` calls of `trip`, after `warm_up` untimed ones."""
    times = []
    for i in range(warm_up + n):
        start = time.perf_counter()
        trip()
        if i >= warm_up:
            times.append((time.perf_counter() - start) * 1e6)
    return times


def round_trips(trip, n: int, warm_up: int) -> tuple[float, float]:
    """p50 and p99 in microseconds of `n` calls of `trip`, after `warm_up` untimed ones."""
    times = trip_times(trip, n, warm_up)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def batch(n: int) -> np.ndarray:
    out = np.zeros(n, Msg.dtype)
    out["id"] = np.arange(n)
    return out


def request_latency(backend: str, kernel, n: int) -> tuple[float, float]:
    with rc.launch(kernel, backend=backend) as rt:
        msg = Msg(id=1)
        return round_trips(lambda: rt.request(kernel, msg, timeout=10.0), n, min(200, n))


def bulk_rate(backend: str, kernel, n: int, back: bool, rounds: int = 1) -> float:
    """Messages per second from the first send to the last one handled (or received): the
    best of `rounds` streams of `n` in one launch (the last one ends with the shutdown's
    drain; the others wait until the last kernel handled them all)."""
    with rc.launch(kernel, backend=backend, output_capacity=1 << 16) as rt:
        data = batch(n)
        rt.send(kernel, data[:1000])                             # warm-up
        rt.receive_many(1000, timeout=30.0) if back else None
        last_kernel = Third if kernel is First else kernel
        best = 0.0
        for round_ in range(rounds):
            start = time.perf_counter()
            rt.send(kernel, data)
            if back:
                got = rt.receive_many(n, timeout=300.0)
                assert len(got) == n
            elif round_ + 1 == rounds:
                rt.shutdown(drain=True, timeout=300.0)
            else:
                while rt.status(last_kernel).processed < 1000 + (round_ + 1) * n:
                    time.sleep(0.0005)
            best = max(best, n / (time.perf_counter() - start))
        last = rt.status(last_kernel)
        assert last.processed == rounds * n + 1000 and last.pending == 0
    return best


def launch_baseline(trip, n_single: int, n_batch: int) -> dict[str, float]:
    """Launch per message (latency in us) and per batch (msgs/s); `trip(data)` makes
    (run, out): `run()` echoes `data` into `out` through one launch, waiting for it."""
    single = trip(batch(1))[0]
    p50, p99 = round_trips(single, n_single, 100)
    hop50, hop99 = round_trips(lambda: (single(), single()), n_single, 100)
    run, out = trip(batch(n_batch))
    rates = []
    for _ in range(4):
        start = time.perf_counter()
        run()
        rates.append(n_batch / (time.perf_counter() - start))
    assert (out["seq"] == 1).all()
    return {"p50_us": p50, "p99_us": p99, "per_message_rate": 1e6 / p50,
            "per_batch_rate": max(rates[1:]), "two_launches_p50_us": hop50,
            "two_launches_p99_us": hop99}


def pyopencl_baseline(n_single: int, n_batch: int) -> dict[str, float]:
    return launch_baseline(pyopencl_trip(), n_single, n_batch)


def pyopencl_trip():
    """`trip(data)` -> (run, out): `run()` echoes `data` into `out` through one pyopencl
    launch on the default OpenCL device, copies both ways included, and waits for it."""
    import pyopencl as cl

    from ringc.backends.opencl.loader import find_device

    ctx = cl.Context([find_device()])
    queue = cl.CommandQueue(ctx)
    kernel = cl.Program(ctx, BASELINE_SOURCE).build().echo

    def trip(data: np.ndarray):
        out = np.zeros_like(data)
        d_in = cl.Buffer(ctx, cl.mem_flags.READ_ONLY, data.nbytes)
        d_out = cl.Buffer(ctx, cl.mem_flags.WRITE_ONLY, data.nbytes)

        def run():
            cl.enqueue_copy(queue, d_in, data)
            kernel(queue, (len(data),), None, d_in, d_out)
            cl.enqueue_copy(queue, out, d_out)
            queue.finish()
        return run, out

    return trip


def cuda_baseline(n_single: int, n_batch: int) -> dict[str, float]:
    """The same through cuda-bindings: pinned host buffers, one stream, 256 threads a block."""
    from cuda.bindings import driver

    from ringc.backends.cuda.driver import checked
    from ringc.backends.cuda.loader import find_gpu
    from ringc.backends.cuda.toolchain import compile_cubin

    def cu(call, *args):
        """What `call` returned after its CUresult; raises naming the call on an error."""
        return checked(call(*args), call.__name__)

    gpu = find_gpu()
    device = cu(driver.cuDeviceGet, gpu.ordinal)
    cu(driver.cuCtxSetCurrent, cu(driver.cuDevicePrimaryCtxRetain, device))
    cubin = np.frombuffer(compile_cubin(CUDA_BASELINE_SOURCE, gpu.arch), np.uint8)
    module = cu(driver.cuModuleLoadData, cubin.ctypes.data)
    kernel = cu(driver.cuModuleGetFunction, module, b"echo")
    stream = cu(driver.cuStreamCreate, 0)
    pinned, on_device, arguments = [], [], []       # freed (or kept alive) until the end

    def trip(data: np.ndarray):
        n, size = len(data), data.nbytes
        h_in, h_out = (int(cu(driver.cuMemHostAlloc, size, 0)) for _ in range(2))
        pinned.extend((h_in, h_out))
        d_in, d_out = (cu(driver.cuMemAlloc, size) for _ in range(2))
        on_device.extend((d_in, d_out))
        view = [np.frombuffer((ctypes.c_char * size).from_address(h), Msg.dtype)
                for h in (h_in, h_out)]
        view[0][:] = data
        values = (np.array([int(d_in)], np.uint64), np.array([int(d_out)], np.uint64),
                  np.array([n], np.uint32))
        params = np.array([v.ctypes.data for v in values], np.uint64)
        arguments.append((values, params))
        grid, block = (n + 255) // 256, min(n, 256)

        def run():
            cu(driver.cuMemcpyHtoDAsync, d_in, h_in, size, stream)
            cu(driver.cuLaunchKernel, kernel, grid, 1, 1, block, 1, 1, 0, stream,
               params.ctypes.data, 0)
            cu(driver.cuMemcpyDtoHAsync, h_out, d_out, size, stream)
            cu(driver.cuStreamSynchronize, stream)
        return run, view[1]

    try:
        return launch_baseline(trip, n_single, n_batch)
    finally:
        for pointer in on_device:
            cu(driver.cuMemFree, pointer)
        for pointer in pinned:
            cu(driver.cuMemFreeHost, pointer)
        cu(driver.cuStreamDestroy, stream)
        cu(driver.cuModuleUnload, module)
        cu(driver.cuDevicePrimaryCtxRelease, device)


def aim(figures: dict, text: str, met: bool) -> str:
    """On CUDA, `[aim <text>: met|missed]` (also kept in figures["aims"]); else nothing."""
    if figures["backend"] != "cuda":
        return ""
    figures.setdefault("aims", {})[text] = met
    return f"   [aim {text}: {'met' if met else 'missed'}]"


def requests(backend: str, counts: Counts, base: dict, figures: dict) -> None:
    """The round trip through Echo, and through Relay (one kernel-to-kernel hop)."""
    p50, p99 = request_latency(backend, Echo, counts.requests)
    s50, s99 = request_latency("sim", Echo, counts.sim_requests)
    speedup = base["p50_us"] / p50
    print(f"\nrt.request round trip ({counts.requests:,} requests)")
    print(f"  ringc {backend:12} p50 {p50:8.1f} us   p99 {p99:8.1f} us"
          + aim(figures, f"p50 < {AIM_P50_US:g} us", p50 < AIM_P50_US))
    print(f"  launch per message p50 {base['p50_us']:8.1f} us   p99 {base['p99_us']:8.1f} us"
          f"   -> ringc is {speedup:.1f}x faster at p50"
          + aim(figures, f">= {AIM_VS_LAUNCH:g}x launch per message", speedup >= AIM_VS_LAUNCH))
    print(f"  simulator          p50 {s50:8.1f} us   p99 {s99:8.1f} us"
          f"   -> ringc {backend} is {s50 / p50:.1f}x faster")
    figures["request"] = {"p50_us": p50, "p99_us": p99, "sim_p50_us": s50, "sim_p99_us": s99,
                          "vs_launch": speedup, "vs_sim": s50 / p50}
    h50, h99 = request_latency(backend, Relay, counts.requests)
    sh50, sh99 = request_latency("sim", Relay, counts.sim_requests)
    print(f"\none kernel-to-kernel hop: rt.request through Relay -> Answer -> host "
          f"({counts.requests:,} requests)")
    print(f"  ringc {backend:12} p50 {h50:8.1f} us   p99 {h99:8.1f} us"
          f"   -> the hop costs {h50 - p50:.1f} us at p50 (over Echo's)")
    print(f"  two launches/msg   p50 {base['two_launches_p50_us']:8.1f} us   p99 "
          f"{base['two_launches_p99_us']:8.1f} us   -> ringc is "
          f"{base['two_launches_p50_us'] / h50:.1f}x faster at p50")
    print(f"  simulator          p50 {sh50:8.1f} us   p99 {sh99:8.1f} us"
          f"   -> the hop costs {sh50 - s50:.1f} us")
    figures["hop"] = {"p50_us": h50, "p99_us": h99, "cost_us": h50 - p50,
                      "vs_two_launches": base["two_launches_p50_us"] / h50,
                      "sim_p50_us": sh50, "sim_p99_us": sh99, "sim_cost_us": sh50 - s50}


def bulk(backend: str, counts: Counts, base: dict, figures: dict) -> None:
    rows = [("count", "trivial handler (Count), host -> device", Count, False),
            ("echo", "echo to the host (Echo), host -> device -> host", Echo, True),
            ("pipeline", "pipeline First -> Second -> Third", First, False)]
    print(f"\nbulk throughput, 32-byte messages ({counts.bulk:,} per run; "
          f"simulator {counts.sim_bulk:,})")
    figures["bulk"] = {}
    for name, title, kernel, back in rows:
        rate = bulk_rate(backend, kernel, counts.bulk, back)
        sim = bulk_rate("sim", kernel, counts.sim_bulk, back)
        print(f"  {title}")
        print(f"    ringc {backend} {rate / 1e6:7.2f} M msgs/s | launch per batch "
              f"{base['per_batch_rate'] / 1e6:7.2f} M/s ({rate / base['per_batch_rate']:.2f}x) | "
              f"launch per message (1/p50) {base['per_message_rate'] / 1e3:6.1f} k/s "
              f"({rate / base['per_message_rate']:,.0f}x) | simulator {sim / 1e3:6.1f} k/s "
              f"({rate / sim:,.0f}x)"
              + aim(figures, f"{name} > {AIM_BULK_RATE / 1e6:g} M msgs/s",
                    rate > AIM_BULK_RATE))
        figures["bulk"][name] = {"rate": rate, "sim_rate": sim,
                                 "vs_launch_per_batch": rate / base["per_batch_rate"],
                                 "vs_launch_per_message": rate / base["per_message_rate"],
                                 "vs_sim": rate / sim}


def write_json(path: str | None, figures: dict) -> None:
    if path is not None:
        Path(path).write_text(json.dumps(figures, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("opencl", "cuda"), default="opencl")
    parser.add_argument("--quick", action="store_true", help="small counts: a dry run")
    parser.add_argument("--json", metavar="PATH", help="also write every figure to PATH")
    args = parser.parse_args(argv)
    backend, counts = args.backend, QUICK if args.quick else FULL
    try:
        with rc.launch(Count, backend=backend) as rt:
            device = rt._device.description
    except rc.BackendUnavailable as exc:
        print(f"{backend}: skipped: {exc}")
        write_json(args.json, {"backend": backend, "skipped": str(exc)})
        return 0
    print(__doc__.split("\n\n")[0])
    print(f"backend: {backend} on {device}")
    print(f"host rings: {rc.runtime.rings.IMPLEMENTATION} (RINGC_PURE_PYTHON=1: python)")
    figures = {"backend": backend, "device": device, "counts": asdict(counts)}
    baseline = cuda_baseline if backend == "cuda" else pyopencl_baseline
    base = figures["launch"] = baseline(counts.requests, counts.bulk)
    write_json(args.json, figures)
    requests(backend, counts, base, figures)
    write_json(args.json, figures)              # each section as it ends: a run cut off
    bulk(backend, counts, base, figures)        # by a time limit keeps what it measured
    write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
