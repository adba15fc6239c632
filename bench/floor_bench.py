"""The floor under `rt.request`: what a round trip costs with nothing of ringc in the way.

Measured in one run, beside `rt.request` on the same backend (opencl, PoCL's CPU device):
- C ping-pong: two threads of a C program (built here with the system's C compiler) pass
  a counter back and forth through one cache line; the hardware's floor;
- raw persistent PoCL kernel: one work-item spins on a word of host-visible memory and
  answers each request by writing another; Python writes the request and polls for the
  answer (what any Python host pays, before queues, codecs and locks);
- `rt.request` of a 32-byte message through ringc's Echo kernel.
Each is a p50 of round trips; ringc's is also printed as a ratio over each floor.
A floor that cannot be measured here (no C compiler, no OpenCL) prints why.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import Echo, Msg  # noqa: E402

import ringc as rc  # noqa: E402

PING_PONG_C = r"""
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static _Atomic long word;
static long rounds;
static void* pong(void* arg) {
    (void)arg;
    for (long i = 0; i < rounds; ++i) {
        while (atomic_load_explicit(&word, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&word, 2 * i + 2, memory_order_release);
    }
    return 0;
}
static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec;
}
static int cmp(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b; return (x > y) - (x < y);
}
int main(int argc, char** argv) {
    rounds = atol(argv[1]);
    double* trips = malloc(sizeof(double) * rounds);
    pthread_t t; pthread_create(&t, 0, pong, 0);
    for (long i = 0; i < rounds; ++i) {
        double start = now();
        atomic_store_explicit(&word, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&word, memory_order_acquire) != 2 * i + 2) {}
        trips[i] = now() - start;
    }
    pthread_join(t, 0);
    qsort(trips, rounds, sizeof(double), cmp);
    printf("%f\n", trips[rounds / 2] / 1e3);
    return 0;
}
"""

RAW_KERNEL = r"""
__kernel void serve(__global volatile uint* words, uint rounds) {
    for (uint i = 0; i < rounds; ++i) {
        while (words[0] != 2u * i + 1u) {}
        words[16] = words[32] + 1u;
        mem_fence(CLK_GLOBAL_MEM_FENCE);
        words[0] = 2u * i + 2u;
    }
}
"""


def c_ping_pong_us(rounds: int) -> float | str:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return "no C compiler"
    with tempfile.TemporaryDirectory() as folder:
        source, program = Path(folder) / "pp.c", Path(folder) / "pp"
        source.write_text(PING_PONG_C)
        built = subprocess.run([compiler, "-O2", "-pthread", str(source), "-o", str(program)],
                               capture_output=True, text=True)
        if built.returncode:
            return f"the C compiler failed: {built.stderr.strip()[:200]}"
        ran = subprocess.run([str(program), str(rounds)], capture_output=True, text=True,
                             timeout=120)
        return float(ran.stdout)


def raw_pocl_us(rounds: int, idle: float = 0.0) -> float | str:
    """p50 of `rounds` round trips through a raw persistent PoCL kernel polled from Python,
    each after `idle` seconds of sleep (a host thread waking cold: the floor of a first
    request after idle)."""
    try:
        import pyopencl as cl

        from ringc.backends.opencl.loader import find_device
        device = find_device()
    except Exception as exc:                  # no OpenCL here: say why, measure the rest
        return f"no OpenCL device ({exc})"
    ctx = cl.Context([device])
    queue = cl.CommandQueue(ctx)
    words = np.zeros(1024 + 4096 // 4, dtype=np.uint32)
    start = -words.ctypes.data % 4096 // 4
    words = words[start:start + 1024]
    flags = cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR
    buffer = cl.Buffer(ctx, flags, hostbuf=words)
    kernel = cl.Program(ctx, RAW_KERNEL).build().serve
    kernel.set_args(buffer, np.uint32(rounds))
    event = cl.enqueue_nd_range_kernel(queue, kernel, (1,), (1,))
    queue.flush()
    trips = []
    for i in range(rounds):
        if idle:
            time.sleep(idle)
        begin = time.perf_counter_ns()
        words[32] = i
        words[0] = 2 * i + 1
        while words[0] != 2 * i + 2:
            pass
        trips.append((time.perf_counter_ns() - begin) / 1e3)
    event.wait()
    return float(np.percentile(trips, 50))


def ringc_us(rounds: int) -> float:
    with rc.launch(Echo, backend="opencl") as rt:
        msg = Msg(id=1)
        for _ in range(200):
            rt.request(Echo, msg, timeout=10.0)
        trips = []
        for _ in range(rounds):
            begin = time.perf_counter_ns()
            rt.request(Echo, msg, timeout=10.0)
            trips.append((time.perf_counter_ns() - begin) / 1e3)
    return float(np.percentile(trips, 50))


def main() -> None:
    rounds = 2000 if "--quick" in sys.argv else 20000
    floors = {"C ping-pong (two threads, one cache line)": c_ping_pong_us(rounds * 10),
              "raw persistent PoCL kernel polled from Python": raw_pocl_us(rounds)}
    try:
        ours = ringc_us(rounds)
    except rc.BackendUnavailable as exc:
        print(f"opencl: skipped: {exc}")
        return
    print("round trip p50, against the floor measured in the same run")
    for name, value in floors.items():
        if isinstance(value, str):
            print(f"  {name:48s} not measured: {value}")
        else:
            print(f"  {name:48s} {value:8.2f} us   (rt.request is {ours / value:5.1f}x it)")
    print(f"  {'rt.request, ringc Echo on opencl':48s} {ours:8.2f} us")


if __name__ == "__main__":
    main()
