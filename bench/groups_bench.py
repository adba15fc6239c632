"""Work-group scaling: how fast full rings drain as `groups` grows.

Two programs, written to a temporary .py file and launched once per `groups` value:
- `ordered`: one ordered kernel with INSTANCES instances (queue q is served by group
  q % groups), each ingress ring filled while the kernel is deactivated;
- `parallel`: one `concurrency="parallel"` kernel, one queue, which every group claims from.
Each handler does `--work` iterations of float arithmetic on the message (0: the queue
machinery alone). The time from `activate` until every message is handled gives the rate;
each row prints it beside the 1-group rate of the same run (the scaling). `--groups` lists
the values (default: 1, 2, 4, ... up to the device's default, and that default);
`--backend cuda` runs on the first GPU. A backend that cannot run here prints
`<backend>: skipped: <why>`; a `groups` value the device refuses prints its reason.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import queues_bench  # noqa: E402

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


@rc.ring_kernel(capacity={capacity}, instances={instances})
class Spread:
    seen: i32
    total: f32

    def on_msg(self, m: Msg):
        x = m.values[0]
        for _ in range({work}):
            x = x * 0.999 + 0.5
        self.total += x
        self.seen += 1


@rc.ring_kernel(capacity={parallel_capacity}, concurrency="parallel")
class Shared:
    def on_msg(self, m: Msg):
        x = m.values[0]
        for _ in range({work}):
            x = x * 0.999 + 0.5
        m.values[1] = x
'''


def _program(folder: str, capacity: int, instances: int, work: int):
    path = Path(folder) / f"groups_{instances}_{work}.py"
    path.write_text(PROGRAM.format(capacity=capacity, instances=instances, work=work,
                                   parallel_capacity=1 << (capacity * instances - 1).bit_length()))
    return import_file(path)


def drain(module, kernel_name: str, backend: str, groups: int | None, per_queue: int,
          rounds: int) -> tuple[float, str]:
    """Best of `rounds` drains of every queue of the kernel filled with `per_queue`
    messages (msgs/s), and the device's description."""
    kernel = getattr(module, kernel_name)
    options = {} if groups is None else {"groups": groups}
    with rc.launch(kernel, backend=backend, park_after=None, **options) as rt:
        instances = rt.status(kernel).instances
        data = np.zeros(per_queue, dtype=module.Msg.dtype)
        data["values"][:, 0] = np.arange(per_queue, dtype=np.float32)
        def fill() -> None:
            for instance in range(instances):
                rt.send(kernel, data, instance=instance)
        return (queues_bench.timed_drains(rt, kernel, fill, per_queue * instances, rounds,
                                          pause=0.0002), rt._device.description)


def default_groups(module, backend: str) -> int:
    """The groups the device runs for this program when `groups` is not given."""
    with rc.launch(module.Spread, backend=backend, park_after=None) as rt:
        return getattr(rt._device, "groups", 1)


def curve(values: list[int]) -> list[int]:
    return sorted(set(values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("opencl", "cuda"), default="opencl")
    parser.add_argument("--groups", help="comma-separated groups values (default: powers "
                        "of two up to the device's default, and the default)")
    parser.add_argument("--instances", type=int, default=None,
                        help="instances of the ordered kernel (default: 120 on OpenCL, "
                             "1024 on CUDA)")
    parser.add_argument("--work", default="0,256", help="comma-separated loop lengths")
    parser.add_argument("--quick", action="store_true", help="small counts: a dry run")
    parser.add_argument("--json", metavar="PATH", help="also write every figure to PATH")
    args = parser.parse_args()
    instances = args.instances or (1024 if args.backend == "cuda" else 120)
    capacity = 64 if args.quick else (256 if args.backend == "cuda" else 4096)
    rounds = 1 if args.quick else 3
    works = [int(w) for w in args.work.split(",")]
    figures: dict = {"backend": args.backend, "instances": instances, "capacity": capacity,
                     "rows": []}
    with tempfile.TemporaryDirectory() as folder:
        modules = {work: _program(folder, capacity, instances, work) for work in works}
        try:
            most = default_groups(modules[works[0]], args.backend)
        except rc.BackendUnavailable as exc:
            print(f"{args.backend}: skipped: {exc}")
            return 0
        if args.groups:
            values = curve([int(g) for g in args.groups.split(",")])
        else:
            values = curve([1 << i for i in range(most.bit_length()) if 1 << i <= most]
                           + [most])
        print(__doc__.split("\n\n")[0])
        print(f"backend {args.backend}; default groups {most}; ordered: {instances} "
              f"instances x {capacity} messages; parallel: one queue of "
              f"{instances * capacity} messages")
        print(f"  {'kernel':9s} {'work':>5s} {'groups':>7s} {'M msgs/s':>10s} "
              f"{'vs 1 group':>11s}  device")
        for work in works:
            for name, kernel in (("ordered", "Spread"), ("parallel", "Shared")):
                per_queue = capacity if kernel == "Spread" else capacity * instances
                base = None
                for groups in values:
                    try:
                        rate, device = drain(modules[work], kernel, args.backend, groups,
                                             per_queue, rounds)
                    except rc.BackendUnavailable as exc:
                        print(f"  {name:9s} {work:5d} {groups:7d}  refused: {exc}")
                        continue
                    base = base or (rate if groups == values[0] else None)
                    ratio = f"{rate / base:.2f}x" if base else "-"
                    print(f"  {name:9s} {work:5d} {groups:7d} {rate / 1e6:10.2f} "
                          f"{ratio:>11s}  {device}")
                    figures["rows"].append({"kernel": name, "work": work, "groups": groups,
                                            "rate": rate, "device": device})
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
