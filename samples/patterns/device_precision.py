"""Capability-driven precision: f64 where the device has it, f32 where it has not.

The guide's OpenCL section checks `cl_khr_fp64` when its kernel starts and takes a double
or a float path in every handler. A ringc kernel's types are fixed when it is compiled,
and a device without f64 cannot even build a program that mentions it, so the choice is
made before compiling: `rc.device_facts(backend)` says what the device can do without
building anything, the host launches `Series64` or `Series32` by it, and `rt.device`
says the same of the running program.

Each kernel sums the Leibniz series 1 - 1/3 + 1/5 - ... (pi/4) over the ranges of terms
the host sends, keeping the running sum in its state. Every term and every addition is
one correctly rounded operation on every target, so the replies equal numpy's sequential
sum in the same precision bit for bit; the sample prints how far each is from the exact
partial sum (`math.fsum`): over a million terms, 5e-15 in f64 and 9e-7 in f32.

Metal has no f64: `backend="metal-shim"` (the emitted Metal run on this CPU) reports
`fp64=False` and takes the f32 kernel; compiling `Series64` for Metal is a CompileError
naming the line.

    python samples/patterns/device_precision.py [opencl|sim|metal-shim|cuda-shim]
"""

import math
import sys

import numpy as np

import ringc as rc
from ringc import f32, f64, i32, i64

BATCHES = 4          # messages, each `terms` consecutive terms of the series


@rc.message
class Terms:
    start: i64
    count: i32


@rc.message
class Sum64:
    total: f64
    terms: i64


@rc.message
class Sum32:
    total: f32
    terms: i64


@rc.ring_kernel(capacity=16)
class Series64:
    total: f64
    terms: i64

    def on_terms(self, m: Terms) -> Sum64:
        for i in range(m.count):
            k = m.start + i
            sign = f64(1.0) if k % 2 == 0 else f64(-1.0)
            self.total += sign / f64(2 * k + 1)
        self.terms += m.count
        return Sum64(total=self.total, terms=self.terms)


@rc.ring_kernel(capacity=16)
class Series32:
    total: f32
    terms: i64

    def on_terms(self, m: Terms) -> Sum32:
        for i in range(m.count):
            k = m.start + i
            sign = f32(1.0) if k % 2 == 0 else f32(-1.0)
            self.total += sign / f32(2 * k + 1)
        self.terms += m.count
        return Sum32(total=self.total, terms=self.terms)


def sequential_sums(terms: int, dtype) -> np.ndarray:
    """The running sums after each batch, added one term at a time in `dtype` (numpy's
    cumsum adds in order, as the kernel does)."""
    k = np.arange(BATCHES * terms)
    series = np.where(k % 2 == 0, 1, -1).astype(dtype) / (2 * k + 1).astype(dtype)
    return np.cumsum(series, dtype=dtype)[terms - 1::terms]


def main(backend: str = "opencl", terms: int | None = None) -> dict:
    """Choose the kernel by the device's fp64, sum the series in BATCHES messages, compare
    each reply with numpy. Returns the precision chosen, the replies equal to numpy's
    (bit for bit) and the last reply's distance from the exact partial sum."""
    terms = int(terms or (2_000 if backend == "sim" else 250_000))
    facts = rc.device_facts(backend)
    kernel, dtype = (Series64, np.float64) if facts.fp64 else (Series32, np.float32)
    print(f"{facts}\n-> {kernel.__name__}: sums in {np.dtype(dtype).name}")
    want = sequential_sums(terms, dtype)
    replies = []
    with rc.launch(kernel, backend=backend) as rt:
        assert rt.device == facts
        for batch in range(BATCHES):
            got = rt.request(kernel, Terms(start=batch * terms, count=terms), timeout=60.0)
            replies.append(got.total)
    equal = [dtype(r).tobytes() == w.tobytes() for r, w in zip(replies, want)]
    n = BATCHES * terms
    exact = math.fsum((-1) ** k / (2 * k + 1) for k in range(n))
    error = abs(float(replies[-1]) - exact)
    print(f"{n:,} terms: {float(replies[-1]) * 4!r} (4x the sum; pi {math.pi!r}); "
          f"{sum(equal)} of {BATCHES} replies equal numpy's {np.dtype(dtype).name} sum bit "
          f"for bit; rounding error {error:.1e} against the exact partial sum")
    return {"precision": np.dtype(dtype).name, "equal": equal, "error": error}


if __name__ == "__main__":
    args: list = sys.argv[1:]
    main(*args)
