"""A reduction by a whole work-group: each message is summed by 128 lanes together.

The guide's CUDA section sums an array with a warp/shared-memory reduction: every thread of
a block adds up a strided part of the array, the partial sums are combined in shared
memory (or with warp shuffles), and thread 0 writes the block's total. In ringc that block
is a cooperative kernel: with `concurrency="cooperative", group_size=128` a whole
work-group (a CUDA thread block, an OpenCL work-group, a Metal threadgroup) handles each
message, one message at a time, in order. `rc.lane()` is this lane's number; each lane adds
the elements lane, lane + 128, ... of the message's 1,024 values, and `rc.group_sum` gives
every lane the sum of the 128 partials (a pairwise tree in work-group memory: the same bits
on every target for a group of 128). The handler's `return` is lane 0's reply.

The kernel also keeps the largest partial (`rc.group_max`) and the block-shared array the
CUDA version uses: each lane stores its partial in `tile`, an `rc.Shared[Array[f32, 128]]`,
and after `rc.barrier()` lane 0 reads its neighbour's. The sample sends 8 arrays and
compares each sum with numpy's: the float sums agree to float32 rounding (numpy adds in its
own order; the kernel's order is fixed: each lane left to right, then the tree), and the
integer check sums (`rc.group_sum` of i32, wrapping) agree exactly.

On CUDA the tree's last five levels (16 partials down to 1) run in the first warp with
`__shfl_down_sync`, as the guide's warp reduction does, in the same order, so the bits do
not change; OpenCL and Metal keep every level in work-group memory (their sub-group and
SIMD-group widths differ between devices). One work-group handles one message at a time.

    python samples/patterns/cooperative_reduction.py [--backend opencl|sim|cuda|cuda-shim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32

N = 1024                          # values per message
LANES = 128                       # lanes of the work-group that sums one message


@rc.message
class Values:
    id: i32
    x: Array[f32, N]
    k: Array[i32, N]


@rc.message
class Sum:
    id: i32
    total: f32
    largest_partial: f32
    check: i32                    # the sum of k, wrapping as i32 does
    neighbour: f32                # lane 1's partial, as lane 0 read it from shared memory


@rc.ring_kernel(concurrency="cooperative", group_size=LANES)
class Reducer:
    sums: i32                     # messages summed (lane 0 counts)

    def on_values(self, m: Values) -> Sum:
        tile: rc.Shared[Array[f32, LANES]]
        lane = rc.lane()
        partial = f32(0.0)
        check = i32(0)
        for i in range(lane, N, rc.group_size()):       # a strided part per lane
            partial += m.x[i]
            check += m.k[i]
        tile[lane] = partial                            # noqa: F821 (declared above)
        rc.barrier()                                    # every partial is in tile now
        neighbour = tile[(lane + 1) % LANES]            # noqa: F821
        total = rc.group_sum(partial)                   # every lane gets the block's sum
        largest = rc.group_max(partial)
        checks = rc.group_sum(check)
        if lane == 0:
            self.sums += 1
        return Sum(id=m.id, total=total, largest_partial=largest, check=checks,
                   neighbour=neighbour)


def main(backend: str = "opencl") -> dict:
    """Sum 8 arrays of 1,024 values; compare with numpy."""
    rng = np.random.default_rng(2024)
    close, exact, rows = True, True, []
    with rc.launch(Reducer, backend=backend) as rt:
        for n in range(8):
            x = rng.uniform(-1.0, 1.0, N).astype(np.float32)
            k = rng.integers(-2**31, 2**31, N, dtype=np.int64).astype(np.int32)
            got = rt.request(Reducer, Values(id=n, x=x, k=k), timeout=60)
            want = float(np.sum(x, dtype=np.float64))
            partials = x.reshape(-1, LANES).astype(np.float64).sum(axis=0)
            wrapped = int(np.int64(k.astype(np.int64).sum()).astype(np.int32))
            close &= abs(float(got.total) - want) <= 1e-4 * max(1.0, abs(want))
            close &= abs(float(got.largest_partial) - partials.max()) <= 1e-4
            close &= abs(float(got.neighbour) - partials[1]) <= 1e-4
            exact &= int(got.check) == wrapped
            rows.append((n, float(got.total), want))
        sums = int(rt.checkpoint(Reducer)["sums"])
    for n, got, want in rows:
        print(f"array {n}: sum {got:+.6f}   numpy {want:+.6f}")
    print(f"{sums} arrays of {N} values summed by {LANES} lanes each; float sums match "
          f"numpy's to rounding: {'yes' if close else 'NO'}; integer sums exact: "
          f"{'yes' if exact else 'NO'}")
    return {"sums": sums, "close": bool(close), "exact": bool(exact)}


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--backend"]:
        args = args[1:]
    main(*args[:1])
