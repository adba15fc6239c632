"""SIMD vectorization: a weighted array, eight elements a step, with a remainder loop.

`Weigh` multiplies each element of `data` by its weight. The vector loop takes eight
elements a step as two `rc.f32x4` (loaded with `rc.f32x4.load(arr, i)`, multiplied lane by
lane, stored with `v.store(arr, i)`); the remainder loop does the last `length % 8` one at
a time. It also sums the products: `rc.dot` of each four-lane product with ones.

The guide's loop runs `for (i = 0; i < length - vectorWidth; i += vectorWidth)`: when the
length is a multiple of eight, that skips the last full vector, and its remainder loop
starts after it, so the last eight outputs are never written. Here the condition is
`i + 8 <= length`, and the sample checks lengths 0, 5, 8, 24, 27 and 32 against numpy,
element for element (each product is one correctly rounded f32 multiply on every target).

Limits: one message carries at most 32 elements (a message is at most a few hundred
bytes); the vector loop is what the emitted code asks for, and whether a target's compiler
turns it into SIMD instructions is its own business (on a GPU the parallelism that pays is
a work-group per message: samples/patterns/cooperative_reduction.py).

    python samples/patterns/simd_vectorization.py [opencl|sim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, f32, i32

N = 32
WIDTH = 8


@rc.message
class Weights:
    length: i32
    data: Array[f32, N]
    weights: Array[f32, N]


@rc.message
class Weighted:
    length: i32
    output: Array[f32, N]
    total: f32
    vector_steps: i32


@rc.ring_kernel(capacity=16)
class Weigh:
    def on_weights(self, m: Weights) -> Weighted:
        out = Weighted(length=m.length)
        ones = rc.f32x4(1.0)
        total = 0.0
        i = 0
        while i + WIDTH <= m.length:                  # every full vector, the last one too
            low = rc.f32x4.load(m.data, i) * rc.f32x4.load(m.weights, i)
            high = rc.f32x4.load(m.data, i + 4) * rc.f32x4.load(m.weights, i + 4)
            low.store(out.output, i)
            high.store(out.output, i + 4)
            total += rc.dot(low, ones) + rc.dot(high, ones)
            out.vector_steps += 1
            i += WIDTH
        for j in range(i, m.length):                  # the remainder, one at a time
            out.output[j] = m.data[j] * m.weights[j]
            total += out.output[j]
        out.total = total
        return out


def expected(length: int, data: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out = np.zeros(N, np.float32)
    out[:length] = data[:length] * weights[:length]
    return out


def main(backend: str = "opencl") -> dict:
    """Weigh arrays of several lengths; each output against numpy's. Returns, per length,
    (vector steps, outputs equal to numpy's, the guide's loop would have left unwritten)."""
    rng = np.random.default_rng(8)
    result = {}
    with rc.launch(Weigh, backend=backend) as rt:
        for length in (0, 5, 8, 24, 27, 32):
            data = rng.standard_normal(N).astype(np.float32)
            weights = rng.random(N).astype(np.float32)
            got = rt.request(Weigh, Weights(length=length, data=data, weights=weights),
                             timeout=30.0)
            want = expected(length, data, weights)
            same = got.output.tobytes() == want.tobytes()
            guide_steps = max(0, (length - WIDTH + WIDTH - 1) // WIDTH)   # i < length - 8
            guide_missed = (length // WIDTH - guide_steps) * WIDTH
            print(f"length {length:2}: {got.vector_steps} vector step(s) of {WIDTH} + "
                  f"{length - got.vector_steps * WIDTH} one at a time; outputs "
                  f"{'equal numpy' if same else 'DIFFER from numpy'}; sum "
                  f"{got.total:.4f} (numpy {float(want.sum(dtype=np.float64)):.4f}); the "
                  f"guide's loop would leave {guide_missed} output(s) unwritten")
            result[length] = (got.vector_steps, same, guide_missed)
    return result


if __name__ == "__main__":
    main(*sys.argv[1:])
