"""The typed IR: small frozen dataclasses named after the rules of `ringc.lark`.

Every expression carries its type; every statement carries the `Loc` of the user's source it
came from. The frontend produces these, the verifier checks them, the printer writes them as
text and the parser reads that text back to equal objects. Codegen lowers them; a node a
target cannot lower raises there, it never becomes a comment.

Conventions the frontend guarantees and the verifier checks:
- binary operands have the node's type (comparisons: both operands one type; shifts: the
  right operand is converted to the left's type);
- stores (`Assign`) carry a value of exactly the target's type (the frontend inserts `Cast`);
- `For` iterates `range(start, stop, step)` with a constant non-zero step;
- `MessageNew` lists only the fields given; the rest are zero.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import get_args

from .types import (
    AddressType,
    ArrayType,
    ContainerType,
    FieldType,
    Loc,
    MessageType,
    ScalarType,
    ValueType,
    VectorType,
)

__all__ = [
    "Loc", "ScalarType", "VectorType", "ArrayType", "AddressType", "MessageType", "ContainerType",
    "ValueType", "FieldType",
    "Program", "MessageDef", "FieldDef", "KernelDef", "KernelOptions", "OPTION_CHOICES",
    "Periodic",
    "StateDef",
    "FunctionDef", "Param", "LocalDef",
    "Stmt", "Assign", "If", "While", "For", "Break", "Continue", "Return", "ExprStmt",
    "Send", "SendAfter", "Emit", "Reply", "Fail", "Try", "Raise", "ForEach",
    "Expr", "Const", "Local", "State", "Member", "Index", "Unary", "Binary", "Compare",
    "Logical", "Select", "Cast", "Call", "HelperCall", "MathCall", "MessageNew", "Intrinsic",
    "FaultIs", "Zero", "ContainerCall", "ContainerItem", "VectorNew", "VectorAt",
    "GroupReduce", "Broadcast", "Barrier", "SharedDef", "GROUP_OPS", "MAX_GROUP_SIZE",
    "CONTAINER_METHODS",
    "EXPR_KINDS", "STMT_KINDS",
    "UNARY_OPS", "BINARY_OPS", "COMPARE_OPS", "LOGICAL_OPS", "MATH_FUNCTIONS", "INTRINSICS",
]

UNARY_OPS = ("neg", "not", "invert")
BINARY_OPS = ("add", "sub", "mul", "div", "floordiv", "mod",
              "bitand", "bitor", "bitxor", "shl", "shr")
COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
LOGICAL_OPS = ("and", "or")
# `fma` is one correctly rounded fused multiply-add; `dot` (of two vectors, rc.dot) sums the
# lanes' products left to right, each step rounded (no fused multiply-add)
MATH_FUNCTIONS = ("sqrt", "exp", "log", "sin", "cos", "tan", "floor", "ceil", "fabs", "pow",
                  "isnan", "isinf", "min", "max", "abs", "fma", "dot")
# intrinsic name -> number of arguments
INTRINSICS = {"sender": 0, "now": 0, "instance_id": 0,
              "atomic_add": 2, "atomic_max": 2, "atomic_min": 2, "atomic_cas": 3,
              "lane": 0}
# rc.group_sum / group_max / group_min (a cooperative kernel's reductions over its lanes)
GROUP_OPS = ("sum", "max", "min")
MAX_GROUP_SIZE = 1024      # lanes of a cooperative kernel's work-group, at most


# ---------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Const:
    """A literal of `type`. Equality is by representation, not by Python's `==`: NaN equals
    NaN (same bits), -0.0 differs from 0.0, True from 1 and 1 from 1.0."""
    value: bool | int | float
    type: ScalarType

    def _key(self) -> tuple:
        v = self.value
        bits = struct.pack("<d", v) if isinstance(v, float) else v
        return (type(v), bits, self.type)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Const) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True)
class Local:
    """A local variable or parameter of the enclosing function."""
    name: str
    type: ValueType


@dataclass(frozen=True)
class State:
    """`self.name`: the kernel instance's state variable."""
    name: str
    type: ValueType


@dataclass(frozen=True)
class Member:
    """`base.field` where base is a message value or an address, or `base.x` (`y z w`)
    where base is a vector (a lane of it)."""
    base: Expr
    field: str
    type: ValueType


@dataclass(frozen=True)
class Index:
    """`base[index]`, bounds-checked unless the kernel says `bounds_check=False`."""
    base: Expr
    index: Expr
    type: ValueType


@dataclass(frozen=True)
class Unary:
    """`neg`, `not` or `invert` of a scalar; `neg` also of a vector, lane by lane."""
    op: str
    operand: Expr
    type: ScalarType | VectorType


@dataclass(frozen=True)
class Binary:
    """An operator of two operands of `type`; of two vectors (`add sub mul`, `div` of
    float vectors) it works lane by lane, each lane as the scalar operator does."""
    op: str
    left: Expr
    right: Expr
    type: ScalarType | VectorType


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    type: ScalarType  # always bool


@dataclass(frozen=True)
class Logical:
    """Short-circuit `and` / `or` of two bools."""
    op: str
    left: Expr
    right: Expr
    type: ScalarType  # always bool


@dataclass(frozen=True)
class Select:
    """`then if cond else orelse`; only the chosen branch is evaluated."""
    cond: Expr
    then: Expr
    orelse: Expr
    type: ValueType


@dataclass(frozen=True)
class Cast:
    expr: Expr
    type: ScalarType


@dataclass(frozen=True)
class Call:
    """A call of the `@rc.device` function named `function`; `type` is None when it
    returns nothing."""
    function: str
    args: tuple[Expr, ...]
    type: ValueType | None


@dataclass(frozen=True)
class HelperCall:
    """`self.function(...)`: a call of a helper method of the enclosing kernel; `type` is
    None when it returns nothing."""
    function: str
    args: tuple[Expr, ...]
    type: ValueType | None


@dataclass(frozen=True)
class MathCall:
    """`math.*`, `min`, `max`, `abs`: operands already converted to one type."""
    function: str
    args: tuple[Expr, ...]
    type: ScalarType


@dataclass(frozen=True)
class MessageNew:
    """`Msg(a=..., b=...)`: fields not listed are zero."""
    message: str
    fields: tuple[tuple[str, Expr], ...]
    type: MessageType


@dataclass(frozen=True)
class Intrinsic:
    """`rc.sender()`, `rc.clock()`, `rc.instance_id()`, `rc.atomic_*(self.x, ...)`. The first
    argument of an atomic is a `State` or an `Index` of one."""
    name: str
    args: tuple[Expr, ...]
    type: ValueType


# container kind -> method -> (arguments, changes the container, can fault). A map's
# `contains` is `k in m`; an LRU map's get refreshes recency (a change) and its put evicts
# (never faults).
_SEQUENCE_METHODS = {
    "push": (1, True, True), "pop": (0, True, True), "peek": (0, False, True),
    "clear": (0, True, False), "len": (0, False, False), "full": (0, False, False),
    "empty": (0, False, False),
}
_MAP_METHODS = {
    "get": (2, False, False), "put": (2, True, True), "remove": (1, True, False),
    "contains": (1, False, False), "clear": (0, True, False), "len": (0, False, False),
    "full": (0, False, False),
}
CONTAINER_METHODS = {
    "queue": _SEQUENCE_METHODS, "stack": _SEQUENCE_METHODS, "map": _MAP_METHODS,
    "lru": {**_MAP_METHODS, "get": (2, True, False), "put": (2, True, False),
            "evictions": (0, False, False)},
}


@dataclass(frozen=True)
class ContainerCall:
    """`self.q.push(x)`, `self.q.pop()`, `len(self.q)`, `k in self.m`, `self.m.evictions`
    ...: a method of a state container (`CONTAINER_METHODS`); `type` is None for push, put
    and clear."""
    container: State
    method: str
    args: tuple[Expr, ...]
    type: ValueType | None


@dataclass(frozen=True)
class ContainerItem:
    """`self.q[i]`: the i-th item from the front of a queue or the top of a stack
    (`index_out_of_range` past the last); `self.m[k]`: the value of key k of a map
    (`key_not_found`; an LRU map's refreshes its recency). A place: storing into it or
    its fields changes the item in place (the frontend makes `self.m[k] = v` a put)."""
    container: State
    index: Expr
    type: ValueType


@dataclass(frozen=True)
class VectorNew:
    """`rc.f32x4(a, b, c, d)`: a vector of one value per lane, in order; or, with one
    argument, that value in every lane (evaluated once)."""
    args: tuple[Expr, ...]
    type: VectorType


@dataclass(frozen=True)
class VectorAt:
    """Elements `index .. index + lanes - 1` of the array `base` (an array place of the
    vector's element type) as one vector: `rc.f32x4.load(a, i)` reads it, and as an
    assignment's whole target it is `v.store(a, i)`. Bounds-checked as `Index` is: the
    index must be in `0 .. length - lanes` (`index_out_of_range`)."""
    base: Expr
    index: Expr
    type: VectorType


@dataclass(frozen=True)
class FaultIs:
    """`name.reason == "reason"`: is the fault that the enclosing `except rc.Fault as name`
    caught the one with that reason (a built-in reason or an `rc.fail` string)?"""
    name: str
    reason: str
    type: ScalarType  # always bool


@dataclass(frozen=True)
class Zero:
    """`rc.zeros(T)`: the zero value of an array or record type; only the whole value of
    an `Assign` (a store that zeroes every element and field)."""
    type: ArrayType | MessageType


@dataclass(frozen=True)
class GroupReduce:
    """`rc.group_sum(x)`, `rc.group_max(x)`, `rc.group_min(x)` in a cooperative kernel:
    `op` (GROUP_OPS) of `value` over the kernel's `group_size` lanes, the same result on
    every lane. Lanes are combined as a pairwise tree (lane i with lane i + n/2, then
    i + n/4, ...), so a float sum is the same bits for a given group size everywhere
    (docs/language.md, "Cooperative kernels"). A synchronisation point of every lane."""
    op: str
    value: Expr
    type: ScalarType


@dataclass(frozen=True)
class Broadcast:
    """`rc.broadcast(x, lane)` in a cooperative kernel: the value `value` has on lane
    `lane` (an i32, 0 .. group_size - 1, else `index_out_of_range`); lanes may ask for
    different lanes. A synchronisation point of every lane."""
    value: Expr
    lane: Expr
    type: ScalarType


Expr = (Const | Local | State | Member | Index | Unary | Binary | Compare | Logical | Select
        | Cast | Call | HelperCall | MathCall | MessageNew | Intrinsic | FaultIs | Zero
        | ContainerCall | ContainerItem | VectorNew | VectorAt | GroupReduce | Broadcast)
EXPR_KINDS: tuple[type, ...] = get_args(Expr)


# ---------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Assign:
    """`target = value`; target is a Local, State, Member or Index chain ending in one."""
    target: Expr
    value: Expr
    loc: Loc


@dataclass(frozen=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]
    loc: Loc


@dataclass(frozen=True)
class While:
    cond: Expr
    body: tuple[Stmt, ...]
    loc: Loc


@dataclass(frozen=True)
class For:
    """`for var in range(start, stop, step)` with Python's semantics: stop is evaluated
    once, assigning `var` in the body does not change the iteration, no overflow."""
    var: str
    start: Expr
    stop: Expr
    step: int
    body: tuple[Stmt, ...]
    loc: Loc


@dataclass(frozen=True)
class Break:
    loc: Loc


@dataclass(frozen=True)
class Continue:
    loc: Loc


@dataclass(frozen=True)
class Return:
    """From a handler: the reply to the sender (None: no reply). From a helper: its value."""
    value: Expr | None
    loc: Loc


@dataclass(frozen=True)
class ExprStmt:
    expr: Expr
    loc: Loc


@dataclass(frozen=True)
class Send:
    """`rc.send(Kernel, msg, instance=...)`: a new conversation, sender = this kernel."""
    kernel: str
    instance: Expr
    message: Expr
    loc: Loc


@dataclass(frozen=True)
class SendAfter:
    """`rc.send_after(delay_ns, Kernel, msg, instance=...)`: `Send` no earlier than `delay`
    ns from now, through this instance's timer table (docs/language.md, "Time")."""
    delay: Expr
    kernel: str
    instance: Expr
    message: Expr
    loc: Loc


@dataclass(frozen=True)
class Emit:
    """`rc.emit(msg)`: to the host output queue."""
    message: Expr
    loc: Loc


@dataclass(frozen=True)
class Reply:
    """`rc.reply(address, msg)`: answer a stored return address."""
    address: Expr
    message: Expr
    loc: Loc


@dataclass(frozen=True)
class Fail:
    """`rc.fail("reason")`: end the handler, dead-letter the message with that reason."""
    reason: str
    loc: Loc


@dataclass(frozen=True)
class ForEach:
    """`for var in self.q:` over a state container, front to back (a queue), top to bottom
    (a stack) or over a map's keys in table order; `var` holds a copy of each item or key.
    The body must not change the container."""
    var: str
    container: State
    body: tuple[Stmt, ...]
    loc: Loc


@dataclass(frozen=True)
class Try:
    """`try:` / `except rc.Fault as name:` / `else:` / `finally:`. A fault in `body` (also
    in a function it calls) ends `body` and runs `handler` with the fault caught; without
    one (`handler` None) it passes on after `finalbody`. `orelse` runs when `body` did not
    fault; `finalbody` runs last on every path. A fault in `handler` or `orelse` is not
    caught here. `name` is None without `as`."""
    body: tuple[Stmt, ...]
    name: str | None
    handler: tuple[Stmt, ...] | None
    orelse: tuple[Stmt, ...]
    finalbody: tuple[Stmt, ...]
    loc: Loc


@dataclass(frozen=True)
class Raise:
    """A bare `raise` in an `except` block: the fault it caught goes on."""
    loc: Loc


@dataclass(frozen=True)
class Barrier:
    """`rc.barrier()` in a cooperative kernel: every lane of the work-group waits here
    until all have come; stores before it (state, shared arrays) are seen after it."""
    loc: Loc


Stmt = (Assign | If | While | For | Break | Continue | Return | ExprStmt | Send | SendAfter
        | Emit
        | Reply | Fail | Try | Raise | ForEach | Barrier)
STMT_KINDS: tuple[type, ...] = get_args(Stmt)


# ---------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldDef:
    name: str
    type: FieldType


@dataclass(frozen=True)
class MessageDef:
    """A message class. `type_id` is its number on the wire (1-based, program order)."""
    name: str
    type_id: int
    fields: tuple[FieldDef, ...]
    loc: Loc


@dataclass(frozen=True)
class Param:
    name: str
    type: ValueType


@dataclass(frozen=True)
class LocalDef:
    name: str
    type: ValueType


@dataclass(frozen=True)
class SharedDef:
    """A local array of a cooperative kernel's handler or helper that the lanes of the
    work-group share (`tile: rc.Shared[Array[f32, 256]]`): one copy per work-group, zero
    when each message's handling starts. Its elements are scalars."""
    name: str
    type: ArrayType


@dataclass(frozen=True)
class FunctionDef:
    """A handler (`on_*`, one message parameter), a kernel helper, or an `@rc.device`
    function (no state). `locals` lists every local other than the parameters (shared
    arrays of a cooperative kernel as `SharedDef`)."""
    name: str
    params: tuple[Param, ...]
    returns: ValueType | None
    locals: tuple[LocalDef | SharedDef, ...]
    body: tuple[Stmt, ...]
    loc: Loc


@dataclass(frozen=True)
class StateDef:
    """A state variable; `init` is its constant default (a scalar, or one value per
    array element), None for zero."""
    name: str
    type: FieldType
    init: bool | int | float | tuple[bool | int | float, ...] | None


# the kernel options that take one of a few names (docs/options.md)
OPTION_CHOICES = {
    "mode": ("persistent", "event_driven"),
    "concurrency": ("ordered", "parallel", "cooperative"),
    "backpressure": ("block", "reject"),
    "domain": ("general", "graph", "actor", "spatial"),
}


@dataclass(frozen=True)
class KernelOptions:
    mode: str = "persistent"
    capacity: int = 1024
    instances: int = 1
    concurrency: str = "ordered"
    backpressure: str = "block"
    max_batch: int = 32
    domain: str = "general"
    targets: tuple[str, ...] | None = None     # None: every target ringc compiles for
    bounds_check: bool = True
    fast_math: bool = False
    timers: int = 256          # messages one instance may have scheduled (rc.send_after)
    group_size: int = 1        # lanes handling each message (cooperative: a power of two)

    def allows(self, target: str) -> bool:
        """Is the kernel meant for `target` (its `targets` option)?"""
        return self.targets is None or target in self.targets


@dataclass(frozen=True)
class Periodic:
    """`@rc.every(seconds)` on helper `method` (no parameters): runs every `period` ns."""
    method: str
    period: int


@dataclass(frozen=True)
class KernelDef:
    name: str
    options: KernelOptions
    state: tuple[StateDef, ...]
    handlers: tuple[FunctionDef, ...]
    helpers: tuple[FunctionDef, ...]
    loc: Loc
    periodic: tuple[Periodic, ...] = ()

    @functools.cached_property
    def scheduled_messages(self) -> tuple[str, ...]:
        """The messages its handlers, helpers and hooks rc.send_after, in first-use order."""
        from .walk import all_stmts
        return tuple(dict.fromkeys(s.message.type.name for fn in self.handlers + self.helpers
                                   for s in all_stmts(fn.body) if isinstance(s, SendAfter)))

    def schedules(self) -> bool:
        """Does a handler, helper or hook of this kernel call rc.send_after?"""
        return bool(self.scheduled_messages)

    @property
    def timed(self) -> bool:
        """Does each instance carry a timer table (docs/device-program.md, "Time")?"""
        return bool(self.periodic) or self.schedules()


@dataclass(frozen=True)
class Program:
    """Everything one launch runs: the kernels asked for plus every kernel they can
    `rc.send` to, the messages they use, and the `@rc.device` functions they call."""
    messages: tuple[MessageDef, ...]
    kernels: tuple[KernelDef, ...]
    functions: tuple[FunctionDef, ...]

    def message(self, name: str) -> MessageDef:
        for m in self.messages:
            if m.name == name:
                return m
        raise KeyError(name)

    def kernel(self, name: str) -> KernelDef:
        for k in self.kernels:
            if k.name == name:
                return k
        raise KeyError(name)
