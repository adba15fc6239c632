"""Walking expression trees: every pass that inspects IR expressions uses these."""

from __future__ import annotations

from collections.abc import Iterator

from .nodes import (
    Binary,
    Call,
    Cast,
    Compare,
    Expr,
    Index,
    Intrinsic,
    Logical,
    MathCall,
    Member,
    MessageNew,
    Select,
    Unary,
)


def expr_children(e: Expr) -> tuple[Expr, ...]:
    """The operands of an expression node, in Python's evaluation order."""
    if isinstance(e, (Call, MathCall, Intrinsic)):
        return e.args
    if isinstance(e, MessageNew):
        return tuple(v for _, v in e.fields)
    if isinstance(e, Select):
        return (e.cond, e.then, e.orelse)
    if isinstance(e, Index):
        return (e.base, e.index)
    if isinstance(e, (Binary, Compare, Logical)):
        return (e.left, e.right)
    if isinstance(e, Member):
        return (e.base,)
    if isinstance(e, Unary):
        return (e.operand,)
    if isinstance(e, Cast):
        return (e.expr,)
    return ()


def walk(e: Expr) -> Iterator[Expr]:
    """`e` and every expression inside it, parents first, in evaluation order."""
    yield e
    for child in expr_children(e):
        yield from walk(child)
