"""`math.fma` for the simulator: `a * b + c` rounded once, bit for bit what CUDA's
`__fmaf_rn` / `__fma_rn`, OpenCL's and Metal's `fma` give.

numpy has no fused multiply-add, and the obvious routes round twice: for f32 operands
`float(a) * float(b)` is exact (48 significant bits), but `a*b + c` rounded to f64 and then
to f32 is not always the correctly rounded f32 (a product halfway between two f32s plus a
tiny `c` rounds to the halfway value in f64, then to even in f32: the wrong neighbour).
So the sum is made exact: TwoSum gives `s + err == a*b + c` exactly; when `err` is zero `s`
is the exact sum (one rounding to the format remains); otherwise the exact value is a
`Fraction`, rounded to the format by integer arithmetic (nearest, ties to even, with the
format's subnormals and overflow to infinity).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["fma"]

# format -> (significand bits, smallest exponent of a significand's last bit, max finite)
_FORMATS = {np.float32: (24, -149, float(np.finfo(np.float32).max)),
            np.float64: (53, -1074, float(np.finfo(np.float64).max))}


def fma(a, b, c):
    """`a * b + c` of three numpy scalars of one float type, rounded once to that type."""
    make = type(a)
    x, y, z = float(a), float(b), float(c)
    if not (math.isfinite(x) and math.isfinite(y)):
        return make(x * y + z)          # inf or NaN; inf * 0 and inf - inf are NaN
    if not math.isfinite(z):
        return make(z)                  # a finite product cannot change an inf or a NaN
    if make is np.float32:
        p = x * y                                 # exact: 24 + 24 bits
        s = p + z
        if math.isfinite(s):
            bp = s - z                            # TwoSum (Knuth): s + err == p + z exactly
            err = (p - bp) + (z - (s - bp))
            if err == 0:                          # s is exact: one rounding, to f32
                with np.errstate(over="ignore"):
                    return make(s)
    exact = Fraction(x) * Fraction(y) + Fraction(z)
    if exact == 0:                                # the sign of an exact zero: IEEE's rule
        product_negative = (math.copysign(1.0, x) * math.copysign(1.0, y)) < 0
        if x * y == 0 and z == 0:
            return make(-0.0 if product_negative and math.copysign(1.0, z) < 0 else 0.0)
        return make(0.0)
    return make(_round(exact, *_FORMATS[make]))


def _round(value: Fraction, bits: int, min_exp: int, largest: float) -> float:
    """`value` (not zero) rounded to the nearest number of a binary format with `bits`
    significand bits whose last bit is worth at least 2**min_exp; ties to even."""
    sign = -1 if value < 0 else 1
    v = abs(value)
    # the exponent of v's leading bit: 2**e <= v < 2**(e + 1)
    e = v.numerator.bit_length() - v.denominator.bit_length()
    if Fraction(2) ** e > v:
        e -= 1
    quantum = max(e - bits + 1, min_exp)          # the value of the last significand bit
    scaled = v / Fraction(2) ** quantum
    n, rest = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and n % 2 == 1):
        n += 1
    result = Fraction(n) * Fraction(2) ** quantum
    if result > Fraction(largest):
        # past the largest finite value: infinity once it rounds beyond it
        return sign * math.inf
    return sign * float(result)
