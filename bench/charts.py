"""Pictures of make bench: request latency against launch-per-message, and throughput
against message size and work-groups, as PNG files.

Measured in this run, on OpenCL (PoCL's CPU device by default; the launch-per-message
baseline is pyopencl's, so this bench runs on OpenCL only):
- `latency.png`: the distribution (CDF) of `rt.request` round trips through a persistent
  `Echo` kernel, and of one launch per message (write, launch, read, wait), 2,000 each;
- `throughput.png`: messages per second of a full ring drained (filled while the kernel is
  deactivated, timed from `activate` until all are handled) against the message size
  (16 B to 4 KiB of payload; rings of about 64 MiB, 4,096 to 262,144 slots), and against
  `groups` (1 up to the device's default) for a program of 120 instances.
Each chart also prints the numbers it draws. Needs matplotlib (`pip install
'ringc[bench]'`; `make bench` installs it). `--out DIR` (default build/bench), `--quick`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import groups_bench  # noqa: E402
import queues_bench  # noqa: E402
import runtime_bench  # noqa: E402
from bench_kernels import Echo, Msg  # noqa: E402

import ringc as rc  # noqa: E402
from ringc.frontend.files import import_file  # noqa: E402

SIZES = (4, 16, 64, 256, 1024)          # f32 values a message carries (16 B .. 4 KiB)

SIZED = '''
import ringc as rc
from ringc import Array, f32


@rc.message
class Payload:
    values: Array[f32, {n}]


@rc.ring_kernel(capacity={capacity})
class Sink:
    seen: f32

    def on_payload(self, m: Payload):
        self.seen += m.values[0]
'''


def latencies(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds of `n` rt.request round trips and of `n` launches per message."""
    with rc.launch(Echo, backend="opencl") as rt:
        msg = Msg(id=1)
        persistent = runtime_bench.trip_times(lambda: rt.request(Echo, msg, timeout=10.0),
                                              n, 200)
    run, _ = runtime_bench.pyopencl_trip()(runtime_bench.batch(1))
    launched = runtime_bench.trip_times(run, n, 100)
    return np.sort(persistent), np.sort(launched)


def size_rates(folder: str, budget: int, rounds: int) -> list[float]:
    """Drain rate (msgs/s) of a full ring for each message size of SIZES: rings of about
    `budget` bytes of payload (at least 4,096 slots, at most 2^18), so a drain lasts long
    enough to time whatever the size."""
    rates = []
    for n in SIZES:
        capacity = max(4096, min(1 << 18, 1 << (budget // (4 * n)).bit_length() - 1))
        path = Path(folder) / f"sized_{n}.py"
        path.write_text(SIZED.format(n=n, capacity=capacity))
        module = import_file(path)
        with rc.launch(module.Sink, backend="opencl", park_after=None) as rt:
            data = np.zeros(capacity, module.Payload.dtype)
            rates.append(queues_bench.timed_drains(
                rt, module.Sink, lambda rt=rt, data=data, m=module: rt.send(m.Sink, data),
                capacity, rounds, pause=0.0002))
    return rates


def group_rates(folder: str, capacity: int, rounds: int) -> tuple[list[int], list[float]]:
    """Drain rate of the ordered 120-instance program of groups_bench for 1, 2, 4, ...
    work-groups up to the device's default."""
    module = groups_bench._program(folder, capacity, 120, 0)
    most = groups_bench.default_groups(module, "opencl")
    values = groups_bench.curve([1 << i for i in range(most.bit_length()) if 1 << i <= most]
                                + [most])
    rates = [groups_bench.drain(module, "Spread", "opencl", g, capacity, rounds)[0]
             for g in values]
    return values, rates


def draw(out: Path, persistent, launched, sizes, groups, group_rate, device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for times, label in ((persistent, "rt.request to a persistent kernel"),
                         (launched, "one kernel launch per message")):
        ax.plot(times, np.arange(1, len(times) + 1) / len(times), label=label)
    ax.set_xscale("log")
    ax.set_xlabel("round trip (µs, log scale)")
    ax.set_ylabel("fraction of messages")
    ax.set_title(f"Request latency: ringc vs launch per message\n{device}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.plot([4 * n for n in SIZES], [r / 1e6 for r in sizes], marker="o")
    left.set_xscale("log", base=2)
    left.set_xlabel("payload (bytes)")
    left.set_ylabel("M msgs/s (full ring drained)")
    left.set_title("by message size", fontsize=9)
    right.plot(groups, [r / 1e6 for r in group_rate], marker="o")
    right.set_xlabel("work-groups")
    right.set_xticks(groups)
    right.set_title("by work-groups (120 instances)", fontsize=9)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(bottom=0)
    fig.suptitle(f"Throughput\n{device}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="build/bench", help="where the PNG files go")
    parser.add_argument("--quick", action="store_true", help="small counts: a dry run")
    args = parser.parse_args()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("charts: skipped: matplotlib is not installed (pip install 'ringc[bench]')")
        return 0
    try:
        facts = rc.device_facts("opencl")
    except rc.BackendUnavailable as exc:
        print(f"charts: skipped: {exc}")
        return 0
    n, budget, rounds = (200, 1 << 20, 1) if args.quick else (2_000, 1 << 26, 3)
    persistent, launched = latencies(n)
    with tempfile.TemporaryDirectory() as folder:
        sizes = size_rates(folder, budget, rounds)
        groups, group_rate = group_rates(folder, 1024 if args.quick else 4096, rounds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = f"{facts.name} (opencl), {facts.compute_units} compute unit(s)"
    draw(out, persistent, launched, sizes, groups, group_rate, device)
    print(__doc__.split("\n\n")[0])
    for name, times in (("rt.request", persistent), ("launch per message", launched)):
        p50, p99 = np.percentile(times, [50, 99])
        print(f"  {name:20s} p50 {p50:8.1f} µs  p99 {p99:8.1f} µs")
    print("  drain by payload: " + ", ".join(f"{4 * s} B {r / 1e6:.1f} M/s"
                                             for s, r in zip(SIZES, sizes)))
    print("  drain by groups:  " + ", ".join(f"{g}: {r / 1e6:.1f} M/s"
                                             for g, r in zip(groups, group_rate)))
    print(f"  wrote {out / 'latency.png'} and {out / 'throughput.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
