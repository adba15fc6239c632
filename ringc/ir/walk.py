"""Walking IR: every pass that inspects statements or expressions uses these.

What each node kind holds is stated once, here, by a `Dispatch` per question: the operands
of an expression, and the expressions and nested blocks of a statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .dispatch import Dispatch
from .nodes import (
    Assign,
    Barrier,
    Binary,
    Break,
    Broadcast,
    Call,
    Cast,
    Compare,
    Const,
    ContainerCall,
    ContainerItem,
    Continue,
    Emit,
    Expr,
    ExprStmt,
    Fail,
    FaultIs,
    For,
    ForEach,
    FunctionDef,
    GroupReduce,
    HelperCall,
    If,
    Index,
    Intrinsic,
    Local,
    Logical,
    MathCall,
    Member,
    MessageNew,
    Raise,
    Reply,
    Return,
    Select,
    Send,
    SendAfter,
    SharedDef,
    State,
    Stmt,
    Try,
    Unary,
    VectorAt,
    VectorNew,
    While,
    Zero,
)
from .types import ValueType

__all__ = ["expr_children", "walk", "stmt_exprs", "stmt_blocks", "all_stmts",
           "function_locals", "expression_depth", "MAX_EXPRESSION_DEPTH", "is_sync_point",
           "has_sync", "syncing_helpers", "shared_locals"]

# ---------------------------------------------------------------------------------------
# Expressions: their operands, in Python's evaluation order
# ---------------------------------------------------------------------------------------

_operands = Dispatch("walk: operands")


@_operands.on(Const, Local, State)
def _no_operands(e: Const | Local | State) -> tuple[Expr, ...]:
    return ()


@_operands.on(Member)
def _member_operands(e: Member) -> tuple[Expr, ...]:
    return (e.base,)


@_operands.on(Index)
def _index_operands(e: Index) -> tuple[Expr, ...]:
    return (e.base, e.index)


@_operands.on(Unary)
def _unary_operands(e: Unary) -> tuple[Expr, ...]:
    return (e.operand,)


@_operands.on(Binary, Compare, Logical)
def _binary_operands(e: Binary | Compare | Logical) -> tuple[Expr, ...]:
    return (e.left, e.right)


@_operands.on(Select)
def _select_operands(e: Select) -> tuple[Expr, ...]:
    return (e.cond, e.then, e.orelse)


@_operands.on(Cast)
def _cast_operands(e: Cast) -> tuple[Expr, ...]:
    return (e.expr,)


@_operands.on(Call, HelperCall, MathCall, Intrinsic)
def _call_operands(e: Call | HelperCall | MathCall | Intrinsic) -> tuple[Expr, ...]:
    return e.args


@_operands.on(ContainerCall)
def _container_call_operands(e: ContainerCall) -> tuple[Expr, ...]:
    return (e.container, *e.args)


@_operands.on(ContainerItem)
def _container_item_operands(e: ContainerItem) -> tuple[Expr, ...]:
    return (e.container, e.index)


@_operands.on(VectorNew)
def _vector_new_operands(e: VectorNew) -> tuple[Expr, ...]:
    return e.args


@_operands.on(VectorAt)
def _vector_at_operands(e: VectorAt) -> tuple[Expr, ...]:
    return (e.base, e.index)


@_operands.on(Zero, FaultIs)
def _leaf_operands(e: Zero | FaultIs) -> tuple[Expr, ...]:
    return ()


@_operands.on(GroupReduce)
def _group_reduce_operands(e: GroupReduce) -> tuple[Expr, ...]:
    return (e.value,)


@_operands.on(Broadcast)
def _broadcast_operands(e: Broadcast) -> tuple[Expr, ...]:
    return (e.value, e.lane)


@_operands.on(MessageNew)
def _message_operands(e: MessageNew) -> tuple[Expr, ...]:
    return tuple(value for _, value in e.fields)


def expr_children(e: Expr) -> tuple[Expr, ...]:
    """The operands of an expression node, in Python's evaluation order."""
    return _operands(e)


def walk(e: Expr) -> Iterator[Expr]:
    """`e` and every expression inside it, parents first, in evaluation order (a loop, not
    recursion: any depth)."""
    pending = [e]
    while pending:
        node = pending.pop()
        yield node
        pending.extend(reversed(_operands(node)))


#: How deeply expressions may nest (`a + b + c` is two levels). Emitted C nests its
#: parentheses about twice as deep, and C compilers stop at 256 (clang's bracket depth).
MAX_EXPRESSION_DEPTH = 100


def expression_depth(e: Expr) -> int:
    """How many levels of operations `e` nests (a constant or a variable: 1)."""
    deepest, pending = 0, [(e, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in _operands(node))
    return deepest


# ---------------------------------------------------------------------------------------
# Statements: the expressions they hold and the blocks nested in them
# ---------------------------------------------------------------------------------------

Block = tuple[Stmt, ...]
_parts = Dispatch("walk: statement parts")   # (expressions, nested blocks)


@_parts.on(Assign)
def _assign_parts(s: Assign) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.target, s.value), ()


@_parts.on(If)
def _if_parts(s: If) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.cond,), (s.then, s.orelse)


@_parts.on(While)
def _while_parts(s: While) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.cond,), (s.body,)


@_parts.on(For)
def _for_parts(s: For) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.start, s.stop), (s.body,)


@_parts.on(Break, Continue, Fail, Raise, Barrier)
def _no_parts(s: Break | Continue | Fail | Raise | Barrier
              ) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (), ()


@_parts.on(ForEach)
def _for_each_parts(s: ForEach) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.container,), (s.body,)


@_parts.on(Try)
def _try_parts(s: Try) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (), (s.body, s.handler or (), s.orelse, s.finalbody)


@_parts.on(Return)
def _return_parts(s: Return) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return ((s.value,) if s.value is not None else ()), ()


@_parts.on(ExprStmt)
def _expr_stmt_parts(s: ExprStmt) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.expr,), ()


@_parts.on(Send)
def _send_parts(s: Send) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.instance, s.message), ()


@_parts.on(SendAfter)
def _send_after_parts(s: SendAfter) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.delay, s.instance, s.message), ()


@_parts.on(Emit)
def _emit_parts(s: Emit) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.message,), ()


@_parts.on(Reply)
def _reply_parts(s: Reply) -> tuple[tuple[Expr, ...], tuple[Block, ...]]:
    return (s.address, s.message), ()


def stmt_exprs(stmt: Stmt) -> tuple[Expr, ...]:
    """The expressions a statement holds directly (not those of nested statements)."""
    return _parts(stmt)[0]


def stmt_blocks(stmt: Stmt) -> tuple[Block, ...]:
    """The blocks nested directly in a statement (an If's two, a loop's body)."""
    return _parts(stmt)[1]


def all_stmts(stmts: Iterable[Stmt]) -> Iterator[Stmt]:
    """Every statement of `stmts` and of the blocks nested in them, in source order."""
    for s in stmts:
        yield s
        for block in _parts(s)[1]:
            yield from all_stmts(block)


# ---------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------

def function_locals(fn: FunctionDef) -> dict[str, ValueType]:
    """The type of every local of `fn` other than its parameters: the declared ones in
    order, then any `For` variable or `Local` the body uses without declaring it, in source
    order (hand-built IR that skipped `verify`, which rejects undeclared names)."""
    params = {p.name for p in fn.params}
    found: dict[str, ValueType] = {lv.name: lv.type for lv in fn.locals
                                   if lv.name not in params}
    for s in all_stmts(fn.body):
        if isinstance(s, For) and s.var not in params:
            found.setdefault(s.var, s.start.type)
        if isinstance(s, ForEach) and s.var not in params:
            found.setdefault(s.var, s.container.type.item)
        for e in _parts(s)[0]:
            for node in walk(e):
                if isinstance(node, Local) and node.name not in params:
                    found.setdefault(node.name, node.type)
    return found


# ---------------------------------------------------------------------------------------
# Cooperative kernels: synchronisation points of the lanes
# ---------------------------------------------------------------------------------------

def is_sync_point(e: Expr, syncing: Iterable[str] = ()) -> bool:
    """Is `e` itself a synchronisation point of a cooperative kernel's lanes: a group
    reduction, a broadcast, or a call of a helper in `syncing`?"""
    return isinstance(e, (GroupReduce, Broadcast)) or (
        isinstance(e, HelperCall) and e.function in syncing)


def has_sync(stmts: Iterable[Stmt], syncing: Iterable[str] = ()) -> bool:
    """Does any statement of `stmts` (nested ones too) synchronise the lanes: `Barrier`,
    or an expression that `is_sync_point`? `syncing`: the helpers that do."""
    syncing = frozenset(syncing)
    for s in all_stmts(stmts):
        if isinstance(s, Barrier):
            return True
        for e in _parts(s)[0]:
            if any(is_sync_point(node, syncing) for node in walk(e)):
                return True
    return False


def syncing_helpers(helpers: Iterable[FunctionDef]) -> frozenset[str]:
    """The names of the helpers (of one kernel) that synchronise its lanes, directly or
    through helpers they call."""
    helpers = list(helpers)
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for fn in helpers:
            if fn.name not in found and has_sync(fn.body, found):
                found.add(fn.name)
                changed = True
    return frozenset(found)


def shared_locals(fn: FunctionDef) -> dict[str, ValueType]:
    """The shared arrays (`SharedDef`) of `fn`, by name."""
    return {lv.name: lv.type for lv in fn.locals if isinstance(lv, SharedDef)}
