"""Static name resolution: what a name or dotted name in user code refers to.

Handler bodies are compiled, not run, so names are resolved against the defining module's
globals at compile time: scalar types, message classes, kernels, device functions,
`ringc` and `math` (under any alias), intrinsics imported by name, and module-level
int/float/bool constants.
"""

from __future__ import annotations

import ast
import builtins
import math
import types
from dataclasses import dataclass

from .. import intrinsics
from ..ir.types import ArrayType, ScalarType, unknown_vector
from ..types import Address, Array, LRUMap, Map, Queue, Shared, Stack


@dataclass(frozen=True)
class Unresolved:
    """A dotted name that names nothing static (an error for the caller to report); `why`
    says what was wrong where more is known than the name."""
    dotted: str
    why: str = ""


def dotted_name(node: ast.AST) -> str | None:
    """`a.b.c` for a chain of Name/Attribute nodes, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def resolve(node: ast.AST, module_globals: dict) -> object:
    """The Python object a Name/Attribute chain names in `module_globals`, or Unresolved."""
    dotted = dotted_name(node)
    if dotted is None:
        return Unresolved("<expression>")
    head, *rest = dotted.split(".")
    if head in module_globals:
        obj = module_globals[head]
    elif hasattr(builtins, head):
        obj = getattr(builtins, head)
    else:
        return Unresolved(dotted)
    for attr in rest:
        if not isinstance(obj, (types.ModuleType, type)) or not hasattr(obj, attr):
            return Unresolved(dotted)
        obj = getattr(obj, attr)
    return obj


def intrinsic_name(obj: object) -> str | None:
    """'send', 'atomic_add', ... when obj is one of ringc's intrinsics."""
    for name, fn in intrinsics.INTRINSIC_FUNCTIONS.items():
        if obj is fn:
            return name
    return None


MATH_NAMES = {getattr(math, n): n for n in (
    "sqrt", "exp", "log", "sin", "cos", "tan", "floor", "ceil", "fabs", "pow",
    "isnan", "isinf", "fma") if hasattr(math, n)}      # math.fma: Python 3.13 and later
BUILTIN_MATH = {min: "min", max: "max", abs: "abs"}


def math_function(obj: object) -> str | None:
    try:
        return MATH_NAMES.get(obj) or BUILTIN_MATH.get(obj)
    except TypeError:  # unhashable objects name no function
        return None


def math_fma(node: ast.AST, module_globals: dict) -> bool:
    """Is `node` `math.fma` (under any alias of `math`)? Python before 3.13 has no
    math.fma, so the name is recognised by its spelling; handlers are compiled, not run."""
    return (isinstance(node, ast.Attribute) and node.attr == "fma"
            and resolve(node.value, module_globals) is math)


def unknown_vector_hint(dotted: str) -> str | None:
    """A hint for a name like `rc.f64x4` that spells a vector type ringc does not have."""
    return unknown_vector(dotted.rsplit(".", 1)[-1])


def static_type(node: ast.AST, module_globals: dict) -> object:
    """Evaluate an annotation statically: scalar types, `bool`, `Array[T, n]`,
    `rc.Queue[T, n]`, `rc.Stack[T, n]`, `rc.Address`, message classes, None. Returns the
    object or Unresolved."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return None
        if isinstance(node.value, str):
            try:
                return static_type(ast.parse(node.value, mode="eval").body, module_globals)
            except SyntaxError:
                return Unresolved(node.value)
        return node.value
    if isinstance(node, ast.Subscript):
        base = resolve(node.value, module_globals)
        if base is Shared:
            inner = static_type(node.slice, module_globals)
            if isinstance(inner, Unresolved):
                return inner
            try:
                return Shared[inner]
            except TypeError as exc:
                return Unresolved("Shared[...]", f"'{ast.unparse(node)}': {exc}")
        if not any(base is f for f in (Array, Queue, Stack, Map, LRUMap)):
            return Unresolved(dotted_name(node.value) or "<subscript>")
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(items) != (3 if base is Map or base is LRUMap else 2):
            return Unresolved(f"{base!r}[...]")
        types_ = [static_type(i, module_globals) for i in items[:-1]]
        for t in types_:
            if isinstance(t, Unresolved):
                return t
        length = static_constant(items[-1], module_globals)
        if isinstance(length, Unresolved):
            return Unresolved(f"{base!r}[...]", f"the size '{ast.unparse(items[-1])}' of "
                                                f"'{ast.unparse(node)}' is not a constant")
        try:
            return base[(*types_, length)]
        except TypeError as exc:
            return Unresolved(f"{base!r}[...]", f"'{ast.unparse(node)}': {exc}")
    obj = resolve(node, module_globals)
    if obj is bool:
        return obj
    if isinstance(obj, (ScalarType, ArrayType)) or obj is Address:
        return obj
    return obj


_INT_FOLDS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
              ast.Mult: lambda a, b: a * b, ast.FloorDiv: lambda a, b: a // b,
              ast.Mod: lambda a, b: a % b, ast.LShift: lambda a, b: a << b,
              ast.RShift: lambda a, b: a >> b, ast.BitOr: lambda a, b: a | b,
              ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b,
              ast.Pow: lambda a, b: a ** b}
_MAX_FOLDED_BITS = 64          # a folded int beyond this is no size or constant ringc takes


def static_constant(node: ast.AST, module_globals: dict) -> object:
    """An int/float/bool literal, a module-level constant, or an int expression of those
    (`ROWS * COLS`, `1 << BITS`, `10**8`), else Unresolved."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _INT_FOLDS:
        a = static_constant(node.left, module_globals)
        b = static_constant(node.right, module_globals)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (a, b)):
            return Unresolved("<expression>")
        if (isinstance(node.op, (ast.LShift, ast.RShift, ast.Pow))
                and not 0 <= b <= _MAX_FOLDED_BITS) \
                or (isinstance(node.op, (ast.FloorDiv, ast.Mod)) and b == 0):
            return Unresolved("<expression>")
        value = _INT_FOLDS[type(node.op)](a, b)
        return value if value.bit_length() <= _MAX_FOLDED_BITS else Unresolved("<expression>")
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float))
            and not isinstance(node.operand.value, bool)):
        return -node.operand.value
    obj = resolve(node, module_globals)
    if isinstance(obj, (int, float, bool)):
        return obj
    return Unresolved(dotted_name(node) or "<expression>")
