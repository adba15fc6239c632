"""The value types of the IR and their memory layout.

These objects do two jobs. In a user's annotations they name types (`x: i32`,
`data: Array[f32, 4]`); in a handler body `i32(x)` is an explicit cast. The same objects are
the IR's types: `ScalarType`, `ArrayType`, `AddressType` and `MessageType` are frozen and
compare by value, so the IR and the printer/parser share them.

A message type is also a record type: state, array elements, locals and message fields may
hold records, and arrays nest (`Array[Array[f32, 4], 8]` indexes as `a[i][j]`).

Layout rule, identical on every target: fields in declaration order, each at its natural
alignment (its scalar size; a vector its whole size, as `float4` is 16 bytes aligned 16;
arrays align as their element, records as their widest field),
the whole struct padded to a multiple of its alignment, and message payloads (so every
record) further padded to a multiple of 16 bytes. `bool` is stored as one byte holding 0
or 1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Loc:
    """A place in user source: file name, 1-based line, 1-based column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


# name -> (numpy dtype string, kind, bits)
_SCALARS: dict[str, tuple[str, str, int]] = {
    "bool": ("bool", "b", 8),
    "i8": ("int8", "i", 8),
    "i16": ("int16", "i", 16),
    "i32": ("int32", "i", 32),
    "i64": ("int64", "i", 64),
    "u8": ("uint8", "u", 8),
    "u16": ("uint16", "u", 16),
    "u32": ("uint32", "u", 32),
    "u64": ("uint64", "u", 64),
    "f32": ("float32", "f", 32),
    "f64": ("float64", "f", 64),
}

MESSAGE_ALIGN = 16
MAX_ARRAY_BYTES = 1 << 30            # one array: far beyond any device's state or message
MAX_STRUCT_BYTES = (1 << 31) - 1     # a message or a kernel's state (numpy's itemsize limit)


@dataclass(frozen=True)
class ScalarType:
    """`bool`, a fixed-width integer or an IEEE float. Calling one casts a value to it."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in _SCALARS:
            raise ValueError(f"unknown scalar type {self.name!r}")

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(_SCALARS[self.name][0])

    @property
    def kind(self) -> str:
        """'b' bool, 'i' signed int, 'u' unsigned int, 'f' float (numpy's kind letters)."""
        return _SCALARS[self.name][1]

    @property
    def bits(self) -> int:
        return _SCALARS[self.name][2]

    @property
    def size(self) -> int:
        return self.np_dtype.itemsize

    @property
    def align(self) -> int:
        return self.size

    @property
    def is_int(self) -> bool:
        return self.kind in "iu"

    @property
    def is_float(self) -> bool:
        return self.kind == "f"

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

    @property
    def is_signed(self) -> bool:
        return self.kind == "i"

    def min_max(self) -> tuple[int, int]:
        info = np.iinfo(self.np_dtype)
        return int(info.min), int(info.max)

    def fits(self, value: int) -> bool:
        lo, hi = self.min_max()
        return lo <= value <= hi

    def __call__(self, value):
        """Cast a Python or numpy value as compiled code does: ints wrap; float to int
        truncates toward zero, saturates at the range ends and maps NaN to 0."""
        return cast_value(value, self)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


@dataclass(frozen=True)
class VectorType:
    """`f32x2`, `f32x4`, `i32x4`, `u32x4` (`VECTOR_TYPES`): `lanes` values of scalar type
    `elem`, a value like a scalar (copied, never shared). Laid out as every target lays out
    its `float4` (`float2`, `int4`, `uint4`): the lanes in order, size and alignment both
    `lanes * elem.size` (16 bytes for the four-lane types, 8 for `f32x2`). Its numpy dtype
    is the subarray `(elem, (lanes,))`; a struct holding one pads to its alignment."""

    elem: ScalarType
    lanes: int

    @property
    def name(self) -> str:
        return f"{self.elem.name}x{self.lanes}"

    @property
    def components(self) -> tuple[str, ...]:
        """Its lanes' names, in order: `x y` or `x y z w`."""
        return COMPONENTS[:self.lanes]

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype((self.elem.np_dtype, (self.lanes,)))

    @property
    def size(self) -> int:
        return self.elem.size * self.lanes

    @property
    def align(self) -> int:
        return self.size

    def __call__(self, *values):
        """On the host: a numpy array of the lanes, `f32x4(1, 2, 3, 4)`, or one value in
        every lane, `f32x4(0.5)` (a message's vector field holds such an array)."""
        if len(values) not in (1, self.lanes):
            raise TypeError(f"{self.name} takes {self.lanes} values or one (every lane)")
        if len(values) == 1:
            values = values * self.lanes
        return np.array([cast_value(v, self.elem) for v in values], self.elem.np_dtype)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


COMPONENTS = ("x", "y", "z", "w")


@dataclass(frozen=True)
class AddressType:
    """A return address (`rc.Address`): the queue to answer and the conversation's
    correlation id. Opaque to user code; storable in state and message fields."""

    @property
    def np_dtype(self) -> np.dtype:
        return ADDRESS_DTYPE

    @property
    def size(self) -> int:
        return 16

    @property
    def align(self) -> int:
        return 8

    def __repr__(self) -> str:
        return "address"

    __str__ = __repr__


@dataclass(frozen=True)
class ArrayType:
    """`Array[T, n]`: n elements of a scalar type, `rc.Address`, a record (message) type or
    an array type, fixed size."""

    elem: ScalarType | AddressType | MessageType | ArrayType
    length: int

    @property
    def np_dtype(self) -> np.dtype:
        """A subarray dtype of the innermost element type with the whole shape (numpy
        reads a nested array as one multi-dimensional field)."""
        return np.dtype((leaf_type(self).np_dtype, array_shape(self)))

    @property
    def size(self) -> int:
        return self.elem.size * self.length

    @property
    def align(self) -> int:
        return self.elem.align

    def __repr__(self) -> str:
        return f"{self.elem}[{self.length}]"

    __str__ = __repr__


@dataclass(frozen=True)
class MessageType:
    """The type of a value that is a whole message or record (a handler's parameter, a
    local, a state field, an array element, a message field). Named and compared by name;
    `fields`, where the maker knew them (the frontend, the .rir parser), give its layout,
    which is the message's payload layout."""

    name: str
    fields: tuple[tuple[str, FieldType], ...] | None = field(default=None, compare=False,
                                                             repr=False)

    def _fields(self) -> list[tuple[str, FieldType]]:
        if self.fields is None:
            raise ValueError(f"the layout of message type {self.name!r} is not known here")
        return list(self.fields)

    @property
    def np_dtype(self) -> np.dtype:
        return struct_dtype(self._fields(), pad_to=MESSAGE_ALIGN)

    @property
    def size(self) -> int:
        return struct_layout(self._fields(), pad_to=MESSAGE_ALIGN)[1]

    @property
    def align(self) -> int:
        """The C struct's alignment: its widest field's (its size is a multiple of 16)."""
        return struct_layout(self._fields())[2]

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


CONTAINER_KINDS = {"queue": "Queue", "stack": "Stack", "map": "Map", "lru": "LRUMap"}
MAP_KINDS = ("map", "lru")


@dataclass(frozen=True)
class ContainerType:
    """A fixed-capacity container of kernel state, at most `capacity` items:
    - `rc.Queue[T, n]` (first in, first out): a ring (`head`, `count`, `items`);
    - `rc.Stack[T, n]` (last in, first out): `count`, `items`, the top at `items[count-1]`;
    - `rc.Map[K, V, n]`: an open-addressing hash table of `slots` (a power of two, at least
      2n) with linear probing and deletion by backward shift: `count`, `keys`, `used`,
      `items` (the values);
    - `rc.LRUMap[K, V, n]`: the same, plus a list of slots from most to least recently
      used (`head`, `tail`, `prev`, `next`; `slots` means none) and `evictions`.
    `item` is a scalar, address or record type; `key` (maps) an integer type."""

    kind: str
    item: ScalarType | AddressType | MessageType
    capacity: int
    key: ScalarType | None = None

    @property
    def slots(self) -> int:
        """Rows of a map's table (the capacity of a queue or stack)."""
        if self.kind not in MAP_KINDS:
            return self.capacity
        return 1 << max(1, (2 * self.capacity - 1).bit_length())

    @property
    def fields(self) -> list[tuple[str, FieldType]]:
        items = ("items", ArrayType(self.item, self.slots))
        if self.kind == "queue":
            return [("head", U32), ("count", U32), items]
        if self.kind == "stack":
            return [("count", U32), items]
        table = [("keys", ArrayType(self.key, self.slots)),
                 ("used", ArrayType(SCALAR_TYPES["u8"], self.slots)), items]
        if self.kind == "map":
            return [("count", U32), *table]
        links = [("prev", ArrayType(U32, self.slots)), ("next", ArrayType(U32, self.slots))]
        return [("count", U32), ("head", U32), ("tail", U32), ("evictions", U64), *table,
                *links]

    @property
    def np_dtype(self) -> np.dtype:
        return struct_dtype(self.fields)

    @property
    def size(self) -> int:
        return struct_layout(self.fields)[1]

    @property
    def align(self) -> int:
        return struct_layout(self.fields)[2]

    def __repr__(self) -> str:
        key = f"{self.key}, " if self.key is not None else ""
        return f"{self.kind}[{key}{self.item}, {self.capacity}]"

    __str__ = __repr__


ValueType = ScalarType | VectorType | AddressType | ArrayType | MessageType | ContainerType
FieldType = ScalarType | VectorType | AddressType | ArrayType | MessageType | ContainerType


def leaf_type(t: ValueType) -> ValueType:
    """The element type of the innermost array of `t`, or `t` itself."""
    while isinstance(t, ArrayType):
        t = t.elem
    return t


def array_shape(t: ArrayType) -> tuple[int, ...]:
    """The lengths of nested arrays, outermost first: `Array[Array[f32, 4], 8]` -> (8, 4)."""
    shape = []
    while isinstance(t, ArrayType):
        shape.append(t.length)
        t = t.elem
    return tuple(shape)


def scalar_types(t: ValueType) -> set[ScalarType]:
    """Every scalar type `t` holds, through arrays and record fields."""
    t = leaf_type(t)
    if isinstance(t, ScalarType):
        return {t}
    if isinstance(t, VectorType):
        return {t.elem}
    if isinstance(t, MessageType) and t.fields is not None:
        return set().union(*(scalar_types(ft) for _, ft in t.fields))
    return set()

ADDRESS_DTYPE = np.dtype({"names": ["queue", "reserved", "correlation"],
                          "formats": ["<u4", "<u4", "<u8"],
                          "offsets": [0, 4, 8], "itemsize": 16})

SCALAR_TYPES: dict[str, ScalarType] = {name: ScalarType(name) for name in _SCALARS}
ADDRESS = AddressType()
BOOL = SCALAR_TYPES["bool"]
I32 = SCALAR_TYPES["i32"]
I64 = SCALAR_TYPES["i64"]
U32 = SCALAR_TYPES["u32"]
U64 = SCALAR_TYPES["u64"]
F32 = SCALAR_TYPES["f32"]
F64 = SCALAR_TYPES["f64"]
# the vector types there are (docs/language.md, "Vectors")
VECTOR_TYPES: dict[str, VectorType] = {v.name: v for v in (
    VectorType(F32, 2), VectorType(F32, 4), VectorType(I32, 4), VectorType(U32, 4))}
_VECTOR_NAME = re.compile(r"(?:bool|[iuf]\d+)x\d+")


def unknown_vector(name: str) -> str | None:
    """For a name spelled like a vector type that is none (`f64x4`, `i32x2`): a sentence
    saying which exist; None otherwise."""
    if name in VECTOR_TYPES or not _VECTOR_NAME.fullmatch(name):
        return None
    return f"there is no vector type {name}: the vector types are {', '.join(VECTOR_TYPES)}"


def struct_layout(fields: list[tuple[str, FieldType]],
                  pad_to: int = 1) -> tuple[list[int], int, int]:
    """(offsets, size, align) of a C struct with natural alignment, size padded to a
    multiple of max(align, pad_to)."""
    offsets = []
    offset = 0
    align = 1
    for _, ftype in fields:
        offset = _round_up(offset, ftype.align)
        offsets.append(offset)
        offset += ftype.size
        align = max(align, ftype.align)
    size = _round_up(max(offset, 1), max(align, pad_to))
    return offsets, size, max(align, pad_to)


def struct_dtype(fields: list[tuple[str, FieldType]], pad_to: int = 1) -> np.dtype:
    """The numpy structured dtype with exactly the C layout of `struct_layout`."""
    offsets, size, _ = struct_layout(fields, pad_to)
    return np.dtype({"names": [n for n, _ in fields],
                     "formats": [t.np_dtype for _, t in fields],
                     "offsets": offsets, "itemsize": size})


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def cast_value(value, target: ScalarType):
    """Convert `value` to `target` with ringc's cast semantics, as a numpy scalar."""
    if target.is_bool:
        return np.bool_(bool(value))
    if target.is_float:
        return target.np_dtype.type(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return target.np_dtype.type(0)
        lo, hi = target.min_max()
        if value <= lo:
            return target.np_dtype.type(lo)
        if value >= hi:
            return target.np_dtype.type(hi)
        value = int(value)
    value = int(value)
    bits = target.bits
    value &= (1 << bits) - 1
    if target.is_signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return target.np_dtype.type(value)
