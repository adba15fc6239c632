"""Hypothesis strategies that build random valid, well-typed IR Programs.

`programs()` draws messages with random fields, kernels with random options, state,
helpers and handlers, and `@rc.device` functions, whose bodies nest every statement and
expression kind of nodes.py with consistent types, so `verify` accepts every Program it
draws. Names include awkward ones (keywords of C, of Python and of the .rir grammar,
built-in type names, non-identifiers); Locs include odd file names. Floats include inf,
-0.0 and `math.nan` (the one NaN object, so Programs compare equal after a round trip).

Body generation works on an `_Env`: what a function can see (parameters and locals, the
kernel's state, the functions it may call) and where it is (in a loop or not). Helpers
call only helpers drawn before them and device functions only earlier device functions,
so there is no recursion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass, replace

from hypothesis import strategies as st

from ringc.ir import (
    COMPARE_OPS,
    GROUP_OPS,
    INTRINSICS,
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
from ringc.ir.types import (
    ADDRESS,
    BOOL,
    I64,
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

AWKWARD_NAMES = (
    # C, OpenCL, CUDA and Metal words
    "switch", "kernel", "float4", "int", "void", "main", "global", "device", "threadgroup",
    # words of the .rir grammar
    "message", "options", "state", "handler", "helper", "local", "assign", "if", "else",
    "for", "in", "range", "return", "eval", "send", "emit", "reply", "fail", "true", "false",
    "none", "nan", "inf", "const", "new", "call", "math", "intrinsic", "select", "cast",
    "index", "member", "add", "neg", "not", "eq", "and", "or", "shared", "barrier", "group",
    "broadcast", "sum",
    # built-in type names and Python words
    "i32", "f32", "bool", "address", "u64", "self", "lambda", "None",
    # not plain identifiers
    "données", "Ωmega", "_", "__x", "a.b", "with space", "", "1st", '"q"', "\\", "tab\t",
)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
NAMES = st.one_of(st.sampled_from(AWKWARD_NAMES),
                  st.builds(str.__add__, st.sampled_from(_LETTERS),
                            st.text(_LETTERS + "0123456789", max_size=5)))
ODD_FILES = ("k.py", "dir/sub dir/k.py", 'we"ird\\name.py', "\n", "\t\x00\x7f", "\ud800",
             "ü😀.py", "", "C:\\x\\y.py", "\u2028", "@\"x\":1:2")
REASONS = st.one_of(st.sampled_from(ODD_FILES), st.text(max_size=8))
LOCS = st.builds(Loc, st.one_of(st.sampled_from(ODD_FILES), st.text(max_size=6)),
                 st.integers(0, 10**6), st.integers(0, 10**4))

SCALARS = tuple(SCALAR_TYPES.values())
INTS = tuple(t for t in SCALARS if t.is_int)
FLOATS = tuple(t for t in SCALARS if t.is_float)
U32, U64, I32 = SCALAR_TYPES["u32"], SCALAR_TYPES["u64"], SCALAR_TYPES["i32"]
VECTORS = tuple(VECTOR_TYPES.values())
FIELD_TYPES = st.one_of(
    st.sampled_from(SCALARS), st.just(ADDRESS), st.sampled_from(VECTORS),
    st.builds(ArrayType, st.sampled_from((*SCALARS, ADDRESS)), st.integers(1, 4)))
FLOAT_MATH_1 = ("sqrt", "exp", "log", "sin", "cos", "tan", "floor", "ceil", "fabs")
ARITHMETIC = ("add", "sub", "mul", "floordiv", "mod")
ATOMICS = tuple(n for n in INTRINSICS if n.startswith("atomic_"))

Maker = Callable[[], object]
_INDEX_STRATEGIES: dict[int, st.SearchStrategy[int]] = {}


def choice(draw, options):
    """One of `options` (a sequence). Cheaper than drawing from a fresh sampled_from."""
    n = len(options)
    if n not in _INDEX_STRATEGIES:
        _INDEX_STRATEGIES[n] = st.integers(0, n - 1)
    return options[draw(_INDEX_STRATEGIES[n])]


def scalar_values(t: ScalarType) -> st.SearchStrategy:
    """Python values of scalar type `t`: any in range, and NaN as `math.nan`."""
    if t.is_bool:
        return st.booleans()
    if t.is_int:
        lo, hi = t.min_max()
        return st.integers(lo, hi)
    return st.one_of(st.floats(width=t.bits, allow_nan=False), st.just(math.nan))


@dataclass(frozen=True)
class _Sig:
    """What a call needs to know of a function: its name, whether it is a kernel helper,
    its signature."""
    name: str
    helper: bool
    params: tuple[Param, ...]
    returns: object


@dataclass
class _Env:
    messages: dict[str, MessageDef]
    handled: dict[str, tuple[str, ...]]  # kernel -> message names it has handlers for
    state: dict[str, object] | None  # None in a device function
    parallel: bool
    callables: tuple[_Sig, ...]
    scope: dict[str, object]  # parameters and locals, shared by nested blocks
    locals: list[LocalDef]  # grows as For variables are drawn
    returns: object
    handler: bool
    in_loop: bool = False
    coop: bool = False  # a cooperative kernel's function: lanes, barriers, shared arrays
    in_try: bool = False  # no synchronisation point inside a try statement
    caught: tuple = ()  # names of the except blocks around (None: caught without a name)
    may_return: bool = True  # False in a try statement that has a finally, and in finally
    used_names: set[str] = field(default_factory=set)


# ---------------------------------------------------------------------------------------
# Programs and definitions
# ---------------------------------------------------------------------------------------

@st.composite
def programs(draw, max_kernels: int = 3) -> Program:
    """A random valid Program: 1-4 messages, 1-`max_kernels` kernels, 0-2 device functions."""
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    messages = {}
    for number, name in enumerate(names, start=1):
        field_names = draw(st.lists(NAMES, max_size=5, unique=True))
        fields_ = tuple(FieldDef(f, draw(FIELD_TYPES)) for f in field_names)
        messages[name] = MessageDef(name, number, fields_, draw(LOCS))
    message_types = [MessageType(n) for n in messages]

    kernel_names = draw(st.lists(NAMES, min_size=1, max_size=max_kernels, unique=True))
    handled = {k: tuple(draw(st.lists(st.sampled_from(list(messages)), min_size=1,
                                      max_size=3, unique=True)))
               for k in kernel_names}
    value_types = st.one_of(st.sampled_from((*SCALARS, ADDRESS)), st.sampled_from(message_types))

    devices: list[FunctionDef] = []
    for name in draw(st.lists(NAMES, max_size=2, unique=True)):
        params = draw(_params(value_types))
        returns = draw(st.none() | value_types)
        env = _Env(messages, handled, None, False, tuple(_sig(f, False) for f in devices),
                   {}, [], returns, handler=False)
        devices.append(draw(_function(env, name, params)))

    kernels = tuple(draw(_kernel(name, messages, handled, value_types, tuple(devices)))
                    for name in kernel_names)
    return Program(tuple(messages.values()), kernels, tuple(devices))


@st.composite
def kernel_options(draw) -> KernelOptions:
    return KernelOptions(
        mode=draw(st.sampled_from(("persistent", "event_driven"))),
        capacity=2 ** draw(st.integers(1, 16)),
        instances=draw(st.integers(1, 8)),
        concurrency=(concurrency := draw(st.sampled_from(("ordered", "parallel",
                                                           "cooperative")))),
        group_size=2 ** draw(st.integers(0, 10)) if concurrency == "cooperative" else 1,
        backpressure=draw(st.sampled_from(("block", "reject"))),
        max_batch=draw(st.integers(1, 64)),
        domain=draw(st.sampled_from(("general", "graph", "actor", "spatial"))),
        targets=draw(st.none() | st.lists(st.sampled_from(("cuda", "opencl", "metal")),
                                          min_size=1, max_size=3, unique=True).map(tuple)),
        bounds_check=draw(st.booleans()),
        fast_math=draw(st.booleans()))


@st.composite
def _kernel(draw, name, messages, handled, value_types, devices) -> KernelDef:
    options = draw(kernel_options())
    state = tuple(draw(_state_def(s)) for s in draw(st.lists(NAMES, max_size=4, unique=True)))
    if options.concurrency == "ordered" and draw(st.booleans()):
        box = draw(NAMES.filter(lambda n: n not in {s.name for s in state}))
        item = draw(st.sampled_from((*SCALARS, ADDRESS)))
        kind = draw(st.sampled_from(("queue", "stack", "map", "lru")))
        key = draw(st.sampled_from(INTS)) if kind in ("map", "lru") else None
        state += (StateDef(box, ContainerType(kind, item, draw(st.integers(1, 8)), key),
                           None),)
    state_types = {s.name: s.type for s in state}
    parallel = options.concurrency == "parallel"
    coop = options.concurrency == "cooperative"
    device_sigs = tuple(_sig(f, False) for f in devices)

    helpers: list[FunctionDef] = []
    function_names = draw(st.lists(NAMES, min_size=len(handled[name]),
                                   max_size=len(handled[name]) + 2, unique=True))
    for helper_name in function_names[len(handled[name]):]:
        env = _Env(messages, handled, state_types, parallel,
                   device_sigs + tuple(_sig(h, True) for h in helpers), {}, [],
                   draw(st.none() | value_types), handler=False, coop=coop)
        helpers.append(draw(_function(env, helper_name, draw(_params(value_types)))))

    handlers = []
    callables = device_sigs + tuple(_sig(h, True) for h in helpers)
    for handler_name, message in zip(function_names, handled[name], strict=False):
        replies = draw(st.none() | st.sampled_from([MessageType(m) for m in messages]))
        env = _Env(messages, handled, state_types, parallel, callables, {}, [], replies,
                   handler=True, coop=coop)
        param = Param(draw(NAMES), MessageType(message))
        handlers.append(draw(_function(env, handler_name, (param,))))
    periodic = tuple(Periodic(h.name, draw(st.integers(1, 10**9))) for h in helpers
                     if not h.params and h.returns is None
                     and options.concurrency == "ordered"
                     and draw(st.booleans()))            # @rc.every on helpers that can
    return KernelDef(name, options, state, tuple(handlers), tuple(helpers), draw(LOCS),
                     periodic)


@st.composite
def _state_def(draw, name) -> StateDef:
    t = draw(FIELD_TYPES)
    elem = t.elem if isinstance(t, ArrayType) else t
    if isinstance(elem, (AddressType, VectorType)) or draw(st.booleans()):
        return StateDef(name, t, None)
    if isinstance(t, ArrayType):
        return StateDef(name, t, tuple(draw(scalar_values(elem)) for _ in range(t.length)))
    return StateDef(name, t, draw(scalar_values(t)))


@st.composite
def _params(draw, value_types) -> tuple[Param, ...]:
    names = draw(st.lists(NAMES, max_size=3, unique=True))
    return tuple(Param(n, draw(value_types)) for n in names)


@st.composite
def _function(draw, env: _Env, name: str, params: tuple[Param, ...]) -> FunctionDef:
    """A function whose body is drawn in `env` (its scope is filled in here)."""
    env.used_names.update(p.name for p in params)
    env.scope.update({p.name: p.type for p in params})
    local_types = st.one_of(FIELD_TYPES, st.sampled_from([MessageType(m)
                                                          for m in env.messages]))
    for _ in range(draw(st.integers(0, 4))):
        _declared_local(draw, env, draw(local_types))
    if env.coop and draw(st.booleans()):        # an array the lanes share
        array = draw(NAMES.filter(lambda n: n not in env.used_names))
        t = ArrayType(draw(st.sampled_from(SCALARS)), draw(st.integers(1, 8)))
        env.used_names.add(array)
        env.scope[array] = t
        env.locals.append(SharedDef(array, t))
    body = _stmts(draw, env, depth=2)
    return FunctionDef(name, params, env.returns, tuple(env.locals), body, draw(LOCS))


def _sig(function: FunctionDef, helper: bool) -> _Sig:
    return _Sig(function.name, helper, function.params, function.returns)


def _declare(env: _Env, name: str, t) -> None:
    env.used_names.add(name)
    env.scope[name] = t
    env.locals.append(LocalDef(name, t))


# ---------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------

def _stmts(draw, env: _Env, depth: int) -> tuple:
    return tuple(_stmt(draw, env, depth) for _ in range(choice(draw, range(4))))


def _stmt(draw, env: _Env, depth: int):
    makers: list[Maker] = [
        lambda: _assign(draw, env),
        lambda: ExprStmt(_expr_stmt_value(draw, env), draw(LOCS)),
        lambda: _send(draw, env),
        lambda: Emit(_expr(draw, env, _any_message(draw, env), 1), draw(LOCS)),
        lambda: Reply(_expr(draw, env, ADDRESS, 1), _expr(draw, env, _any_message(draw, env), 1),
                      draw(LOCS)),
        lambda: Fail(draw(REASONS), draw(LOCS)),
    ]
    if env.may_return:
        makers.append(lambda: _return(draw, env))
    if env.in_loop:
        makers += [lambda: Break(draw(LOCS)), lambda: Continue(draw(LOCS))]
    if env.caught:
        makers.append(lambda: Raise(draw(LOCS)))
    if env.coop and not env.in_try:
        makers += [lambda: Barrier(draw(LOCS)), lambda: _sync_assign(draw, env)]
    if depth > 0:
        makers += [lambda: _if(draw, env, depth), lambda: _while(draw, env, depth),
                   lambda: _for(draw, env, depth), lambda: _try(draw, env, depth)]
        if _containers(env):
            makers.append(lambda: _for_each(draw, env, depth))
    return choice(draw, makers)()


def _assign(draw, env: _Env) -> Assign:
    targets: list[object] = []
    roots = [Local(n, t) for n, t in env.scope.items()]
    if env.state is not None and not env.parallel:
        roots += [State(n, t) for n, t in env.state.items()
                  if not isinstance(t, ContainerType)]
    targets += [ContainerItem(box, _key(draw, env, box.type), box.type.item)
                for box in _containers(env)]
    for root in roots:
        targets.append(root)
        if isinstance(root.type, ArrayType):
            targets.append(Index(root, _index(draw, env), root.type.elem))
            for vt in VECTORS:                      # a vector stored into the array
                if root.type.elem == vt.elem and root.type.length >= vt.lanes:
                    targets.append(VectorAt(root, _index(draw, env), vt))
        if isinstance(root.type, VectorType):       # a lane of a vector
            targets.append(Member(root, choice(draw, root.type.components), root.type.elem))
        if isinstance(root.type, MessageType):
            for f in env.messages[root.type.name].fields:
                targets.append(Member(root, f.name, f.type))
    if not targets:
        return Assign(_declared_local(draw, env, I32), Const(0, I32), draw(LOCS))
    target = choice(draw, targets)
    if isinstance(target.type, (ArrayType, MessageType)) and draw(st.booleans()):
        return Assign(target, Zero(target.type), draw(LOCS))
    return Assign(target, _expr(draw, env, target.type, 2), draw(LOCS))


def _sync_assign(draw, env: _Env) -> Assign:
    """`x = rc.group_<op>(v)` or `x = rc.broadcast(v, lane)` into a new local."""
    if draw(st.booleans()):
        t = choice(draw, [t for t in SCALARS if not t.is_bool and t.bits >= 32])
        value = GroupReduce(choice(draw, GROUP_OPS), _expr(draw, env, t, 1), t)
    else:
        t = choice(draw, SCALARS)
        value = Broadcast(_expr(draw, env, t, 1), _expr(draw, env, I32, 1), t)
    return Assign(_declared_local(draw, env, t), value, draw(LOCS))


def _expr_stmt_value(draw, env: _Env):
    makers: list[Maker] = [lambda: _expr(draw, env, choice(draw, SCALARS), 2)]
    makers += [lambda sig=sig: _call(draw, env, sig, 1) for sig in env.callables]
    for box in _containers(env):
        t = box.type
        makers.append(lambda box=box: ContainerCall(box, "clear", (), None))
        if t.key is None:
            makers += [lambda box=box, t=t: ContainerCall(
                box, "push", (_expr(draw, env, t.item, 1),), None),
                lambda box=box, t=t: ContainerCall(box, "pop", (), t.item)]
        else:
            makers += [lambda box=box, t=t: ContainerCall(
                box, "put", (_expr(draw, env, t.key, 1), _expr(draw, env, t.item, 1)), None),
                lambda box=box, t=t: ContainerCall(box, "remove", (_expr(draw, env, t.key, 1),),
                                                   BOOL)]
    return choice(draw, makers)()


def _containers(env: _Env) -> list[State]:
    """The state containers a function may change (none in a parallel kernel's)."""
    if env.state is None or env.parallel or env.coop:
        return []
    return [State(n, t) for n, t in env.state.items() if isinstance(t, ContainerType)]


def _for_each(draw, env: _Env, depth: int) -> ForEach:
    box = choice(draw, _containers(env))
    var = _declared_local(draw, env, box.type.key or box.type.item).name
    return ForEach(var, box, _stmts(draw, replace(env, in_loop=True), depth - 1), draw(LOCS))


def _return(draw, env: _Env) -> Return:
    if env.returns is None or (env.handler and draw(st.booleans())):
        return Return(None, draw(LOCS))
    return Return(_expr(draw, env, env.returns, 2), draw(LOCS))


def _send(draw, env: _Env) -> Send | SendAfter:
    kernel = choice(draw, list(env.handled))
    message = MessageType(choice(draw, env.handled[kernel]))
    instance = _expr(draw, env, choice(draw, INTS), 1)
    if env.state is not None and not env.parallel and not env.coop and draw(st.booleans()):
        return SendAfter(_expr(draw, env, I64, 1), kernel, instance,
                         _expr(draw, env, message, 1), draw(LOCS))     # a timed kernel
    return Send(kernel, instance, _expr(draw, env, message, 1), draw(LOCS))


def _if(draw, env: _Env, depth: int) -> If:
    cond = _expr(draw, env, BOOL, 2)
    return If(cond, _stmts(draw, env, depth - 1), _stmts(draw, env, depth - 1), draw(LOCS))


def _try(draw, env: _Env, depth: int) -> Try:
    final_env = replace(env, in_loop=False, may_return=False, in_try=True)
    finalbody = _stmts(draw, final_env, depth - 1) if draw(st.booleans()) else ()
    inner = replace(env, may_return=env.may_return and not finalbody, in_try=True)
    body = _stmts(draw, inner, depth - 1)
    name = handler = None
    if draw(st.booleans()):
        name = draw(st.none() | NAMES)
        handler = _stmts(draw, replace(inner, caught=(*env.caught, name)), depth - 1)
    orelse = _stmts(draw, inner, depth - 1)
    return Try(body, name, handler, orelse, finalbody, draw(LOCS))


def _while(draw, env: _Env, depth: int) -> While:
    cond = _expr(draw, env, BOOL, 2)
    return While(cond, _stmts(draw, replace(env, in_loop=True), depth - 1), draw(LOCS))


def _for(draw, env: _Env, depth: int) -> For:
    t = choice(draw, INTS)
    var = _declared_local(draw, env, t).name
    start, stop = _expr(draw, env, t, 1), _expr(draw, env, t, 1)
    step = choice(draw, (-3, -2, -1, 1, 2, 3))
    body = _stmts(draw, replace(env, in_loop=True), depth - 1)
    return For(var, start, stop, step, body, draw(LOCS))


def _declared_local(draw, env: _Env, t) -> Local:
    name = draw(NAMES)
    while name in env.used_names:
        name += "_"
    _declare(env, name, t)
    return Local(name, t)


# ---------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------

def _expr(draw, env: _Env, t, depth: int):
    """An expression of type `t`; at depth 0 a leaf (a constant or a name)."""
    makers = _compounds(draw, env, t, depth) if depth > 0 else []
    if not makers or choice(draw, range(4)) == 0:
        makers = _leaves(draw, env, t)
    return choice(draw, makers)()


def _any_message(draw, env: _Env) -> MessageType:
    return MessageType(choice(draw, list(env.messages)))


def _index(draw, env: _Env):
    return _expr(draw, env, choice(draw, INTS), 0)


def _key(draw, env: _Env, t: ContainerType):
    """A map's key, or a queue's or stack's position."""
    return _expr(draw, env, t.key, 0) if t.key is not None else _index(draw, env)


def _leaves(draw, env: _Env, t) -> list[Maker]:
    """Expressions of type `t` that need no operands of their own: constants, names, their
    fields and elements, intrinsics without arguments, messages built from constants."""
    roots = [Local(n, rt) for n, rt in env.scope.items()]
    roots += [State(n, rt) for n, rt in (env.state or {}).items()
              if not isinstance(rt, ContainerType)]
    makers: list[Maker] = []
    for box in [State(n, rt) for n, rt in (env.state or {}).items()
                if isinstance(rt, ContainerType)]:
        bt = box.type
        if bt.item == t:
            makers.append(lambda box=box, bt=bt: ContainerItem(box, _key(draw, env, bt), t))
            if bt.key is None:
                makers.append(lambda box=box: ContainerCall(box, "peek", (), t))
            else:
                makers.append(lambda box=box, bt=bt: ContainerCall(
                    box, "get", (_expr(draw, env, bt.key, 0), _expr(draw, env, t, 0)), t))
        if t == I32:
            makers.append(lambda box=box: ContainerCall(box, "len", (), t))
        if t == BOOL:
            makers.append(lambda box=box: ContainerCall(box, "full", (), t))
            if bt.key is None:
                makers.append(lambda box=box: ContainerCall(box, "empty", (), t))
            else:
                makers.append(lambda box=box, bt=bt: ContainerCall(
                    box, "contains", (_expr(draw, env, bt.key, 0),), t))
        if t == U64 and bt.kind == "lru":
            makers.append(lambda box=box: ContainerCall(box, "evictions", (), t))
    for root in roots:
        bases = [root] + [Member(root, f.name, f.type) for f in
                          (env.messages[root.type.name].fields
                           if isinstance(root.type, MessageType) else ())]
        for base in bases:
            if base.type == t:
                makers.append(lambda base=base: base)
            if isinstance(base.type, ArrayType) and base.type.elem == t:
                makers.append(lambda base=base: Index(base, _index(draw, env), t))
    if isinstance(t, ScalarType):
        makers.append(lambda: Const(draw(scalar_values(t)), t))
    if isinstance(t, VectorType):
        makers.append(lambda: VectorNew(tuple(
            Const(draw(scalar_values(t.elem)), t.elem)
            for _ in range(choice(draw, (1, t.lanes)))), t))
    if t == ADDRESS:
        makers.append(lambda: Intrinsic("sender", (), ADDRESS))
    if t in (I64, I32):
        name = "now" if t == I64 else "instance_id"
        makers.append(lambda: Intrinsic(name, (), t))
    if t == I32 and env.coop:
        makers.append(lambda: Intrinsic("lane", (), t))
    if isinstance(t, MessageType):
        makers.append(lambda: _message_new(draw, env, t, 0))
    names = [n for n in env.caught if n is not None]
    if t == BOOL and names:
        makers.append(lambda: FaultIs(choice(draw, names), draw(st.text(min_size=1, max_size=8)),
                                      BOOL))
    assert makers, f"no value of type {t} in scope"
    return makers


def _compounds(draw, env: _Env, t, depth: int) -> list[Maker]:
    """Expressions of type `t` built from operands of depth - 1."""
    d = depth - 1

    def sub(ty):
        return _expr(draw, env, ty, d)

    makers: list[Maker] = [lambda: Select(sub(BOOL), sub(t), sub(t), t)]
    makers += [lambda sig=sig: _call(draw, env, sig, d)
               for sig in env.callables if sig.returns == t]
    if isinstance(t, MessageType):
        makers.append(lambda: _message_new(draw, env, t, d))
    for message in env.messages.values():
        for f in message.fields:
            if f.type == t:
                makers.append(lambda m=message, f=f: Member(sub(MessageType(m.name)), f.name, t))
    if t in (U32, U64):
        makers.append(lambda: Member(sub(ADDRESS), "queue" if t == U32 else "correlation", t))
    if isinstance(t, ScalarType):
        makers += _scalar_compounds(draw, env, t, sub)
    if isinstance(t, VectorType):
        makers += _vector_compounds(draw, env, t, sub)
    return makers


def _vector_compounds(draw, env: _Env, t: VectorType, sub) -> list[Maker]:
    """Vectors of type `t`: built from lanes, operators lane by lane, loaded from arrays."""
    ops = ("add", "sub", "mul") + (("div",) if t.elem.is_float else ())
    makers: list[Maker] = [
        lambda: VectorNew(tuple(sub(t.elem) for _ in range(choice(draw, (1, t.lanes)))), t),
        lambda: Binary(choice(draw, ops), sub(t), sub(t), t),
        lambda: Unary("neg", sub(t), t)]
    roots = [Local(n, rt) for n, rt in env.scope.items()]
    roots += [State(n, rt) for n, rt in (env.state or {}).items()]
    for root in roots:
        if isinstance(root.type, ArrayType) and root.type.elem == t.elem \
                and root.type.length >= t.lanes:
            makers.append(lambda root=root: VectorAt(root, _index(draw, env), t))
    return makers


def _scalar_compounds(draw, env: _Env, t: ScalarType, sub) -> list[Maker]:
    def pick(options):
        return choice(draw, options)

    makers: list[Maker] = [lambda: Cast(sub(pick(SCALARS)), t)]
    if t.is_bool:
        makers += [
            lambda: Unary("not", sub(t), t),
            lambda: Logical(pick(("and", "or")), sub(t), sub(t), t),
            lambda: _compare(draw, sub),
            lambda: MathCall(pick(("isnan", "isinf")), (sub(pick(FLOATS)),), t),
            lambda: Binary(pick(("bitand", "bitor", "bitxor")), sub(t), sub(t), t),
        ]
        return makers
    ops = ARITHMETIC + (("div",) if t.is_float else ("bitand", "bitor", "bitxor", "shl", "shr"))
    makers += [
        lambda: Unary("neg", sub(t), t),
        lambda: Binary(pick(ops), sub(t), sub(t), t),
        lambda: MathCall(pick(("min", "max")), (sub(t), sub(t)), t),
        lambda: MathCall("abs", (sub(t),), t),
    ]
    if t.is_int:
        makers.append(lambda: Unary("invert", sub(t), t))
    else:
        makers += [lambda: MathCall(pick(FLOAT_MATH_1), (sub(t),), t),
                   lambda: MathCall("pow", (sub(t), sub(t)), t),
                   lambda: MathCall("fma", (sub(t), sub(t), sub(t)), t)]
    for vt in VECTORS:
        if vt.elem == t:                # a lane of a vector, a dot product
            makers += [lambda vt=vt: Member(sub(vt), pick(vt.components), t),
                       lambda vt=vt: MathCall("dot", (sub(vt), sub(vt)), t)]
    for name, st_type in (env.state or {}).items():
        if st_type == t:
            makers.append(lambda name=name: _atomic(draw, State(name, t), sub))
        if isinstance(st_type, ArrayType) and st_type.elem == t:
            makers.append(lambda name=name, st_type=st_type: _atomic(
                draw, Index(State(name, st_type), sub(pick(INTS)), t), sub))
    return makers


def _compare(draw, sub) -> Compare:
    t = choice(draw, SCALARS)
    return Compare(choice(draw, COMPARE_OPS), sub(t), sub(t), BOOL)


def _atomic(draw, target, sub) -> Intrinsic:
    name = choice(draw, ATOMICS)
    args = tuple(sub(target.type) for _ in range(INTRINSICS[name] - 1))
    return Intrinsic(name, (target, *args), target.type)


def _call(draw, env: _Env, sig: _Sig, depth: int) -> Call | HelperCall:
    args = tuple(_expr(draw, env, p.type, depth) for p in sig.params)
    return (HelperCall if sig.helper else Call)(sig.name, args, sig.returns)


def _message_new(draw, env: _Env, t: MessageType, depth: int) -> MessageNew:
    """`t(...)` with a random subset of its scalar and address fields, in random order."""
    candidates = [f for f in env.messages[t.name].fields if not isinstance(f.type, ArrayType)]
    chosen = draw(st.permutations(candidates))[:choice(draw, range(len(candidates) + 1))]
    return MessageNew(t.name, tuple((f.name, _expr(draw, env, f.type, depth)) for f in chosen),
                      t)


# ---------------------------------------------------------------------------------------
# Inspection
# ---------------------------------------------------------------------------------------

def node_kinds(node) -> set[str]:
    """Class names of every IR node reachable from `node` (a Program, or any node)."""
    kinds: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, tuple):
            for item in value:
                walk(item)
        elif is_dataclass(value) and not isinstance(value, type):
            kinds.add(type(value).__name__)
            for f in fields(value):
                walk(getattr(value, f.name))

    walk(node)
    return kinds
