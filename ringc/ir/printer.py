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

A call names the function it calls: `(call square:f32 (local x:f32))` calls the device
function `square`, `(call self.bump:i32)` the helper `bump` of the enclosing kernel.

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
    KernelDef,
    KernelOptions,
    Local,
    Logical,
    MathCall,
    Member,
    MessageDef,
    MessageNew,
    Program,
    Raise,
    Reply,
    Return,
    Select,
    Send,
    SendAfter,
    SharedDef,
    State,
    StateDef,
    Stmt,
    Try,
    Unary,
    VectorAt,
    VectorNew,
    While,
    Zero,
)
from .types import (
    SCALAR_TYPES,
    VECTOR_TYPES,
    AddressType,
    ArrayType,
    ContainerType,
    Loc,
    MessageType,
    ScalarType,
    VectorType,
)

__all__ = ["print_program"]

# The grammar's NAME terminal; anything else is written as a string literal.
NAME_RE = re.compile(r"[^\W\d]\w*")
# Names a message type cannot be written bare as: they mean built-in types.
_BUILTIN_TYPES = frozenset(SCALAR_TYPES) | frozenset(VECTOR_TYPES) | {"address"}
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
    if isinstance(t, ContainerType):
        key = f"{_type(t.key)}, " if t.key is not None else ""
        return f"{t.kind}[{key}{_type(t.item)}, {t.capacity}]"
    if isinstance(t, ArrayType):
        return f"{_type(t.elem)}[{t.length}]"
    if isinstance(t, MessageType):
        if t.name in _BUILTIN_TYPES or not NAME_RE.fullmatch(t.name):
            return _quote(t.name)
        return t.name
    if isinstance(t, (ScalarType, AddressType, VectorType)):
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
    for p in kernel.periodic:
        out.append(f"{_INDENT}every {_name(p.method)} {p.period}")
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
            f"bounds_check={_value(o.bounds_check)} fast_math={_value(o.fast_math)} "
            f"timers={o.timers}"
            # lanes: only a cooperative kernel has more than one (1 is the default)
            + (f" group_size={o.group_size}" if o.group_size != 1
               or o.concurrency == "cooperative" else ""))


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
        word = "shared" if isinstance(local, SharedDef) else "local"
        out.append(f"{pad}{_INDENT}{word} {_name(local.name)}: {_type(local.type)}")
    _block(function.body, out, depth + 1)
    out.append(f"{pad}}}")


# ---------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------

_statement = Dispatch("the .rir printer's statements")   # (stmt, out, depth) -> None


def _block(stmts: tuple[Stmt, ...], out: list[str], depth: int) -> None:
    for stmt in stmts:
        _statement(stmt, out, depth)


@_statement.on(If)
def _if(stmt: If, out: list[str], depth: int) -> None:
    pad = _INDENT * depth
    out.append(f"{pad}if {_expr(stmt.cond)} {_loc(stmt.loc)} {{")
    _block(stmt.then, out, depth + 1)
    if stmt.orelse:
        out.append(f"{pad}}} else {{")
        _block(stmt.orelse, out, depth + 1)
    out.append(f"{pad}}}")


@_statement.on(While)
def _while(stmt: While, out: list[str], depth: int) -> None:
    pad = _INDENT * depth
    out.append(f"{pad}while {_expr(stmt.cond)} {_loc(stmt.loc)} {{")
    _block(stmt.body, out, depth + 1)
    out.append(f"{pad}}}")


@_statement.on(For)
def _for(stmt: For, out: list[str], depth: int) -> None:
    pad = _INDENT * depth
    out.append(f"{pad}for {_name(stmt.var)} in range({_expr(stmt.start)}, "
               f"{_expr(stmt.stop)}, {_value(stmt.step)}) {_loc(stmt.loc)} {{")
    _block(stmt.body, out, depth + 1)
    out.append(f"{pad}}}")


@_statement.on(ForEach)
def _for_each(stmt: ForEach, out: list[str], depth: int) -> None:
    pad = _INDENT * depth
    out.append(f"{pad}foreach {_name(stmt.var)} in {_expr(stmt.container)} "
               f"{_loc(stmt.loc)} {{")
    _block(stmt.body, out, depth + 1)
    out.append(f"{pad}}}")


@_statement.on(Try)
def _try(stmt: Try, out: list[str], depth: int) -> None:
    pad = _INDENT * depth
    out.append(f"{pad}try {_loc(stmt.loc)} {{")
    _block(stmt.body, out, depth + 1)
    if stmt.handler is not None:
        name = f" {_name(stmt.name)}" if stmt.name is not None else ""
        out.append(f"{pad}}} except{name} {{")
        _block(stmt.handler, out, depth + 1)
    for word, block in (("else", stmt.orelse), ("finally", stmt.finalbody)):
        if block:
            out.append(f"{pad}}} {word} {{")
            _block(block, out, depth + 1)
    out.append(f"{pad}}}")


@_statement.otherwise
def _one_line(stmt: Stmt, out: list[str], depth: int) -> None:
    out.append(_INDENT * depth + _line(stmt))


_line = Dispatch("the .rir printer's one-line statements")   # (stmt) -> text


@_line.on(Assign)
def _assign(stmt: Assign) -> str:
    return f"assign {_expr(stmt.target)} = {_expr(stmt.value)} {_loc(stmt.loc)}"


@_line.on(Break)
def _break(stmt: Break) -> str:
    return f"break {_loc(stmt.loc)}"


@_line.on(Continue)
def _continue(stmt: Continue) -> str:
    return f"continue {_loc(stmt.loc)}"


@_line.on(Return)
def _return(stmt: Return) -> str:
    if stmt.value is None:
        return f"return {_loc(stmt.loc)}"
    return f"return {_expr(stmt.value)} {_loc(stmt.loc)}"


@_line.on(ExprStmt)
def _eval(stmt: ExprStmt) -> str:
    return f"eval {_expr(stmt.expr)} {_loc(stmt.loc)}"


@_line.on(Send)
def _send(stmt: Send) -> str:
    return (f"send {_name(stmt.kernel)}[{_expr(stmt.instance)}] {_expr(stmt.message)} "
            f"{_loc(stmt.loc)}")


@_line.on(SendAfter)
def _send_after(stmt: SendAfter) -> str:
    return (f"send_after {_expr(stmt.delay)} {_name(stmt.kernel)}[{_expr(stmt.instance)}] "
            f"{_expr(stmt.message)} {_loc(stmt.loc)}")


@_line.on(Emit)
def _emit(stmt: Emit) -> str:
    return f"emit {_expr(stmt.message)} {_loc(stmt.loc)}"


@_line.on(Reply)
def _reply(stmt: Reply) -> str:
    return f"reply {_expr(stmt.address)} {_expr(stmt.message)} {_loc(stmt.loc)}"


@_line.on(Fail)
def _fail(stmt: Fail) -> str:
    return f"fail {_quote(stmt.reason)} {_loc(stmt.loc)}"


@_line.on(Raise)
def _raise(stmt: Raise) -> str:
    return f"raise {_loc(stmt.loc)}"


@_line.on(Barrier)
def _barrier(stmt: Barrier) -> str:
    return f"barrier {_loc(stmt.loc)}"


# ---------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------

_expr = Dispatch("the .rir printer's expressions")   # (expr) -> text


@_expr.on(Const)
def _const(e: Const) -> str:
    return f"(const {_value(e.value)}:{_type(e.type)})"


@_expr.on(Local)
def _local(e: Local) -> str:
    return f"(local {_name(e.name)}:{_type(e.type)})"


@_expr.on(State)
def _state(e: State) -> str:
    return f"(state {_name(e.name)}:{_type(e.type)})"


@_expr.on(Member)
def _member(e: Member) -> str:
    return f"(member {_name(e.field)}:{_type(e.type)} {_expr(e.base)})"


@_expr.on(Index)
def _index(e: Index) -> str:
    return f"(index:{_type(e.type)} {_expr(e.base)} {_expr(e.index)})"


@_expr.on(Unary)
def _unary(e: Unary) -> str:
    return f"({e.op}:{_type(e.type)} {_expr(e.operand)})"


@_expr.on(Binary, Compare, Logical)
def _binary(e: Binary | Compare | Logical) -> str:
    return f"({e.op}:{_type(e.type)} {_expr(e.left)} {_expr(e.right)})"


@_expr.on(Select)
def _select(e: Select) -> str:
    return f"(select:{_type(e.type)} {_expr(e.cond)} {_expr(e.then)} {_expr(e.orelse)})"


@_expr.on(Cast)
def _cast(e: Cast) -> str:
    return f"(cast:{_type(e.type)} {_expr(e.expr)})"


@_expr.on(Call)
def _call(e: Call) -> str:
    return f"(call {_name(e.function)}{_returns(e.type)}{_args(e.args)})"


@_expr.on(HelperCall)
def _helper_call(e: HelperCall) -> str:
    return f"(call self.{_name(e.function)}{_returns(e.type)}{_args(e.args)})"


@_expr.on(MathCall)
def _math_call(e: MathCall) -> str:
    return f"(math {_name(e.function)}:{_type(e.type)}{_args(e.args)})"


@_expr.on(MessageNew)
def _message_new(e: MessageNew) -> str:
    values = "".join(f" {_name(f)}={_expr(v)}" for f, v in e.fields)
    return f"(new {_name(e.message)}{values})"


@_expr.on(ContainerCall)
def _container_call(e: ContainerCall) -> str:
    return f"(container {_name(e.method)}{_returns(e.type)} {_expr(e.container)}{_args(e.args)})"


@_expr.on(ContainerItem)
def _container_item(e: ContainerItem) -> str:
    return f"(item:{_type(e.type)} {_expr(e.container)} {_expr(e.index)})"


@_expr.on(FaultIs)
def _fault_is(e: FaultIs) -> str:
    return f"(fault_is {_name(e.name)} {_quote(e.reason)})"


@_expr.on(Zero)
def _zero(e: Zero) -> str:
    return f"(zero:{_type(e.type)})"


@_expr.on(VectorNew)
def _vector_new(e: VectorNew) -> str:
    return f"(vector:{_type(e.type)}{_args(e.args)})"


@_expr.on(VectorAt)
def _vector_at(e: VectorAt) -> str:
    return f"(vector_at:{_type(e.type)} {_expr(e.base)} {_expr(e.index)})"


@_expr.on(GroupReduce)
def _group_reduce(e: GroupReduce) -> str:
    return f"(group {_name(e.op)}:{_type(e.type)} {_expr(e.value)})"


@_expr.on(Broadcast)
def _broadcast(e: Broadcast) -> str:
    return f"(broadcast:{_type(e.type)} {_expr(e.value)} {_expr(e.lane)})"


@_expr.on(Intrinsic)
def _intrinsic(e: Intrinsic) -> str:
    return f"(intrinsic {_name(e.name)}:{_type(e.type)}{_args(e.args)})"


def _returns(t) -> str:
    """`:type` of a call, nothing for a call of a function that returns nothing."""
    return f":{_type(t)}" if t is not None else ""


def _args(args: tuple[Expr, ...]) -> str:
    return "".join(" " + _expr(a) for a in args)
