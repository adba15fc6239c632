"""Runs handlers of a program's typed IR in Python, with the semantics of the emitted C.

Every function (handler, kernel helper, device function) is compiled once into nested Python
closures; running a handler is then a chain of closure calls over a frame list, not a walk of
the IR tree. Values are: ints as Python ints kept in their type's range (two's-complement
wrap after every operation), bools as Python bools, `f32`/`f64` as `numpy.float32` /
`numpy.float64` scalars (numpy's scalar arithmetic is single IEEE operations in that
precision: no wider intermediate, no fused multiply-add), addresses as `(queue, reserved,
correlation)` tuples, vectors as 1-d numpy arrays of their lanes (never shared: a read from
memory copies, a store copies, a component store writes its own copy), arrays as numpy
arrays (views where they live in state or a message), messages as one-element structured
arrays ("records": field access through the array keeps padding bytes intact, which
`numpy.void` does not). State is a one-element record *view* into the arena, written in
place.

Semantics follow `ringc.codegen.printer` and `templates/helpers.j2`: `//` and `%` on ints
are Python's, a zero divisor is fault 2 (`division_by_zero`), `MIN // -1` wraps and
`MIN % -1` is 0; on floats they are numpy's `floor_divide` / `remainder`, computed as the
C helper computes them (so NaN results carry PoCL's sign bit); shifts by a count
outside `0..bits-1` give 0 (or -1 for a negative value shifted right); float-to-int casts
truncate, saturate and map NaN to 0; `min`/`max` are Python's (`a` unless `b` is strictly
smaller/larger), integer `abs` wraps; atomics run sequentially and return the old value;
`math.fma` is rounded once (`fma.py`); vector operations are numpy's lane by lane (single
IEEE operations, integers wrapping) and `rc.dot` sums the products left to right.

A fault raises `Fault` at once. The C code instead sets a flag, goes on with harmless values
and checks the flag before every store to state, send, emit, reply and atomic: no effect
after the first fault is visible either way, and the C code sequences operands so that the
first fault in Python's evaluation order wins, so both give the same outcome.

Limits: every `Index` is bounds-checked here, also in kernels compiled with
`bounds_check=False` (whose C code reads or writes outside the array instead); `fast_math`
kernels are computed exactly (the C code may contract or reorder); transcendental `math`
functions are numpy's, which agree with a device's to a few ulps, not bit for bit.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Protocol

import numpy as np

from ringc.ir.dispatch import Dispatch
from ringc.ir.nodes import (
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
    For,
    ForEach,
    FunctionDef,
    GroupReduce,
    HelperCall,
    If,
    Index,
    Intrinsic,
    KernelDef,
    Local,
    Logical,
    MathCall,
    Member,
    MessageNew,
    Program,
    Raise,
    Reply,
    Return,
    Select,
    Send,
    SendAfter,
    State,
    Try,
    Unary,
    VectorAt,
    VectorNew,
    While,
    Zero,
)
from ringc.ir.types import (
    ADDRESS_DTYPE,
    MESSAGE_ALIGN,
    AddressType,
    ArrayType,
    ContainerType,
    MessageType,
    ScalarType,
    VectorType,
    array_shape,
    leaf_type,
    struct_dtype,
)
from ringc.ir.walk import all_stmts, function_locals, shared_locals
from ringc.protocol import FIRST_USER_REASON, REASONS

from .containers import MapOps, SequenceOps
from .fma import fma

__all__ = ["Fault", "Effects", "Interpreter", "Address", "HandlerFn", "DIVISION_BY_ZERO",
           "INDEX_OUT_OF_RANGE", "Record", "copy_record"]

_CODES = {name: code for code, name in REASONS.items()}
DIVISION_BY_ZERO, INDEX_OUT_OF_RANGE = _CODES["division_by_zero"], _CODES["index_out_of_range"]
Address = tuple[int, int, int]          # (queue, reserved, correlation)
Frame = list                            # [state, effects, instance, local 0, local 1, ...]
Ev = Callable[[Frame], object]
Record = np.ndarray                     # a message or state: a one-element structured array
_STATE, _EFFECTS, _INSTANCE, _FIRST_LOCAL = 0, 1, 2, 3
_BREAK, _CONTINUE = object(), object()  # statement results; a return is a 1-tuple
_ADDRESS_FIELDS = {name: i for i, name in enumerate(ADDRESS_DTYPE.names)}


class Fault(Exception):
    """A handler ended with a dead-letter reason code (2, 3, or 16+ for `rc.fail`)."""

    def __init__(self, reason: int):
        super().__init__(reason)
        self.reason = reason


class Effects(Protocol):
    """What a handler does to the world outside its state: the machine implements it."""

    def send(self, kernel: str, instance: int, message: str, record: Record) -> None: ...

    def emit(self, message: str, record: Record) -> None: ...

    def reply(self, address: Address, message: str, record: Record) -> None: ...

    def send_after(self, state: Record, delay: int, kernel: str, instance: int,
                   message: str, record: Record) -> None: ...

    def sender(self) -> Address: ...

    def now(self) -> int: ...

    # a cooperative kernel's lanes (the machine's lane group): this lane's number, a
    # barrier, a group reduction (`op` of GROUP_OPS) and a broadcast, and the array `key`
    # (made by `make` when the handling first asks) the lanes share

    def lane(self) -> int: ...

    def barrier(self) -> None: ...

    def group(self, op: str, t: ScalarType, value) -> object: ...

    def broadcast(self, value, lane: int) -> object: ...

    def shared(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray: ...


# the handler's reply: (message name, record), or None
HandlerFn = Callable[[Record | None, Record, int, Effects], tuple[str, Record] | None]


# ---- values of each type -------------------------------------------------------------------

def _wrapper(t: ScalarType) -> Callable[[int], int]:
    """Two's-complement wrap of a Python int into `t`'s range."""
    mask = (1 << t.bits) - 1
    if t.is_signed:
        half = 1 << (t.bits - 1)
        return lambda v: ((v + half) & mask) - half
    return lambda v: v & mask


def _loader(t) -> Callable | None:
    """Converts an element read from numpy memory to a value (None: use it as it is)."""
    if isinstance(t, ScalarType):
        return int if t.is_int else bool if t.is_bool else None
    if isinstance(t, AddressType):
        return np.void.item
    if isinstance(t, VectorType):
        return np.array                 # a copy: the value outlives the memory it came from
    return None


def _const(value, t: ScalarType):
    if t.is_bool:
        return bool(value)
    if t.is_int:
        return _wrapper(t)(int(value))
    return t.np_dtype.type(value)


def _caster(src: ScalarType, dst: ScalarType) -> Callable | None:
    """The conversion `dst(x)` of the C code (None: nothing to do)."""
    if src == dst:
        return None
    if dst.is_bool:
        return lambda v: bool(v != 0)
    if dst.is_float:
        make = dst.np_dtype.type
        if src.is_float:
            return make
        if src.is_bool:
            return lambda v: make(1.0 if v else 0.0)
        if dst.bits == 64:
            return lambda v: make(float(v))          # Python rounds ints correctly

        def int_to_f32(v: int):
            if -(1 << 53) <= v <= 1 << 53:             # exact as a double: one rounding
                return make(v)
            return make(np.int64(v) if v < 1 << 63 else np.uint64(v))
        return int_to_f32
    if src.is_float:
        lo, hi = dst.min_max()
        flo, fhi = float(src.np_dtype.type(lo)), float(src.np_dtype.type(hi))

        def f2i(v):
            if v != v:
                return 0
            if v <= flo:
                return lo
            if v >= fhi:
                return hi
            return int(v)
        return f2i
    if src.is_bool:
        return int
    return _wrapper(dst)


def _zero(t, messages: dict[str, np.dtype]) -> Callable[[], object]:
    """A factory of the zero value of `t` (fresh objects for mutable values)."""
    if isinstance(t, ScalarType):
        value = _const(0, t)
        return lambda: value
    if isinstance(t, AddressType):
        return lambda: (0, 0, 0)
    if isinstance(t, VectorType):
        return lambda: np.zeros(t.lanes, t.elem.np_dtype)
    if isinstance(t, ArrayType):
        leaf, shape = leaf_type(t), array_shape(t)
        dtype = messages[leaf.name] if isinstance(leaf, MessageType) else leaf.np_dtype
        return lambda: np.zeros(shape, dtype)
    dtype = messages[t.name]
    return lambda: np.zeros(1, dtype)


def _raise_fault(code: int):
    raise Fault(code)


@functools.cache
def _ops(t: ContainerType) -> SequenceOps | MapOps:
    """The slot arithmetic of a container type (backends/sim/containers.py)."""
    return MapOps(t, _raise_fault) if t.key is not None else SequenceOps(t, _raise_fault)


def _item_loader(t) -> Callable[[np.ndarray, int], object]:
    """A function (items array, slot) -> the item's value: a copy of a record (the slot may
    be reused once popped), a Python value of a scalar or address."""
    if isinstance(t, MessageType):
        return lambda items, slot: copy_record(items[slot:slot + 1])
    load = _loader(t) or (lambda v: v)
    return lambda items, slot: load(items[slot])


def copy_record(record: Record) -> Record:
    """A byte-for-byte copy of a record, padding included, as C copies a struct (numpy
    copies a structured array with padding field by field, leaving the padding undefined)."""
    return record.view(np.uint8).copy().view(record.dtype)


def _store(container, key, value) -> None:
    """`container[key] = value`; a record (a one-element array) is stored byte for byte
    into numpy memory (state, a message, an array of records), as C copies a struct."""
    if isinstance(value, np.ndarray) and value.dtype.names is not None \
            and isinstance(container, np.ndarray):
        container[key:key + 1].view(np.uint8)[...] = value.view(np.uint8)
    else:
        container[key] = value


# ---- compiled functions --------------------------------------------------------------------

class _Function:
    """One compiled function: a frame template and the closure of its body."""

    def __init__(self) -> None:
        self.template: list = []
        self.fresh: list[tuple[int, Callable]] = []
        self.copy_params: list[int] = []
        self.copy_vectors: list[int] = []          # vector parameters the body writes
        self.shared: list[tuple[int, tuple, Callable]] = []   # (slot, key, make): rc.Shared
        self.body: Ev = lambda f: None
        self.zero: Callable[[], object] = lambda: None

    def __call__(self, state, effects, instance: int, args) -> object:
        f = self.template.copy()
        f[_STATE], f[_EFFECTS], f[_INSTANCE] = state, effects, instance
        f[_FIRST_LOCAL:_FIRST_LOCAL + len(args)] = args
        for i in self.copy_params:
            f[i] = copy_record(f[i])
        for i in self.copy_vectors:
            f[i] = f[i].copy()
        for i, make in self.fresh:
            f[i] = make()
        for i, key, make in self.shared:
            f[i] = effects.shared(key, make)
        result = self.body(f)
        return self.zero() if result is None else result[0]


class Interpreter:
    """Runs the handlers of `program`. `reasons` are its `rc.fail` strings in code order
    (`GeneratedProgram.reasons`: reason 16 + index)."""

    def __init__(self, program: Program, reasons: tuple[str, ...]):
        self.program = program
        self.reasons = {**{r: FIRST_USER_REASON + i for i, r in enumerate(reasons)},
                        **{name: code for code, name in REASONS.items()}}
        self.dtypes = {m.name: struct_dtype([(f.name, f.type) for f in m.fields],
                                            pad_to=MESSAGE_ALIGN) for m in program.messages}
        self.type_ids = {m.name: m.type_id for m in program.messages}
        self._functions: dict[tuple[str | None, str], _Function] = {}
        self._handlers: dict[tuple[str, int], HandlerFn] = {}
        entries: list[tuple[FunctionDef, KernelDef | None, bool]] = []
        for k in program.kernels:
            entries += [(fn, k, True) for fn in k.handlers]
            entries += [(fn, k, False) for fn in k.helpers]
        entries += [(fn, None, False) for fn in program.functions]
        for fn, k, _ in entries:
            self._functions[(k.name if k else None, fn.name)] = _Function()
        for fn, k, handler in entries:
            compiled = self._functions[(k.name if k else None, fn.name)]
            _Compiler(self, k, fn, handler).fill(compiled)
            if handler:
                self._handlers[(k.name, self.type_ids[fn.params[0].type.name])] = compiled

    def function(self, kernel: str | None, name: str) -> _Function:
        """The compiled handler or helper `name` of `kernel`, or device function `name`
        (kernel None)."""
        return self._functions[(kernel, name)]

    def handler(self, kernel: str, type_id: int) -> HandlerFn | None:
        """The compiled handler of `kernel` for message `type_id`, or None. It runs as
        `fn(state, message, instance, effects)` and returns the reply or None, or raises
        `Fault`; call it inside `numpy.errstate(all="ignore")` (IEEE results, no warnings)."""
        compiled = self._handlers.get((kernel, type_id))
        if compiled is None:
            return None
        return lambda state, message, instance, effects: compiled(
            state, effects, instance, (message,))


def _root(e):
    while isinstance(e, (Member, Index)):
        e = e.base
    return e


class _Compiler:
    """Compiles one function's body into closures."""

    stmt = Dispatch()       # (stmt) -> Ev: None, _BREAK, _CONTINUE or (returned value,)
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
        self.slots = {name: _FIRST_LOCAL + i for i, name in enumerate(self.types)}
        # one more slot per try statement: the code of the fault its except block caught
        tries = [s for s in all_stmts(fn.body) if isinstance(s, Try)]
        self.try_slots = {id(s): _FIRST_LOCAL + len(self.types) + i for i, s in enumerate(tries)}
        self.caught: list[tuple[str | None, int]] = []   # (except name, slot) around us

    def fill(self, target: _Function) -> None:
        dtypes = self.interp.dtypes
        params = {p.name for p in self.fn.params}
        target.template = [None] * (_FIRST_LOCAL + len(self.types) + len(self.try_slots))
        shared = shared_locals(self.fn)
        for name, t in self.types.items():
            if name in params:
                continue
            make = _zero(t, dtypes)
            if name in shared:              # one array of the lane group, zero per handling
                key = (self.kernel.name if self.kernel else None, self.fn.name, name)
                target.shared.append((self.slots[name], key, make))
                continue
            if isinstance(t, ScalarType) or isinstance(t, AddressType):
                target.template[self.slots[name]] = make()
            else:
                target.fresh.append((self.slots[name], make))
        # a message parameter the body writes to is copied: C passes it by value
        written = {_root(s.target).name for s in all_stmts(self.fn.body)
                   if isinstance(s, Assign) and isinstance(_root(s.target), Local)}
        target.copy_params = [self.slots[p.name] for p in self.fn.params
                              if p.name in written and isinstance(p.type, MessageType)]
        target.copy_vectors = [self.slots[p.name] for p in self.fn.params
                               if p.name in written and isinstance(p.type, VectorType)]
        if not self.handler and self.fn.returns is not None:
            target.zero = _zero(self.fn.returns, dtypes)
        target.body = self.block(self.fn.body)

    # -- statements --------------------------------------------------------------------------

    def block(self, stmts) -> Ev:
        fns = [self.stmt(s) for s in stmts]
        if len(fns) == 1:
            return fns[0]

        def run(f):
            for s in fns:
                r = s(f)
                if r is not None:
                    return r
            return None
        return run

    @stmt.on(Assign)
    def stmt_assign(self, s: Assign) -> Ev:
        value = self.expr(s.value)
        t = s.target.type
        if isinstance(t, ArrayType):
            dst = self.expr(s.target)

            def copy_array(f):
                src = value(f)
                dst(f)[...] = src
            return copy_array
        if isinstance(t, MessageType) and not isinstance(s.value, MessageNew):
            inner = value
            value = lambda f: copy_record(inner(f))  # noqa: E731
        if isinstance(t, VectorType):             # a local's vector is its own copy
            inner = value
            value = lambda f: np.array(inner(f))  # noqa: E731
        if isinstance(s.target, Member) and isinstance(s.target.base.type, AddressType):
            return self.store_address_field(s.target, value)
        ref = self.ref(s.target)

        if isinstance(t, MessageType):
            def assign_record(f):
                v = value(f)
                container, key = ref(f)
                _store(container, key, v)
            return assign_record

        def assign(f):
            v = value(f)
            container, key = ref(f)
            container[key] = v
        return assign

    def store_address_field(self, target: Member, value: Ev) -> Ev:
        base = self.ref(target.base)
        pos = _ADDRESS_FIELDS[target.field]

        def assign(f):
            v = value(f)
            container, key = base(f)
            old = container[key]
            parts = list(old if isinstance(old, tuple) else old.item())
            parts[pos] = v
            container[key] = tuple(parts)
        return assign

    # (container, key) of a place, its indices evaluated (and checked) in order

    @ref.on(Local)
    def local_ref(self, e: Local) -> Callable[[Frame], tuple[object, object]]:
        slot = self.slots[e.name]
        return lambda f: (f, slot)

    @ref.on(State)
    def state_ref(self, e: State) -> Callable[[Frame], tuple[object, object]]:
        name = e.name
        return lambda f: (f[_STATE][name], 0)

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
        return lambda f: (f[_STATE][name]["items"][0], slot(f))

    def container_slot(self, e: ContainerItem) -> Callable[[Frame], int]:
        """The slot of a queue's or stack's i-th item, or of a map's key (refreshed in an
        LRU map); index_out_of_range or key_not_found."""
        name, index, ops = e.container.name, self.expr(e.index), _ops(e.container.type)
        return lambda f: ops.at(f[_STATE][name], index(f))

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

    @stmt.on(If)
    def stmt_if(self, s: If) -> Ev:
        cond, then = self.expr(s.cond), self.block(s.then)
        orelse = self.block(s.orelse) if s.orelse else (lambda f: None)
        return lambda f: then(f) if cond(f) else orelse(f)

    @stmt.on(While)
    def stmt_while(self, s: While) -> Ev:
        cond, body = self.expr(s.cond), self.block(s.body)

        def loop(f):
            while cond(f):
                r = body(f)
                if r is not None:
                    if r is _BREAK:
                        break
                    if r is not _CONTINUE:
                        return r
            return None
        return loop

    @stmt.on(For)
    def stmt_for(self, s: For) -> Ev:
        var_type = self.types[s.var]
        t = var_type if isinstance(var_type, ScalarType) else s.start.type
        wide = _wrapper(ScalarType("i64" if t.is_signed else "u64"))
        to_var = _wrapper(var_type)
        start, stop, step = self.expr(s.start), self.expr(s.stop), s.step
        slot, body = self.slots[s.var], self.block(s.body)

        def loop(f):
            first = wide(start(f))
            for it in range(first, wide(stop(f)), step):
                f[slot] = to_var(it)
                r = body(f)
                if r is not None:
                    if r is _BREAK:
                        break
                    if r is not _CONTINUE:
                        return r
            return None
        return loop

    @stmt.on(Break)
    def stmt_break(self, s: Break) -> Ev:
        return lambda f: _BREAK

    @stmt.on(Continue)
    def stmt_continue(self, s: Continue) -> Ev:
        return lambda f: _CONTINUE

    @stmt.on(Fail)
    def stmt_fail(self, s: Fail) -> Ev:
        code = self.interp.reasons[s.reason]

        def fail(f):
            raise Fault(code)
        return fail

    @stmt.on(ForEach)
    def stmt_for_each(self, s: ForEach) -> Ev:
        """Each item (a map: key), read where the C loop reads it, from the live state."""
        name, t, var = s.container.name, s.container.type, self.slots[s.var]
        ops, body = _ops(t), self.block(s.body)
        field = "keys" if t.key is not None else "items"
        load = _item_loader(t.key if t.key is not None else t.item)
        step = 1 if t.key is not None else 0      # a map's loop goes on from the next slot

        def loop(f):
            k = 0
            while True:
                box = f[_STATE][name]
                slot = ops.iterated(box, k)
                if slot is None:
                    return None
                k = slot + step if step else k + 1
                f[var] = load(box[field][0], slot)
                r = body(f)
                if r is not None:
                    if r is _BREAK:
                        return None
                    if r is not _CONTINUE:
                        return r
        return loop

    @stmt.on(Raise)
    def stmt_raise(self, s: Raise) -> Ev:
        slot = self.caught[-1][1]

        def raise_again(f):
            raise Fault(f[slot])
        return raise_again

    @stmt.on(Try)
    def stmt_try(self, s: Try) -> Ev:
        """Python's own try: a Fault is raised at once, so nothing after it in the body
        runs; `else` runs when the body ended without a fault, break, continue or return."""
        slot = self.try_slots[id(s)]
        body = self.block(s.body)
        handler = None
        if s.handler is not None:
            self.caught.append((s.name, slot))
            handler = self.block(s.handler)
            self.caught.pop()
        orelse = self.block(s.orelse) if s.orelse else None
        final = self.block(s.finalbody) if s.finalbody else None

        def run_try(f):
            try:
                try:
                    r = body(f)
                except Fault as fault:
                    if handler is None:
                        raise
                    f[slot] = fault.reason
                    return handler(f)
                if r is None and orelse is not None:
                    return orelse(f)
                return r
            finally:
                if final is not None:
                    final(f)
        return run_try

    @stmt.on(Barrier)
    def stmt_barrier(self, s: Barrier) -> Ev:
        def barrier(f):
            f[_EFFECTS].barrier()
        return barrier

    @stmt.on(ExprStmt)
    def stmt_exprstmt(self, s: ExprStmt) -> Ev:
        value = self.expr(s.expr)

        def run(f):
            value(f)
        return run

    @stmt.on(Return)
    def stmt_return(self, s: Return) -> Ev:
        if s.value is None:
            return lambda f: (None,)
        value = self.expr(s.value)
        if self.handler:
            name = s.value.type.name
            return lambda f: ((name, value(f)),)
        return lambda f: (value(f),)

    @stmt.on(Send)
    def stmt_send(self, s: Send) -> Ev:
        message, instance = self.expr(s.message), self.expr(s.instance)
        kernel, name = s.kernel, s.message.type.name

        def send(f):
            record = message(f)
            f[_EFFECTS].send(kernel, instance(f), name, record)
        return send

    @stmt.on(SendAfter)
    def stmt_send_after(self, s: SendAfter) -> Ev:
        """Delay, instance, then message, as the C code evaluates them; the timer table
        is in this function's state (the machine's `send_after`)."""
        delay, instance = self.expr(s.delay), self.expr(s.instance)
        message, kernel, name = self.expr(s.message), s.kernel, s.message.type.name

        def send_after(f):
            d, i = delay(f), instance(f)
            record = message(f)
            f[_EFFECTS].send_after(f[_STATE], d, kernel, i, name, record)
        return send_after

    @stmt.on(Emit)
    def stmt_emit(self, s: Emit) -> Ev:
        message, name = self.expr(s.message), s.message.type.name

        def emit(f):
            f[_EFFECTS].emit(name, message(f))
        return emit

    @stmt.on(Reply)
    def stmt_reply(self, s: Reply) -> Ev:
        address, message = self.expr(s.address), self.expr(s.message)
        name = s.message.type.name

        def reply(f):
            to = address(f)
            f[_EFFECTS].reply(to, name, message(f))
        return reply

    # -- expressions -------------------------------------------------------------------------

    @expr.on(Const)
    def expr_const(self, e: Const) -> Ev:
        value = _const(e.value, e.type)
        return lambda f: value

    @expr.on(Local)
    def expr_local(self, e: Local) -> Ev:
        return operator.itemgetter(self.slots[e.name])

    @expr.on(State)
    def expr_state(self, e: State) -> Ev:
        name, load = e.name, _loader(e.type)
        if isinstance(e.type, MessageType):
            return lambda f: f[_STATE][name]            # the record, a view into state
        if load is None:
            return lambda f: f[_STATE][name][0]
        return lambda f: load(f[_STATE][name][0])

    @expr.on(Member)
    def expr_member(self, e: Member) -> Ev:
        base = self.expr(e.base)
        if isinstance(e.base.type, VectorType):
            lane, load = e.base.type.components.index(e.field), _loader(e.type)
            if load is None:
                return lambda f: base(f)[lane]
            return lambda f: load(base(f)[lane])
        if isinstance(e.base.type, AddressType):
            pos = _ADDRESS_FIELDS[e.field]
            return lambda f: base(f)[pos]
        name, load = e.field, _loader(e.type)
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
        load = _loader(e.type) or (lambda v: v)

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
        wrap = _wrapper(t)
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
        conv = _caster(e.expr.type, e.type)
        if conv is None:
            return a
        return lambda f: conv(a(f))

    @expr.on(Call)
    def expr_call(self, e: Call) -> Ev:
        fn = self.interp.function(None, e.function)
        args = [self.expr(x) for x in e.args]
        return lambda f: fn(None, f[_EFFECTS], f[_INSTANCE], [x(f) for x in args])

    @expr.on(HelperCall)
    def expr_helper_call(self, e: HelperCall) -> Ev:
        fn = self.interp.function(self.kernel.name, e.function)
        args = [self.expr(x) for x in e.args]
        return lambda f: fn(f[_STATE], f[_EFFECTS], f[_INSTANCE], [x(f) for x in args])

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
            wrap = _wrapper(t)
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
                return f[_STATE][name]["items"][0][s:s + 1]
            return record
        load = _item_loader(e.type)
        return lambda f: load(f[_STATE][name]["items"][0], slot(f))

    @expr.on(ContainerCall)
    def expr_container_call(self, e: ContainerCall) -> Ev:
        """A container method: `_ops(t)` finds the slot, as the template's functions do."""
        name, t, method = e.container.name, e.container.type, e.method
        args = [self.expr(a) for a in e.args]
        ops, load = _ops(t), _item_loader(t.item)

        def box(f):
            return f[_STATE][name]

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
                _store(b["items"][0], ops.put(b, *keys) if keys else ops.push(b), x)
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
        make = _zero(e.type, self.interp.dtypes)       # stored by Assign, fresh each time
        return lambda f: make()

    @expr.on(GroupReduce)
    def expr_group_reduce(self, e: GroupReduce) -> Ev:
        value, op, t = self.expr(e.value), e.op, e.type
        return lambda f: f[_EFFECTS].group(op, t, value(f))

    @expr.on(Broadcast)
    def expr_broadcast(self, e: Broadcast) -> Ev:
        value, lane = self.expr(e.value), self.expr(e.lane)

        def broadcast(f):
            v = value(f)
            return f[_EFFECTS].broadcast(v, lane(f))
        return broadcast

    @expr.on(Intrinsic)
    def expr_intrinsic(self, e: Intrinsic) -> Ev:
        if e.name == "lane":
            return lambda f: f[_EFFECTS].lane()
        if e.name == "sender":
            return lambda f: f[_EFFECTS].sender()
        if e.name == "now":
            wrap = _wrapper(e.type)
            return lambda f: wrap(f[_EFFECTS].now())
        if e.name == "instance_id":
            wrap = _wrapper(e.type)
            return lambda f: wrap(f[_INSTANCE])
        return self.atomic(e)

    def atomic(self, e: Intrinsic) -> Ev:
        op, t = e.name[len("atomic_"):], e.type
        place, load = self.ref(e.args[0]), _loader(t) or (lambda v: v)
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
                wrap = _wrapper(t)
                step = lambda cur, f: wrap(cur + value(f))  # noqa: E731

        def rmw(f):
            container, key = place(f)
            old = load(container[key])
            container[key] = step(old, f)
            return old
        return rmw


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
    wrap = _wrapper(t.elem)
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
    bits, signed, wrap = t.bits, t.is_signed, _wrapper(t)
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
