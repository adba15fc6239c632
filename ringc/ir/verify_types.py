"""The verifier's error and the checks of types and values that both its parts use:
definitions (verify.py) and function bodies (verify_bodies.py).

`check_type` accepts a value type (scalars, addresses, the `VECTOR_TYPES`, arrays of at
least one element within MAX_ARRAY_BYTES, messages of the program); `check_value` a Python
constant of a scalar type; `container_args` and `container_result` are the types of a
container method's arguments and result, which the frontend types calls with too.

Limits: `check_type` checks the type of a value anywhere; the narrower rules of some places
(containers and initial values in state, shared arrays, handlers' parameters) are checked
by the callers.
"""

from __future__ import annotations

from .types import (
    BOOL,
    I32,
    MAX_ARRAY_BYTES,
    U64,
    VECTOR_TYPES,
    AddressType,
    ArrayType,
    ContainerType,
    Loc,
    MessageType,
    ScalarType,
    ValueType,
    VectorType,
)

__all__ = ["IRVerifyError", "check_type", "check_value", "container_args", "container_result"]


class IRVerifyError(Exception):
    """Malformed IR. `loc` is the user-source location of the statement or definition at
    fault (None when there is none); str() reads `FILE:LINE:COL: error: MESSAGE`."""

    def __init__(self, message: str, loc: Loc | None):
        self.message = message
        self.loc = loc
        super().__init__(f"{loc}: error: {message}" if loc else f"error: {message}")


# ---------------------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------------------

def check_type(t: object, messages: dict, loc: Loc, what: str, stored: bool = False) -> None:
    """`t` is a valid value type. A `stored` one (a state or message field, an array
    element) is laid out in memory, so a record there must carry its message's fields."""
    if isinstance(t, (ScalarType, AddressType)):
        return
    if isinstance(t, VectorType):
        if VECTOR_TYPES.get(t.name) != t:
            raise IRVerifyError(f"{what}: no vector type {t!r} (there are "
                                f"{', '.join(VECTOR_TYPES)})", loc)
        return
    if isinstance(t, ArrayType):
        if not isinstance(t.length, int) or isinstance(t.length, bool) or t.length < 1:
            raise IRVerifyError(f"{what}: array length must be at least 1, not {t.length}",
                                loc)
        if isinstance(t.elem, VectorType):
            raise IRVerifyError(f"{what}: an array cannot hold vectors ({t.elem})", loc)
        check_type(t.elem, messages, loc, what, stored=True)
        if t.size > MAX_ARRAY_BYTES:
            raise IRVerifyError(f"{what}: {t} would take {t.size} bytes (at most "
                                f"{MAX_ARRAY_BYTES})", loc)
        return
    if isinstance(t, ContainerType):
        raise IRVerifyError(f"{what}: a container ({t}) is only kernel state", loc)
    if isinstance(t, MessageType):
        if t.name not in messages:
            raise IRVerifyError(f"{what}: unknown message {t.name!r} (neither a built-in "
                                f"type nor a message of the program)", loc)
        declared = tuple((f.name, f.type) for f in messages[t.name].fields)
        if stored and t.fields != declared:
            raise IRVerifyError(f"{what}: record {t.name} is laid out without its fields "
                                f"(in .rir, define its message before using it)", loc)
        return
    raise IRVerifyError(f"{what}: not an IR type: {t!r}", loc)


def check_value(value: object, t: ScalarType, loc: Loc, what: str) -> None:
    """`value` is a Python bool/int/float of `t`'s kind, and an int fits `t`."""
    if t.is_bool:
        ok = isinstance(value, bool)
    elif t.is_int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and not t.fits(value):
            raise IRVerifyError(f"{what}: {value} does not fit {t}", loc)
    else:
        ok = isinstance(value, float)
    if not ok:
        raise IRVerifyError(f"{what}: {value!r} ({type(value).__name__}) is not a {t} value",
                            loc)


def container_args(t: ContainerType, method: str) -> tuple:
    """The argument types of a container method."""
    return {"push": (t.item,), "get": (t.key, t.item), "put": (t.key, t.item),
            "remove": (t.key,), "contains": (t.key,)}.get(method, ())


def container_result(t: ContainerType, method: str) -> ValueType | None:
    """The type a container method gives (None: nothing)."""
    return {"pop": t.item, "peek": t.item, "get": t.item, "len": I32, "full": BOOL,
            "empty": BOOL, "remove": BOOL, "contains": BOOL,
            "evictions": U64}.get(method)

