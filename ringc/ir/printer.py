"""Write a Program as textual IR (".rir"), the text `parser.parse_program` reads back.

The text is meant for a person debugging codegen: definitions are indented blocks,
statements one per line ending in the user-source location they came from, and every
expression an S-expression that states its type::

    message Work #1 @"k.py":5:1 {
      id: i32
      data: f32[4]
    }

    kernel Summer @"k.py":15:1 {
      options { mode=persistent capacity=1024 ... targets=all ... }
      state processed: i64
      handler on_work(m: Work) -> Sum @"k.py":18:5 {
        local s: f32
        assign (state processed:i64) = (add:i64 (state processed:i64) (const 1:i64)) @"k.py":19:9
        return (new Sum id=(member id:i32 (local m:Work)) value=(local s:f32)) @"k.py":23:9
      }
    }

Values are written by their Python type, not their IR type, so the text is faithful even
for IR the verifier would reject: `True` is `true`, `1` is `1`, `1.0` is `1.0`. Floats use
`repr` (the shortest text that reads back to the same bits: `-0.0`, `1e+16`, `inf`), except
NaN: `nan` is the canonical quiet NaN and any other NaN is `nan(0x...)` with its 64 bits.

Limits: the text reads back to an equal Program (`parse_program(print_program(p)) == p`)
when every operator is one of the tables in nodes.py and every array element is a scalar
or `address`; other malformed IR is still printed, for debugging, but does not parse. A
value that is not an IR node or type where one belongs raises TypeError. Strings and
names round-trip with any characters. NaN: see parser.py.
"""

from __future__ import annotations

import math
import re
import struct

from .nodes import (
    Assign,
    Binary,
    Break,
    Call,
    Cast,
    Compare,
    Const,
    Continue,
    Emit,
    Expr,
    ExprStmt,
    Fail,
    For,
    FunctionDef,
    If,
    Index,
    Intrinsic,
    KernelDef,
    KernelOptions,
    Local,
    Logical,
    MathCall,
    Member,
    MessageDef,
    MessageNew,
    Program,
    Reply,
    Return,
    Select,
    Send,
    State,
    StateDef,
    Stmt,
    Unary,
    While,
)
from .types import SCALAR_TYPES, AddressType, ArrayType, Loc, MessageType, ScalarType

__all__ = ["print_program"]

# The grammar's NAME terminal; anything else is written as a string literal.
NAME_RE = re.compile(r"[^\W\d]\w*")
_DOTTED_RE = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")
# Names a message type cannot be written bare as: they mean built-in types.
_BUILTIN_TYPES = frozenset(SCALAR_TYPES) | {"address"}
_CANONICAL_NAN_BITS = 0x7FF8000000000000
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_INDENT = "  "


def print_program(program: Program) -> str:
    """The textual IR of `program`: messages, then kernels, then `@rc.device` functions."""
    out: list[str] = []
    for message in program.messages:
        _message_def(message, out)
    for kernel in program.kernels:
        _kernel_def(kernel, out)
    for function in program.functions:
        _function_def("device", function, out, 0)
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n" if out else ""


def _quote(text: str) -> str:
    """`text` as a double-quoted string literal; non-printable characters (controls, lone
    surrogates, line separators) as \\x, \\u or \\U escapes, so any str reads back."""
    parts = ['"']
    for ch in text:
        if ch in _ESCAPES:
            parts.append(_ESCAPES[ch])
        elif ch.isprintable():
            parts.append(ch)
        elif ord(ch) < 0x100:
            parts.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            parts.append(f"\\u{ord(ch):04x}")
        else:
            parts.append(f"\\U{ord(ch):08x}")
    parts.append('"')
    return "".join(parts)


# ---------------------------------------------------------------------------------------
# Names, types, values
# ---------------------------------------------------------------------------------------

def _name(name: str) -> str:
    return name if NAME_RE.fullmatch(name) else _quote(name)


def _type(t) -> str:
    if isinstance(t, ArrayType):
        return f"{_type(t.elem)}[{t.length}]"
    if isinstance(t, MessageType):
        if t.name in _BUILTIN_TYPES or not NAME_RE.fullmatch(t.name):
            return _quote(t.name)
        return t.name
    if isinstance(t, (ScalarType, AddressType)):
        return str(t)
    raise TypeError(f"not an IR type: {t!r}")


def _value(value: bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if math.isnan(value):
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        return "nan" if bits == _CANONICAL_NAN_BITS else f"nan(0x{bits:016x})"
    return float.__repr__(float(value))


def _loc(loc: Loc) -> str:
    return f"@{_quote(loc.file)}:{loc.line}:{loc.col}"


# ---------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------

def _message_def(message: MessageDef, out: list[str]) -> None:
    out.append(f"message {_name(message.name)} #{message.type_id} {_loc(message.loc)} {{")
    for field in message.fields:
        out.append(f"{_INDENT}{_name(field.name)}: {_type(field.type)}")
    out.append("}")
    out.append("")


def _kernel_def(kernel: KernelDef, out: list[str]) -> None:
    out.append(f"kernel {_name(kernel.name)} {_loc(kernel.loc)} {{")
    out.append(f"{_INDENT}options {{ {_options(kernel.options)} }}")
    for state in kernel.state:
        out.append(_INDENT + _state_def(state))
    for handler in kernel.handlers:
        _function_def("handler", handler, out, 1)
    for helper in kernel.helpers:
        _function_def("helper", helper, out, 1)
    out.append("}")
    out.append("")


def _options(options: KernelOptions) -> str:
    o = options
    targets = "all" if o.targets is None else "[" + ",".join(_name(t) for t in o.targets) + "]"
    return (f"mode={_name(o.mode)} capacity={o.capacity} instances={o.instances} "
            f"concurrency={_name(o.concurrency)} backpressure={_name(o.backpressure)} "
            f"max_batch={o.max_batch} domain={_name(o.domain)} targets={targets} "
            f"bounds_check={_value(o.bounds_check)} fast_math={_value(o.fast_math)}")


def _state_def(state: StateDef) -> str:
    text = f"state {_name(state.name)}: {_type(state.type)}"
    if isinstance(state.init, tuple):
        text += " = [" + ", ".join(_value(v) for v in state.init) + "]"
    elif state.init is not None:
        text += f" = {_value(state.init)}"
    return text


def _function_def(kind: str, function: FunctionDef, out: list[str], depth: int) -> None:
    pad = _INDENT * depth
    params = ", ".join(f"{_name(p.name)}: {_type(p.type)}" for p in function.params)
    returns = f" -> {_type(function.returns)}" if function.returns is not None else ""
    out.append(f"{pad}{kind} {_name(function.name)}({params}){returns} "
               f"{_loc(function.loc)} {{")
    for local in function.locals:
        out.append(f"{pad}{_INDENT}local {_name(local.name)}: {_type(local.type)}")
    _block(function.body, out, depth + 1)
    out.append(f"{pad}}}")


# ---------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------

def _block(stmts: tuple[Stmt, ...], out: list[str], depth: int) -> None:
    for stmt in stmts:
        _stmt(stmt, out, depth)


def _stmt(stmt: Stmt, out: list[str], depth: int) -> None:
    pad = _INDENT * depth
    match stmt:
        case If(cond, then, orelse, loc):
            out.append(f"{pad}if {_expr(cond)} {_loc(loc)} {{")
            _block(then, out, depth + 1)
            if orelse:
                out.append(f"{pad}}} else {{")
                _block(orelse, out, depth + 1)
            out.append(f"{pad}}}")
        case While(cond, body, loc):
            out.append(f"{pad}while {_expr(cond)} {_loc(loc)} {{")
            _block(body, out, depth + 1)
            out.append(f"{pad}}}")
        case For(var, start, stop, step, body, loc):
            out.append(f"{pad}for {_name(var)} in range({_expr(start)}, {_expr(stop)}, "
                       f"{_value(step)}) {_loc(loc)} {{")
            _block(body, out, depth + 1)
            out.append(f"{pad}}}")
        case _:
            out.append(pad + _simple_stmt(stmt))


def _simple_stmt(stmt: Stmt) -> str:
    match stmt:
        case Assign(target, value, loc):
            return f"assign {_expr(target)} = {_expr(value)} {_loc(loc)}"
        case Break(loc):
            return f"break {_loc(loc)}"
        case Continue(loc):
            return f"continue {_loc(loc)}"
        case Return(None, loc):
            return f"return {_loc(loc)}"
        case Return(value, loc):
            return f"return {_expr(value)} {_loc(loc)}"
        case ExprStmt(expr, loc):
            return f"eval {_expr(expr)} {_loc(loc)}"
        case Send(kernel, instance, message, loc):
            return f"send {_name(kernel)}[{_expr(instance)}] {_expr(message)} {_loc(loc)}"
        case Emit(message, loc):
            return f"emit {_expr(message)} {_loc(loc)}"
        case Reply(address, message, loc):
            return f"reply {_expr(address)} {_expr(message)} {_loc(loc)}"
        case Fail(reason, loc):
            return f"fail {_quote(reason)} {_loc(loc)}"
    raise TypeError(f"not an IR statement: {stmt!r}")


# ---------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------

def _expr(expr: Expr) -> str:
    match expr:
        case Const(value, t):
            return f"(const {_value(value)}:{_type(t)})"
        case Local(name, t):
            return f"(local {_name(name)}:{_type(t)})"
        case State(name, t):
            return f"(state {_name(name)}:{_type(t)})"
        case Member(base, field, t):
            return f"(member {_name(field)}:{_type(t)} {_expr(base)})"
        case Index(base, index, t):
            return f"(index:{_type(t)} {_expr(base)} {_expr(index)})"
        case Unary(op, operand, t):
            return f"({op}:{_type(t)} {_expr(operand)})"
        case (Binary(op, left, right, t) | Compare(op, left, right, t)
              | Logical(op, left, right, t)):
            return f"({op}:{_type(t)} {_expr(left)} {_expr(right)})"
        case Select(cond, then, orelse, t):
            return f"(select:{_type(t)} {_expr(cond)} {_expr(then)} {_expr(orelse)})"
        case Cast(operand, t):
            return f"(cast:{_type(t)} {_expr(operand)})"
        case Call(function, args, t):
            callee = function if _DOTTED_RE.fullmatch(function) else _quote(function)
            typed = f":{_type(t)}" if t is not None else ""
            return f"(call {callee}{typed}{_args(args)})"
        case MathCall(function, args, t):
            return f"(math {_name(function)}:{_type(t)}{_args(args)})"
        case MessageNew(message, fields, _):
            values = "".join(f" {_name(f)}={_expr(v)}" for f, v in fields)
            return f"(new {_name(message)}{values})"
        case Intrinsic(name, args, t):
            return f"(intrinsic {_name(name)}:{_type(t)}{_args(args)})"
    raise TypeError(f"not an IR expression: {expr!r}")


def _args(args: tuple[Expr, ...]) -> str:
    return "".join(" " + _expr(a) for a in args)
