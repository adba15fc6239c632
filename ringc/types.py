"""The types users write in annotations: scalars (`i32`, `f32`, ...), `Array[T, n]` and
`rc.Address`.

The scalar, array and address objects are the IR's own types (`ringc.ir.types`): calling a
scalar type casts (`i32(x)`), in a handler and on the host alike.
"""

from __future__ import annotations

from .ir.types import (
    ADDRESS,
    ADDRESS_DTYPE,
    BOOL,
    F32,
    F64,
    I32,
    I64,
    MESSAGE_ALIGN,
    SCALAR_TYPES,
    U32,
    AddressType,
    ArrayType,
    FieldType,
    MessageType,
    ScalarType,
    ValueType,
    cast_value,
    struct_dtype,
    struct_layout,
)

__all__ = ["ADDRESS", "ADDRESS_DTYPE", "BOOL", "F32", "F64", "I32", "I64", "MESSAGE_ALIGN",
           "SCALAR_TYPES", "U32", "AddressType", "ArrayType", "FieldType", "MessageType",
           "ScalarType", "ValueType", "cast_value", "struct_dtype", "struct_layout",
           "Array", "Address", "resolve_type"]


class _ArrayFactory:
    """`Array[T, n]` in annotations."""

    def __getitem__(self, item) -> ArrayType:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError("write Array[T, n], e.g. Array[f32, 4]")
        elem, length = item
        if elem is Address:
            elem = ADDRESS
        elif elem is bool:
            elem = BOOL
        if not isinstance(elem, (ScalarType, AddressType)):
            raise TypeError(f"Array elements must be a scalar type or rc.Address, not {elem!r}")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise TypeError(f"Array length must be a positive int, not {length!r}")
        return ArrayType(elem, length)

    def __repr__(self) -> str:
        return "Array"


Array = _ArrayFactory()


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
    if isinstance(annotation, (ScalarType, ArrayType, AddressType)):
        return annotation
    if annotation is Address:
        return ADDRESS
    return None


