"""Runs handlers of a program's typed IR in Python, with the semantics of the emitted C.

Every function (handler, kernel helper, device function) is compiled once into nested Python
closures; running a handler is then a chain of closure calls over a frame list, not a walk of
the IR tree. This module holds what the machine calls (`Interpreter`, the `Effects` a handler
acts through), the compiled function and its frame, and the statements; `expressions.py`
compiles expressions and places (and states the arithmetic's semantics), `values.py` holds
the values of each type.

A fault raises `Fault` at once. The C code instead sets a flag, goes on with harmless values
and checks the flag before every store to state, send, emit, reply and atomic: no effect
after the first fault is visible either way, and the C code sequences operands so that the
first fault in Python's evaluation order wins, so both give the same outcome.

Limits: those of `expressions.py` (bounds checks in every kernel, `fast_math` computed
exactly, transcendental functions to a few ulps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from ringc.ir.dispatch import Dispatch
from ringc.ir.nodes import (
    Assign,
    Barrier,
    Break,
    Continue,
    Emit,
    ExprStmt,
    Fail,
    For,
    ForEach,
    FunctionDef,
    If,
    Index,
    KernelDef,
    Local,
    Member,
    MessageNew,
    Program,
    Raise,
    Reply,
    Return,
    Send,
    SendAfter,
    Try,
    While,
)
from ringc.ir.types import (
    MESSAGE_ALIGN,
    AddressType,
    ArrayType,
    MessageType,
    ScalarType,
    VectorType,
    struct_dtype,
)
from ringc.ir.walk import all_stmts, shared_locals
from ringc.protocol import FIRST_USER_REASON, REASONS

from .expressions import ExpressionCompiler
from .values import (
    ADDRESS_FIELDS,
    EFFECTS,
    FIRST_LOCAL,
    INSTANCE,
    STATE,
    Address,
    Ev,
    Fault,
    Record,
    container_ops,
    copy_record,
    item_loader,
    store_value,
    wrapper,
    zero_factory,
)

__all__ = ["Effects", "Interpreter", "HandlerFn"]

_BREAK, _CONTINUE = object(), object()  # statement results; a return is a 1-tuple


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
        f[STATE], f[EFFECTS], f[INSTANCE] = state, effects, instance
        f[FIRST_LOCAL:FIRST_LOCAL + len(args)] = args
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


class _Compiler(ExpressionCompiler):
    """Compiles one function's body into closures: the frame and the statements here,
    expressions and places in `ExpressionCompiler`."""

    stmt = Dispatch()       # (stmt) -> Ev: None, _BREAK, _CONTINUE or (returned value,)

    def fill(self, target: _Function) -> None:
        dtypes = self.interp.dtypes
        params = {p.name for p in self.fn.params}
        target.template = [None] * (FIRST_LOCAL + len(self.types) + len(self.try_slots))
        shared = shared_locals(self.fn)
        for name, t in self.types.items():
            if name in params:
                continue
            make = zero_factory(t, dtypes)
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
            target.zero = zero_factory(self.fn.returns, dtypes)
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
                store_value(container, key, v)
            return assign_record

        def assign(f):
            v = value(f)
            container, key = ref(f)
            container[key] = v
        return assign

    def store_address_field(self, target: Member, value: Ev) -> Ev:
        base = self.ref(target.base)
        pos = ADDRESS_FIELDS[target.field]

        def assign(f):
            v = value(f)
            container, key = base(f)
            old = container[key]
            parts = list(old if isinstance(old, tuple) else old.item())
            parts[pos] = v
            container[key] = tuple(parts)
        return assign

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
        wide = wrapper(ScalarType("i64" if t.is_signed else "u64"))
        to_var = wrapper(var_type)
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
        ops, body = container_ops(t), self.block(s.body)
        field = "keys" if t.key is not None else "items"
        load = item_loader(t.key if t.key is not None else t.item)
        step = 1 if t.key is not None else 0      # a map's loop goes on from the next slot

        def loop(f):
            k = 0
            while True:
                box = f[STATE][name]
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
            f[EFFECTS].barrier()
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
            f[EFFECTS].send(kernel, instance(f), name, record)
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
            f[EFFECTS].send_after(f[STATE], d, kernel, i, name, record)
        return send_after

    @stmt.on(Emit)
    def stmt_emit(self, s: Emit) -> Ev:
        message, name = self.expr(s.message), s.message.type.name

        def emit(f):
            f[EFFECTS].emit(name, message(f))
        return emit

    @stmt.on(Reply)
    def stmt_reply(self, s: Reply) -> Ev:
        address, message = self.expr(s.address), self.expr(s.message)
        name = s.message.type.name

        def reply(f):
            to = address(f)
            f[EFFECTS].reply(to, name, message(f))
        return reply

