"""Vectors and math.fma (docs/language.md, "Vectors") through rc.launch on every backend
present here (the `backend` fixture), against numpy and exact arithmetic: the layout of a
message with vector fields (host encode -> device -> host decode), vector operations in
locals, state and messages, load/store bounds faults, and fma's hard cases."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import ringc as rc
from tests.vector_kernels import (
    Echo,
    Fma,
    Fma64,
    FmaOut,
    FmaOut64,
    Fused,
    Fused64,
    Pack,
    Slot,
    Vectors,
    VectorsModel,
)

F32 = np.float32


def test_a_message_with_vector_fields_has_the_device_layout():
    """f32x4/i32x4 16 bytes aligned 16, f32x2 8 aligned 8: numpy subarrays at the
    offsets C gives float4, int4 and float2 (every device build asserts the same)."""
    d = Pack.dtype
    assert {n: d.fields[n][1] for n in d.names} == {
        "a": 0, "v": 16, "w": 32, "i": 48, "arr": 64, "k": 96, "flag": 100}
    assert d.itemsize == 112
    assert d.fields["v"][0] == np.dtype((np.float32, (4,)))
    assert d.fields["w"][0] == np.dtype((np.float32, (2,)))
    m = Pack(v=rc.f32x4(1, 2, 3, 4), i=[1, 2, 3, 4])
    assert isinstance(m.v, np.ndarray) and m.v.dtype == np.float32 and m.v.shape == (4,)
    assert m.i.dtype == np.int32 and Pack().w.tolist() == [0.0, 0.0]
    assert Pack.from_record(m.to_record()) == m


def test_vector_fields_round_trip_through_the_device(backend):
    sent = [Pack(a=F32(1.5), v=rc.f32x4(-0.0, np.inf, np.nan, 1e-45), w=rc.f32x2(3.25),
                 i=rc.i32x4(-2**31, 2**31 - 1, 0, -1), arr=np.arange(8, dtype=F32) / 3,
                 k=-7, flag=True),
            Pack(v=np.array([1, 2, 3, 4], F32), k=2**31 - 1)]
    with rc.launch(Echo, backend=backend) as rt:
        for m in sent:
            back = rt.request(Echo, m, timeout=30.0)
            assert back == m
            assert back.to_record().tobytes() == m.to_record().tobytes()


def test_vector_operations_behave_as_numpy(backend):
    model = VectorsModel()
    rng = np.random.default_rng(7)
    packs = [Pack(a=F32(a), v=rng.standard_normal(4).astype(F32),
                  w=rng.standard_normal(2).astype(F32),
                  i=rng.integers(-2**31, 2**31, 4).astype(np.int32),
                  arr=rng.standard_normal(8).astype(F32), k=k, flag=bool(k % 2))
             for a, k in ((0.5, 0), (-3.0, 4), (1e30, 1), (7.0, 3), (1.0, 2))]
    with rc.launch(Vectors, backend=backend) as rt:
        for m in packs:
            got = rt.request(Vectors, m, timeout=30.0)
            want = model.pack(m)
            assert got.to_record().tobytes() == want.to_record().tobytes(), (got, want)
        state = rt.checkpoint(Vectors)
    assert state["acc"].tobytes() == model.acc.tobytes()
    assert state["buf"].tobytes() == model.buf.tobytes()
    assert state["grid"].tobytes() == model.grid.tobytes()


def test_out_of_range_loads_and_stores_fault_as_indexing_does(backend):
    with rc.launch(Vectors, backend=backend) as rt:
        rt.request(Vectors, Pack(arr=np.arange(8, dtype=F32), k=0), timeout=30.0)
        before = rt.checkpoint(Vectors)
        results = {}
        for k, store in ((5, True), (-1, True), (2, True), (3, True), (5, False),
                         (-1, False), (4, False)):
            try:
                rt.request(Vectors, Slot(k=k, store=store), timeout=30.0)
                results[(k, store)] = "ok"
            except rc.DeadLettered as exc:
                results[(k, store)] = exc.dead_letter.reason
        after = rt.checkpoint(Vectors)
    assert results == {(5, True): "index_out_of_range", (-1, True): "index_out_of_range",
                       (2, True): "ok", (3, True): "index_out_of_range",
                       (5, False): "index_out_of_range", (-1, False): "index_out_of_range",
                       (4, False): "index_out_of_range"}
    # caught in the try: k=5 and k=-1, stored and loaded (4 of them); k=2 and k=3 stored
    assert after["faults"] == 4
    expected = before["buf"].copy()
    assert expected.tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    expected[2:6] = [1, 2, 3, 4]                # k=2 stored; k=3 into buf, then faulted
    expected[3:7] = [1, 2, 3, 4]
    expected[0:4] = expected[4:8]               # k=4 loaded and stored, then faulted
    assert after["buf"].tolist() == expected.tolist()
    assert after["grid"][1][2:6].tolist() == [1, 2, 3, 4]


def _exact_fma(a, b, c, t):
    """a * b + c rounded once to `t` (finite inputs), by exact rational arithmetic."""
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if exact == 0:          # IEEE: -0 only for a -0 product plus -0 (round to nearest)
        negative = np.signbit(a) != np.signbit(b) and np.signbit(c) and float(a * b) == 0
        return t(-0.0) if negative else t(0.0)
    candidates = []
    x = t(float(exact))                        # within an ulp or two of the answer
    for _ in range(3):
        x = np.nextafter(x, t(-np.inf))
    for _ in range(7):
        candidates.append(x)
        x = np.nextafter(x, t(np.inf))
    best = min(candidates, key=lambda v: (abs(Fraction(float(v)) - exact),
                                          int(np.asarray(v).view(
                                              np.uint32 if t is F32 else np.uint64)) & 1))
    return best


# (a, b, c): where a*b + c unfused differs from fma, and where rounding a*b + c to f64
# first and then to f32 (double rounding) would give the wrong f32
_E12, _E11 = 1 + 2**-12, 1 + 2**-11
FMA32 = [
    (_E12, _E12, -_E11),                 # fma = 2**-24 exactly; unfused gives 0
    (_E12, _E12, 2**-60),                # a*b halfway between two f32s: double rounding
    (_E12, _E12, -2**-60),               # ... and just below halfway
    (-_E12, _E12, 2**-60),
    (1 + 2**-23, 1 - 2**-23, -1.0),      # -2**-46, which unfused loses
    (3.0, 1 / 3, -1.0),
    (1e-20, 1e-20, 0.0),                 # an f32 subnormal result
    (-0.0, 1.0, 0.0), (-0.0, 1.0, -0.0),
    (1e30, 1e30, -np.inf), (3e38, 2.0, -3e38),
]
_E27, _E26 = 1 + 2**-27, 1 + 2**-26
FMA64 = [
    (_E27, _E27, -_E26),                 # 2**-54 exactly; unfused gives 0
    (0.1, 10.0, -1.0),
    (1 + 2**-52, 1 - 2**-52, -1.0),
    (1e308, 10.0, -1e308),               # the product overflows, the sum does not
    (2**-600, 2**-500, 0.0),             # underflows to a subnormal
]


def test_fma_is_rounded_once_on_every_backend(backend):
    rng = np.random.default_rng(3)
    cases = FMA32 + [tuple(rng.standard_normal(3) * 10.0 ** rng.integers(-8, 8, 3))
                     for _ in range(40)]
    with rc.launch(Fused, backend=backend) as rt:
        for a, b, c in cases:
            m = Fma(a=F32(a), b=F32(b), c=F32(c))
            out: FmaOut = rt.request(Fused, m, timeout=30.0)
            a, b, c = m.a, m.b, m.c
            with np.errstate(all="ignore"):
                assert out.unfused.tobytes() == (a * b + c).tobytes()
                if np.isfinite([a, b, c]).all() and np.isfinite(float(a) * float(b) + c):
                    assert out.fused.tobytes() == _exact_fma(a, b, c, F32).tobytes(), (a, b, c)
    # the hard cases are hard: unfused and double-rounded answers differ from fma's
    a, b, c = (F32(v) for v in FMA32[1])
    assert F32(float(a) * float(b) + float(c)) != _exact_fma(a, b, c, F32)
    a, b, c = (F32(v) for v in FMA32[0])
    assert a * b + c != _exact_fma(a, b, c, F32)


def test_fma_in_double_precision_is_rounded_once(backend):
    if backend == "metal-shim":
        pytest.skip("metal-shim: Metal has no f64")
    rng = np.random.default_rng(4)
    cases = FMA64 + [tuple(rng.standard_normal(3) * 10.0 ** rng.integers(-30, 30, 3))
                     for _ in range(40)]
    with rc.launch(Fused64, backend=backend) as rt:
        for x, y, z in cases:
            m = Fma64(x=x, y=y, z=z)
            out: FmaOut64 = rt.request(Fused64, m, timeout=30.0)
            with np.errstate(all="ignore"):
                assert out.unfused.tobytes() == (m.x * m.y + m.z).tobytes()
                if np.isfinite([x, y, z]).all() and np.isfinite(out.fused):
                    assert out.fused == _exact_fma(m.x, m.y, m.z, np.float64), (x, y, z)
