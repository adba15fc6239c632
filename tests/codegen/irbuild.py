"""Terse constructors for hand-built IR in the codegen tests (no frontend involved)."""

from __future__ import annotations

import itertools

from ringc.ir.nodes import (
    Assign,
    Binary,
    Break,
    Call,
    Cast,
    Compare,
    Const,
    Continue,
    Emit,
    ExprStmt,
    Fail,
    FieldDef,
    For,
    FunctionDef,
    HelperCall,
    If,
    Index,
    Intrinsic,
    KernelDef,
    KernelOptions,
    Loc,
    Local,
    LocalDef,
    Logical,
    MathCall,
    Member,
    MessageDef,
    MessageNew,
    Param,
    Reply,
    Return,
    Select,
    Send,
    State,
    StateDef,
    Unary,
    While,
)
from ringc.ir.types import ADDRESS, SCALAR_TYPES, ArrayType, MessageType

T = SCALAR_TYPES
BOOL, I8, I16, I32, I64 = T["bool"], T["i8"], T["i16"], T["i32"], T["i64"]
U8, U16, U32, U64, F32, F64 = T["u8"], T["u16"], T["u32"], T["u64"], T["f32"], T["f64"]
_lines = itertools.count(10)


def loc() -> Loc:
    return Loc("/src/sample_kernels.py", next(_lines), 5)


def arr(t, n: int) -> ArrayType:
    return ArrayType(t, n)


def c(value, t=I32) -> Const:
    return Const(value, t)


def lv(name: str, t) -> Local:
    return Local(name, t)


def st(name: str, t) -> State:
    return State(name, t)


def mem(base, field: str, t) -> Member:
    return Member(base, field, t)


def idx(base, i) -> Index:
    return Index(base, i, base.type.elem)


def bin_(op: str, a, b, t=None) -> Binary:
    return Binary(op, a, b, t or a.type)


def un(op: str, a) -> Unary:
    return Unary(op, a, a.type)


def cmp(op: str, a, b) -> Compare:
    return Compare(op, a, b, BOOL)


def and_(a, b) -> Logical:
    return Logical("and", a, b, BOOL)


def or_(a, b) -> Logical:
    return Logical("or", a, b, BOOL)


def sel(cond, a, b) -> Select:
    return Select(cond, a, b, a.type)


def cast(e, t) -> Cast:
    return Cast(e, t)


def call(fn: str, args, t) -> Call:
    """A call of device function `fn`."""
    return Call(fn, tuple(args), t)


def hcall(fn: str, args, t) -> HelperCall:
    """`self.fn(...)`: a call of a helper of the enclosing kernel."""
    return HelperCall(fn, tuple(args), t)


def mcall(fn: str, *args, t=None) -> MathCall:
    return MathCall(fn, tuple(args), t or (BOOL if fn in ("isnan", "isinf") else args[0].type))


def new(msg: str, **fields) -> MessageNew:
    return MessageNew(msg, tuple(fields.items()), MessageType(msg))


def intr(name: str, *args, t=None) -> Intrinsic:
    default = {"sender": ADDRESS, "now": I64, "instance_id": I32}
    return Intrinsic(name, tuple(args), t or default.get(name) or args[0].type)


def assign(target, value) -> Assign:
    return Assign(target, value, loc())


def if_(cond, then, orelse=()) -> If:
    return If(cond, tuple(then), tuple(orelse), loc())


def while_(cond, body) -> While:
    return While(cond, tuple(body), loc())


def for_(var: str, start, stop, step: int, body) -> For:
    return For(var, start, stop, step, tuple(body), loc())


def ret(value=None) -> Return:
    return Return(value, loc())


def send(kernel: str, msg, instance=None) -> Send:
    return Send(kernel, instance if instance is not None else c(0), msg, loc())


def emit(msg) -> Emit:
    return Emit(msg, loc())


def reply(address, msg) -> Reply:
    return Reply(address, msg, loc())


def expr_stmt(e) -> ExprStmt:
    return ExprStmt(e, loc())


def message(name: str, type_id: int, **fields) -> MessageDef:
    return MessageDef(name, type_id, tuple(FieldDef(n, t) for n, t in fields.items()), loc())


def function(name: str, params: dict, returns, body, **locals_) -> FunctionDef:
    return FunctionDef(name, tuple(Param(n, t) for n, t in params.items()), returns,
                       tuple(LocalDef(n, t) for n, t in locals_.items()), tuple(body), loc())


def handler(name: str, param: str, msg: str, body, returns=None, **locals_) -> FunctionDef:
    return function(name, {param: MessageType(msg)}, returns, body, **locals_)


def kernel(name: str, state=(), handlers=(), helpers=(), **options) -> KernelDef:
    return KernelDef(name, KernelOptions(**options),
                     tuple(StateDef(n, t, init) for n, t, init in state),
                     tuple(handlers), tuple(helpers), loc())


def fail(reason: str) -> Fail:
    return Fail(reason, loc())


def brk() -> Break:
    return Break(loc())


def cont() -> Continue:
    return Continue(loc())
