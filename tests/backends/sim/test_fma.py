"""The simulator's math.fma (backends/sim/fma.py): one rounding, against exact rational
arithmetic, on the cases where an unfused or a double-rounded computation goes wrong."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.sim.fma import fma

F32, F64 = np.float32, np.float64


def nearest(exact: Fraction, t) -> object:
    """The `t` nearest to `exact` (ties to even), by looking at the neighbours."""
    with np.errstate(over="ignore"):
        x = t(float(exact))
    around = [x]
    for direction in (-np.inf, np.inf):
        y = x
        for _ in range(3):
            with np.errstate(over="ignore"):
                y = np.nextafter(y, t(direction))
            around.append(y)
    bits = np.uint32 if t is F32 else np.uint64
    return min((v for v in around if np.isfinite(v)),
               key=lambda v: (abs(Fraction(float(v)) - exact), int(np.asarray(v).view(bits)) & 1))


def test_double_rounding_is_avoided():
    a = F32(1 + 2**-12)                    # a*a = 1 + 2**-11 + 2**-24: halfway in f32
    tiny = F32(2**-60)
    assert fma(a, a, tiny) == F32(1 + 2**-11 + 2**-23)      # just above halfway: up
    assert F32(float(a) * float(a) + float(tiny)) == F32(1 + 2**-11)   # the wrong answer
    assert fma(a, a, -tiny) == F32(1 + 2**-11)               # just below: down
    assert fma(a, a, F32(0)) == F32(1 + 2**-11)              # exactly halfway: to even


def test_fused_differs_from_unfused():
    a = F32(1 + 2**-12)
    assert fma(a, a, F32(-(1 + 2**-11))) == F32(2**-24)
    assert a * a + F32(-(1 + 2**-11)) == 0
    d = F64(1 + 2**-27)
    assert fma(d, d, F64(-(1 + 2**-26))) == 2**-54
    assert d * d - F64(1 + 2**-26) == 0


@pytest.mark.parametrize("t, a, b, c, want", [
    (F64, 0.0, -1.0, 0.0, 0.0), (F64, -0.0, 1.0, -0.0, -0.0), (F64, 1.0, -1.0, 1.0, 0.0),
    (F64, math.inf, 0.0, 1.0, math.nan), (F64, math.inf, 1.0, -math.inf, math.nan),
    (F64, 1.0, 2.0, -math.inf, -math.inf), (F64, math.nan, 1.0, 1.0, math.nan),
    (F64, 1e308, 10.0, -1e308, math.inf),  # 9e308: past the largest f64
    (F32, 3e38, 10.0, 0.0, math.inf),
    (F32, -1e-30, 1e-30, 0.0, -0.0),       # underflows to a zero that keeps its sign
])
def test_special_values(t, a, b, c, want):
    with np.errstate(all="ignore"):
        got = fma(t(a), t(b), t(c))
    assert type(got) is t
    if math.isnan(want):
        assert np.isnan(got)
    else:
        assert got == want and math.copysign(1, got) == math.copysign(1, want)


def test_a_product_past_the_largest_float_that_the_sum_brings_back():
    exact = Fraction(1.5e308) * Fraction(1.5) - Fraction(1.7e308)
    assert fma(F64(1.5e308), F64(1.5), F64(-1.7e308)) == nearest(exact, F64)
    assert fma(F32(3e38), F32(2.0), F32(-3e38)) == F32(3e38)


@settings(max_examples=400, deadline=None)
@given(st.floats(width=32, allow_nan=False, allow_infinity=False),
       st.floats(width=32, allow_nan=False, allow_infinity=False),
       st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_f32_is_the_correctly_rounded_result(a, b, c):
    a, b, c = F32(a), F32(b), F32(c)
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    got = fma(a, b, c)
    if exact != 0 and abs(exact) < Fraction(float(np.finfo(F32).max)):
        assert got == nearest(exact, F32)


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150),
       st.floats(allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150),
       st.floats(allow_nan=False, allow_infinity=False))
def test_f64_is_the_correctly_rounded_result(a, b, c):
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    got = fma(F64(a), F64(b), F64(c))
    if exact != 0 and abs(exact) < Fraction(float(np.finfo(F64).max)):
        assert got == nearest(exact, F64)
