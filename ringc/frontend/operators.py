"""Lowering the operators: arithmetic and bitwise (`ast.BinOp`; `x op= v` goes through
`binary` too), unary `- + ~ not`, `and`/`or` used as a value, comparisons (chained, `k in`
a map, a caught fault's reason) and the conditional expression `a if cond else b`.

Operands meet by the promotion rules of `typerules` (a weak literal takes the other side's
type); two literals fold to a constant. Limits: vectors have `+ - *` (and `/` of float
vectors) lane by lane and negation, no comparison or bitwise operator; `and`/`or` as a
value take bools only (Python gives one of the operands); `**`, `@`, `is`, and `in` on
anything but a map are unsupported; a chained comparison refuses a call as a middle
operand (`a < f(x) < b` is `a < f(x) and f(x) < b`: the call would run twice).
"""

from __future__ import annotations

import ast

from ..ir import nodes as ir
from ..ir.types import BOOL, ScalarType, VectorType
from ..ir.walk import walk
from .faults import fault_reason_test
from .typerules import (
    TypeRuleError,
    Weak,
    float_for_int,
    fold,
    fold_unary,
    meet_weak,
    promote,
    weak_to,
)

BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
          ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.BitAnd: "bitand", ast.BitOr: "bitor",
          ast.BitXor: "bitxor", ast.LShift: "shl", ast.RShift: "shr"}
CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
          ast.GtE: "ge"}
SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
           "bitand": "&", "bitor": "|", "bitxor": "^", "shl": "<<", "shr": ">>"}


def lower_binop(fl, node: ast.BinOp):
    op = BINOPS.get(type(node.op))
    if op is None:
        raise fl.unsupported(node, f"operator {type(node.op).__name__}", node.op)
    return binary(fl, op, fl.expr(node.left), fl.expr(node.right), node)


def binary(fl, op: str, left, right, node: ast.AST):
    symbol = SYMBOLS[op]
    what = f"'{symbol}'"
    if any(isinstance(getattr(side, "type", None), VectorType) for side in (left, right)):
        return vector_binary(fl, op, left, right, node)
    for side in (left, right):
        t = getattr(side, "type", None)
        if t is not None and not isinstance(t, ScalarType):
            raise fl.error(node, f"{what} cannot take a {t}")
    try:
        if isinstance(left, Weak) and isinstance(right, Weak):
            return Weak(fold(op, left.value, right.value))
        if op in ("bitand", "bitor", "bitxor", "shl", "shr"):
            return bitwise(fl, op, left, right, node)
        t = operand_type(left, right, what)
        if t.is_bool:
            raise TypeRuleError(f"{what} cannot take bools",
                                "convert explicitly, e.g. i32(flag)")
        if op == "div" and t.is_int:
            t = float_for_int(t)
    except TypeRuleError as exc:
        raise fl.rule(node, exc) from None
    return ir.Binary(op, fl.operand(left, t, node), fl.operand(right, t, node), t)


def vector_binary(fl, op: str, left, right, node: ast.AST) -> ir.Binary:
    """`+ - *` (and `/` of float vectors) lane by lane, between two vectors of one type
    or a vector and a scalar of its element type (a literal, or a value of exactly that
    type), which stands in every lane (docs/language.md, "Vectors")."""
    what = f"'{SYMBOLS[op]}'"
    vt = next(s.type for s in (left, right) if isinstance(getattr(s, "type", None),
                                                           VectorType))
    if op not in ("add", "sub", "mul", "div"):
        raise fl.error(node, f"{what} is not defined on vectors ({vt})",
                       "vectors have + - * (and / of f32 vectors) lane by lane; work "
                       "on the components for the rest: v.x, v.y, ...")
    if op == "div" and not vt.elem.is_float:
        raise fl.error(node, f"'/' of {vt}: integer vectors have + - * only",
                       "divide the components, or use an f32x4")
    sides = []
    for side in (left, right):
        t = getattr(side, "type", None)
        if isinstance(t, VectorType):
            if t != vt:
                raise fl.error(node, f"{what} mixes {vt} and {t}",
                               "vectors of one type only: convert the lanes "
                               "explicitly, e.g. rc.f32x4(f32(v.x), f32(v.y), ...)")
            sides.append(side)
            continue
        if isinstance(side, Weak):
            try:
                scalar = ir.Const(weak_to(side, vt.elem), vt.elem)
            except TypeRuleError as exc:
                raise fl.rule(node, exc) from None
        elif t == vt.elem:
            scalar = side
        else:
            raise fl.error(node, f"{what} mixes {vt} with a {t}",
                           f"a scalar beside a {vt} must be a {vt.elem}: cast it, "
                           f"{vt.elem}(x)" if isinstance(t, ScalarType)
                           else "vectors of one type only")
        sides.append(ir.VectorNew((scalar,), vt))
    return ir.Binary(op, sides[0], sides[1], vt)


def bitwise(fl, op: str, left, right, node: ast.AST):
    t = operand_type(left, right, f"'{SYMBOLS[op]}'")
    if t.is_float or (t.is_bool and op in ("shl", "shr")):
        raise TypeRuleError(f"'{SYMBOLS[op]}' needs integers, not {t}")
    return ir.Binary(op, fl.operand(left, t, node), fl.operand(right, t, node), t)


def operand_type(left, right, what: str) -> ScalarType:
    if isinstance(left, Weak):
        return meet_weak(left, right.type, what)
    if isinstance(right, Weak):
        return meet_weak(right, left.type, what)
    return promote(left.type, right.type, what)


def lower_unaryop(fl, node: ast.UnaryOp):
    if isinstance(node.op, ast.Not):
        return fl.truth_of(node)
    operand = fl.expr(node.operand)
    if isinstance(node.op, ast.UAdd):
        return operand
    op = "neg" if isinstance(node.op, ast.USub) else "invert"
    if isinstance(operand, Weak):
        try:
            return Weak(fold_unary(op, operand.value))
        except TypeRuleError as exc:
            raise fl.rule(node, exc) from None
    t = operand.type
    if isinstance(t, VectorType) and op == "neg":
        return ir.Unary("neg", operand, t)
    if not isinstance(t, ScalarType) or t.is_bool or (op == "invert" and t.is_float):
        raise fl.error(node, f"'{'-' if op == 'neg' else '~'}' cannot take a {t}",
                       "use `not` for bools" if t == BOOL else None)
    return ir.Unary(op, operand, t)


def lower_boolop(fl, node: ast.BoolOp):
    """`and`/`or` used as a value: Python gives one of the operands, so only bools
    (whose operand value is their truth) are accepted here."""
    for operand in node.values:
        value = fl.expr(operand)
        if getattr(value, "type", None) != BOOL:
            word = "and" if isinstance(node.op, ast.And) else "or"
            raise fl.error(operand, f"'{word}' as a value needs bool operands: in "
                                    "Python it gives one of the operands",
                           "compare explicitly (x != 0), or write `a if cond else b`")
    return fl.truth_of(node)


def lower_compare(fl, node: ast.Compare):
    test = fault_reason_test(fl, node)
    if test is not None:
        return test
    if len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
        container = fl.container_of(node.comparators[0])
        if container is None or container.type.key is None:
            raise fl.unsupported(node, f"comparison {type(node.ops[0]).__name__}",
                                 node.ops[0])
        key = fl.convert(fl.expr(node.left), container.type.key, node.left)
        found = ir.ContainerCall(container, "contains", (key,), BOOL)
        return found if isinstance(node.ops[0], ast.In) else ir.Unary("not", found, BOOL)
    for op_node in node.ops:
        if type(op_node) not in CMPOPS:
            raise fl.unsupported(node, f"comparison {type(op_node).__name__}", op_node)
    operands = [fl.expr(node.left)] + [fl.expr(c) for c in node.comparators]
    for middle, operand in zip(node.comparators[:-1], operands[1:-1], strict=True):
        if not isinstance(operand, Weak) and any(
                isinstance(e, (ir.Call, ir.HelperCall, ir.Intrinsic)) for e in walk(operand)):
            raise fl.error(middle, "a chained comparison would evaluate this call twice",
                           "split the comparison: m = f(...) then a < m < b")
    parts = []
    for i, op_node in enumerate(node.ops):
        op = CMPOPS[type(op_node)]
        parts.append(compare(fl, op, operands[i], operands[i + 1], node))
    result = parts[0]
    for part in parts[1:]:
        result = ir.Logical("and", result, part, BOOL)
    return result


def compare(fl, op: str, left, right, node: ast.AST):
    if isinstance(left, Weak) and isinstance(right, Weak):
        return ir.Const(bool(fold(op, left.value, right.value)), BOOL)
    for side in (left, right):
        t = getattr(side, "type", None)
        if t is not None and not isinstance(t, ScalarType):
            raise fl.error(node, f"a {t} cannot be compared",
                           "compare its components: v.x == w.x"
                           if isinstance(t, VectorType) else "compare its fields")
    try:
        t = operand_type(left, right, "comparison")
    except TypeRuleError as exc:
        raise fl.rule(node, exc) from None
    if t.is_bool and op not in ("eq", "ne"):
        raise fl.error(node, "bools can only be compared with == and !=")
    return ir.Compare(op, fl.operand(left, t, node), fl.operand(right, t, node), BOOL)


def lower_ifexp(fl, node: ast.IfExp):
    cond = fl.truth_of(node.test)
    then, orelse = fl.expr(node.body), fl.expr(node.orelse)
    if isinstance(then, Weak) and isinstance(orelse, Weak):
        then, orelse = fl.typed(then, node.body), fl.typed(orelse, node.orelse)
    tt, te = getattr(then, "type", None), getattr(orelse, "type", None)
    if isinstance(tt, ScalarType) or isinstance(te, ScalarType):
        try:
            t = operand_type(then, orelse, "conditional expression")
        except TypeRuleError as exc:
            raise fl.rule(node, exc) from None
        return ir.Select(cond, fl.operand(then, t, node), fl.operand(orelse, t, node), t)
    if tt != te or tt is None:
        raise fl.error(node, f"the branches have different types ({tt} and {te})")
    return ir.Select(cond, then, orelse, tt)
