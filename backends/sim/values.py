"""How the simulator holds a value of each IR type, and the frame its closures run on.

Values are: ints as Python ints kept in their type's range (two's-complement
wrap after every operation), bools as Python bools, `f32`/`f64` as `numpy.float32` /
`numpy.float64` scalars (numpy's scalar arithmetic is single IEEE operations in that
precision: no wider intermediate, no fused multiply-add), addresses as `(queue, reserved,
correlation)` tuples, vectors as 1-d numpy arrays of their lanes (never shared: a read from
memory copies, a store copies, a component store writes its own copy), arrays as numpy
arrays (views where they live in state or a message), messages as one-element structured
arrays ("records": field access through the array keeps padding bytes intact, which
`numpy.void` does not). State is a one-element record *view* into the arena, written in
place.

A frame (`Frame`) is the list one call of a compiled function works in: the state, the
`Effects`, the instance, then one slot per parameter and local and one per try statement
(`ExpressionCompiler` numbers them, `interpreter._Function` fills them); `Ev` is a closure
compiled from the IR, run on a frame.

Limits: a value does not carry its IR type (an `i8` and a `u64` are both Python ints): the
closures know it from the IR they were compiled from, and the functions here take it as an
argument.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ringc.ir.types import (
    ADDRESS_DTYPE,
    AddressType,
    ArrayType,
    ContainerType,
    MessageType,
    ScalarType,
    ValueType,
    VectorType,
    array_shape,
    leaf_type,
)
from ringc.protocol import REASONS

from .containers import MapOps, SequenceOps

__all__ = ["Fault", "DIVISION_BY_ZERO", "INDEX_OUT_OF_RANGE", "Address", "Frame", "Ev",
           "Record", "STATE", "EFFECTS", "INSTANCE", "FIRST_LOCAL", "ADDRESS_FIELDS",
           "wrapper", "loader", "const", "caster", "zero_factory", "container_ops",
           "item_loader", "copy_record", "store_value"]

_CODES = {name: code for code, name in REASONS.items()}
DIVISION_BY_ZERO, INDEX_OUT_OF_RANGE = _CODES["division_by_zero"], _CODES["index_out_of_range"]
Address = tuple[int, int, int]          # (queue, reserved, correlation)
Frame = list                            # [state, effects, instance, local 0, local 1, ...]
Ev = Callable[[Frame], object]
Record = np.ndarray                     # a message or state: a one-element structured array
STATE, EFFECTS, INSTANCE, FIRST_LOCAL = 0, 1, 2, 3
ADDRESS_FIELDS = {name: i for i, name in enumerate(ADDRESS_DTYPE.names)}


class Fault(Exception):
    """A handler ended with a dead-letter reason code (2, 3, or 16+ for `rc.fail`)."""

    def __init__(self, reason: int):
        super().__init__(reason)
        self.reason = reason


# ---- values of each type -------------------------------------------------------------------

def wrapper(t: ScalarType) -> Callable[[int], int]:
    """Two's-complement wrap of a Python int into `t`'s range."""
    mask = (1 << t.bits) - 1
    if t.is_signed:
        half = 1 << (t.bits - 1)
        return lambda v: ((v + half) & mask) - half
    return lambda v: v & mask


def loader(t: ValueType) -> Callable | None:
    """Converts an element read from numpy memory to a value (None: use it as it is)."""
    if isinstance(t, ScalarType):
        return int if t.is_int else bool if t.is_bool else None
    if isinstance(t, AddressType):
        return np.void.item
    if isinstance(t, VectorType):
        return np.array                 # a copy: the value outlives the memory it came from
    return None


def const(value: object, t: ScalarType) -> object:
    if t.is_bool:
        return bool(value)
    if t.is_int:
        return wrapper(t)(int(value))
    return t.np_dtype.type(value)


def caster(src: ScalarType, dst: ScalarType) -> Callable | None:
    """The conversion `dst(x)` of the C code (None: nothing to do)."""
    if src == dst:
        return None
    if dst.is_bool:
        return lambda v: bool(v != 0)
    if dst.is_float:
        make = dst.np_dtype.type
        if src.is_float:
            return make
        if src.is_bool:
            return lambda v: make(1.0 if v else 0.0)
        if dst.bits == 64:
            return lambda v: make(float(v))          # Python rounds ints correctly

        def int_to_f32(v: int):
            if -(1 << 53) <= v <= 1 << 53:             # exact as a double: one rounding
                return make(v)
            return make(np.int64(v) if v < 1 << 63 else np.uint64(v))
        return int_to_f32
    if src.is_float:
        lo, hi = dst.min_max()
        flo, fhi = float(src.np_dtype.type(lo)), float(src.np_dtype.type(hi))

        def f2i(v):
            if v != v:
                return 0
            if v <= flo:
                return lo
            if v >= fhi:
                return hi
            return int(v)
        return f2i
    if src.is_bool:
        return int
    return wrapper(dst)


def zero_factory(t: ValueType, messages: dict[str, np.dtype]) -> Callable[[], object]:
    """A factory of the zero value of `t` (fresh objects for mutable values)."""
    if isinstance(t, ScalarType):
        value = const(0, t)
        return lambda: value
    if isinstance(t, AddressType):
        return lambda: (0, 0, 0)
    if isinstance(t, VectorType):
        return lambda: np.zeros(t.lanes, t.elem.np_dtype)
    if isinstance(t, ArrayType):
        leaf, shape = leaf_type(t), array_shape(t)
        dtype = messages[leaf.name] if isinstance(leaf, MessageType) else leaf.np_dtype
        return lambda: np.zeros(shape, dtype)
    dtype = messages[t.name]
    return lambda: np.zeros(1, dtype)


def _raise_fault(code: int):
    raise Fault(code)


@functools.cache
def container_ops(t: ContainerType) -> SequenceOps | MapOps:
    """The slot arithmetic of a container type (backends/sim/containers.py)."""
    return MapOps(t, _raise_fault) if t.key is not None else SequenceOps(t, _raise_fault)


def item_loader(t: ValueType) -> Callable[[np.ndarray, int], object]:
    """A function (items array, slot) -> the item's value: a copy of a record (the slot may
    be reused once popped), a Python value of a scalar or address."""
    if isinstance(t, MessageType):
        return lambda items, slot: copy_record(items[slot:slot + 1])
    load = loader(t) or (lambda v: v)
    return lambda items, slot: load(items[slot])


def copy_record(record: Record) -> Record:
    """A byte-for-byte copy of a record, padding included, as C copies a struct (numpy
    copies a structured array with padding field by field, leaving the padding undefined)."""
    return record.view(np.uint8).copy().view(record.dtype)


def store_value(container, key, value) -> None:
    """`container[key] = value`; a record (a one-element array) is stored byte for byte
    into numpy memory (state, a message, an array of records), as C copies a struct."""
    if isinstance(value, np.ndarray) and value.dtype.names is not None \
            and isinstance(container, np.ndarray):
        container[key:key + 1].view(np.uint8)[...] = value.view(np.uint8)
    else:
        container[key] = value

