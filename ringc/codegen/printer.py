"""Printing IR functions as C for one C-family dialect (OpenCL C, CUDA C++, Metal).

`ProgramPrinter` is what every function of one program shares: the dialect, the program,
its layout, the C names, the `rc.fail` reason codes and the helper functions the printed
code needs (`helpers.Helpers`; the templates define them), with the C spelling of types,
constants and signatures. `FunctionPrinter` is the state of printing one function, made
per function by `ProgramPrinter.function`; it prints statements and extends
`expressions.ExpressionPrinter`, which prints expressions in Python's evaluation order.

Faults: a fault sets `rc_ctx->fault` and evaluation goes on with harmless values, so every
store to state, send, emit, reply and atomic is printed after a check that no fault
happened (a store to a local is harmless and needs none), and every loop iteration that can
fault starts with one.

Cooperative kernels (every function of one, and the copies of the device functions they
call): every lane of the work-group must reach each synchronisation point, so a lane that
faults does not leave its function: it goes on with harmless values, each store to state
or a shared array, send, emit and reply is printed under `if (!rc_ctx->fault)`, and locals
keep being computed as on the other lanes (docs/device-program.md, "Cooperative kernels").
It leaves only a try region (which it skips whole when it enters with a fault) and a loop
without a synchronisation point in which it faulted (`rc_ctx->faults` counts faults). At
each synchronisation point (`rc_sync`) the lanes learn whether any of them faulted; if one
did, every lane stops having effects (`RC_IDLE_LANE`) and runs to the end of the handler
with the others, so no lane ever leaves a loop that holds a barrier early (PoCL needs the
loops around barriers to be left only at their head or end).

Limits: functions take and return scalars, addresses and messages, not arrays.
Identifiers must be ASCII or are encoded (see `mangle`). The program must be verified IR
(`ringc.ir.verify`): what the verifier rejects is not checked again here.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from ..errors import CompileError
from ..ir.dispatch import Dispatch
from ..ir.nodes import (
    Assign,
    Barrier,
    Break,
    Call,
    ContainerCall,
    ContainerItem,
    Continue,
    Emit,
    Expr,
    ExprStmt,
    Fail,
    For,
    ForEach,
    FunctionDef,
    HelperCall,
    If,
    Index,
    Intrinsic,
    KernelDef,
    Loc,
    Local,
    Member,
    Program,
    Raise,
    Reply,
    Return,
    Send,
    SendAfter,
    Stmt,
    Try,
    VectorAt,
    While,
    Zero,
)
from ..ir.types import (
    AddressType,
    ArrayType,
    ContainerType,
    MessageType,
    ScalarType,
    VectorType,
    array_shape,
    leaf_type,
    scalar_types,
)
from ..ir.walk import (
    all_stmts,
    function_locals,
    has_sync,
    shared_locals,
    stmt_exprs,
    syncing_helpers,
)
from ..protocol import REASONS
from .dialect import CFamilyDialect
from .expressions import FAULT, WRITE, ExpressionPrinter, chain_indices, is_place
from .helpers import Helpers
from .identifiers import Names, mangle
from .layout import Layout

__all__ = ["ProgramPrinter", "FunctionPrinter", "comment_text"]

_UNSIGNED = {"i8": "u8", "i16": "u16", "i32": "u32", "i64": "u64"}
_U64 = ScalarType("u64")
_LOOP = "loop"                  # a region entry: a loop of the user's
_SYNC_LOOP = "sync-loop"        # a cooperative kernel's loop with a synchronisation point
_FREE_LOOP = "loop:"            # + the C variable of rc_ctx->faults where such a loop began
_BREAK, _CONTINUE = 1, 2        # a try statement's jump variable: what to do after finally
_EVALUATED = re.compile(r"[A-Za-z_]\w*|-?[\d.]+\w*")   # a name or a literal


def _is_loop(region: str) -> bool:
    return region in (_LOOP, _SYNC_LOOP) or region.startswith(_FREE_LOOP)


# ---------------------------------------------------------------------------------------
# What every function of a program shares
# ---------------------------------------------------------------------------------------

class ProgramPrinter:
    """Prints the functions of one program for one dialect; collects the helpers needed."""

    def __init__(self, dialect: CFamilyDialect, program: Program, layout: Layout,
                 names: Names, reasons: dict[str, int]):
        self.d = dialect
        self.program = program
        self.layout = layout
        self.names = names
        self.reasons = reasons
        self.containers: dict[ContainerType, str] = {}   # C struct names (codegen fills)
        self.builtin_reasons = {name: code for code, name in REASONS.items()}
        self.helpers = Helpers()
        self._syncing: dict[str, frozenset[str]] = {}
        self.shared_offsets: dict[tuple[str, str, str], int] = {}   # (kernel, fn, array)
        self.shared_bytes: dict[str, int] = {}                     # per kernel
        for k in program.kernels:
            offset = 0
            for fn in (*k.handlers, *k.helpers):
                for name, t in shared_locals(fn).items():
                    self.shared_offsets[(k.name, fn.name, name)] = offset
                    offset += (t.size + 15) // 16 * 16
            self.shared_bytes[k.name] = offset

    def syncing(self, kernel: KernelDef) -> frozenset[str]:
        """The helpers of `kernel` that synchronise its lanes (cooperative kernels)."""
        if kernel.name not in self._syncing:
            self._syncing[kernel.name] = syncing_helpers(kernel.helpers)
        return self._syncing[kernel.name]

    def reason_code(self, reason: str) -> int:
        """The code of a fault reason: a built-in one's, or an `rc.fail` string's."""
        return self.builtin_reasons.get(reason) or self.reasons[reason]

    def function(self, fn: FunctionDef, kernel: KernelDef | None, handler: bool,
                 coop: bool = False) -> str:
        """The definition of a handler, kernel helper (both with `kernel`) or device
        function (`coop`: its copy for cooperative kernels)."""
        return FunctionPrinter(self, fn, kernel, handler, coop).text()

    # -- types ----------------------------------------------------------------------------

    def check_type(self, t, loc: Loc | None) -> None:
        """Raise when the target lacks `t` (e.g. Metal and f64), or a type inside it."""
        for scalar in sorted(scalar_types(t), key=str):
            if scalar.name in self.d.lacks:
                raise CompileError(self.d.lacks[scalar.name], loc,
                                   hint=f"use f32, or compile for another target than "
                                        f"{self.d.target}")
            if scalar.name == "f64":
                self.helpers.features.add("f64")

    def ctype(self, t, storage: bool = False) -> str:
        """The C type of an IR type (an array: of its elements); `storage`: inside a struct."""
        if isinstance(t, ScalarType):
            if storage and t.name in self.d.storage_types:
                return self.d.storage_types[t.name]
            return self.d.types[t.name]
        if isinstance(t, VectorType):
            return self.d.vector_types[t.name]
        if isinstance(t, AddressType):
            return "rc_address"
        if isinstance(t, MessageType):
            return self.names("msg", t.name)
        if isinstance(t, ContainerType):
            return self.containers[t]
        if isinstance(t, ArrayType):
            return self.ctype(t.elem, storage)
        raise TypeError(t)

    def declare(self, t, name: str, storage: bool = False) -> str:
        """`T name`, `T name[n]` or, for nested arrays, `T name[n][m]`."""
        suffix = "".join(f"[{n}]" for n in array_shape(t)) if isinstance(t, ArrayType) else ""
        return f"{self.ctype(t, storage)} {name}{suffix}"

    def zero_value(self, t) -> str:
        """An initialiser of a zero `t`: a scalar's 0, a vector's constructor of zeros, the
        dialect's aggregate zero for records and arrays (OpenCL takes no `{0}` vector)."""
        if isinstance(t, ScalarType):
            return "0"
        if isinstance(t, VectorType):
            return self.vector(t, [self.const(0, t.elem)] * t.lanes)
        return self.d.zero_init

    def vector(self, t: VectorType, lanes: list[str]) -> str:
        """A vector of one spelled value per lane."""
        return self.d.vector_new.format(t=self.ctype(t), args=", ".join(lanes))

    def component(self, vector: str, c: str) -> str:
        """Lane `c` (x y z w) of a spelled vector."""
        return self.d.component.format(v=vector, c=c)

    def unsigned(self, t: ScalarType) -> str:
        """The unsigned type of `t`'s width."""
        return self.d.types[_UNSIGNED.get(t.name, t.name)]

    def wrap_type(self, t: ScalarType) -> str:
        """The unsigned type integer + - * << run in: at least 32 bits (no promotion to int)."""
        return self.d.types["u64" if t.bits == 64 else "u32"]

    # -- constants and float operations ---------------------------------------------------

    def const(self, value, t: ScalarType) -> str:
        """A C literal of `value` as type `t` (floats: the shortest text of the same bits)."""
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

    def fbin(self, op: str, t: ScalarType, a: str, b: str, exact: bool = True) -> str:
        """A float + - * / spelled correctly rounded (unless `exact` is False: fast_math)."""
        spelled = self.d.exact_float_ops.get((op, t.name)) if exact else None
        if spelled is not None:
            return spelled.format(a=a, b=b)
        return self.d.ops["binary"].format(a=a, b=b, op=self.d.symbols[op])

    def scalar_binary(self, op: str, t: ScalarType, a: str, b: str, exact: bool = True) -> str:
        """`a op b` of scalars `t` for the operators that need no helper and cannot fault:
        float + - * /, integer + - * (wrapping) and the bitwise ones."""
        ops = self.d.ops
        if t.is_float:
            return self.fbin(op, t, a, b, exact)
        sym = self.d.symbols[op]
        if t.is_bool or (op.startswith("bit") and t.bits < 32):
            return ops["narrow"].format(a=a, b=b, op=sym, t=self.ctype(t))
        if op.startswith("bit") or (not t.is_signed and t.bits >= 32):
            return ops["binary"].format(a=a, b=b, op=sym)
        return ops["wrap" if t.bits >= 32 else "wrap_small"].format(
            a=a, b=b, op=sym, t=self.ctype(t), w=self.wrap_type(t), u=self.unsigned(t))

    def scalar_neg(self, t: ScalarType, a: str) -> str:
        """`-a` of a number `t` (integers wrap)."""
        ops = self.d.ops
        if t.is_float:
            return ops["neg"].format(a=a)
        if t.is_signed or t.bits < 32:
            return ops["wrap_neg"].format(a=a, t=self.ctype(t), w=self.wrap_type(t),
                                          u=self.unsigned(t))
        return ops["binary"].format(a="0", b=a, op="-")

    def math_name(self, fn: str, t: ScalarType) -> str:
        """The target's name of math function `fn` for float type `t`."""
        return self.d.math[fn][0 if t.bits == 32 else 1]

    # -- signatures -----------------------------------------------------------------------

    def function_name(self, fn: FunctionDef, kernel: KernelDef | None,
                      coop: bool = False) -> str:
        """The C name of a kernel's handler or helper, or of a device function (`coop`: of
        its copy for cooperative kernels)."""
        if kernel:
            return self.names("fn", kernel.name, fn.name)
        return self.names("devc" if coop else "dev", fn.name)

    def signature(self, fn: FunctionDef, kernel: KernelDef | None, handler: bool,
                  coop: bool = False) -> str:
        """The function's C declarator: its context, the kernel state, its parameters."""
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
        return (f"{self.d.function_qualifier}{ret} {self.function_name(fn, kernel, coop)}"
                f"({', '.join(params)})")


# ---------------------------------------------------------------------------------------
# Printing one function
# ---------------------------------------------------------------------------------------

class FunctionPrinter(ExpressionPrinter):
    """The state of printing one handler, kernel helper or device function (`text()`);
    expressions are `ExpressionPrinter`'s."""

    statement = Dispatch()      # (stmt) -> None, appends lines

    def __init__(self, shared: ProgramPrinter, fn: FunctionDef, kernel: KernelDef | None,
                 handler: bool, coop: bool = False):
        super().__init__(shared, fn, kernel)
        self.handler = handler
        # a cooperative kernel's function (or a device function's copy for them)
        self.coop = coop or (kernel is not None and kernel.options.concurrency == "cooperative")
        self.syncing = shared.syncing(kernel) if kernel is not None else frozenset()
        self.shared_arrays = shared_locals(fn)
        self.returns = None if handler else fn.returns
        self.locals = function_locals(fn)
        self.lines: list[str] = []           # the body printed so far
        self.last_line: tuple[str, int] | None = None   # the last `// file:line` printed
        self.depth = 1                       # indentation of the next line
        # what encloses the statement: LOOP, or the jump variable of a try statement's
        # region (its body, except or else block: a `do { } while (0)` left by `break`)
        self.regions: list[str] = []

    def text(self) -> str:
        """The definition: signature, declarations of every local, the body."""
        self.block(self.fn.body)     # before the signature: C names go in first-use order
        shared = self.shared
        head = [shared.signature(self.fn, self.kernel, self.handler,
                                 self.coop and self.kernel is None), "{"]
        if self.returns is not None and not isinstance(self.returns, ScalarType):
            head.append(f"    {shared.ctype(self.returns)} rc_zero = "
                        f"{shared.zero_value(self.returns)};")
        if not self.coop:        # a cooperative lane runs on after a fault (module doc)
            head.append(f"    if (rc_ctx->fault) return{self.zero_return()};")
        for name, t in self.locals.items():
            shared.check_type(t, self.fn.loc)
            if name in self.shared_arrays:
                head.append(f"    {self.shared_pointer(name, t)};")
                continue
            head.append(f"    {shared.declare(t, mangle(name))} = {shared.zero_value(t)};")
        return "\n".join(head + self.lines + ["}"])

    def shared_pointer(self, name: str, t: ArrayType) -> str:
        """The declaration of shared array `name`: a pointer into the work-group memory
        of cooperative kernels (RC_COOP_SHARED), to its rows when it nests."""
        shape = array_shape(t)
        space = self.d.local_pointer_space
        elem = self.shared.ctype(t, storage=True)
        offset = self.shared.shared_offsets[(self.kernel.name, self.fn.name, name)]
        rows = "".join(f"[{n}]" for n in shape[1:])
        declarator = f"(*{mangle(name)}){rows}" if rows else f"*{mangle(name)}"
        cast = f"({space}{elem} (*){rows})" if rows else f"({space}{elem}*)"
        return (f"{space}{elem} {declarator} = {cast}(rc_ctx->coop + RC_COOP_SHARED + "
                f"{offset}u)")

    def zero_return(self) -> str:
        if self.returns is None:
            return ""
        return " 0" if isinstance(self.returns, ScalarType) else " rc_zero"

    def loop_may_fault(self, s: While | For | ForEach) -> bool:
        """Can an iteration fault? Then each iteration starts with a fault check, so a
        loop whose values went harmless after a fault cannot spin forever."""
        return any(self.effects(e) & FAULT for st in all_stmts([s]) for e in stmt_exprs(st))

    # -- lines and fault checks -----------------------------------------------------------

    def emit(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    def flush_pre(self) -> None:
        for line in self.pre:
            self.emit(line)
        self.pre = []

    def check_fault(self) -> None:
        if not self.dirty:
            return
        if self.coop:
            inner = self.regions[-1] if self.regions else _SYNC_LOOP
            if inner == _SYNC_LOOP:
                return                # the lane goes on (module doc); its effects are guarded
            if inner.startswith(_FREE_LOOP):
                self.emit(f"if (rc_ctx->faults != {inner[len(_FREE_LOOP):]}) break;")
            else:
                self.emit("if (rc_ctx->fault) break;")
            self.dirty = False
            return
        self.emit(f"if (rc_ctx->fault) {self.leave_on_fault()}")
        self.dirty = False

    def in_try(self) -> bool:
        return any(not _is_loop(r) for r in self.regions)

    def leave_on_fault(self) -> str:
        """How a pending fault leaves: the function, or (inside a try statement) the loop
        or try region around (`break`; each level checks again after it). A cooperative
        lane leaves only a try region or a loop without synchronisation point."""
        if self.coop:
            inner = self.regions[-1] if self.regions else _SYNC_LOOP
            return "" if inner == _SYNC_LOOP else "break;"
        return "break;" if self.in_try() else f"return{self.zero_return()};"

    def effect(self, line: str, guard: str = "") -> None:
        """Emit `line`, an effect (a store to state or a shared array, a send, an emit, a
        reply), after a fault check; in a cooperative kernel, whose lanes go on after a
        fault, also under one (and `guard`, a C condition)."""
        self.check_fault()
        conds = [c for c in ("!rc_ctx->fault" if self.coop else "", guard) if c]
        self.emit(f"if ({' && '.join(conds)}) {line}" if conds else line)

    def is_private(self, target: Expr) -> bool:
        """Is `target` in a local of this lane (a store after a fault is harmless)?"""
        root = target
        while isinstance(root, (Member, Index, ContainerItem, VectorAt)):
            root = root.container if isinstance(root, ContainerItem) else root.base
        return isinstance(root, Local) and root.name not in self.shared_arrays

    def store_line(self, target: Expr, line: str) -> None:
        """A store into `target` (checked, or in cooperative code guarded, unless it is
        this lane's own local there)."""
        if self.coop and not self.is_private(target):
            self.effect(line)
            return
        self.check_fault()
        self.emit(line)

    def loop_marker(self, s: Stmt) -> str:
        """The region a loop opens: a cooperative loop with a synchronisation point never
        leaves early; one without records the lane's fault count before it starts."""
        if not self.coop:
            return _LOOP
        if has_sync(s.body, self.syncing):
            return _SYNC_LOOP
        self.temps += 1
        var = f"rc_fc{self.temps}"
        self.emit(f"uint {var} = rc_ctx->faults;")
        return _FREE_LOOP + var

    def hoist(self, text: str, t) -> str:
        """`text` evaluated now: itself when it is a name or a literal, else a temporary."""
        return text if _EVALUATED.fullmatch(text) else self.temporary(t, init=text)

    def locate(self, loc: Loc) -> None:
        self.loc = loc
        where = (comment_text(loc.file.rsplit("/", 1)[-1]), loc.line)
        if where != self.last_line:
            self.emit(f"// {where[0]}:{where[1]}")
            self.last_line = where

    # -- statements -----------------------------------------------------------------------

    def block(self, stmts: tuple[Stmt, ...]) -> None:
        for s in stmts:
            self.locate(s.loc)
            if self.in_try():             # a fault ends the try body at once, as in Python
                self.check_fault()
            self.statement(s)

    def nested(self, stmts: tuple[Stmt, ...]) -> None:
        self.depth += 1
        saved = self.last_line
        self.block(stmts)
        self.last_line = saved
        self.depth -= 1

    @statement.on(Assign)
    def assign(self, s: Assign) -> None:
        if isinstance(s.value, Zero):
            return self.zero(s.target)
        if isinstance(s.target, VectorAt):
            return self.store_vector(s.target, s.value)
        if isinstance(s.value.type, ArrayType):
            return self.copy_array(s.target, s.value)
        private = self.is_private(s.target)  # a store there after a fault is harmless
        indices = chain_indices(s.target)
        # Python evaluates the value, then the target's indices; then the store happens,
        # only if nothing faulted: a shared target gets the value through a temporary
        value = self.expr(s.value)
        if (indices or not private or self.in_try()) \
                and self.effects(s.value) & (FAULT | WRITE):
            value = self.hoist(value, s.value.type)
        overrides = {}
        for ix in indices:
            checked = self.checked_index(ix)
            if not private and (self.bounds_check or isinstance(ix, ContainerItem)
                                or self.effects(ix.index) & (FAULT | WRITE)):
                checked = self.hoist(checked, _U64)
            overrides[id(ix)] = checked
        target = self.place(s.target, overrides)
        self.flush_pre()
        if self.coop and not self.is_private(s.target):
            self.effect(f"{target} = {value};")
            return
        if not private or self.in_try():    # in a try, the except block sees the locals
            self.check_fault()
        self.emit(f"{target} = {value};")

    def zero(self, target: Expr) -> None:
        """`target = rc.zeros(T)`: its indices evaluated and checked, then every scalar,
        address and record inside it set from a zeroed temporary of the innermost type."""
        overrides = {id(ix): self.hoist(self.checked_index(ix), _U64)
                     for ix in chain_indices(target)}
        dst = self.place(target, overrides)
        shape = array_shape(target.type) if isinstance(target.type, ArrayType) else ()
        leaf = leaf_type(target.type)
        value = "0" if isinstance(leaf, ScalarType) else self.temporary(
            leaf, init=self.d.zero_init)
        self.flush_pre()
        loops = "".join(f"for (uint rc_k{d} = 0u; rc_k{d} < {n}u; ++rc_k{d}) "
                        for d, n in enumerate(shape))
        at = "".join(f"[rc_k{d}]" for d in range(len(shape)))
        self.store_line(target, f"{loops}{dst}{at} = {value};")

    def store_vector(self, target: VectorAt, value: Expr) -> None:
        """`v.store(a, i)`: the vector, then the array's indices and i (checked: the lanes
        must fit), in Python's order; then, with no fault, one store per lane."""
        v = self.hoist(self.expr(value), value.type)
        overrides = {id(ix): self.hoist(self.checked_index(ix), _U64)
                     for ix in chain_indices(target)}
        dst, at = self.place(target.base, overrides), overrides[id(target)]
        self.flush_pre()
        self.store_line(target, "{ " + " ".join(
            f"{dst}[{at} + {k}u] = {self.shared.component(v, c)};"
            for k, c in enumerate(value.type.components)) + " }")

    def copy_array(self, target: Expr, value: Expr) -> None:
        """`target = value` for array places: both sides' indices are evaluated (and
        checked) first, in Python's order (value, then target); then every element is
        copied, nested arrays element by element (C cannot assign arrays)."""
        for side in (target, value):
            if not is_place(side) or self.effects(side) & WRITE:
                raise CompileError("an array value can only be copied from a local, state or "
                                   "message field", self.loc,
                                   hint="copy element by element in a loop")
        overrides = {}
        for ix in chain_indices(value) + chain_indices(target):
            overrides[id(ix)] = self.hoist(self.checked_index(ix), _U64)
        dst, src = self.place(target, overrides), self.place(value, overrides)
        self.flush_pre()
        shape = array_shape(target.type)
        loops = "".join(f"for (uint rc_k{d} = 0u; rc_k{d} < {n}u; ++rc_k{d}) "
                        for d, n in enumerate(shape))
        at = "".join(f"[rc_k{d}]" for d in range(len(shape)))
        self.store_line(target, f"{loops}{dst}{at} = {src}{at};")

    @statement.on(If)
    def if_(self, s: If) -> None:
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

    @statement.on(While)
    def while_(self, s: While) -> None:
        may_fault = self.loop_may_fault(s)
        self.check_fault()               # a fault before the loop: leave before it runs
        marker = self.loop_marker(s)
        self.regions.append(marker)      # (the checks at the top leave this loop)
        self.dirty = may_fault
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
        self.regions.pop()
        self.depth -= 1
        self.loop_body(s.body, marker)
        self.dirty = self.dirty or may_fault
        self.emit("}")

    def loop_body(self, body: tuple[Stmt, ...], marker: str = _LOOP) -> None:
        self.regions.append(marker)
        self.nested(body)
        self.regions.pop()

    @statement.on(For)
    def for_(self, s: For) -> None:
        self.check_fault()               # a fault before the loop: leave before it runs
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
        step = self.shared.const(min(abs(s.step), (1 << 64) - 1), _U64)
        if s.step > 0:
            test, dist = f"{it} < {stop}", f"({uwide}){stop} - ({uwide}){it}"
            nxt = f"({wide})(({uwide}){it} + {step})"
        else:
            test, dist = f"{it} > {stop}", f"({uwide}){it} - ({uwide}){stop}"
            nxt = f"({wide})(({uwide}){it} - {step})"
        marker = self.loop_marker(s)
        self.emit(f"for (; {test}; {it} = ({dist} > {step}) ? {nxt} : {stop}) {{")
        self.depth += 1
        self.emit(f"{mangle(s.var)} = ({self.shared.ctype(var_type)}){it};")
        may_fault = self.loop_may_fault(s)
        self.dirty = may_fault
        self.regions.append(marker)      # (the check at the top leaves this loop)
        self.check_fault()
        self.regions.pop()
        self.depth -= 1
        self.loop_body(s.body, marker)
        self.dirty = self.dirty or may_fault
        self.emit("}")
        self.depth -= 1
        self.emit("}")

    @statement.on(ForEach)
    def for_each(self, s: ForEach) -> None:
        """Each item, copied into the loop variable: front to back, or top to bottom."""
        self.check_fault()               # a fault before the loop: leave before it runs
        t = s.container.type
        box = self.place(s.container, {})
        self.temps += 1
        k = f"rc_k{self.temps}"
        if t.key is not None:                      # a map's keys, in table order
            self.emit(f"for (uint {k} = 0u; {k} < {t.slots}u; ++{k}) {{")
            self.depth += 1
            self.emit(f"if (!{box}.used[{k}]) continue;")
            self.emit(f"{mangle(s.var)} = {box}.keys[{k}];")
        else:
            slot = f"({box}.head + {k}) % {t.capacity}u" if t.kind == "queue" \
                else f"{box}.count - 1u - {k}"
            self.emit(f"for (uint {k} = 0u; {k} < {box}.count; ++{k}) {{")
            self.depth += 1
            self.emit(f"{mangle(s.var)} = {box}.items[{slot}];")
        may_fault = self.loop_may_fault(s)
        self.dirty = may_fault
        self.check_fault()
        self.depth -= 1
        self.loop_body(s.body)
        self.dirty = self.dirty or may_fault
        self.emit("}")

    @statement.on(Break)
    def break_(self, s: Break) -> None:
        self.jump("break", _BREAK)

    @statement.on(Continue)
    def continue_(self, s: Continue) -> None:
        self.jump("continue", _CONTINUE)

    def jump(self, word: str, code: int) -> None:
        """`break`/`continue` of the innermost loop; across a try region, through that
        try statement's jump variable (its finally runs, then the jump is made there)."""
        inner = self.regions[-1] if self.regions else _LOOP
        self.emit(f"{word};" if _is_loop(inner) else f"{inner} = {code}u; break;")

    @statement.on(Fail)
    def fail(self, s: Fail) -> None:
        leave = self.leave_on_fault()
        self.emit(f"rc_fault(rc_ctx, {self.shared.reason_code(s.reason)}u);"
                  f"{' ' + leave if leave else ''}  // {comment_text(s.reason)}")
        self.dirty = True

    @statement.on(Raise)
    def raise_(self, s: Raise) -> None:
        leave = self.leave_on_fault()
        self.emit(f"rc_fault(rc_ctx, {self.caught[-1][1]});{' ' + leave if leave else ''}")
        self.dirty = True

    @statement.on(Barrier)
    def barrier(self, s: Barrier) -> None:
        self.emit("rc_sync(rc_ctx);")

    @statement.on(Try)
    def try_(self, s: Try) -> None:
        """`do { body } while (0)` left by `break` on a fault; then the except block with
        the fault taken (or else); each in its own region; then finally with any pending
        fault set aside; then the pending fault goes on, and a jump out is made. A
        cooperative lane that faulted before skips the whole statement."""
        self.check_fault()               # a fault before the try is not the try's
        if self.coop:
            self.emit("if (!rc_ctx->fault) {")
            self.depth += 1
            self.try_statement(s)
            self.depth -= 1
            self.emit("}")
            return
        self.try_statement(s)

    def try_statement(self, s: Try) -> None:
        self.temps += 1
        n = self.temps
        fault, jump = f"rc_f{n}", f"rc_j{n}"
        self.emit(f"uint {fault} = 0u;")
        self.emit(f"uint {jump} = 0u;")
        self.region(s.body, jump, "do {")
        if s.handler is not None:
            self.emit(f"if ({jump} == 0u && rc_ctx->fault) {{")
            self.depth += 1
            self.emit(f"{fault} = rc_ctx->fault;")
            self.emit("rc_ctx->fault = 0u;")
            self.caught.append((s.name, fault))
            self.region(s.handler, jump, "do {")
            self.caught.pop()
            self.depth -= 1
            self.emit("}")
        if s.orelse:
            self.emit(f"if ({jump} == 0u && {fault} == 0u && !rc_ctx->fault) {{")
            self.depth += 1
            self.region(s.orelse, jump, "do {")
            self.depth -= 1
            self.emit("}")
        if s.finalbody:
            pending = f"rc_p{n}"
            self.emit(f"uint {pending} = rc_ctx->fault;")
            self.emit("rc_ctx->fault = 0u;")
            self.dirty = False
            self.block(s.finalbody)
            self.check_fault()
            self.emit(f"rc_ctx->fault = {pending};")
        self.dirty = True
        self.check_fault()
        if any(_is_loop(r) for r in self.regions):
            self.emit(f"if ({jump} == {_BREAK}u) {{")
            self.nested((Break(s.loc),))
            self.emit(f"}} else if ({jump} == {_CONTINUE}u) {{")
            self.nested((Continue(s.loc),))
            self.emit("}")

    def region(self, stmts: tuple[Stmt, ...], jump: str, opening: str) -> None:
        """`stmts` in a `do { } while (0)` that a fault or a jump leaves by `break`."""
        self.emit(opening)
        self.regions.append(jump)
        self.dirty = False
        self.depth += 1
        saved = self.last_line
        self.block(stmts)
        self.check_fault()
        self.last_line = saved
        self.depth -= 1
        self.regions.pop()
        self.emit("} while (0);")

    @statement.on(ExprStmt)
    def expr_stmt(self, s: ExprStmt) -> None:
        text = self.expr(s.expr)
        self.flush_pre()
        # a call is a statement by itself; anything else is cast to void (a container's
        # pop, peek and remove read a value besides calling: `(void)` keeps that quiet)
        called = isinstance(s.expr, (Call, HelperCall, Intrinsic)) or (
            isinstance(s.expr, ContainerCall) and s.expr.method in ("push", "put", "get",
                                                                    "clear"))
        self.emit(f"{text};" if called else f"(void){text};")

    @statement.on(Return)
    def return_(self, s: Return) -> None:
        if s.value is None:
            self.emit(f"return{self.zero_return()};")
        elif self.handler:
            msg = s.value.type.name
            self.effect_call(self.shared.names("put", msg), [s.value],
                             "rc_ctx, rc_ctx->source, rc_ctx->correlation, {0}",
                             guard="rc_ctx->lane == 0u" if self.coop else "")
            self.emit("return;")
        else:
            value = self.expr(s.value)
            if self.in_try() and self.effects(s.value) & FAULT:   # the except block runs
                value = self.hoist(value, s.value.type)
            self.flush_pre()
            if self.in_try():
                self.check_fault()
            self.emit(f"return {value};")

    @statement.on(Send)
    def send(self, s: Send) -> None:
        k = self.shared.layout.kernel(s.kernel)
        self.effect_call(self.shared.names("send", s.message.type.name),
                         [s.message, s.instance],
                         f"rc_ctx, {k.queue_base}u, {k.instances}u, "
                         f"({self.d.types['u64']}){{1}}, {{0}}")

    @statement.on(SendAfter)
    def send_after(self, s: SendAfter) -> None:
        k = self.shared.layout.kernel(s.kernel)
        self.effect_call(self.shared.names("after", self.kernel.name, s.message.type.name),
                         [s.delay, s.instance, s.message],
                         f"rc_ctx, rc_self, {{0}}, {k.queue_base}u, {k.instances}u, "
                         f"({self.d.types['u64']}){{1}}, {{2}}")

    @statement.on(Emit)
    def emit_message(self, s: Emit) -> None:
        self.effect_call(self.shared.names("put", s.message.type.name), [s.message],
                         f"rc_ctx, RC_HOST_QUEUE, {self.shared.const(0, _U64)}, {{0}}")

    @statement.on(Reply)
    def reply(self, s: Reply) -> None:
        self.effect_call(self.shared.names("put", s.message.type.name),
                         [s.address, s.message],
                         "rc_ctx, {0}.queue, {0}.correlation, {1}", always_hoist=(0,))

    def effect_call(self, function: str, exprs: list[Expr], args: str,
                    always_hoist: tuple[int, ...] = (), guard: str = "") -> None:
        """`function(args)` after evaluating `exprs` in order, checking for a fault first
        (and under `guard`, a C condition, when given)."""
        hoist = any(self.effects(e) & (FAULT | WRITE) for e in exprs)
        texts = []
        for i, e in enumerate(exprs):
            text = self.expr(e)
            if hoist or i in always_hoist:
                text = self.hoist(text, e.type)
            texts.append(text)
        self.flush_pre()
        self.effect(f"{function}({args.format(*texts)});", guard)


# ---------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------

def comment_text(text: str) -> str:
    """User text (an rc.fail reason, a file name) made safe inside a `//` comment: plain
    words stay as they are, anything else is quoted with escapes, so no newline or
    trailing backslash can end the comment early or splice the next line into it."""
    if re.fullmatch(r"[\w.+\- ]*", text):
        return text
    return json.dumps(text)


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
