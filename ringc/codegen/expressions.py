"""Printing IR expressions as C, in Python's evaluation order and without losing a fault.

`ExpressionPrinter` is the part of the state of printing one function that expressions use
(`printer.FunctionPrinter` extends it with statements): temporaries to declare before the
statement, whether a fault may have happened since the last check, the location for errors.

Evaluation order. Python evaluates operands left to right; C leaves most operand orders
unspecified. An operand is therefore evaluated into a temporary (inside a comma
expression, so `and`/`or`/`if-else` stay short-circuit) whenever a later operand could
observe the difference: both can fault, or one calls a function or performs an atomic while
the other reads state or faults (`effects`).

Faults never stop evaluation at once: a faulting operation (a checked index, an integer
`//` or `%`, a call) sets `rc_ctx->fault` (first fault wins) and yields a harmless value;
the statement printer checks the flag before every store to state, send, emit, reply and
atomic.

Limits: an array value is only a place (a local, state or field), copied whole by an
assignment or as a message constructor's field; a conditional cannot choose an array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import CompileError
from ..ir.dispatch import Dispatch
from ..ir.nodes import (
    CONTAINER_METHODS,
    Binary,
    Broadcast,
    Call,
    Cast,
    Compare,
    Const,
    ContainerCall,
    ContainerItem,
    Expr,
    FaultIs,
    FunctionDef,
    GroupReduce,
    HelperCall,
    Index,
    Intrinsic,
    KernelDef,
    Loc,
    Local,
    Logical,
    MathCall,
    Member,
    MessageNew,
    Select,
    State,
    Unary,
    VectorAt,
    VectorNew,
    Zero,
)
from ..ir.types import AddressType, ArrayType, ContainerType, ScalarType, VectorType
from ..ir.walk import expr_children, walk
from .helpers import (
    atomic_helper,
    broadcast_helper,
    cast_helper,
    float_divmod_helper,
    group_helper,
    index_helper,
    int_helper,
    math_helper,
    vector_helper,
)
from .identifiers import mangle

if TYPE_CHECKING:
    from .printer import ProgramPrinter

__all__ = ["ExpressionPrinter", "FAULT", "WRITE", "READ", "is_place", "chain_indices"]

FAULT, WRITE, READ = 1, 2, 4           # what evaluating an expression may do (`effects`)
_FAULTING_INT_OPS = ("floordiv", "mod")
_U64 = ScalarType("u64")


class ExpressionPrinter:
    """Prints the expressions of one function (see the module docstring)."""

    spelled = Dispatch()        # (expr, operand texts or None) -> the C text of the node
    place = Dispatch()          # (expr, index texts by Index id) -> an lvalue

    def __init__(self, shared: ProgramPrinter, fn: FunctionDef, kernel: KernelDef | None):
        self.shared = shared                 # what every function of the program shares
        self.d = shared.d                    # the dialect
        self.fn = fn
        self.kernel = kernel
        self.fast_math = kernel.options.fast_math if kernel else False
        self.bounds_check = kernel.options.bounds_check if kernel else True
        self.loc: Loc = fn.loc               # of the statement being printed
        self.pre: list[str] = []             # temporaries the statement declares first
        self.temps = 0                       # temporaries (and loop counters) numbered
        self.dirty = False                   # a fault may have happened since the last check
        self._effects: dict[int, int] = {}   # effects() by expression id
        self.caught: list[tuple[str | None, str]] = []   # (except name, C fault code var)

    # -- effects and temporaries ----------------------------------------------------------

    def effects(self, e: Expr) -> int:
        """FAULT | WRITE | READ: what evaluating `e` may do besides computing a value."""
        cached = self._effects.get(id(e))
        if cached is not None:
            return cached
        flags = 0
        for node in walk(e):
            if isinstance(node, (Call, HelperCall, GroupReduce, Broadcast)):
                flags |= FAULT | WRITE | READ
            elif isinstance(node, Intrinsic) and node.name.startswith("atomic_"):
                flags |= WRITE | READ
            elif isinstance(node, State):
                flags |= READ
            elif isinstance(node, (Index, VectorAt)) and self.bounds_check:
                flags |= FAULT
            elif isinstance(node, ContainerCall):
                _, changes, faults = CONTAINER_METHODS[node.container.type.kind][node.method]
                flags |= READ | (WRITE if changes else 0) | (FAULT if faults else 0)
            elif isinstance(node, ContainerItem):       # an LRU map's refreshes recency
                flags |= READ | FAULT | (WRITE if node.container.type.kind == "lru" else 0)
            elif (isinstance(node, Binary) and node.op in _FAULTING_INT_OPS
                  and node.type.is_int):
                flags |= FAULT
        self._effects[id(e)] = flags
        return flags

    def temporary(self, t, init: str | None = None, prefix: str = "rc_t") -> str:
        """A fresh temporary of type `t` declared before the statement (`= init` when
        given), named `prefix` + its number."""
        self.temps += 1
        name = f"{prefix}{self.temps}"
        self.pre.append(f"{self.shared.declare(t, name)}{'' if init is None else ' = ' + init};")
        return name

    # -- places ---------------------------------------------------------------------------

    def checked_index(self, e: Index | ContainerItem | VectorAt) -> str:
        """The index of `e` checked (a fault past the end); a vector's first element
        must leave room for every lane."""
        if isinstance(e, ContainerItem):           # the slot of the item (faults past it)
            c = self.shared.containers[e.container.type]
            key = self.expr(e.index)
            if e.container.type.key is None:       # a queue's or stack's position
                key = f"({self.d.types['u64']}){key}"
            return f"{c}_at(rc_ctx, &{self.place(e.container, {})}, {key})"
        index = self.expr(e.index)
        if not self.bounds_check:
            return index
        self.dirty = True
        room = e.base.type.length - (e.type.lanes - 1 if isinstance(e, VectorAt) else 0)
        return f"{index_helper(self.shared)}(rc_ctx, ({self.d.types['u64']}){index}, {room}u)"

    @place.on(Local)
    def local_place(self, e: Local, overrides: dict[int, str]) -> str:
        return mangle(e.name)

    @place.on(State)
    def state_place(self, e: State, overrides: dict[int, str]) -> str:
        self.shared.check_type(e.type, self.loc)
        return f"rc_self->{mangle(e.name)}"

    @place.on(Member)
    def member_place(self, e: Member, overrides: dict[int, str]) -> str:
        return self.member_of(e, self.place(e.base, overrides))

    def member_of(self, e: Member, base: str) -> str:
        """A field of a spelled message or address, or a lane of a spelled vector."""
        if isinstance(e.base.type, VectorType):
            return self.shared.component(base, e.field)
        return f"{base}.{_member_name(e)}"

    @place.on(ContainerItem)
    def container_item_place(self, e: ContainerItem, overrides: dict[int, str]) -> str:
        slot = overrides.get(id(e)) or self.checked_index(e)
        return f"{self.place(e.container, overrides)}.items[{slot}]"

    @place.on(Index)
    def element_place(self, e: Index, overrides: dict[int, str]) -> str:
        """An element; `overrides` gives already-evaluated index texts by Index node id."""
        index = overrides.get(id(e)) or self.checked_index(e)
        return f"{self.place(e.base, overrides)}[{index}]"

    # -- expressions ----------------------------------------------------------------------

    def expr(self, e: Expr) -> str:
        """C text for `e`; temporaries it needs are appended to `self.pre`."""
        self.shared.check_type(e.type, self.loc)
        if isinstance(e.type, ArrayType) and not is_place(e):
            raise CompileError("an array value can only be a local, state or message field",
                               self.loc, hint="index it, or copy it by assignment")
        if self.effects(e) & FAULT:
            self.dirty = True
        kids = expr_children(e)
        sequenced = isinstance(e, (Logical, Select, MessageNew, VectorAt))
        if len(kids) < 2 or sequenced:
            return self.spelled(e, [self.expr(k) for k in kids] if not sequenced else None)
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
            if _conflict(flags[i], later) and not isinstance(k.type, (ArrayType, ContainerType)):
                name = self.temporary(k.type)
                first.append(f"{name} = {text}")
                text = name
            texts.append(text)
        out = self.spelled(e, texts)
        for assignment in reversed(first):
            out = self.d.ops["sequence"].format(a=assignment, b=out)
        return out

    @spelled.on(Const)
    def const(self, e: Const, kids: list[str]) -> str:
        return self.shared.const(e.value, e.type)

    @spelled.on(Local)
    def local(self, e: Local, kids: list[str]) -> str:
        return mangle(e.name)

    @spelled.on(State)
    def state(self, e: State, kids: list[str]) -> str:
        return f"rc_self->{mangle(e.name)}"

    @spelled.on(Member)
    def member(self, e: Member, kids: list[str]) -> str:
        return self.member_of(e, kids[0])

    @spelled.on(Index)
    def index(self, e: Index, kids: list[str]) -> str:
        if not self.bounds_check:
            return f"{kids[0]}[{kids[1]}]"
        return (f"{kids[0]}[{index_helper(self.shared)}(rc_ctx, ({self.d.types['u64']})"
                f"{kids[1]}, {e.base.type.length}u)]")

    @spelled.on(Unary)
    def unary(self, e: Unary, kids: list[str]) -> str:
        a, t, ops, shared = kids[0], e.type, self.d.ops, self.shared
        if isinstance(t, VectorType):
            return f"{vector_helper(shared, e.op, t, self.loc)}({a})"
        if e.op == "not" or (e.op == "invert" and t.is_bool):
            return ops["not"].format(a=a)
        if e.op == "invert":
            return ops["invert"].format(a=a, t=shared.ctype(t))
        return shared.scalar_neg(t, a)

    @spelled.on(Binary)
    def binary(self, e: Binary, kids: list[str]) -> str:
        a, b = kids
        t, op, shared = e.type, e.op, self.shared
        if isinstance(t, VectorType):
            name = vector_helper(shared, op, t, self.loc, exact=not self.fast_math)
            return f"{name}({a}, {b})"
        if t.is_float and op in ("floordiv", "mod"):
            return f"{float_divmod_helper(shared, op, t)}({a}, {b})"
        if op in ("floordiv", "mod"):
            return f"{int_helper(shared, op, t)}(rc_ctx, {a}, {b})"
        if op in ("shl", "shr"):
            return f"{int_helper(shared, op, t)}({a}, {b})"
        if op == "div" and not t.is_float:
            raise CompileError("true division of integers reached codegen", self.loc)
        return shared.scalar_binary(op, t, a, b, exact=not self.fast_math)

    @spelled.on(Compare)
    def compare(self, e: Compare, kids: list[str]) -> str:
        if not isinstance(e.left.type, ScalarType):
            raise CompileError(f"cannot compare values of type {e.left.type}", self.loc)
        return self.d.ops["binary"].format(a=kids[0], b=kids[1], op=self.d.symbols[e.op])

    @spelled.on(Logical)
    def logical(self, e: Logical, kids: None) -> str:
        return self.d.ops[e.op].format(a=self.expr(e.left), b=self.expr(e.right))

    @spelled.on(Select)
    def select(self, e: Select, kids: None) -> str:
        if isinstance(e.type, ArrayType):
            raise CompileError("a conditional expression cannot choose between arrays",
                               self.loc, hint="use an if statement and index the arrays")
        return self.d.ops["select"].format(c=self.expr(e.cond), a=self.expr(e.then),
                                           b=self.expr(e.orelse))

    @spelled.on(Cast)
    def cast(self, e: Cast, kids: list[str]) -> str:
        a, src, dst, ops = kids[0], e.expr.type, e.type, self.d.ops
        if src == dst:
            return a
        if dst.is_bool:
            return ops["to_bool"].format(a=a)
        if src.is_float and dst.is_int:
            return f"{cast_helper(self.shared, src, dst)}({a})"
        if src.is_int and dst.is_int and dst.bits < src.bits and dst.is_signed:
            return ops["narrow_cast"].format(a=a, t=self.shared.ctype(dst),
                                             w=self.shared.unsigned(dst))
        return ops["cast"].format(a=a, t=self.shared.ctype(dst))

    @spelled.on(Call)
    def device_call(self, e: Call, kids: list[str]) -> str:
        name = self.shared.names("devc" if getattr(self, "coop", False) else "dev", e.function)
        return self.d.ops["call"].format(f=name, args=", ".join(["rc_ctx", *kids]))

    @spelled.on(HelperCall)
    def helper_call(self, e: HelperCall, kids: list[str]) -> str:
        helper = next(f for f in self.kernel.helpers if f.name == e.function)
        name = self.shared.function_name(helper, self.kernel)
        return self.d.ops["call"].format(f=name, args=", ".join(["rc_ctx", "rc_self", *kids]))

    @spelled.on(MathCall)
    def math_call(self, e: MathCall, kids: list[str]) -> str:
        fn, t, shared = e.function, e.args[0].type, self.shared
        if fn == "dot":
            name = vector_helper(shared, "dot", t, self.loc, exact=not self.fast_math)
            return f"{name}({kids[0]}, {kids[1]})"
        if fn in ("isnan", "isinf"):
            return self.d.ops["to_bool"].format(a=f"{shared.math_name(fn, t)}({kids[0]})")
        if fn in ("min", "max") or (fn == "abs" and t.is_int):
            name = math_helper(shared, fn, t)
            out = kids[0]
            for kid in kids[1:] or [None]:     # min(a, b, c) is min(min(a, b), c)
                out = f"{name}({out}{', ' + kid if kid else ''})"
            return out
        if fn == "abs":
            fn = "fabs"
        if fn == "sqrt" and not self.fast_math and ("sqrt", t.name) in self.d.exact_float_ops:
            return self.d.exact_float_ops[("sqrt", t.name)].format(a=kids[0])
        return f"{shared.math_name(fn, t)}({', '.join(kids)})"

    @spelled.on(MessageNew)
    def message_new(self, e: MessageNew, kids: None) -> str:
        msg = self.temporary(e.type, init=self.d.zero_init, prefix="rc_m")
        parts = []
        for name, value in e.fields:
            target = f"{msg}.{mangle(name)}"
            if isinstance(value.type, ArrayType):
                if self.effects(value) & (FAULT | WRITE) or not is_place(value):
                    raise CompileError("an array field can only be given a local, state or "
                                       "message field", self.loc)
                src = self.expr(value)
                parts += [f"{target}[{i}] = {src}[{i}]" for i in range(value.type.length)]
            else:
                parts.append(f"{target} = {self.expr(value)}")
        if not parts:
            return msg
        return self.d.ops["sequence"].format(a=", ".join(parts), b=msg)

    @spelled.on(VectorNew)
    def vector_new(self, e: VectorNew, kids: list[str]) -> str:
        if len(kids) == 1:                   # one value in every lane, evaluated once
            return f"{vector_helper(self.shared, 'splat', e.type, self.loc)}({kids[0]})"
        return self.shared.vector(e.type, kids)

    @spelled.on(VectorAt)
    def vector_at(self, e: VectorAt, kids: None) -> str:
        """`rc.f32x4.load(a, i)`: the array's indices and i evaluated once each, in order,
        into temporaries (checked: the lanes must fit), then one element per lane."""
        first, overrides = [], {}
        for ix in chain_indices(e):
            name = self.temporary(_U64)
            first.append(f"{name} = {self.checked_index(ix)}")
            overrides[id(ix)] = name
        base, at = self.place(e.base, overrides), overrides[id(e)]
        out = self.shared.vector(e.type, [f"{base}[{at} + {k}u]" for k in range(e.type.lanes)])
        return self.d.ops["sequence"].format(a=", ".join(first), b=out)

    @spelled.on(ContainerItem)
    def container_item(self, e: ContainerItem, kids: list[str]) -> str:
        return self.container_item_place(e, {})

    @spelled.on(ContainerCall)
    def container_call(self, e: ContainerCall, kids: list[str]) -> str:
        box, args = kids[0], ", ".join(kids[1:])
        t = e.container.type
        c, n = self.shared.containers[t], t.capacity
        if e.method in ("pop", "peek"):
            return f"{box}.items[{c}_{e.method}(rc_ctx, &{box})]"
        if e.method in ("push", "put", "get"):
            return f"{c}_{e.method}(rc_ctx, &{box}, {args})"
        if e.method == "clear":
            return f"{c}_clear(rc_ctx, &{box})"
        if e.method == "remove":
            return f"({c}_remove(rc_ctx, &{box}, {args}) != 0u)"
        if e.method == "contains":
            return f"({c}_find(&{box}, {args}) != {t.slots}u)"
        return {"len": f"((int){box}.count)", "full": f"({box}.count == {n}u)",
                "empty": f"({box}.count == 0u)", "evictions": f"{box}.evictions"}[e.method]

    @spelled.on(FaultIs)
    def fault_is(self, e: FaultIs, kids: list[str]) -> str:
        var = next(var for name, var in reversed(self.caught) if name == e.name)
        return f"({var} == {self.shared.reason_code(e.reason)}u)"

    @spelled.on(Zero)
    def zero(self, e: Zero, kids: list[str]) -> str:
        raise CompileError("rc.zeros(...) is only the whole value of an assignment", self.loc)

    @spelled.on(GroupReduce)
    def group_reduce(self, e: GroupReduce, kids: list[str]) -> str:
        name = group_helper(self.shared, e.op, e.type)
        return f"{name}(rc_ctx, {kids[0]}, {self.kernel.options.group_size}u)"

    @spelled.on(Broadcast)
    def broadcast(self, e: Broadcast, kids: list[str]) -> str:
        name = broadcast_helper(self.shared, e.type)
        return f"{name}(rc_ctx, {kids[0]}, {kids[1]}, {self.kernel.options.group_size}u)"

    @spelled.on(Intrinsic)
    def intrinsic(self, e: Intrinsic, kids: list[str]) -> str:
        if e.name == "lane":
            return self.d.ops["cast"].format(t=self.shared.ctype(e.type), a="rc_ctx->lane")
        if e.name == "sender":
            return "rc_sender(rc_ctx)"
        if e.name == "now":
            return ("rc_handler_now(rc_ctx->arena)" if self.d.handler_now
                    else "rc_now(rc_ctx->arena)")
        if e.name == "instance_id":
            return self.d.ops["cast"].format(t=self.shared.ctype(e.type), a="rc_ctx->instance")
        name = atomic_helper(self.shared, e.name[len("atomic_"):], e.type, self.loc)
        return f"{name}(rc_ctx, {', '.join(kids)})"

    def atomic_ref(self, ref: Expr, first: list[str] | None) -> str:
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
                name = self.temporary(_U64)
                first.append(f"{name} = {checked}")
                checked = name
            overrides[id(ref)] = checked
        return f"&{self.place(ref, overrides)}"


def _conflict(a: int, b: int) -> bool:
    """Would evaluating two operands in either order be observable?"""
    return bool((a & FAULT and b & FAULT) or (a & WRITE and b) or (b & WRITE and a))


def chain_indices(e: Expr) -> list[Index | ContainerItem | VectorAt]:
    """The Index, ContainerItem and VectorAt nodes of a place (an assignment's target, a
    vector's array), outermost first (Python's order)."""
    found = []
    while isinstance(e, (Member, Index, ContainerItem, VectorAt)):
        if isinstance(e, (Index, ContainerItem, VectorAt)):
            found.append(e)
        e = e.container if isinstance(e, ContainerItem) else e.base
    return list(reversed(found))


def is_place(e: Expr) -> bool:
    """Is `e` a place (an lvalue made of locals, state, fields and indexing)?"""
    while isinstance(e, (Member, Index)):
        e = e.base
    return isinstance(e, (Local, State))


def _member_name(e: Member) -> str:
    """The C member of a field: an address's are the template's, a message's mangled."""
    return e.field if isinstance(e.base.type, AddressType) else mangle(e.field)
