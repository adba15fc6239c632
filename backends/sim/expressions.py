"""Compiles IR expressions and places into closures over a frame, with the semantics of
the emitted C: `ExpressionCompiler`, which `interpreter._Compiler` extends with statements.

Semantics follow `ringc.codegen.printer` and `templates/helpers.j2`: `//` and `%` on ints
are Python's, a zero divisor is fault 2 (`division_by_zero`), `MIN // -1` wraps and
`MIN % -1` is 0; on floats they are numpy's `floor_divide` / `remainder`, computed as the
C helper computes them (so NaN results carry PoCL's sign bit); shifts by a count
outside `0..bits-1` give 0 (or -1 for a negative value shifted right); float-to-int casts
truncate, saturate and map NaN to 0; `min`/`max` are Python's (`a` unless `b` is strictly
smaller/larger), integer `abs` wraps; atomics run sequentially and return the old value;
`math.fma` is rounded once (`fma.py`); vector operations are numpy's lane by lane (single
IEEE operations, integers wrapping) and `rc.dot` sums the products left to right.

Limits: every `Index` is bounds-checked here, also in kernels compiled with
`bounds_check=False` (whose C code reads or writes outside the array instead); `fast_math`
kernels are computed exactly (the C code may contract or reorder); transcendental `math`
functions are numpy's, which agree with a device's to a few ulps, not bit for bit.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ringc.ir.dispatch import Dispatch
from ringc.ir.nodes import (
    Binary,
    Broadcast,
    Call,
    Cast,
    Compare,
    Const,
    ContainerCall,
    ContainerItem,
    FaultIs,
    FunctionDef,
    GroupReduce,
    HelperCall,
    Index,
    Intrinsic,
    KernelDef,
    Local,
    Logical,
    MathCall,
    Member,
    MessageNew,
    Select,
    State,
    Try,
    Unary,
    VectorAt,
    VectorNew,
    Zero,
)
from ringc.ir.types import AddressType, MessageType, ScalarType, VectorType
from ringc.ir.walk import all_stmts, function_locals

from .fma import fma
from .values import (
    ADDRESS_FIELDS,
    DIVISION_BY_ZERO,
    EFFECTS,
    FIRST_LOCAL,
    INDEX_OUT_OF_RANGE,
    INSTANCE,
    STATE,
    Ev,
    Fault,
    Frame,
    caster,
    const,
    container_ops,
    item_loader,
    loader,
    store_value,
    wrapper,
    zero_factory,
)

if TYPE_CHECKING:
    from .interpreter import Interpreter

__all__ = ["ExpressionCompiler"]


class ExpressionCompiler:
    """Compiles the expressions and places of one function's body into closures."""

    expr = Dispatch()       # (expr) -> Ev: the value
    ref = Dispatch()        # (place) -> Frame -> (container, key)

    def __init__(self, interp: Interpreter, kernel: KernelDef | None, fn: FunctionDef,
                 handler: bool):
        self.interp = interp
        self.kernel = kernel
        self.fn = fn
        self.handler = handler
        self.types = {p.name: p.type for p in fn.params}    # parameters first, then locals
        for name, t in function_locals(fn).items():
            self.types.setdefault(name, t)
        self.slots = {name: FIRST_LOCAL + i for i, name in enumerate(self.types)}
        # one more slot per try statement: the code of the fault its except block caught
        tries = [s for s in all_stmts(fn.body) if isinstance(s, Try)]
        self.try_slots = {id(s): FIRST_LOCAL + len(self.types) + i for i, s in enumerate(tries)}
        self.caught: list[tuple[str | None, int]] = []   # (except name, slot) around us

    # -- expressions -------------------------------------------------------------------------

    @expr.on(Const)
    def expr_const(self, e: Const) -> Ev:
        value = const(e.value, e.type)
        return lambda f: value

    @expr.on(Local)
    def expr_local(self, e: Local) -> Ev:
        return operator.itemgetter(self.slots[e.name])

    @expr.on(State)
    def expr_state(self, e: State) -> Ev:
        name, load = e.name, loader(e.type)
        if isinstance(e.type, MessageType):
            return lambda f: f[STATE][name]            # the record, a view into state
        if load is None:
            return lambda f: f[STATE][name][0]
        return lambda f: load(f[STATE][name][0])

    @expr.on(Member)
    def expr_member(self, e: Member) -> Ev:
        base = self.expr(e.base)
        if isinstance(e.base.type, VectorType):
            lane, load = e.base.type.components.index(e.field), loader(e.type)
            if load is None:
                return lambda f: base(f)[lane]
            return lambda f: load(base(f)[lane])
        if isinstance(e.base.type, AddressType):
            pos = ADDRESS_FIELDS[e.field]
            return lambda f: base(f)[pos]
        name, load = e.field, loader(e.type)
        if isinstance(e.type, MessageType):
            return lambda f: base(f)[name]              # the record, a view into its holder
        if load is None:
            return lambda f: base(f)[name][0]
        return lambda f: load(base(f)[name][0])

    @expr.on(Index)
    def expr_index(self, e: Index) -> Ev:
        base, index, n = self.expr(e.base), self.expr(e.index), e.base.type.length
        if isinstance(e.type, MessageType):
            def record(f):                              # a view of the element's record
                array = base(f)
                i = index(f)
                if 0 <= i < n:
                    return array[i:i + 1]
                raise Fault(INDEX_OUT_OF_RANGE)
            return record
        load = loader(e.type) or (lambda v: v)

        def element(f):
            array = base(f)
            i = index(f)
            if 0 <= i < n:
                return load(array[i])
            raise Fault(INDEX_OUT_OF_RANGE)
        return element

    @expr.on(VectorNew)
    def expr_vector_new(self, e: VectorNew) -> Ev:
        args, dtype, lanes = [self.expr(a) for a in e.args], e.type.elem.np_dtype, e.type.lanes
        if len(args) == 1:
            (value,) = args
            return lambda f: np.full(lanes, value(f), dtype)
        return lambda f: np.array([a(f) for a in args], dtype)

    @expr.on(VectorAt)
    def expr_vector_at(self, e: VectorAt) -> Ev:
        elements = self.vector_at_ref(e)

        def load(f):
            array, at = elements(f)
            return np.array(array[at])
        return load

    @expr.on(Unary)
    def expr_unary(self, e: Unary) -> Ev:
        a, t = self.expr(e.operand), e.type
        if isinstance(t, VectorType):          # neg, lane by lane (integers wrap)
            return lambda f: -a(f)
        if e.op == "not" or (e.op == "invert" and t.is_bool):
            return lambda f: not a(f)
        if t.is_float:
            return lambda f: -a(f)
        wrap = wrapper(t)
        if e.op == "invert":
            return lambda f: wrap(~a(f))
        return lambda f: wrap(-a(f))

    @expr.on(Binary)
    def expr_binary(self, e: Binary) -> Ev:
        a, b, t, op = self.expr(e.left), self.expr(e.right), e.type, e.op
        if isinstance(t, VectorType):          # numpy, lane by lane: IEEE ops, ints wrap
            fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply,
                  "div": np.true_divide}[op]
            return lambda f: fn(a(f), b(f))
        if t.is_float:
            fn = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
                  "div": operator.truediv}.get(op) or _float_divmod(op, t)
            return lambda f: fn(a(f), b(f))
        if op in ("bitand", "bitor", "bitxor"):
            fn = {"bitand": operator.and_, "bitor": operator.or_, "bitxor": operator.xor}[op]
            if t.is_bool:
                return lambda f: bool(fn(a(f), b(f)))
            return lambda f: fn(a(f), b(f))
        return _int_binary(op, t, a, b)

    @expr.on(Compare)
    def expr_compare(self, e: Compare) -> Ev:
        a, b = self.expr(e.left), self.expr(e.right)
        fn = getattr(operator, e.op)
        if e.left.type.is_float:
            return lambda f: bool(fn(a(f), b(f)))
        return lambda f: fn(a(f), b(f))

    @expr.on(Logical)
    def expr_logical(self, e: Logical) -> Ev:
        a, b = self.expr(e.left), self.expr(e.right)
        if e.op == "and":
            return lambda f: bool(a(f)) and bool(b(f))
        return lambda f: bool(a(f)) or bool(b(f))

    @expr.on(Select)
    def expr_select(self, e: Select) -> Ev:
        cond, then, orelse = self.expr(e.cond), self.expr(e.then), self.expr(e.orelse)
        return lambda f: then(f) if cond(f) else orelse(f)

    @expr.on(Cast)
    def expr_cast(self, e: Cast) -> Ev:
        a = self.expr(e.expr)
        conv = caster(e.expr.type, e.type)
        if conv is None:
            return a
        return lambda f: conv(a(f))

    @expr.on(Call)
    def expr_call(self, e: Call) -> Ev:
        fn = self.interp.function(None, e.function)
        args = [self.expr(x) for x in e.args]
        return lambda f: fn(None, f[EFFECTS], f[INSTANCE], [x(f) for x in args])

    @expr.on(HelperCall)
    def expr_helper_call(self, e: HelperCall) -> Ev:
        fn = self.interp.function(self.kernel.name, e.function)
        args = [self.expr(x) for x in e.args]
        return lambda f: fn(f[STATE], f[EFFECTS], f[INSTANCE], [x(f) for x in args])

    @expr.on(MathCall)
    def expr_mathcall(self, e: MathCall) -> Ev:
        args, t, name = [self.expr(x) for x in e.args], e.args[0].type, e.function
        if name in ("min", "max"):
            better = operator.lt if name == "min" else operator.gt
            first, rest = args[0], args[1:]

            def fold(f):
                out = first(f)
                for x in rest:
                    v = x(f)
                    if better(v, out):
                        out = v
                return out
            return fold
        if name == "dot":
            return _dot(args[0], args[1], t)
        if name == "fma":
            x, y, z = args
            return lambda f: fma(x(f), y(f), z(f))
        (a, *more) = args
        if name == "abs" and t.is_int:
            wrap = wrapper(t)
            return lambda f: wrap(-v) if (v := a(f)) < 0 else v
        if name in ("isnan", "isinf"):
            test = np.isnan if name == "isnan" else np.isinf
            return lambda f: bool(test(a(f)))
        ufunc = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos,
                 "tan": np.tan, "floor": np.floor, "ceil": np.ceil, "fabs": np.fabs,
                 "abs": np.fabs, "pow": np.power}[name]
        if more:
            b = more[0]
            return lambda f: ufunc(a(f), b(f))
        return lambda f: ufunc(a(f))

    @expr.on(MessageNew)
    def expr_messagenew(self, e: MessageNew) -> Ev:
        dtype = self.interp.dtypes[e.message]
        fields = [(name, self.expr(value)) for name, value in e.fields]

        def build(f):
            record = np.zeros(1, dtype)
            for name, value in fields:
                v = value(f)
                if isinstance(v, np.ndarray) and v.dtype.names is not None:
                    record[name].view(np.uint8)[...] = v.view(np.uint8)
                else:
                    record[name][0] = v
            return record
        return build

    @expr.on(ContainerItem)
    def expr_container_item(self, e: ContainerItem) -> Ev:
        slot, name = self.container_slot(e), e.container.name
        if isinstance(e.type, MessageType):        # a view, as an Index of records is
            def record(f):
                s = slot(f)
                return f[STATE][name]["items"][0][s:s + 1]
            return record
        load = item_loader(e.type)
        return lambda f: load(f[STATE][name]["items"][0], slot(f))

    @expr.on(ContainerCall)
    def expr_container_call(self, e: ContainerCall) -> Ev:
        """A container method: `container_ops(t)` finds the slot, as the template's functions do."""
        name, t, method = e.container.name, e.container.type, e.method
        args = [self.expr(a) for a in e.args]
        ops, load = container_ops(t), item_loader(t.item)

        def box(f):
            return f[STATE][name]

        if method in ("len", "full", "empty", "evictions"):
            field = "evictions" if method == "evictions" else "count"
            want = {"full": t.capacity, "empty": 0}.get(method)
            if want is None:
                return lambda f: int(box(f)[field][0])
            return lambda f: int(box(f)[field][0]) == want
        if method == "clear":
            return lambda f: ops.clear(box(f))
        if method in ("push", "put"):
            *key, item = args                       # arguments first, as C evaluates them

            def store(f):
                keys = [k(f) for k in key]
                x = item(f)
                b = box(f)
                store_value(b["items"][0], ops.put(b, *keys) if keys else ops.push(b), x)
            return store
        if method in ("pop", "peek"):
            return lambda f: load(box(f)["items"][0], ops.take(box(f), method == "pop"))
        key = args[0]
        if method == "contains":
            return lambda f: ops.find(box(f), key(f)) != t.slots
        if method == "remove":
            return lambda f: ops.remove(box(f), key(f))
        default = args[1]                            # get

        def get(f):
            k, d = key(f), default(f)
            b = box(f)
            slot = ops.get(b, k)
            return d if slot is None else load(b["items"][0], slot)
        return get

    @expr.on(FaultIs)
    def expr_fault_is(self, e: FaultIs) -> Ev:
        slot = next(slot for name, slot in reversed(self.caught) if name == e.name)
        code = self.interp.reasons[e.reason]
        return lambda f: f[slot] == code

    @expr.on(Zero)
    def expr_zero(self, e: Zero) -> Ev:
        make = zero_factory(e.type, self.interp.dtypes)       # stored by Assign, fresh each time
        return lambda f: make()

    @expr.on(GroupReduce)
    def expr_group_reduce(self, e: GroupReduce) -> Ev:
        value, op, t = self.expr(e.value), e.op, e.type
        return lambda f: f[EFFECTS].group(op, t, value(f))

    @expr.on(Broadcast)
    def expr_broadcast(self, e: Broadcast) -> Ev:
        value, lane = self.expr(e.value), self.expr(e.lane)

        def broadcast(f):
            v = value(f)
            return f[EFFECTS].broadcast(v, lane(f))
        return broadcast

    @expr.on(Intrinsic)
    def expr_intrinsic(self, e: Intrinsic) -> Ev:
        if e.name == "lane":
            return lambda f: f[EFFECTS].lane()
        if e.name == "sender":
            return lambda f: f[EFFECTS].sender()
        if e.name == "now":
            wrap = wrapper(e.type)
            return lambda f: wrap(f[EFFECTS].now())
        if e.name == "instance_id":
            wrap = wrapper(e.type)
            return lambda f: wrap(f[INSTANCE])
        return self.atomic(e)

    def atomic(self, e: Intrinsic) -> Ev:
        op, t = e.name[len("atomic_"):], e.type
        place, load = self.ref(e.args[0]), loader(t) or (lambda v: v)
        args = [self.expr(x) for x in e.args[1:]]
        if op == "cas":
            expected, value = args
            step = lambda cur, f: value(f) if cur == expected(f) else cur  # noqa: E731
        else:
            (value,) = args
            if op == "max":
                step = lambda cur, f: v if (v := value(f)) > cur else cur  # noqa: E731
            elif op == "min":
                step = lambda cur, f: v if (v := value(f)) < cur else cur  # noqa: E731
            elif t.is_float:
                step = lambda cur, f: cur + value(f)  # noqa: E731
            else:
                wrap = wrapper(t)
                step = lambda cur, f: wrap(cur + value(f))  # noqa: E731

        def rmw(f):
            container, key = place(f)
            old = load(container[key])
            container[key] = step(old, f)
            return old
        return rmw

    # -- places ------------------------------------------------------------------------------

    # (container, key) of a place, its indices evaluated (and checked) in order

    @ref.on(Local)
    def local_ref(self, e: Local) -> Callable[[Frame], tuple[object, object]]:
        slot = self.slots[e.name]
        return lambda f: (f, slot)

    @ref.on(State)
    def state_ref(self, e: State) -> Callable[[Frame], tuple[object, object]]:
        name = e.name
        return lambda f: (f[STATE][name], 0)

    @ref.on(Member)
    def member_ref(self, e: Member) -> Callable[[Frame], tuple[object, object]]:
        if isinstance(e.base.type, VectorType):     # a lane of a vector place, in place
            vector, lane = self.ref(e.base), e.base.type.components.index(e.field)

            def component(f):
                container, key = vector(f)
                return container[key], lane
            return component
        base, name = self.expr(e.base), e.field
        return lambda f: (base(f)[name], 0)

    @ref.on(VectorAt)
    def vector_at_ref(self, e: VectorAt) -> Callable[[Frame], tuple[object, object]]:
        """The elements a vector is stored into: (the array, their slice), checked."""
        base, index = self.expr(e.base), self.expr(e.index)
        last, lanes = e.base.type.length - e.type.lanes, e.type.lanes

        def elements(f):
            array = base(f)
            i = index(f)
            if 0 <= i <= last:
                return array, slice(i, i + lanes)
            raise Fault(INDEX_OUT_OF_RANGE)
        return elements

    @ref.on(ContainerItem)
    def container_item_ref(self, e: ContainerItem) -> Callable[[Frame], tuple[object, object]]:
        slot = self.container_slot(e)
        name = e.container.name
        return lambda f: (f[STATE][name]["items"][0], slot(f))

    def container_slot(self, e: ContainerItem) -> Callable[[Frame], int]:
        """The slot of a queue's or stack's i-th item, or of a map's key (refreshed in an
        LRU map); index_out_of_range or key_not_found."""
        name, index, ops = e.container.name, self.expr(e.index), container_ops(e.container.type)
        return lambda f: ops.at(f[STATE][name], index(f))

    @ref.on(Index)
    def element_ref(self, e: Index) -> Callable[[Frame], tuple[object, object]]:
        base, index, n = self.expr(e.base), self.expr(e.index), e.base.type.length

        def element(f):
            container = base(f)
            i = index(f)
            if 0 <= i < n:
                return container, i
            raise Fault(INDEX_OUT_OF_RANGE)
        return element


def _dot(a: Ev, b: Ev, t: VectorType) -> Ev:
    """rc.dot: the lanes' products summed left to right, each step one operation of the
    element type (floats: single IEEE roundings, no fma; integers wrap)."""
    if t.elem.is_float:
        def dot(f):
            x, y = a(f), b(f)
            total = x[0] * y[0]
            for i in range(1, t.lanes):
                total = total + x[i] * y[i]
            return total
        return dot
    wrap = wrapper(t.elem)
    return lambda f: wrap(sum(int(p) * int(q) for p, q in zip(a(f), b(f), strict=True)))


def _float_divmod(op: str, t: ScalarType) -> Callable:
    """Float `//` or `%` step by step as helpers.j2 computes numpy's floor_divide and
    remainder, with an invalid fmod (infinite dividend or zero divisor, no NaN operand)
    giving the positive quiet NaN, as PoCL's fmod does (numpy's gives the negative one)."""
    make = t.np_dtype.type
    zero, one, half, nan = make(0), make(1), make(0.5), make(np.nan)

    def fmod(a, b):
        if (np.isinf(a) or b == zero) and a == a and b == b:
            return nan
        return np.fmod(a, b)

    def floordiv(a, b):
        if b == zero:
            return a / b
        mod = fmod(a, b)
        div = (a - mod) / b
        if mod != zero and (b < zero) != (mod < zero):
            div = div - one
        if div == zero:
            return np.copysign(zero, a / b)
        floor = np.floor(div)
        return floor + one if div - floor > half else floor

    def remainder(a, b):
        mod = fmod(a, b)
        if b == zero:
            return mod
        if mod == zero:
            return np.copysign(zero, b)
        return mod + b if (b < zero) != (mod < zero) else mod
    return floordiv if op == "floordiv" else remainder


def _int_binary(op: str, t: ScalarType, a: Ev, b: Ev) -> Ev:
    """`+ - * // % << >>` on ints of type `t`, as the C helpers compute them."""
    bits, signed, wrap = t.bits, t.is_signed, wrapper(t)
    if op in ("add", "sub", "mul"):
        fn = {"add": operator.add, "sub": operator.sub, "mul": operator.mul}[op]
        return lambda f: wrap(fn(a(f), b(f)))
    if op in ("floordiv", "mod"):
        floor = op == "floordiv"

        def divmod_(f):
            x, y = a(f), b(f)
            if y == 0:
                raise Fault(DIVISION_BY_ZERO)
            if signed and y == -1:
                return wrap(-x) if floor else 0
            return x // y if floor else x % y
        return divmod_
    if op == "shl":
        def shl(f):
            x, y = a(f), b(f)
            return wrap(x << y) if 0 <= y < bits else 0
        return shl

    def shr(f):
        x, y = a(f), b(f)
        if 0 <= y < bits:
            return x >> y
        return -1 if x < 0 else 0
    return shr
