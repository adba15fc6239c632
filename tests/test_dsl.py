"""The user's surface: scalar types, Array, messages with numpy layouts, kernel options."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ringc as rc
from ringc import Array, f32, f64, i16, i32
from ringc.dsl import _message_init
from ringc.errors import RingcError
from ringc.types import AddressType, ArrayType, ScalarType


@rc.message
class Rec:
    x: i32


@rc.message
class Every:
    """A field of each kind the host converts: the generated __init__ against the generic."""
    flag: rc.bool_
    small: rc.i8
    tiny: rc.u8
    short: i16
    word: rc.u32
    big: rc.i64
    ubig: rc.u64
    x: f32
    y: f64
    xs: Array[f32, 3]
    ids: Array[i16, 2]
    flags: Array[rc.bool_, 2]
    wide: Array[rc.u64, 2]
    grid: Array[Array[f64, 3], 2]
    back: rc.Address
    rec: Rec
    recs: Array[Rec, 2]


@rc.message
class Odd:
    """Field names the generated __init__ uses for itself, or nearly."""
    self: i32
    args: f32
    _rc_missing: i32
    _rc_0_make: i32


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


_NUMBERS = st.one_of(
    st.integers(-300, 300), st.integers(-2**70, 2**70), st.integers(-2**1100, 2**1100),
    st.floats(), st.floats(width=32), st.booleans(),
    st.builds(lambda make, v: make(v), st.sampled_from(
        [np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float32, np.float64, np.bool_]),
        st.integers(0, 127)))
_OTHERS = st.one_of(st.none(), st.text(max_size=3), st.just(1 + 2j), st.just(np.longdouble(0.5)),
                    st.builds(rc.Address, st.integers(0, 9), st.integers(0, 9)),
                    st.builds(Rec, x=st.integers(-5, 5)))
_ARRAYS = hnp.arrays(
    st.sampled_from([np.bool_, np.int8, np.int16, np.int64, np.uint64, np.float16, np.float32,
                     np.float64, np.longdouble, np.complex64, np.dtype("<U2")]),
    st.sampled_from([(), (2,), (3,), (2, 3), (3, 2), (3, 1)]))
_VALUES = st.recursive(
    st.one_of(_NUMBERS, _OTHERS, _ARRAYS),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple)),
    max_leaves=8)


def _outcome(build):
    """What building a message gives: the object, or (exception type, message)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return build()
        except Exception as exc:
            return type(exc), str(exc)


def _generic(cls, *args, **kwargs):
    obj = object.__new__(cls)
    _message_init(obj, *args, **kwargs)
    return obj


def _same_value(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return (a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous
                and a.flags.writeable and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same_value, a, b))
    if isinstance(a, np.floating):
        return bool(a == b or (np.isnan(a) and np.isnan(b)))
    return a == b


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # numpy's casts, both paths
@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.sampled_from([n for n, _ in Every._ringc_message.fields]), _VALUES,
                       max_size=4),
       st.lists(_VALUES, max_size=1))
def test_the_generated_constructor_is_the_generic_one(kwargs, args):
    fast = _outcome(lambda: Every(*args, **kwargs))
    generic = _outcome(lambda: _generic(Every, *args, **kwargs))
    if isinstance(generic, tuple) or isinstance(fast, tuple):
        assert fast == generic
        return
    for name, _ in Every._ringc_message.fields:
        assert _same_value(getattr(fast, name), getattr(generic, name)), name


def _fitting(ftype):
    """Values a field of `ftype` mostly takes, some just out of range or of the wrong kind."""
    if isinstance(ftype, ScalarType):
        if ftype.is_int:
            info = np.iinfo(ftype.np_dtype)
            return st.one_of(st.integers(int(info.min) - 2, int(info.max) + 2),
                             st.integers(0, 100).map(ftype.np_dtype.type), st.booleans())
        return st.one_of(st.floats(), st.floats(width=32), st.integers(-2**64, 2**64),
                         st.booleans())
    if isinstance(ftype, AddressType):
        return st.builds(rc.Address, st.integers(0, 9), st.integers(0, 9))
    if not isinstance(ftype, ArrayType):
        return st.builds(Rec, x=st.integers(-5, 5))
    items = st.lists(_fitting(ftype.elem), min_size=ftype.length, max_size=ftype.length)
    if not isinstance(ftype.elem, ScalarType):
        return st.one_of(items, items.map(tuple))
    dtypes = st.sampled_from([ftype.elem.np_dtype, np.bool_, np.int8, np.int64, np.uint64,
                              np.float16, np.float32, np.float64])
    arrays = hnp.arrays(dtypes, st.just((ftype.length,)))
    return st.one_of(items, items.map(tuple), arrays, items.map(np.array))


_FITTING = st.fixed_dictionaries({}, optional={
    name: _fitting(ftype) for name, ftype in Every._ringc_message.fields})


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@settings(max_examples=600, deadline=None)
@given(_FITTING)
def test_the_generated_constructor_converts_what_the_generic_one_does(kwargs):
    fast = _outcome(lambda: Every(**kwargs))
    generic = _outcome(lambda: _generic(Every, **kwargs))
    if isinstance(generic, tuple) or isinstance(fast, tuple):
        assert fast == generic
        return
    for name, _ in Every._ringc_message.fields:
        assert _same_value(getattr(fast, name), getattr(generic, name)), name
    assert fast == generic and Every.from_record(fast.to_record()) == fast


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["nope", "self", "xs", "x"]), _NUMBERS, max_size=3),
       st.lists(_NUMBERS, max_size=2))
def test_the_generated_constructor_raises_what_the_generic_one_does(kwargs, args):
    assert (_outcome(lambda: Every(*args, **kwargs))
            == _outcome(lambda: _generic(Every, *args, **kwargs)))


def test_omitted_fields_are_zero_and_mutable_ones_are_not_shared():
    a, b = Every(), Every()
    assert type(a.small) is np.int8 and a.small == 0 and type(a.y) is np.float64
    assert a.grid.shape == (2, 3) and a.grid.dtype == np.float64 and a.grid is not b.grid
    assert a.back == rc.Address() and a.back is not b.back
    assert a.rec == Rec() and a.rec is not b.rec and a.recs[0] is not b.recs[0]
    given = np.arange(3, dtype=np.float32)
    assert Every(xs=given).xs is not given


def test_fields_named_like_the_constructors_own_names():
    odd = Odd(self=1, args=2.5, _rc_missing=3, _rc_0_make=4)
    assert (odd.self, odd.args, odd._rc_missing, odd._rc_0_make) == (1, 2.5, 3, 4)
    assert type(odd.args) is np.float32 and Odd().self == 0
    with pytest.raises(TypeError, match=r"Odd\.args: cannot hold 'x'"):
        Odd(args="x")


@pytest.mark.parametrize("field", ["flag", "small", "big", "x", "y"])
def test_a_sequence_for_a_scalar_field_is_refused(field):
    with pytest.raises(TypeError, match=f"Every.{field}: cannot hold .*a sequence for a "
                                        f"scalar field"):
        Every(**{field: [1, 2]})
    with pytest.raises(TypeError, match="a sequence for a scalar field"):
        Every(**{field: []})
