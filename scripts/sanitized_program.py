"""The program `make gpu-check` runs under compute-sanitizer (memcheck, racecheck): small,
but it touches every part of the device program: host-mapped ingress and output rings, a
device-local kernel-to-kernel ring, per-instance state, a parallel kernel (a thread block
sharing claims through shared memory and barriers), a dead letter, a checkpoint, a
restore and a clean shutdown. Exits 0 when every answer is right.

    python scripts/sanitized_program.py [--backend cuda|opencl|sim] [--messages N]
                                        [--seconds S]

`--seconds` bounds the run (half for the answers, half for the shutdown); past it by 5 s,
the stacks of every thread are printed and the process exits, so a run under a sanitizer
that hangs still says where.
"""


import argparse
import faulthandler
import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32, u32


@rc.message
class Sample:
    id: i32
    values: Array[f32, 4]


@rc.message
class Total:
    id: i32
    total: f32


@rc.ring_kernel(capacity=64)
class Front:
    """Ordered: fails on a negative id, else forwards to Spread (a device-to-device hop)."""

    forwarded: u32

    def on_sample(self, m: Sample):
        if m.id < 0:
            rc.fail("negative id")
        self.forwarded += 1
        rc.send(Spread, m, instance=m.id % 2)


@rc.ring_kernel(capacity=64, instances=2, concurrency="parallel")
class Spread:
    """Parallel: several messages at once per block; replies to the host."""

    handled: u32

    def on_sample(self, m: Sample):
        rc.atomic_add(self.handled, 1)
        s = 0.0
        for i in range(4):
            s += m.values[i]
        rc.emit(Total(id=m.id, total=s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cuda", choices=["cuda", "opencl", "sim"])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args(argv)
    faulthandler.dump_traceback_later(args.seconds + 5, exit=True)
    n, wait = args.messages, args.seconds / 2
    batch = np.zeros(n, Sample.dtype)
    batch["id"] = np.arange(n)
    batch["values"] = np.arange(4 * n, dtype=np.float32).reshape(n, 4) % 7
    with rc.launch(Front, backend=args.backend) as rt:
        print(f"running on {rt._device.description}")
        rt.send(Front, batch)
        rt.send(Front, Sample(id=-1))
        out = rt.receive_many(n, timeout=wait)
        state = rt.checkpoint(Front)
        state["forwarded"] += 1000
        rt.restore(Front, state)
        clean = rt.shutdown(drain=True, timeout=wait)
    order = np.argsort(out["id"])
    problems = []
    if len(out) != n or (out["id"][order] != np.arange(n)).any():
        problems.append(f"{len(out)} of {n} totals came back, or some twice")
    elif (out["total"][order] != batch["values"].sum(axis=1, dtype=np.float32)).any():
        problems.append("wrong totals")
    if [d.reason for d in rt.dead_letters()] != ["negative id"]:
        problems.append(f"dead letters: {rt.dead_letters()}")
    if int(rt.checkpoint(Front)["forwarded"]) != n + 1000:
        problems.append("the restored state was lost")
    if sum(int(rt.checkpoint(Spread, i)["handled"]) for i in range(2)) != n:
        problems.append("the parallel kernel's counter missed messages")
    if not clean:
        problems.append("shutdown did not drain and stop in time")
    faulthandler.cancel_dump_traceback_later()
    print("sanitized program: " + ("; ".join(problems) if problems else "all answers right"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
