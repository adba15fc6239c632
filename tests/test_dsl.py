"""The user's surface: scalar types, Array, messages with numpy layouts, kernel options."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ringc as rc
from ringc.errors import RingcError


def test_scalar_casts_wrap_and_saturate():
    assert rc.i32(2**31 + 5) == -(2**31) + 5
    assert rc.u8(-1) == 255
    assert rc.i16(70000) == 70000 - 65536
    assert rc.i32(float("nan")) == 0
    assert rc.i32(1e20) == 2**31 - 1 and rc.i32(-1e20) == -(2**31)
    assert rc.i32(-2.9) == -2
    assert rc.u32(-5.0) == 0
    assert rc.f32(0.1) == np.float32(0.1)
    assert rc.bool_(3) is np.True_ or bool(rc.bool_(3)) is True


def test_array_annotation():
    assert str(rc.Array[rc.f32, 4]) == "f32[4]"
    assert str(rc.Array[bool, 2]) == "bool[2]"
    assert str(rc.Array[rc.Address, 3]) == "address[3]"
    assert str(rc.Array[rc.Array[rc.f32, 4], 3]) == "f32[4][3]"
    assert rc.Array[rc.Array[rc.f32, 4], 3].np_dtype.shape == (3, 4)
    with pytest.raises(TypeError):
        rc.Array[rc.f32, 0]
    with pytest.raises(TypeError):
        rc.Array[int, 2]
    with pytest.raises(TypeError, match="would take 4000000000 bytes"):
        rc.Array[rc.f32, 10**9]


def test_message_dtype_layout(user_module):
    mod = user_module("""
@rc.message
class M:
    a: u8
    b: f64
    c: Array[i16, 3]
    d: bool
    e: rc.Address
    f: i32
""")
    dt = mod.M.dtype
    offsets = {name: dt.fields[name][1] for name in dt.names}
    assert offsets == {"a": 0, "b": 8, "c": 16, "d": 22, "e": 24, "f": 40}
    assert dt.itemsize == 48            # 44 rounded up to 16
    assert mod.M.dtype.itemsize % 16 == 0


def test_postponed_annotations_are_read_where_the_class_was_defined(user_module):
    mod = user_module("""
        from __future__ import annotations
        import ringc as rc
        from ringc import Array, f32, i32

        @rc.message
        class Point:
            id: i32
            xy: Array[f32, 2]

        @rc.ring_kernel(capacity=8)
        class Count:
            n: i32

            def on_point(self, p: Point):
                self.n += p.id
        """, prelude=False)
    assert mod.Point.dtype.names == ("id", "xy") and mod.Point.dtype["xy"].shape == (2,)
    assert "Count" in rc.compile(mod.Count, "opencl").source


def test_message_construction_equality_and_records(user_module):
    mod = user_module("""
@rc.message
class Work:
    id: i32
    data: Array[f32, 4]
    ts: i64
""")
    w = mod.Work(id=1, data=[1, 2, 3, 4])
    assert w.ts == 0 and w.data.dtype == np.float32
    assert w == mod.Work(id=1, data=[1.0, 2.0, 3.0, 4.0], ts=0)
    assert w != mod.Work(id=2, data=[1, 2, 3, 4])
    record = w.to_record()
    assert record["id"] == 1 and list(record["data"]) == [1, 2, 3, 4]
    assert mod.Work.from_record(record) == w
    batch = np.zeros(3, dtype=mod.Work.dtype)
    batch["id"] = [7, 8, 9]
    assert mod.Work.from_record(batch[1]).id == 8
    assert "Work(id=1, data=[1.0, 2.0, 3.0, 4.0], ts=0)" == repr(w)
    with pytest.raises(TypeError, match="has no field 'nope'"):
        mod.Work(nope=1)
    with pytest.raises(TypeError, match="cannot hold"):
        mod.Work(id=2**40)
    with pytest.raises(TypeError, match="cannot hold"):
        mod.Work(id=1.5)
    with pytest.raises(TypeError, match="cannot hold"):
        mod.Work(data=[1, 2])
    with pytest.raises(TypeError, match=r"Work takes its fields by name: Work\(id=\.\.\., "):
        mod.Work(1)


def test_a_message_beyond_numpy_is_refused_at_its_class(user_module):
    with pytest.raises(rc.CompileError, match="message 'Big' would take 3221225472 bytes"):
        user_module("""
@rc.message
class Big:
    a: Array[f32, 1 << 28]
    b: Array[f32, 1 << 28]
    c: Array[f32, 1 << 28]
""")


def test_positional_kernel_options_are_refused_at_the_call(user_module, tmp_path):
    with pytest.raises(rc.CompileError) as info:
        user_module("""
@rc.ring_kernel(64)
class K:
    pass
""")
    assert "takes keyword options only" in info.value.message
    assert info.value.loc.file.startswith(str(tmp_path)) and info.value.line == 5


def test_nan_fields_compare_equal(user_module):
    mod = user_module("""
@rc.message
class M:
    x: f32
""")
    assert mod.M(x=math.nan) == mod.M(x=math.nan)


def test_kernel_options_are_recorded(user_module):
    mod = user_module("""
@rc.message
class M:
    x: f32

@rc.ring_kernel(mode="event_driven", capacity=16, instances=3, concurrency="parallel",
                backpressure="reject", domain="graph", targets=("cuda", "opencl"))
class K:
    def on_m(self, m: M):
        pass

@rc.ring_kernel
class Plain:
    def on_m(self, m: M):
        pass
""")
    opts = mod.K._ringc_kernel.options
    assert (opts.mode, opts.capacity, opts.instances, opts.concurrency, opts.backpressure,
            opts.domain, opts.targets, opts.max_batch) == (
        "event_driven", 16, 3, "parallel", "reject", "graph", ("cuda", "opencl"), 16)
    assert mod.Plain._ringc_kernel.options.capacity == 1024


def test_intrinsics_outside_a_running_kernel_say_so():
    with pytest.raises(RingcError, match=r"rc.sender\(\) can only run inside a handler"):
        rc.sender()
