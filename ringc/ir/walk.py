"""Walking IR: every pass that inspects statements or expressions uses these."""

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
    Stmt,
    Unary,
)

_STMT_EXPR_FIELDS = ("target", "value", "cond", "start", "stop", "expr", "instance",
                     "message", "address")


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


def stmt_exprs(stmt: Stmt) -> list[Expr]:
    """The expressions a statement holds directly (not those of nested statements)."""
    return [getattr(stmt, f) for f in _STMT_EXPR_FIELDS if getattr(stmt, f, None) is not None]


def all_stmts(stmts) -> Iterator[Stmt]:
    """Every statement of `stmts` and of the blocks nested in them, in source order."""
    for s in stmts:
        yield s
        for sub in ("then", "orelse", "body"):
            yield from all_stmts(getattr(s, sub, ()))
