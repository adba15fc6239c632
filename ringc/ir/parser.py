"""Read textual IR (".rir", as `printer.print_program` writes it) back into a Program.

The grammar is `ringc.lark` next to this file, parsed with lark's LALR(1) parser and its
contextual lexer; a Transformer runs during the parse and builds the frozen nodes of
nodes.py directly (tuples everywhere, so results compare equal to the printed Program).
The lark parser is built once per process. Names may be spelled like the grammar's
keywords (a field called `state`, a local called `local`): where the lexer offers a
keyword that the parser cannot take but a name fits, it is read as that name.

Limits: the parser checks syntax and the few things the text alone decides (known kernel
options and their value kinds, string escapes, array element types); whether the Program
makes sense is `verify`'s job. A canonical `nan` reads back as `math.nan` itself, so a
Const holding that object compares equal after a round trip (two distinct NaN objects
never compare equal in Python).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import struct
import threading
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

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
    ExprStmt,
    Fail,
    FaultIs,
    FieldDef,
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
    LocalDef,
    Logical,
    MathCall,
    Member,
    MessageDef,
    MessageNew,
    Param,
    Periodic,
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
    Try,
    Unary,
    VectorAt,
    VectorNew,
    While,
    Zero,
)
from .printer import NAME_RE
from .types import (
    BOOL,
    CONTAINER_KINDS,
    MAP_KINDS,
    SCALAR_TYPES,
    VECTOR_TYPES,
    AddressType,
    ArrayType,
    ContainerType,
    Loc,
    MessageType,
)

__all__ = ["parse_program", "RirSyntaxError"]

_GRAMMAR = Path(__file__).with_name("ringc.lark")
_ESCAPE_RE = re.compile(r'\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))')
_SIMPLE_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
_OPTION_FIELDS = {f.name: f for f in dataclasses.fields(KernelOptions)}


class RirSyntaxError(Exception):
    """Text that is not well-formed IR. `loc` points into the .rir text (1-based line and
    column); str() reads `FILE:LINE:COL: error: MESSAGE`."""

    def __init__(self, message: str, loc: Loc):
        self.message = message
        self.loc = loc
        super().__init__(f"{loc}: error: {message}")


class _TextError(Exception):
    """Raised inside the transformer; parse_program adds the file name."""

    def __init__(self, message: str, token: Token):
        super().__init__(message)
        self.message = message
        self.line = token.line
        self.col = token.column


def parse_program(text: str, filename: str = "<rir>") -> Program:
    """Parse textual IR. Raises RirSyntaxError, located in `filename`, for malformed text."""
    try:
        with _PARSING:                     # one parse at a time: _BUILD keeps its records
            _BUILD.records = {}
            return _parser().parse(text, on_error=_keyword_as_name)
    except _TextError as e:
        raise RirSyntaxError(e.message, Loc(filename, e.line, e.col)) from None
    except UnexpectedInput as e:
        message, line, col = _describe(e, text)
        raise RirSyntaxError(message, Loc(filename, line, col)) from None


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), start="program", parser="lalr",
                lexer="contextual", transformer=_BUILD, maybe_placeholders=True)


def _keyword_as_name(error: UnexpectedInput) -> bool:
    """Read a keyword the parser cannot take where it can take a name as that name.

    The contextual lexer offers keywords and names together where LALR merged the
    lookaheads of several contexts (after a type, a field name or a keyword may come), and
    prefers the keyword. No place in the grammar takes both, so when the keyword does not
    fit and a name does, it is the name (a field called `state`). Returns True to resume.
    """
    if not isinstance(error, UnexpectedToken) or "NAME" not in error.expected:
        return False
    token = error.token
    if token.type == "NAME" or not NAME_RE.fullmatch(token):
        return False
    error.interactive_parser.feed_token(Token.new_borrow_pos("NAME", str(token), token))
    return True


def _describe(error: UnexpectedInput, text: str) -> tuple[str, int, int]:
    """A one-line message and the (line, col) of a lark error."""
    if isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream]
        if char == '"':
            return "unterminated string literal", error.line, error.column
        return f"unexpected character {char!r}", error.line, error.column
    if isinstance(error, UnexpectedEOF) or (
            isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        lines = text.split("\n")
        return "unexpected end of input", len(lines), len(lines[-1]) + 1
    assert isinstance(error, UnexpectedToken)
    expected = sorted(_terminal_text(name) for name in error.expected)
    message = f"unexpected {str(error.token)!r}"
    if expected:
        message += "; expected " + ", ".join(expected[:12])
        if len(expected) > 12:
            message += ", ..."
    return message, error.line, error.column


def _terminal_text(name: str) -> str:
    pattern = _parser().get_terminal(name).pattern
    return repr(pattern.value) if isinstance(pattern, PatternStr) else name


def _unquote(token: Token) -> str:
    def escape(match: re.Match) -> str:
        hex_digits = match.group(1) or match.group(2) or match.group(3)
        if hex_digits is not None:
            code = int(hex_digits, 16)
            if code > 0x10FFFF:
                raise _TextError(f"escape \\U{hex_digits} is not a character", token)
            return chr(code)
        if match.group(4) not in _SIMPLE_ESCAPES:
            raise _TextError(f"unknown escape \\{match.group(4)} in string", token)
        return _SIMPLE_ESCAPES[match.group(4)]
    return _ESCAPE_RE.sub(escape, str(token)[1:-1])


def _float(token: Token) -> float:
    text = str(token)
    if text == "nan":
        return math.nan
    if text.startswith("nan("):
        return struct.unpack("<d", struct.pack("<Q", int(text[4:-1], 16)))[0]
    return float(text)


@v_args(inline=True)
class _Build(Transformer):
    """Builds nodes; one method per grammar rule (or alias). `records`: the fields of each
    message parsed so far, by name (a record type in a later definition takes them)."""

    records: dict[str, tuple] = {}

    # --- program and definitions ------------------------------------------------------

    def program(self, *defs) -> Program:
        messages = tuple(d for d in defs if isinstance(d, MessageDef))
        kernels = tuple(d for d in defs if isinstance(d, KernelDef))
        functions = tuple(d for d in defs if isinstance(d, FunctionDef))
        return Program(messages, kernels, functions)

    def message_def(self, name, type_id, loc, *fields) -> MessageDef:
        self.records[name] = tuple((f.name, f.type) for f in fields)
        return MessageDef(name, int(type_id), fields, loc)

    def field_def(self, name, type_) -> FieldDef:
        return FieldDef(name, type_)

    def kernel_def(self, name, loc, options, *members) -> KernelDef:
        state = tuple(m for m in members if isinstance(m, StateDef))
        handlers = tuple(m[1] for m in members if isinstance(m, tuple) and m[0] == "handler")
        helpers = tuple(m[1] for m in members if isinstance(m, tuple) and m[0] == "helper")
        periodic = tuple(m for m in members if isinstance(m, Periodic))
        return KernelDef(name, options, state, handlers, helpers, loc, periodic)

    def periodic(self, name, period) -> Periodic:
        return Periodic(name, int(period))

    def kernel_options(self, *options) -> KernelOptions:
        values = {}
        for key, value in options:
            field = _OPTION_FIELDS.get(str(key))
            if field is None:
                raise _TextError(f"unknown kernel option {str(key)!r}", key)
            if field.name in values:
                raise _TextError(f"kernel option {field.name!r} given twice", key)
            values[field.name] = _option_value(key, field.default, value)
        return KernelOptions(**values)

    def option(self, key, value) -> tuple[Token, object]:
        return key, value

    def option_int(self, token) -> int:
        return int(token)

    def option_name(self, name) -> str:
        return name

    def option_list(self, *names) -> tuple[str, ...]:
        return names

    def state_def(self, name, type_, init) -> StateDef:
        return StateDef(name, type_, init)

    def literal_tuple(self, *values) -> tuple:
        return values

    def handler_def(self, function) -> tuple[str, FunctionDef]:
        return "handler", function

    def helper_def(self, function) -> tuple[str, FunctionDef]:
        return "helper", function

    def device_def(self, function) -> FunctionDef:
        return function

    def function_def(self, name, params, returns, loc, *rest) -> FunctionDef:
        *locals_, body = rest
        return FunctionDef(name, params, returns, tuple(locals_), body, loc)

    def params(self, *params) -> tuple[Param, ...]:
        return params

    def param(self, name, type_) -> Param:
        return Param(name, type_)

    def returns(self, type_=None):
        return type_

    def local_def(self, name, type_) -> LocalDef:
        return LocalDef(name, type_)

    def shared_def(self, name, type_) -> SharedDef:
        return SharedDef(name, type_)

    def loc(self, file, line, col) -> Loc:
        if int(line) < 0 or int(col) < 0:
            raise _TextError("a location's line and column are not negative", line)
        return Loc(_unquote(file), int(line), int(col))

    def container_type(self, kind, item, capacity) -> ContainerType:
        if str(kind) not in CONTAINER_KINDS or str(kind) in MAP_KINDS:
            raise _TextError(f"unknown container {str(kind)!r}: a queue or stack is "
                             f"queue[T, n] or stack[T, n]", kind)
        return ContainerType(str(kind), item, int(capacity))

    def map_type(self, kind, key, item, capacity) -> ContainerType:
        if str(kind) not in MAP_KINDS:
            raise _TextError(f"unknown container {str(kind)!r}: a map is map[K, V, n] or "
                             f"lru[K, V, n]", kind)
        return ContainerType(str(kind), item, int(capacity), key)

    def type(self, head, *lengths):
        """A built-in type or a record (message) type, in arrays for each `[n]`, innermost
        first. A record takes the fields of its message definition, parsed before it."""
        if head.type == "STRING":
            t = MessageType(_unquote(head))
        elif head in SCALAR_TYPES:
            t = SCALAR_TYPES[head]
        elif head in VECTOR_TYPES:
            t = VECTOR_TYPES[head]
        elif head == "address":
            t = AddressType()
        else:
            t = MessageType(str(head))
        if isinstance(t, MessageType):
            t = MessageType(t.name, self.records.get(t.name))
        for length in lengths:
            t = ArrayType(t, int(length))
        return t

    def name(self, token) -> str:
        return _unquote(token) if token.type == "STRING" else str(token)

    # --- statements -------------------------------------------------------------------

    def body(self, *stmts) -> tuple:
        return stmts

    block = body

    def assign(self, target, value, loc) -> Assign:
        return Assign(target, value, loc)

    def if_(self, cond, loc, then, orelse) -> If:
        return If(cond, then, orelse if orelse is not None else (), loc)

    def while_(self, cond, loc, body) -> While:
        return While(cond, body, loc)

    def for_(self, var, start, stop, step, loc, body) -> For:
        return For(var, start, stop, int(step), body, loc)

    def break_(self, loc) -> Break:
        return Break(loc)

    def continue_(self, loc) -> Continue:
        return Continue(loc)

    def return_(self, value, loc) -> Return:
        return Return(value, loc)

    def expr_stmt(self, expr, loc) -> ExprStmt:
        return ExprStmt(expr, loc)

    def send(self, kernel, instance, message, loc) -> Send:
        return Send(kernel, instance, message, loc)

    def send_after(self, delay, kernel, instance, message, loc) -> SendAfter:
        return SendAfter(delay, kernel, instance, message, loc)

    def emit(self, message, loc) -> Emit:
        return Emit(message, loc)

    def reply(self, address, message, loc) -> Reply:
        return Reply(address, message, loc)

    def fail(self, reason, loc) -> Fail:
        return Fail(_unquote(reason), loc)

    def try_(self, loc, body, handler, orelse, finalbody) -> Try:
        name, block = handler if handler is not None else (None, None)
        return Try(body, name, block, orelse or (), finalbody or (), loc)

    def except_(self, name, block) -> tuple:
        return name, block

    def raise_(self, loc) -> Raise:
        return Raise(loc)

    def barrier(self, loc) -> Barrier:
        return Barrier(loc)

    def for_each(self, var, container, loc, body) -> ForEach:
        return ForEach(var, container, body, loc)

    # --- expressions ------------------------------------------------------------------

    def const(self, value, type_) -> Const:
        return Const(value, type_)

    def local(self, name, type_) -> Local:
        return Local(name, type_)

    def state(self, name, type_) -> State:
        return State(name, type_)

    def member(self, field, type_, base) -> Member:
        return Member(base, field, type_)

    def index(self, type_, base, index) -> Index:
        return Index(base, index, type_)

    def unary(self, op, type_, operand) -> Unary:
        return Unary(op, operand, type_)

    def binary(self, op, type_, left, right) -> Binary:
        return Binary(op, left, right, type_)

    def compare(self, op, type_, left, right) -> Compare:
        return Compare(op, left, right, type_)

    def logical(self, op, type_, left, right) -> Logical:
        return Logical(op, left, right, type_)

    def unary_op(self, token) -> str:
        return str(token)

    binary_op = compare_op = logical_op = unary_op

    def select(self, type_, cond, then, orelse) -> Select:
        return Select(cond, then, orelse, type_)

    def cast(self, type_, operand) -> Cast:
        return Cast(operand, type_)

    def call(self, function, type_, *args) -> Call:
        return Call(function, args, type_)

    def helper_call(self, self_token, function, type_, *args) -> HelperCall:
        if self_token != "self":
            raise _TextError(f"a helper call is written self.NAME, not {self_token}.NAME",
                             self_token)
        return HelperCall(function, args, type_)

    def math_call(self, function, type_, *args) -> MathCall:
        return MathCall(function, args, type_)

    def message_new(self, message, *fields) -> MessageNew:
        return MessageNew(message, fields, MessageType(message))

    def field_value(self, name, value) -> tuple:
        return name, value

    def container_call(self, method, type_, container, *args) -> ContainerCall:
        return ContainerCall(container, method, args, type_)

    def container_item(self, type_, container, index) -> ContainerItem:
        return ContainerItem(container, index, type_)

    def vector_new(self, type_, *args) -> VectorNew:
        return VectorNew(args, type_)

    def vector_at(self, type_, base, index) -> VectorAt:
        return VectorAt(base, index, type_)

    def fault_is(self, name, reason) -> FaultIs:
        return FaultIs(name, _unquote(reason), BOOL)

    def zero(self, type_) -> Zero:
        return Zero(type_)

    def group_reduce(self, op, type_, value) -> GroupReduce:
        return GroupReduce(op, value, type_)

    def broadcast(self, type_, value, lane) -> Broadcast:
        return Broadcast(value, lane, type_)

    def intrinsic(self, name, type_, *args) -> Intrinsic:
        return Intrinsic(name, args, type_)

    def int_literal(self, token) -> int:
        return int(token)

    def float_literal(self, token) -> float:
        return _float(token)

    def true_literal(self, _token) -> bool:
        return True

    def false_literal(self, _token) -> bool:
        return False


def _option_value(key: Token, default, value):
    """`value` as the kind of the option whose default is `default` (`targets`: a list,
    or `all` for None)."""
    if str(key) == "targets":
        if value == "all":
            return None
        if not isinstance(value, tuple):
            raise _TextError("kernel option 'targets' takes a list [a,b] or all", key)
        return value
    if isinstance(default, bool):
        if value not in ("true", "false"):
            raise _TextError(f"kernel option {str(key)!r} takes true or false", key)
        return value == "true"
    if not isinstance(value, type(default)):
        kinds = {int: "an integer", str: "a name", tuple: "a list [a,b]"}
        raise _TextError(f"kernel option {str(key)!r} takes {kinds[type(default)]}", key)
    return value


_BUILD = _Build()
_PARSING = threading.Lock()
