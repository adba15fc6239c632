"""The types users write in annotations: scalars (`i32`, `f32`, ...), vectors (`f32x4`,
...), `Array[T, n]`,
`rc.Address` and message classes (as record types).

The scalar, array and address objects are the IR's own types (`ringc.ir.types`): calling a
scalar type casts (`i32(x)`), in a handler and on the host alike.

To a type checker, `Array`, `Queue`, `Stack`, `Map`, `LRUMap` and `Shared` are `Any`: their
subscripts take lengths and capacities (`Array[f32, 4]`), which no static type can, so a
field or local they annotate is not checked (the compiler checks it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .ir.types import (
    ADDRESS,
    ADDRESS_DTYPE,
    BOOL,
    F32,
    F64,
    I32,
    I64,
    MAX_ARRAY_BYTES,
    MESSAGE_ALIGN,
    SCALAR_TYPES,
    U32,
    VECTOR_TYPES,
    AddressType,
    ArrayType,
    ContainerType,
    FieldType,
    MessageType,
    ScalarType,
    ValueType,
    VectorType,
    cast_value,
    struct_dtype,
    struct_layout,
)

__all__ = ["ADDRESS", "ADDRESS_DTYPE", "BOOL", "F32", "F64", "I32", "I64", "MESSAGE_ALIGN",
           "SCALAR_TYPES", "U32", "VECTOR_TYPES", "VectorType", "AddressType", "ArrayType",
           "FieldType", "MessageType",
           "ScalarType", "ValueType", "cast_value", "struct_dtype", "struct_layout",
           "Array", "Address", "Queue", "Stack", "Map", "LRUMap", "ContainerType",
           "Shared", "SharedArray", "resolve_type",
           "MAX_ARRAY_BYTES"]


class _ArrayFactory:
    """`Array[T, n]` in annotations: T a scalar type, `rc.Address`, a message class (a
    record) or another `Array`."""

    def __getitem__(self, item) -> ArrayType:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError("write Array[T, n], e.g. Array[f32, 4]")
        elem, length = item
        elem = resolve_type(elem)
        if isinstance(elem, ContainerType):
            raise TypeError(f"an Array cannot hold containers ({elem}): containers are "
                            f"kernel state of their own")
        if isinstance(elem, VectorType):
            raise TypeError(f"an Array cannot hold vectors ({elem}): use Array[{elem.elem}, "
                            f"{elem.lanes} * n] with rc.{elem}.load(a, i) and v.store(a, i)")
        if elem is None:
            raise TypeError(f"Array elements must be a scalar type, rc.Address, a message "
                            f"class or an Array, not {item[0]!r}")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise TypeError(f"Array length must be a positive int, not {length!r}")
        if elem.size * length > MAX_ARRAY_BYTES:
            raise TypeError(f"Array[{elem}, {length}] would take {elem.size * length} bytes "
                            f"(at most {MAX_ARRAY_BYTES})")
        return ArrayType(elem, length)

    def __repr__(self) -> str:
        return "Array"


if TYPE_CHECKING:
    Array: Any
else:
    Array = _ArrayFactory()


class _ContainerFactory:
    """`Queue[T, n]` / `Stack[T, n]` in a kernel's state annotations."""

    def __init__(self, kind: str, spelled: str):
        self.kind, self.spelled = kind, spelled

    def __getitem__(self, item) -> ContainerType:
        example = f"{self.spelled}[Job, 64]"
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"write {self.spelled}[T, n], e.g. {example}")
        elem, capacity = resolve_type(item[0]), item[1]
        if not isinstance(elem, (ScalarType, AddressType, MessageType)):
            raise TypeError(f"{self.spelled} items must be a scalar type, rc.Address or a "
                            f"message class, not {item[0]!r}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise TypeError(f"{self.spelled} capacity must be a positive int, not "
                            f"{capacity!r}")
        if elem.size * capacity > MAX_ARRAY_BYTES:
            raise TypeError(f"{self.spelled}[{elem}, {capacity}] would take "
                            f"{elem.size * capacity} bytes (at most {MAX_ARRAY_BYTES})")
        return ContainerType(self.kind, elem, capacity)

    def __repr__(self) -> str:
        return self.spelled


class _MapFactory:
    """`Map[K, V, n]` / `LRUMap[K, V, n]` in a kernel's state annotations."""

    def __init__(self, kind: str, spelled: str):
        self.kind, self.spelled = kind, spelled

    def __getitem__(self, item) -> ContainerType:
        if not isinstance(item, tuple) or len(item) != 3:
            raise TypeError(f"write {self.spelled}[K, V, n], e.g. {self.spelled}[i32, f32, 64]")
        key = resolve_type(item[0])
        if not (isinstance(key, ScalarType) and key.is_int):
            raise TypeError(f"{self.spelled} keys are an integer type, not {item[0]!r}")
        values = Queue[item[1], item[2]]          # the same rules as a queue's items
        return ContainerType(self.kind, values.item, values.capacity, key)

    def __repr__(self) -> str:
        return self.spelled


if TYPE_CHECKING:
    Queue: Any
    Stack: Any
    Map: Any
    LRUMap: Any
else:
    Queue = _ContainerFactory("queue", "Queue")
    Stack = _ContainerFactory("stack", "Stack")
    Map = _MapFactory("map", "Map")
    LRUMap = _MapFactory("lru", "LRUMap")


class SharedArray:
    """What `rc.Shared[Array[T, n]]` names: a local array of a cooperative kernel that the
    lanes of a work-group share (docs/language.md, "Cooperative kernels"). Not a field
    type: state and messages cannot hold one."""

    __slots__ = ("array",)

    def __init__(self, array: ArrayType):
        self.array = array

    def __eq__(self, other) -> bool:
        return isinstance(other, SharedArray) and self.array == other.array

    def __hash__(self) -> int:
        return hash(("shared", self.array))

    def __repr__(self) -> str:
        return f"Shared[{self.array}]"


class _SharedFactory:
    """`rc.Shared[Array[T, n]]` in a cooperative kernel's local annotations."""

    def __getitem__(self, item) -> SharedArray:
        if not isinstance(item, ArrayType):
            raise TypeError(f"write rc.Shared[Array[T, n]] (an array of scalars), not "
                            f"rc.Shared[{item!r}]")
        leaf = item
        while isinstance(leaf, ArrayType):
            leaf = leaf.elem
        if not isinstance(leaf, ScalarType):
            raise TypeError(f"a shared array holds scalars (nested arrays of them too), not "
                            f"{leaf}")
        return SharedArray(item)

    def __repr__(self) -> str:
        return "Shared"


if TYPE_CHECKING:
    Shared: Any
else:
    Shared = _SharedFactory()


class Address:
    """`rc.Address` in annotations; on the host, a return address value."""

    __slots__ = ("queue", "correlation")

    def __init__(self, queue: int = 0, correlation: int = 0):
        self.queue = int(queue)
        self.correlation = int(correlation)

    def __eq__(self, other) -> bool:
        return (isinstance(other, Address) and self.queue == other.queue
                and self.correlation == other.correlation)

    def __hash__(self) -> int:
        return hash((self.queue, self.correlation))

    def __repr__(self) -> str:
        return f"Address(queue={self.queue}, correlation={self.correlation})"


def resolve_type(annotation) -> FieldType | None:
    """The field type an annotation object names, or None when it names none."""
    if isinstance(annotation, (ScalarType, VectorType, ArrayType, AddressType, ContainerType)):
        return annotation
    if annotation is Address:
        return ADDRESS
    if annotation is bool:
        return BOOL
    spec = getattr(annotation, "_ringc_message", None) if isinstance(annotation, type) else None
    return spec.type if spec is not None else None     # a message class names its record


