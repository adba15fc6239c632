"""Kernels using vectors and math.fma (docs/language.md, "Vectors"), with what they do in
plain numpy: tests/test_vector_semantics.py runs them on every backend present here."""

from __future__ import annotations

import math

import numpy as np

import ringc as rc
from ringc import Array, f32, f32x2, f32x4, f64, i32, i32x4, u32x4


@rc.message
class Pack:
    a: f32
    v: f32x4
    w: f32x2
    i: i32x4
    arr: Array[f32, 8]
    k: i32
    flag: bool


@rc.message
class Result:
    v: f32x4
    s: f32
    u: u32x4
    i: i32x4
    arr: Array[f32, 8]
    acc: f32x4
    lane: f32
    idot: i32


@rc.message
class Fma:
    a: f32
    b: f32
    c: f32


@rc.message
class FmaOut:
    fused: f32
    unfused: f32


@rc.message
class Fma64:
    x: f64
    y: f64
    z: f64


@rc.message
class FmaOut64:
    fused: f64
    unfused: f64


@rc.message
class Slot:
    k: i32
    store: bool


@rc.device
def scaled(v: f32x4, s: f32) -> f32x4:
    v.x = v.x * 2.0                   # a parameter is the callee's own copy
    return v * s


@rc.ring_kernel(mode="event_driven")
class Vectors:
    acc: f32x4
    buf: Array[f32, 8]
    grid: Array[Array[f32, 6], 2]
    faults: i32

    def on_pack(self, m: Pack) -> Result:
        v = m.v + rc.f32x4(1.0, 2.0, 3.0, 4.0)
        w = scaled(v, m.a)
        self.acc += w
        self.acc.y = 7.5
        t = rc.f32x4.load(m.arr, m.k)
        t.store(self.buf, 4 - m.k)
        (t + rc.f32x4(m.a)).store(self.grid[m.k % 2], 2)   # a row of a nested array
        return Result(v=w - t / 2.0, s=rc.dot(v, m.v) + m.w.y,
                      u=rc.u32x4(1) - rc.u32x4(2, 3, 4, 5), i=-m.i * 3 + m.i,
                      acc=self.acc, lane=(v if m.flag else -v).z,
                      idot=rc.dot(m.i, rc.i32x4(1, 2, 3, 4)))


    def on_slot(self, m: Slot) -> Slot:
        """Out-of-range loads and stores fault as an index does; a caught one stores
        nothing either."""
        v = rc.f32x4(1.0, 2.0, 3.0, 4.0)
        try:
            if m.store:
                v.store(self.buf, m.k)
            else:
                v = rc.f32x4.load(self.buf, m.k)
                v.store(self.buf, 0)
        except rc.Fault as f:
            if f.reason == "index_out_of_range":
                self.faults += 1
        if m.store:
            v.store(self.grid[1], m.k)          # not caught: dead-letters the message
        else:
            self.acc = rc.f32x4.load(self.grid[0], m.k)
        return m



@rc.ring_kernel(mode="event_driven")
class Fused:
    def on_fma(self, m: Fma) -> FmaOut:
        return FmaOut(fused=math.fma(m.a, m.b, m.c), unfused=m.a * m.b + m.c)


@rc.ring_kernel(mode="event_driven")
class Fused64:
    """f64, which Metal lacks."""

    def on_fma64(self, m: Fma64) -> FmaOut64:
        return FmaOut64(fused=math.fma(m.x, m.y, m.z), unfused=m.x * m.y + m.z)


@rc.ring_kernel(mode="event_driven")
class Echo:
    """Sends a message with vector fields back as it came (the host's encode, the
    device's layout, the host's decode)."""

    def on_pack(self, m: Pack) -> Pack:
        return m


class VectorsModel:
    """What Vectors does, in numpy (f32 operations one at a time, integers wrapping)."""

    def __init__(self) -> None:
        self.acc = np.zeros(4, np.float32)
        self.buf = np.zeros(8, np.float32)
        self.grid = np.zeros((2, 6), np.float32)
        self.faults = 0

    def pack(self, m: Pack) -> Result:
        v = m.v + np.array([1, 2, 3, 4], np.float32)
        w = v.copy()
        w[0] = w[0] * np.float32(2.0)
        w = w * m.a
        self.acc = self.acc + w
        self.acc[1] = 7.5
        if not 0 <= m.k <= 4:
            raise IndexError
        t = m.arr[m.k:m.k + 4].copy()
        if not 0 <= 4 - m.k <= 4:
            raise IndexError
        self.buf[4 - m.k:8 - m.k] = t
        self.grid[m.k % 2][2:6] = t + m.a
        dot = np.float32(0)
        for k in range(4):
            dot = v[k] * m.v[k] if k == 0 else dot + v[k] * m.v[k]
        i = m.i.astype(np.int64)
        wrapped = ((-i * 3 + i + 2**31) % 2**32 - 2**31).astype(np.int32)
        idot = int((i * np.arange(1, 5)).sum() % 2**32)
        return Result(v=w - t / np.float32(2.0), s=dot + m.w[1],
                      u=np.array([2**32 - 1, 2**32 - 2, 2**32 - 3, 2**32 - 4], np.uint32),
                      i=wrapped, acc=self.acc.copy(), lane=(v if m.flag else -v)[2],
                      idot=idot - 2**32 if idot >= 2**31 else idot)


__all__ = ["Pack", "Result", "Fma", "FmaOut", "Slot", "Vectors", "Echo", "VectorsModel",
           "scaled", "f32", "f64", "i32", "Array", "f32x2", "f32x4", "i32x4", "u32x4"]
