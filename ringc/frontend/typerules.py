"""ringc's typing rules (docs/language.md, "Semantics"), as pure functions over IR types.

- An untyped literal (a `Weak` value: a Python int or float, including module-level
  constants) takes the type of the typed operand it meets; alone an int is `i32` (`i64` if
  it does not fit) and a float is `f32`.
- Typed ints promote as numpy does, except that mixing `i64` and `u64` (numpy: `f64`) is an
  error. An int meeting a float gives that float's type.
- `/` between ints gives `f32` (`f64` if either is 64-bit); a weak float meeting an int does
  the same.
- Stores convert as numpy's `same_kind` casting allows; weak literals must fit.

Errors are raised as `TypeRuleError(message, hint)`; the caller adds the location.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.types import BOOL, F32, F64, I32, I64, SCALAR_TYPES, ScalarType


class TypeRuleError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Weak:
    """An untyped compile-time constant: a Python int or float."""
    value: int | float

    @property
    def is_float(self) -> bool:
        return isinstance(self.value, float)


def scalar_of_dtype(dtype: np.dtype) -> ScalarType:
    for st in SCALAR_TYPES.values():
        if st.np_dtype == dtype:
            return st
    raise TypeRuleError(f"no ringc type for {dtype}")


def default_type(weak: Weak) -> ScalarType:
    """The type a literal has alone."""
    if weak.is_float:
        return F32
    return I32 if I32.fits(weak.value) else I64 if I64.fits(weak.value) else _too_big(weak)


def _too_big(weak: Weak) -> ScalarType:
    if 0 <= weak.value <= np.iinfo(np.uint64).max:
        return SCALAR_TYPES["u64"]
    raise TypeRuleError(f"integer literal {weak.value} does not fit in 64 bits")


def float_for_int(t: ScalarType) -> ScalarType:
    """The float an int meets in `/` or with a weak float: f32, f64 for 64-bit ints."""
    return F64 if t.bits == 64 else F32


def promote(a: ScalarType, b: ScalarType, what: str) -> ScalarType:
    """The common type of two typed numeric operands."""
    if a == b:
        return a
    if a.is_bool or b.is_bool:
        if a.is_bool and b.is_bool:
            return BOOL
        raise TypeRuleError(f"{what} mixes bool with {b if a.is_bool else a}",
                            "convert the bool explicitly, e.g. i32(flag)")
    if a.is_float and b.is_float:
        return a if a.bits >= b.bits else b
    if a.is_float:
        return a
    if b.is_float:
        return b
    result = np.promote_types(a.np_dtype, b.np_dtype)
    if result.kind == "f":
        raise TypeRuleError(f"{what} mixes {a} and {b}, which have no common integer type",
                            "cast one side explicitly, e.g. i64(x) or u64(x)")
    return scalar_of_dtype(result)


def weak_to(weak: Weak, target: ScalarType) -> int | float | bool:
    """The value of a literal given the type it meets; raise if it does not fit."""
    if target.is_bool:
        raise TypeRuleError(f"literal {weak.value!r} used as a bool",
                            "write True or False, or compare: x != 0")
    if target.is_float:
        with np.errstate(over="ignore"):
            value = float(target.np_dtype.type(weak.value))
        if np.isfinite(weak.value) and not np.isfinite(value):
            raise TypeRuleError(f"float literal {weak.value!r} overflows {target}",
                                "use a wider type or a smaller value")
        return value
    if weak.is_float:
        raise TypeRuleError(f"float literal {weak.value!r} where {target} is needed",
                            f"cast explicitly: {target}({weak.value!r})")
    if not target.fits(weak.value):
        lo, hi = target.min_max()
        raise TypeRuleError(f"literal {weak.value} does not fit in {target} ({lo}..{hi})",
                            "cast explicitly to a wider type")
    return int(weak.value)


def meet_weak(weak: Weak, typed: ScalarType, what: str) -> ScalarType:
    """The type of an operation between a literal and a typed operand."""
    if typed.is_bool:
        raise TypeRuleError(f"{what} mixes bool with a number",
                            "convert the bool explicitly, e.g. i32(flag)")
    if weak.is_float and typed.is_int:
        return float_for_int(typed)
    return typed


def can_store(src: ScalarType, dst: ScalarType) -> bool:
    """numpy's same_kind rule for storing into a field, state or message."""
    return bool(np.can_cast(src.np_dtype, dst.np_dtype, casting="same_kind"))


def fold(op: str, a: int | float, b: int | float) -> int | float | bool:
    """Evaluate an operation on two literals at compile time, with Python's semantics."""
    try:
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        if op == "div":
            return a / b
        if op == "floordiv":
            return a // b
        if op == "mod":
            return a % b
        if op in ("bitand", "bitor", "bitxor", "shl", "shr"):
            if isinstance(a, float) or isinstance(b, float):
                raise TypeRuleError("bitwise operators need integers")
            if op in ("shl", "shr") and b < 0:
                raise TypeRuleError(f"negative shift count {b}")
            return {"bitand": a & b, "bitor": a | b, "bitxor": a ^ b,
                    "shl": a << b if b < 128 else 0, "shr": a >> b}[op]
        return {"eq": a == b, "ne": a != b, "lt": a < b, "le": a <= b,
                "gt": a > b, "ge": a >= b}[op]
    except ZeroDivisionError:
        raise TypeRuleError("division by zero in a constant expression") from None
    except OverflowError:
        raise TypeRuleError("constant expression overflows") from None


def fold_unary(op: str, a: int | float) -> int | float:
    if op == "neg":
        return -a
    if op == "invert":
        if isinstance(a, float):
            raise TypeRuleError("~ needs an integer")
        return ~a
    raise AssertionError(op)
