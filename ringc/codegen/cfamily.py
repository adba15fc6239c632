"""One printer for the C family (OpenCL C, CUDA C++, Metal Shading Language).

A target is a `CFamilyDialect` subclass holding spelling only: type names, address spaces,
operator and atomic spellings, math function names, pragmas. `Printer` lowers IR functions
to C text using nothing but that data, recording which helper functions (floor division,
checked shifts, saturating casts, atomics...) the code needs; the templates define those
helpers and the rest of the program around the printed functions.

Evaluation order and faults. Python evaluates operands left to right; C leaves most operand
orders unspecified. An operand is therefore evaluated into a temporary (inside a comma
expression, so `and`/`or`/`if-else` stay short-circuit) whenever a later operand could
observe the difference: both can fault, or one calls a function or performs an atomic while
the other reads state or faults. Faults never stop evaluation at once: a faulting operation
sets `rc_ctx->fault` (first fault wins) and yields a harmless value; every store to state,
send, emit, reply and atomic runs only after checking that no fault happened.

Limits: array values are copied only whole, by assignment or as a message constructor's
field from a place (a local, state or field); functions take and return scalars, addresses
and messages, not arrays. Identifiers must be ASCII or are encoded (see `mangle`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import CompileError
from ..ir.nodes import (
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
    For,
    FunctionDef,
    If,
    Index,
    Intrinsic,
    KernelDef,
    Loc,
    Local,
    Logical,
    MathCall,
    Member,
    MessageNew,
    Program,
    Reply,
    Return,
    Select,
    Send,
    State,
    Unary,
    While,
)
from ..ir.types import AddressType, ArrayType, MessageType, ScalarType
from ..ir.walk import all_stmts, expr_children, stmt_exprs, walk
from .identifiers import Names, mangle
from .layout import Layout

__all__ = ["CFamilyDialect", "Printer"]

# ---------------------------------------------------------------------------------------
# The dialect: everything a target spells differently
# ---------------------------------------------------------------------------------------

class CFamilyDialect:
    """Spellings of one C-family target. Subclasses override attributes only; merge tables
    with `{**CFamilyDialect.x, ...}`. Format fields: {a} {b} operands, {t} a C type, {w} the
    wrap type, {op} an operator symbol, {p} a pointer, {v} {e} values, {x} a bit pattern."""

    target = "c"
    # C spelling of each IR scalar as a value; `storage_types` overrides inside structs
    types = {"bool": "bool", "i8": "char", "i16": "short", "i32": "int", "i64": "long",
             "u8": "uchar", "u16": "ushort", "u32": "uint", "u64": "ulong", "f32": "float",
             "f64": "double"}
    storage_types = {"bool": "uchar"}
    int_suffix = {"u32": "u", "i64": "L", "u64": "UL"}
    # address-space qualifiers (with their trailing space) for pointers and local arrays
    global_space = ""
    local_space = ""
    private_space = ""
    function_qualifier = ""          # before every device function definition
    kernel_qualifier = ""            # before the entry point
    barrier = ""                     # a work-group barrier that also orders global memory
    fence = ""                       # orders this work-item's global stores and loads
    load_u32 = "(*(volatile {g}uint*)({p}))"
    store_u32 = "(*(volatile {g}uint*)({p}) = {v})"
    load_u64 = "(*(volatile {g}ulong*)({p}))"
    # atomics returning the old value, keyed by (operation, bits); missing = unsupported
    atomic_rmw: dict[tuple[str, int], str] = {}
    atomic_cas: dict[int, str] = {}
    atomic_type: dict[str, str] = {}   # the atomic object type per IR type (Metal)
    symbols = {"add": "+", "sub": "-", "mul": "*", "div": "/", "bitand": "&", "bitor": "|",
               "bitxor": "^", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
               "ge": ">="}
    ops = {
        "wrap": "(({t})(({w}){a} {op} ({w}){b}))",   # int + - *: unsigned, converted back
        "wrap_small": "(({t})({u})(({w}){a} {op} ({w}){b}))",   # ... through the same width
        "wrap_neg": "(({t})({u})(({w})0 - ({w}){a}))",
        "binary": "({a} {op} {b})",
        "narrow": "(({t})({a} {op} {b}))",          # bitwise ops on promoted small ints
        "neg": "(-{a})",
        "not": "(!{a})",
        "invert": "(({t})(~{a}))",
        "and": "({a} && {b})",
        "or": "({a} || {b})",
        "select": "({c} ? {a} : {b})",
        "cast": "(({t}){a})",
        "narrow_cast": "(({t})({w}){a})",
        "to_bool": "({a} != 0)",
        "sequence": "({a}, {b})",
        "call": "{f}({args})",
    }
    # correctly rounded float ops where plain operators are not guaranteed to be
    exact_float_ops: dict[tuple[str, str], str] = {}
    # math function -> (f32 spelling, f64 spelling)
    math = {f: (f, f) for f in ("sqrt", "exp", "log", "sin", "cos", "tan", "floor", "ceil",
                                "fabs", "pow", "isnan", "isinf", "fmod", "copysign")}
    infinity = {"f32": "INFINITY", "f64": "((double)INFINITY)"}
    nan = {"f32": "NAN", "f64": "((double)NAN)"}
    bitcast: dict[tuple[str, str], str] = {}      # (from, to) IR type names -> {x}
    clock = "rc_load_u64(rc_ctl({arena}, RC_CTL_HOST_CLOCK))"
    pragmas: tuple[str, ...] = ()
    feature_pragmas: dict[str, str] = {}          # feature -> pragma enabling it
    zero_init = "{0}"
    printf: str | None = None
    lacks: dict[str, str] = {}                    # IR type name -> why the target lacks it

    def atomic(self, op: str, t: ScalarType, **fields: str) -> str | None:
        """The spelled atomic `op` on `t`, or None when the target has none."""
        table = self.atomic_cas if op == "cas" else self.atomic_rmw
        spelling = table.get(t.bits) if op == "cas" else table.get((op, t.bits))
        if spelling is None:
            return None
        return spelling.format(t=self.types[t.name], a=self.atomic_type.get(t.name, ""),
                               g=self.global_space, **fields)


# ---------------------------------------------------------------------------------------
# The printer
# ---------------------------------------------------------------------------------------

FAULT, WRITE, READ = 1, 2, 4
_FAULTING_INT_OPS = ("floordiv", "mod")
_UNSIGNED = {"i8": "u8", "i16": "u16", "i32": "u32", "i64": "u64"}


def _conflict(a: int, b: int) -> bool:
    """Would evaluating two operands in either order be observable?"""
    return bool((a & FAULT and b & FAULT) or (a & WRITE and b) or (b & WRITE and a))


def _places(e) -> bool:
    """Is `e` a place (an lvalue made of locals, state, fields and indexing)?"""
    while isinstance(e, (Member, Index)):
        e = e.base
    return isinstance(e, (Local, State))


@dataclass
class Helpers:
    """The helper functions printed code calls, in first-use order: name -> description
    for the templates (`kind` selects the macro)."""
    items: dict[str, dict] = field(default_factory=dict)
    features: set[str] = field(default_factory=set)

    def need(self, name: str, kind: str, **info) -> str:
        if name not in self.items:
            self.items[name] = {"name": name, "kind": kind, **info}
        return name


class Printer:
    """Prints the functions of one program for one dialect; collects the helpers needed."""

    def __init__(self, dialect: CFamilyDialect, program: Program, layout: Layout,
                 names: Names, reasons: dict[str, int]):
        self.d = dialect
        self.program = program
        self.layout = layout
        self.names = names
        self.reasons = reasons
        self.helpers = Helpers()
        self.kernel: KernelDef | None = None
        self.fast_math = False
        self.bounds_check = True
        self._effects: dict[int, int] = {}

    # -- types ---------------------------------------------------------------------------

    def check_type(self, t, loc: Loc | None) -> None:
        """Raise when the target lacks `t` (e.g. Metal and f64)."""
        scalar = t.elem if isinstance(t, ArrayType) else t
        if isinstance(scalar, ScalarType):
            if scalar.name in self.d.lacks:
                raise CompileError(self.d.lacks[scalar.name], loc,
                                   hint=f"use f32, or compile for another target than "
                                        f"{self.d.target}")
            if scalar.name == "f64":
                self.helpers.features.add("f64")

    def ctype(self, t, storage: bool = False) -> str:
        if isinstance(t, ScalarType):
            if storage and t.name in self.d.storage_types:
                return self.d.storage_types[t.name]
            return self.d.types[t.name]
        if isinstance(t, AddressType):
            return "rc_address"
        if isinstance(t, MessageType):
            return self.names("msg", t.name)
        if isinstance(t, ArrayType):
            return self.ctype(t.elem, storage)
        raise TypeError(t)

    def declare(self, t, name: str, storage: bool = False) -> str:
        """`T name` or `T name[n]`."""
        suffix = f"[{t.length}]" if isinstance(t, ArrayType) else ""
        return f"{self.ctype(t, storage)} {name}{suffix}"

    def unsigned(self, t: ScalarType) -> str:
        """The unsigned type of `t`'s width."""
        return self.d.types[_UNSIGNED.get(t.name, t.name)]

    def wrap_type(self, t: ScalarType) -> str:
        """The unsigned type integer + - * << run in: at least 32 bits (no promotion to int)."""
        return self.d.types["u64" if t.bits == 64 else "u32"]

    # -- constants -----------------------------------------------------------------------

    def const(self, value, t: ScalarType) -> str:
        if t.is_bool:
            return "true" if value else "false"
        if t.is_int:
            v = int(value)
            suffix = self.d.int_suffix.get(t.name, "")
            ct = self.d.types[t.name]
            lo, _ = t.min_max()
            if t.is_signed and v == lo:
                return f"(({ct})(-{-v - 1}{suffix} - 1))"
            text = f"{abs(v)}{suffix}"
            if v < 0:
                text = f"(-{text})"
            return text if t.bits >= 32 else f"(({ct}){text})"
        v = float(value)
        if math.isnan(v):
            return self.d.nan[t.name]
        if math.isinf(v):
            return self.d.infinity[t.name] if v > 0 else f"(-{self.d.infinity[t.name]})"
        text = str(np.float32(abs(v))) if t.bits == 32 else repr(abs(v))
        if not any(c in text for c in ".e"):
            text += ".0"
        text += "f" if t.bits == 32 else ""
        return f"(-{text})" if math.copysign(1.0, v) < 0 else text

    # -- float operations ----------------------------------------------------------------

    def fbin(self, op: str, t: ScalarType, a: str, b: str, exact: bool = True) -> str:
        """A float + - * / spelled correctly rounded (unless the kernel asked fast_math)."""
        spelled = self.d.exact_float_ops.get((op, t.name)) if exact else None
        if spelled is not None:
            return spelled.format(a=a, b=b)
        return self.d.ops["binary"].format(a=a, b=b, op=self.d.symbols[op])

    def math_name(self, fn: str, t: ScalarType) -> str:
        return self.d.math[fn][0 if t.bits == 32 else 1]

    # -- effects -------------------------------------------------------------------------

    def effects(self, e) -> int:
        """FAULT | WRITE | READ: what evaluating `e` may do besides computing a value."""
        cached = self._effects.get(id(e))
        if cached is not None:
            return cached
        flags = 0
        for node in walk(e):
            if isinstance(node, Call):
                flags |= FAULT | WRITE | READ
            elif isinstance(node, Intrinsic) and node.name.startswith("atomic_"):
                flags |= WRITE | READ
            elif isinstance(node, State):
                flags |= READ
            elif isinstance(node, Index) and self.bounds_check:
                flags |= FAULT
            elif (isinstance(node, Binary) and node.op in _FAULTING_INT_OPS
                  and node.type.is_int):
                flags |= FAULT
        self._effects[id(e)] = flags
        return flags

    # -- functions -----------------------------------------------------------------------

    def function_name(self, fn: FunctionDef, kernel: KernelDef | None) -> str:
        return self.names("fn", kernel.name, fn.name) if kernel else self.names("dev", fn.name)

    def signature(self, fn: FunctionDef, kernel: KernelDef | None, handler: bool) -> str:
        params = [f"{self.d.private_space}rc_context* rc_ctx"]
        if kernel is not None:
            params.append(f"{self.d.global_space}{self.names('state', kernel.name)}* rc_self")
        for p in fn.params:
            if isinstance(p.type, ArrayType):
                raise CompileError(f"parameter '{p.name}' of '{fn.name}' is an array", fn.loc,
                                   hint="pass the elements you need, or read them from state")
            self.check_type(p.type, fn.loc)
            params.append(self.declare(p.type, mangle(p.name)))
        if isinstance(fn.returns, ArrayType):
            raise CompileError(f"'{fn.name}' returns an array", fn.loc,
                               hint="return a message holding the array instead")
        ret = "void" if handler or fn.returns is None else self.ctype(fn.returns)
        return (f"{self.d.function_qualifier}{ret} {self.function_name(fn, kernel)}"
                f"({', '.join(params)})")

    def function(self, fn: FunctionDef, kernel: KernelDef | None, handler: bool) -> str:
        """The definition of a handler, kernel helper or device function."""
        self.kernel = kernel
        self.fn = fn
        self.handler = handler
        self.returns = None if handler else fn.returns
        self.loc = fn.loc
        self.fast_math = kernel.options.fast_math if kernel else False
        self.bounds_check = kernel.options.bounds_check if kernel else True
        self.lines: list[str] = []
        self.pre: list[str] = []
        self.temps = 0
        self.dirty = False
        self.last_line: tuple[str, int] | None = None
        self.depth = 1
        self.locals = self._collect_locals(fn)
        self._effects.clear()           # bounds_check differs between kernels
        self.block(fn.body)
        body = self.lines
        head = [self.signature(fn, kernel, handler), "{"]
        if self.returns is not None and not isinstance(self.returns, ScalarType):
            head.append(f"    {self.ctype(self.returns)} rc_zero = {self.d.zero_init};")
        head.append(f"    if (rc_ctx->fault) return{self.zero_return()};")
        for name, t in self.locals.items():
            self.check_type(t, fn.loc)
            init = "0" if isinstance(t, ScalarType) else self.d.zero_init
            head.append(f"    {self.declare(t, mangle(name))} = {init};")
        return "\n".join(head + body + ["}"])

    def _collect_locals(self, fn: FunctionDef) -> dict[str, object]:
        params = {p.name for p in fn.params}
        found: dict[str, object] = {lv.name: lv.type for lv in fn.locals}

        for s in all_stmts(fn.body):
            if isinstance(s, For) and s.var not in params:
                found.setdefault(s.var, s.start.type)
            for e in stmt_exprs(s):
                for node in walk(e):
                    if isinstance(node, Local) and node.name not in params:
                        found.setdefault(node.name, node.type)
        return found

    def zero_return(self) -> str:
        if self.returns is None:
            return ""
        return " 0" if isinstance(self.returns, ScalarType) else " rc_zero"

    # -- emitting lines ------------------------------------------------------------------

    def emit(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def flush_pre(self) -> None:
        for line in self.pre:
            self.emit(line)
        self.pre = []

    def check_fault(self) -> None:
        if self.dirty:
            self.emit(f"if (rc_ctx->fault) return{self.zero_return()};")
            self.dirty = False

    def temp(self, t) -> str:
        """A fresh temporary of type `t`, declared before the statement."""
        self.temps += 1
        name = f"rc_t{self.temps}"
        self.pre.append(f"{self.declare(t, name)};")
        return name

    def locate(self, loc: Loc) -> None:
        self.loc = loc
        where = (comment_text(loc.file.rsplit("/", 1)[-1]), loc.line)
        if where != self.last_line:
            self.emit(f"// {where[0]}:{where[1]}")
            self.last_line = where

    # -- statements ----------------------------------------------------------------------

    def block(self, stmts) -> None:
        for s in stmts:
            self.statement(s)

    def statement(self, s) -> None:
        self.locate(s.loc)
        method = getattr(self, "stmt_" + type(s).__name__.lower())
        method(s)

    def stmt_assign(self, s: Assign) -> None:
        if isinstance(s.value.type, ArrayType):
            return self.copy_array(s.target, s.value)
        root = s.target
        while isinstance(root, (Member, Index)):
            root = root.base
        private = isinstance(root, Local)    # a store there after a fault is harmless
        indices = _chain_indices(s.target)
        # Python evaluates the value, then the target's indices; then the store happens,
        # only if nothing faulted: a shared target gets the value through a temporary
        value = self.expr(s.value)
        if (indices or not private) and self.effects(s.value) & (FAULT | WRITE):
            value = self.hoist(value, s.value.type)
        overrides = {}
        for ix in indices:
            checked = self.checked_index(ix)
            if not private and (self.bounds_check or self.effects(ix.index) & (FAULT | WRITE)):
                checked = self.hoist(checked, _U64)
            overrides[id(ix)] = checked
        target = self.place(s.target, overrides)
        self.flush_pre()
        if not private:
            self.check_fault()
        self.emit(f"{target} = {value};")

    def hoist(self, text: str, t) -> str:
        """Evaluate `text` now, into a fresh temporary declared before the statement."""
        if re.fullmatch(r"rc_t\d+|[A-Za-z_]\w*", text) or re.fullmatch(r"-?[\d.]+\w*", text):
            return text
        self.temps += 1
        name = f"rc_t{self.temps}"
        self.pre.append(f"{self.ctype(t)} {name} = {text};")
        return name

    def copy_array(self, target, value) -> None:
        for side in (target, value):
            if not _places(side) or self.effects(side) & (FAULT | WRITE):
                raise CompileError("an array value can only be copied from a local, state or "
                                   "message field", self.loc,
                                   hint="copy element by element in a loop")
        dst, src = self.place(target, {}), self.place(value, {})
        self.flush_pre()
        self.check_fault()
        n = target.type.length
        self.emit(f"for (uint rc_k = 0u; rc_k < {n}u; ++rc_k) {dst}[rc_k] = {src}[rc_k];")

    def stmt_if(self, s: If) -> None:
        cond = self.expr(s.cond)
        self.flush_pre()
        self.emit(f"if {_parenthesized(cond)} {{")
        before = self.dirty
        self.nested(s.then)
        after_then, self.dirty = self.dirty, before
        if s.orelse:
            self.emit("} else {")
            self.nested(s.orelse)
        self.dirty = self.dirty or after_then
        self.emit("}")

    def nested(self, stmts) -> None:
        self.depth += 1
        saved = self.last_line
        self.block(stmts)
        self.last_line = saved
        self.depth -= 1

    def loop_may_fault(self, s) -> bool:
        """Can an iteration fault? Then each iteration starts with a fault check, so a
        loop whose values went harmless after a fault cannot spin forever."""
        return any(self.effects(e) & FAULT for st in all_stmts([s]) for e in stmt_exprs(st))

    def stmt_while(self, s: While) -> None:
        may_fault = self.loop_may_fault(s)
        self.dirty = self.dirty or may_fault
        if self.effects(s.cond) & (FAULT | WRITE):    # evaluate it inside, every iteration
            self.emit("while (1) {")
            self.depth += 1
            cond = self.hoist(self.expr(s.cond), s.cond.type)
            self.flush_pre()
            self.check_fault()
            self.emit(f"if (!{cond}) break;")
        else:
            cond = self.expr(s.cond)
            self.flush_pre()
            self.emit(f"while {_parenthesized(cond)} {{")
            self.depth += 1
            self.check_fault()
        self.depth -= 1
        self.nested(s.body)
        self.dirty = self.dirty or may_fault
        self.emit("}")

    def stmt_for(self, s: For) -> None:
        var_type = self.locals[s.var]
        t = var_type if isinstance(var_type, ScalarType) else s.start.type
        wide = self.d.types["i64" if t.is_signed else "u64"]
        uwide = self.d.types["u64"]
        self.temps += 1
        it, stop = f"rc_i{self.temps}", f"rc_e{self.temps}"
        self.emit("{")
        self.depth += 1
        start_text = self.expr(s.start)
        self.flush_pre()
        self.emit(f"{wide} {it} = ({wide}){start_text};")
        stop_text = self.expr(s.stop)
        self.flush_pre()
        self.emit(f"{wide} {stop} = ({wide}){stop_text};")
        step = self.const(min(abs(s.step), (1 << 64) - 1), _U64)
        if s.step > 0:
            test, dist = f"{it} < {stop}", f"({uwide}){stop} - ({uwide}){it}"
            nxt = f"({wide})(({uwide}){it} + {step})"
        else:
            test, dist = f"{it} > {stop}", f"({uwide}){it} - ({uwide}){stop}"
            nxt = f"({wide})(({uwide}){it} - {step})"
        self.emit(f"for (; {test}; {it} = ({dist} > {step}) ? {nxt} : {stop}) {{")
        self.depth += 1
        self.emit(f"{mangle(s.var)} = ({self.ctype(var_type)}){it};")
        may_fault = self.loop_may_fault(s)
        self.dirty = self.dirty or may_fault
        self.check_fault()
        self.depth -= 1
        self.nested(s.body)
        self.dirty = self.dirty or may_fault
        self.emit("}")
        self.depth -= 1
        self.emit("}")

    def stmt_break(self, s: Break) -> None:
        self.emit("break;")

    def stmt_continue(self, s: Continue) -> None:
        self.emit("continue;")

    def stmt_fail(self, s: Fail) -> None:
        self.emit(f"rc_fault(rc_ctx, {self.reasons[s.reason]}u); "
                  f"return{self.zero_return()};  // {comment_text(s.reason)}")

    def stmt_exprstmt(self, s: ExprStmt) -> None:
        text = self.expr(s.expr)
        self.flush_pre()
        self.emit(f"{text};" if isinstance(s.expr, (Call, Intrinsic)) else f"(void){text};")

    def stmt_return(self, s: Return) -> None:
        if s.value is None:
            self.emit(f"return{self.zero_return()};")
        elif self.handler:
            msg = s.value.type.name
            self.effect_call(self.names("put", msg), [s.value],
                             "rc_ctx, rc_ctx->source, rc_ctx->correlation, {0}")
            self.emit("return;")
        else:
            value = self.expr(s.value)
            self.flush_pre()
            self.emit(f"return {value};")

    def stmt_send(self, s: Send) -> None:
        k = self.layout.kernel(s.kernel)
        self.effect_call(self.names("send", s.message.type.name), [s.message, s.instance],
                         f"rc_ctx, {k.queue_base}u, {k.instances}u, "
                         f"({self.d.types['u64']}){{1}}, {{0}}")

    def stmt_emit(self, s: Emit) -> None:
        self.effect_call(self.names("put", s.message.type.name), [s.message],
                         f"rc_ctx, RC_HOST_QUEUE, {self.const(0, _U64)}, {{0}}")

    def stmt_reply(self, s: Reply) -> None:
        self.effect_call(self.names("put", s.message.type.name), [s.address, s.message],
                         "rc_ctx, {0}.queue, {0}.correlation, {1}", always_hoist=(0,))

    def effect_call(self, function: str, exprs, args: str, always_hoist=()) -> None:
        """`function(args)` after evaluating `exprs` in order, checking for a fault first."""
        hoist = any(self.effects(e) & (FAULT | WRITE) for e in exprs)
        texts = []
        for i, e in enumerate(exprs):
            text = self.expr(e)
            if hoist or i in always_hoist:
                text = self.hoist(text, e.type)
            texts.append(text)
        self.flush_pre()
        self.check_fault()
        self.emit(f"{function}({args.format(*texts)});")

    # -- places --------------------------------------------------------------------------

    def checked_index(self, e: Index) -> str:
        index = self.expr(e.index)
        if not self.bounds_check:
            return index
        self.helpers.need("rc_idx", "idx")
        self.dirty = True
        return f"rc_idx(rc_ctx, ({self.d.types['u64']}){index}, {e.base.type.length}u)"

    def place(self, e, overrides: dict[int, str]) -> str:
        """An lvalue; `overrides` gives already-evaluated index texts by Index node id."""
        if isinstance(e, Local):
            return mangle(e.name)
        if isinstance(e, State):
            self.check_type(e.type, self.loc)
            return f"rc_self->{mangle(e.name)}"
        if isinstance(e, Member):
            return f"{self.place(e.base, overrides)}.{self.member_name(e)}"
        if isinstance(e, Index):
            index = overrides.get(id(e)) or self.checked_index(e)
            return f"{self.place(e.base, overrides)}[{index}]"
        raise CompileError("cannot assign to this expression", self.loc)

    def member_name(self, e: Member) -> str:
        return e.field if isinstance(e.base.type, AddressType) else mangle(e.field)

    # -- expressions ---------------------------------------------------------------------

    def expr(self, e) -> str:
        """C text for `e`; temporaries it needs are appended to `self.pre`."""
        self.check_type(e.type, self.loc)
        if isinstance(e.type, ArrayType) and not _places(e):
            raise CompileError("an array value can only be a local, state or message field",
                               self.loc, hint="index it, or copy it by assignment")
        if self.effects(e) & FAULT:
            self.dirty = True
        kids = expr_children(e)
        sequenced = isinstance(e, (Logical, Select, MessageNew))
        if len(kids) < 2 or sequenced:
            return self.node(e, [self.expr(k) for k in kids] if not sequenced else None)
        flags = [self.effects(k) for k in kids]
        texts, first = [], []
        for i, k in enumerate(kids):
            later = 0
            for f in flags[i + 1:]:
                later |= f
            if isinstance(e, Intrinsic) and i == 0:
                texts.append(self.atomic_ref(k, first if _conflict(flags[0], later) else None))
                continue
            text = self.expr(k)
            if _conflict(flags[i], later) and not isinstance(k.type, ArrayType):
                name = self.temp(k.type)
                first.append(f"{name} = {text}")
                text = name
            texts.append(text)
        out = self.node(e, texts)
        for assignment in reversed(first):
            out = self.d.ops["sequence"].format(a=assignment, b=out)
        return out

    def node(self, e, kids: list[str] | None) -> str:
        method = getattr(self, "expr_" + type(e).__name__.lower())
        return method(e, kids)

    def expr_const(self, e: Const, kids) -> str:
        return self.const(e.value, e.type)

    def expr_local(self, e: Local, kids) -> str:
        return mangle(e.name)

    def expr_state(self, e: State, kids) -> str:
        return f"rc_self->{mangle(e.name)}"

    def expr_member(self, e: Member, kids) -> str:
        return f"{kids[0]}.{self.member_name(e)}"

    def expr_index(self, e: Index, kids) -> str:
        if not self.bounds_check:
            return f"{kids[0]}[{kids[1]}]"
        self.helpers.need("rc_idx", "idx")
        return (f"{kids[0]}[rc_idx(rc_ctx, ({self.d.types['u64']}){kids[1]}, "
                f"{e.base.type.length}u)]")

    def expr_unary(self, e: Unary, kids) -> str:
        a, t, ops = kids[0], e.type, self.d.ops
        if e.op == "not" or (e.op == "invert" and t.is_bool):
            return ops["not"].format(a=a)
        if e.op == "invert":
            return ops["invert"].format(a=a, t=self.ctype(t))
        if t.is_float:
            return ops["neg"].format(a=a)
        if t.is_signed or t.bits < 32:
            return ops["wrap_neg"].format(a=a, t=self.ctype(t), w=self.wrap_type(t),
                                          u=self.unsigned(t))
        return ops["binary"].format(a="0", b=a, op="-")

    def expr_binary(self, e: Binary, kids) -> str:
        a, b = kids
        t, op, ops = e.type, e.op, self.d.ops
        if t.is_float:
            if op in ("floordiv", "mod"):
                return f"{self.float_divmod_helper(op, t)}({a}, {b})"
            return self.fbin(op, t, a, b, exact=not self.fast_math)
        if op in ("floordiv", "mod"):
            return f"{self.int_helper(op, t)}(rc_ctx, {a}, {b})"
        if op in ("shl", "shr"):
            return f"{self.int_helper(op, t)}({a}, {b})"
        if op == "div":
            raise CompileError("true division of integers reached codegen", self.loc)
        sym = self.d.symbols[op]
        if t.is_bool or (op.startswith("bit") and t.bits < 32):
            return ops["narrow"].format(a=a, b=b, op=sym, t=self.ctype(t))
        if op.startswith("bit") or (not t.is_signed and t.bits >= 32):
            return ops["binary"].format(a=a, b=b, op=sym)
        return ops["wrap" if t.bits >= 32 else "wrap_small"].format(
            a=a, b=b, op=sym, t=self.ctype(t), w=self.wrap_type(t), u=self.unsigned(t))

    def expr_compare(self, e: Compare, kids) -> str:
        if not isinstance(e.left.type, ScalarType):
            raise CompileError(f"cannot compare values of type {e.left.type}", self.loc)
        return self.d.ops["binary"].format(a=kids[0], b=kids[1], op=self.d.symbols[e.op])

    def expr_logical(self, e: Logical, kids) -> str:
        return self.d.ops[e.op].format(a=self.expr(e.left), b=self.expr(e.right))

    def expr_select(self, e: Select, kids) -> str:
        if isinstance(e.type, ArrayType):
            raise CompileError("a conditional expression cannot choose between arrays",
                               self.loc, hint="use an if statement and index the arrays")
        return self.d.ops["select"].format(c=self.expr(e.cond), a=self.expr(e.then),
                                           b=self.expr(e.orelse))

    def expr_cast(self, e: Cast, kids) -> str:
        a, src, dst, ops = kids[0], e.expr.type, e.type, self.d.ops
        if src == dst:
            return a
        if dst.is_bool:
            return ops["to_bool"].format(a=a)
        if src.is_float and dst.is_int:
            return f"{self.cast_helper(src, dst)}({a})"
        if src.is_int and dst.is_int and dst.bits < src.bits and dst.is_signed:
            return ops["narrow_cast"].format(a=a, t=self.ctype(dst), w=self.unsigned(dst))
        return ops["cast"].format(a=a, t=self.ctype(dst))

    def expr_call(self, e: Call, kids) -> str:
        args = ["rc_ctx"]
        if e.function.startswith("self."):
            fn = next(f for f in self.kernel.helpers if f.name == e.function[5:])
            name = self.function_name(fn, self.kernel)
            args.append("rc_self")
        else:
            name = self.names("dev", e.function)
        return self.d.ops["call"].format(f=name, args=", ".join(args + kids))

    def expr_mathcall(self, e: MathCall, kids) -> str:
        fn, t = e.function, e.args[0].type
        if fn in ("isnan", "isinf"):
            return self.d.ops["to_bool"].format(a=f"{self.math_name(fn, t)}({kids[0]})")
        if fn in ("min", "max") or (fn == "abs" and t.is_int):
            name = self.helpers.need(f"rc_{fn}_{t.name}", fn, t=self.ctype(t),
                                     w=self.wrap_type(t) if t.is_int else None,
                                     u=self.unsigned(t) if t.is_int else None)
            out = kids[0]
            for kid in kids[1:] or [None]:     # min(a, b, c) is min(min(a, b), c)
                out = f"{name}({out}{', ' + kid if kid else ''})"
            return out
        if fn == "abs":
            fn = "fabs"
        if fn == "sqrt" and not self.fast_math and ("sqrt", t.name) in self.d.exact_float_ops:
            return self.d.exact_float_ops[("sqrt", t.name)].format(a=kids[0])
        return f"{self.math_name(fn, t)}({', '.join(kids)})"

    def expr_messagenew(self, e: MessageNew, kids) -> str:
        msg = self.temp_zero(e.type)
        parts = []
        for name, value in e.fields:
            target = f"{msg}.{mangle(name)}"
            if isinstance(value.type, ArrayType):
                if self.effects(value) & (FAULT | WRITE) or not _places(value):
                    raise CompileError("an array field can only be given a local, state or "
                                       "message field", self.loc)
                src = self.expr(value)
                parts += [f"{target}[{i}] = {src}[{i}]" for i in range(value.type.length)]
            else:
                parts.append(f"{target} = {self.expr(value)}")
        if not parts:
            return msg
        return self.d.ops["sequence"].format(a=", ".join(parts), b=msg)

    def temp_zero(self, t) -> str:
        self.temps += 1
        name = f"rc_m{self.temps}"
        self.pre.append(f"{self.ctype(t)} {name} = {self.d.zero_init};")
        return name

    def expr_intrinsic(self, e: Intrinsic, kids) -> str:
        if e.name == "sender":
            return "rc_sender(rc_ctx)"
        if e.name == "clock":
            return "rc_clock(rc_ctx->arena, rc_ctx->devmem)"
        if e.name == "instance_id":
            return self.d.ops["cast"].format(t=self.ctype(e.type), a="rc_ctx->instance")
        name = self.atomic_helper(e.name[len("atomic_"):], e.type)
        return f"{name}(rc_ctx, {', '.join(kids)})"

    def atomic_ref(self, ref, first: list[str] | None) -> str:
        """`&place` of an atomic's first argument (state or an element of state); with
        `first`, its index is evaluated into a temporary by an assignment added there."""
        if not (isinstance(ref, State) or (isinstance(ref, Index)
                                            and isinstance(ref.base, State))):
            raise CompileError("the first argument of an atomic must be self.NAME or "
                               "self.NAME[i]", self.loc)
        overrides = {}
        if isinstance(ref, Index):
            checked = self.checked_index(ref)
            if first is not None:
                name = self.temp(_U64)
                first.append(f"{name} = {checked}")
                checked = name
            overrides[id(ref)] = checked
        return f"&{self.place(ref, overrides)}"

    # -- helpers the templates define ----------------------------------------------------

    def int_helper(self, op: str, t: ScalarType) -> str:
        return self.helpers.need(
            f"rc_{op}_{t.name}", op, t=self.ctype(t), bits=t.bits, signed=t.is_signed,
            w=self.wrap_type(t), u=self.unsigned(t))

    def float_divmod_helper(self, op: str, t: ScalarType) -> str:
        return self.helpers.need(
            f"rc_f{op}_{t.name}", "f" + op, t=self.ctype(t),
            sub=lambda a, b: self.fbin("sub", t, a, b), div=lambda a, b: self.fbin(
                "div", t, a, b), add=lambda a, b: self.fbin("add", t, a, b),
            fmod=self.math_name("fmod", t), floor=self.math_name("floor", t),
            copysign=self.math_name("copysign", t), zero=self.const(0.0, t),
            one=self.const(1.0, t), half=self.const(0.5, t))

    def cast_helper(self, src: ScalarType, dst: ScalarType) -> str:
        lo, hi = dst.min_max()
        return self.helpers.need(
            f"rc_cast_{src.name}_{dst.name}", "f2i", f=self.ctype(src), t=self.ctype(dst),
            flo=self.const(float(src.np_dtype.type(lo)), src),
            fhi=self.const(float(src.np_dtype.type(hi)), src),
            lo=self.const(lo, dst), hi=self.const(hi, dst))

    def atomic_helper(self, op: str, t: ScalarType) -> str:
        if not (t.is_int or t.is_float) or t.bits < 32:
            raise CompileError(f"rc.atomic_{op} needs a 32- or 64-bit state variable, "
                               f"not {t}", self.loc)
        bits_type = SCALARS_U[t.bits]
        if t.bits == 64:
            self.helpers.features.add("atomic64" if op in ("add", "cas") else "atomic64_minmax")
        info = {"t": self.ctype(t), "op": op, "g": self.d.global_space}
        if t.is_float:
            cas = self.d.atomic("cas", bits_type, p="rc_p", e="rc_old", v="rc_new")
            if cas is None:
                raise CompileError(f"{self.d.target} has no {t.bits}-bit atomics (needed "
                                   f"for rc.atomic_{op} on {t})", self.loc)
            self.helpers.features.add("atomic64" if t.bits == 64 else "atomic32")
            to_bits = self.d.bitcast[(t.name, bits_type.name)]
            from_bits = self.d.bitcast[(bits_type.name, t.name)]
            cur = from_bits.format(x="rc_old")
            step = {"add": self.fbin("add", t, "rc_cur", "rc_v"),
                    "max": "((rc_v > rc_cur) ? rc_v : rc_cur)",
                    "min": "((rc_v < rc_cur) ? rc_v : rc_cur)",
                    "cas": "((rc_cur == rc_e) ? rc_v : rc_cur)"}[op]
            info.update(kind="atomic_float", u=self.ctype(bits_type), cas=cas, cur=cur,
                        step=step, bits=to_bits.format(x="rc_next"))
        else:
            spelled = self.d.atomic(op, t, p="rc_p", v="rc_v", e="rc_e")
            if spelled is None:
                raise CompileError(f"{self.d.target} has no {t.bits}-bit atomic {op}", self.loc,
                                   hint="use a 32-bit state variable")
            info.update(kind="atomic_int", expr=spelled)
        return self.helpers.need(f"rc_atomic_{op}_{t.name}", info.pop("kind"), **info)


_U64 = ScalarType("u64")
SCALARS_U = {32: ScalarType("u32"), 64: _U64}


def _parenthesized(text: str) -> str:
    """`text` in one pair of parentheses (for if/while conditions)."""
    if text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0:
                if i == len(text) - 1:
                    return text
                break
    return f"({text})"


def comment_text(text: str) -> str:
    """User text (an rc.fail reason, a file name) made safe inside a `//` comment: plain
    words stay as they are, anything else is quoted with escapes, so no newline or
    trailing backslash can end the comment early or splice the next line into it."""
    if re.fullmatch(r"[\w.+\- ]*", text):
        return text
    return json.dumps(text)


def _chain_indices(e) -> list[Index]:
    """The Index nodes of an assignment target, outermost first (Python's order)."""
    found = []
    while isinstance(e, (Member, Index)):
        if isinstance(e, Index):
            found.append(e)
        e = e.base
    return list(reversed(found))


