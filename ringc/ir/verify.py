"""Check that a Program is well-formed, well-typed IR.

The frontend is meant to produce only IR that passes; `verify` is the net under it (and
under hand-written .rir files) that turns a malformed Program into an `IRVerifyError`
before codegen sees it. It checks:

- definitions: names unique in their scope (messages, kernels, device functions, fields,
  state, handlers and helpers of a kernel, parameters and locals of a function); message
  `type_id`s 1, 2, 3... in program order; field and state types are scalars, `address` or
  arrays of those with length >= 1; every message type named exists; state initialisers
  match their type; kernel options take their documented values;
- handlers: exactly one parameter, of a message type, at most one handler per message
  type in a kernel, and they reply a message type or nothing; no function calls itself,
  directly or not (OpenCL C and Metal forbid recursion);
- statements: the conventions of nodes.py (`Assign` value of exactly the target's type,
  targets a Local/State/Member/Index chain, conditions `bool`, `For` over an integer local
  with a non-zero constant step, `Break`/`Continue` only in loops, `Return` matching the
  function, `Send` to a kernel with a handler for the message, `Reply` to an address); a
  parallel kernel writes state only through atomics;
- expressions: every node's type against its operands (see nodes.py), names resolved in
  the function, the kernel state or the program, `Const` values of their type and range,
  math and intrinsic arity, atomics on `State` or an `Index` of one; vectors are one of
  `VECTOR_TYPES` (never array elements), operated on lane by lane (`neg add sub mul`, `div`
  of floats), built from one value per lane or one, read (`VectorAt`) from an array place
  of their element type long enough for every lane, and stored by an `Assign` whose whole
  target is a `VectorAt`;
- cooperative kernels: `group_size` a power of two up to MAX_GROUP_SIZE (1 on other
  kernels); `rc.lane()`, `Barrier`, `GroupReduce`, `Broadcast` and
  `SharedDef` arrays (of scalars) only in their handlers and helpers; a reduction of a 32-
  or 64-bit number, a broadcast of a scalar from an i32 lane; a synchronisation point
  (`Barrier`, `GroupReduce`, `Broadcast`) only as a statement of its own or the whole value
  of an assignment to a local or of a helper's `return`, never inside a `try`.

The program and its definitions are checked here; `verify_bodies.py` checks each function's
body (statements, expressions, the cooperative rules inside functions) and
`verify_types.py` holds `IRVerifyError` and the checks of types and values both use.

Limits: it does not analyse control flow (a helper may end without `return`, a local may
be read before it is written) and does not know what a particular target supports.
"""

from __future__ import annotations

from collections.abc import Collection

from .dispatch import UnhandledNode
from .nodes import (
    MAX_GROUP_SIZE,
    OPTION_CHOICES,
    FunctionDef,
    KernelDef,
    KernelOptions,
    Program,
    SharedDef,
    StateDef,
)
from .types import (
    CONTAINER_KINDS,
    MAP_KINDS,
    MAX_STRUCT_BYTES,
    MESSAGE_ALIGN,
    AddressType,
    ArrayType,
    ContainerType,
    Loc,
    MessageType,
    ScalarType,
    leaf_type,
    struct_layout,
)
from .verify_bodies import FunctionChecker
from .verify_types import IRVerifyError, check_type, check_value

__all__ = ["verify", "verify_names", "IRVerifyError"]

_HOOKS = ("on_start", "on_stop")   # lifecycle hooks: helpers the device loop calls


def verify(program: Program, known_targets: Collection[str] | None = None) -> None:
    """Raise IRVerifyError at the first malformed thing found in `program`; with
    `known_targets`, also at a kernel meant for a target outside it."""
    messages = _unique(program.messages, "message", lambda m: m.loc)
    _check_record_order(program)
    for number, message in enumerate(program.messages, start=1):
        _check_message(message, number, messages)
    kernels = _unique(program.kernels, "kernel", lambda k: k.loc)
    devices = _unique(program.functions, "device function", lambda f: f.loc)
    calls: dict[tuple[str | None, str], set[tuple[str | None, str]]] = {}
    for kernel in program.kernels:
        _check_kernel(kernel, messages, kernels, known_targets)
        for kind, functions in (("handler", kernel.handlers), ("helper", kernel.helpers)):
            for function in functions:
                checker = FunctionChecker(program, messages, kernels, devices, kernel, kind,
                                          function)
                checker.check()
                calls[(kernel.name, function.name)] = checker.calls
    for function in program.functions:
        _check_signature(function, messages)
        checker = FunctionChecker(program, messages, kernels, devices, None, "device",
                                  function)
        checker.check()
        calls[(None, function.name)] = checker.calls
    _check_no_recursion(program, calls)


def verify_names(program: Program) -> None:
    """Raise IRVerifyError at the first definition whose name is not an identifier.

    The IR itself carries any string as a name (the textual IR quotes it); a program that
    goes on to codegen must name its messages, fields, kernels, state, functions,
    parameters and locals as Python does (`str.isidentifier`), which is what keeps names in
    the emitted source's identifiers, comments and strings plain text. Every path to codegen
    (`ringc.compiler.to_program`) calls this beside `verify`."""
    def check(name: str, what: str, loc: Loc | None) -> None:
        if not (isinstance(name, str) and name.isidentifier()):
            raise IRVerifyError(f"{what} name {name!r} is not an identifier", loc)

    for message in program.messages:
        check(message.name, "message", message.loc)
        for f in message.fields:
            check(f.name, f"field of message {message.name}:", message.loc)
    functions = [(None, fn) for fn in program.functions]
    for kernel in program.kernels:
        check(kernel.name, "kernel", kernel.loc)
        for s in kernel.state:
            check(s.name, f"state of kernel {kernel.name}:", kernel.loc)
        functions += [(kernel, fn) for fn in (*kernel.handlers, *kernel.helpers)]
    for kernel, fn in functions:
        check(fn.name, "function" if kernel is None else f"function of kernel {kernel.name}:",
              fn.loc)
        for name in (*(p.name for p in fn.params), *(lv.name for lv in fn.locals)):
            check(name, f"local of {fn.name}:", fn.loc)


def _unique(items, what: str, loc_of) -> dict:
    """{name: item}, raising on a repeated name."""
    seen: dict = {}
    for item in items:
        if item.name in seen:
            raise IRVerifyError(f"{what} {item.name!r} defined twice", loc_of(item))
        seen[item.name] = item
    return seen


# ---------------------------------------------------------------------------------------
# Definitions
# ---------------------------------------------------------------------------------------

def _check_record_order(program: Program) -> None:
    """A record in a message's fields is an earlier message: codegen declares the structs
    in program order, and no message can hold itself."""
    seen: set[str] = set()
    for m in program.messages:
        for f in m.fields:
            inner = leaf_type(f.type)
            if isinstance(inner, MessageType) and inner.name not in seen:
                raise IRVerifyError(f"field {m.name}.{f.name} holds record {inner.name}, which "
                                    f"is not a message defined before {m.name}", m.loc)
        seen.add(m.name)


def _check_struct_size(fields: list, loc: Loc, what: str) -> None:
    size = struct_layout(fields, pad_to=MESSAGE_ALIGN)[1]
    if size > MAX_STRUCT_BYTES:
        raise IRVerifyError(f"{what} would take {size} bytes (at most {MAX_STRUCT_BYTES})",
                            loc)


def _check_message(message, number: int, messages: dict) -> None:
    if message.type_id != number:
        raise IRVerifyError(f"message {message.name!r} has type_id {message.type_id}; "
                            f"type ids are 1, 2, 3... in program order, so {number}",
                            message.loc)
    _unique(message.fields, f"in message {message.name!r}, field", lambda _: message.loc)
    for f in message.fields:
        check_type(f.type, messages, message.loc, f"field {message.name}.{f.name}",
                   stored=True)
    _check_struct_size([(f.name, f.type) for f in message.fields], message.loc,
                       f"message {message.name!r}")


def _check_kernel(kernel: KernelDef, messages: dict, kernels: dict,
                  known_targets: Collection[str] | None) -> None:
    _check_options(kernel, known_targets)
    _unique(kernel.state, f"in kernel {kernel.name!r}, state", lambda _: kernel.loc)
    for state in kernel.state:
        _check_state(kernel, state, messages)
    _check_struct_size([(s.name, s.type) for s in kernel.state], kernel.loc,
                       f"the state of kernel {kernel.name!r}")
    _unique(kernel.handlers + kernel.helpers, f"in kernel {kernel.name!r}, function",
            lambda f: f.loc)
    handled: set[str] = set()
    for handler in kernel.handlers:
        _check_signature(handler, messages)
        if len(handler.params) != 1 or not isinstance(handler.params[0].type, MessageType):
            raise IRVerifyError(f"handler {handler.name!r} must take exactly one parameter, "
                                "a message", handler.loc)
        message = handler.params[0].type.name
        if message in handled:
            raise IRVerifyError(f"kernel {kernel.name!r} has two handlers for message "
                                f"{message!r}", handler.loc)
        handled.add(message)
        if handler.returns is not None and not isinstance(handler.returns, MessageType):
            raise IRVerifyError(f"handler {handler.name!r} must reply a message or nothing, "
                                f"not {handler.returns}", handler.loc)
    for helper in kernel.helpers:
        _check_signature(helper, messages)
        if helper.name in _HOOKS and (helper.params or helper.returns is not None
                                      or kernel.options.concurrency != "ordered"):
            raise IRVerifyError(f"lifecycle hook {helper.name!r} of kernel {kernel.name!r} "
                                f"takes no parameters, returns nothing and needs an ordered "
                                f"kernel", helper.loc)
    helpers = {h.name: h for h in kernel.helpers}
    if len({p.method for p in kernel.periodic}) != len(kernel.periodic):
        raise IRVerifyError(f"kernel {kernel.name!r} names a periodic method twice", kernel.loc)
    for p in kernel.periodic:
        fn = helpers.get(p.method)
        if fn is None or fn.params or fn.returns is not None or p.method in _HOOKS:
            raise IRVerifyError(f"periodic method {p.method!r} of kernel {kernel.name!r} must "
                                "be a helper with no parameters that returns nothing",
                                kernel.loc)
        if isinstance(p.period, bool) or not isinstance(p.period, int) or p.period < 1:
            raise IRVerifyError(f"periodic method {p.method!r} needs a positive period in "
                                f"ns, not {p.period!r}", kernel.loc)
    try:
        timed = kernel.timed
    except UnhandledNode:                  # a body that is not IR: its own error comes later
        timed = bool(kernel.periodic)
    if timed and kernel.options.concurrency != "ordered":
        raise IRVerifyError(f"kernel {kernel.name!r} is {kernel.options.concurrency}: "
                            "timers and periodic methods need an ordered kernel", kernel.loc)


def _check_options(kernel: KernelDef, known_targets: Collection[str] | None) -> None:
    o: KernelOptions = kernel.options

    def bad(option: str, expected: str) -> IRVerifyError:
        return IRVerifyError(f"kernel {kernel.name!r}: option {option}="
                             f"{getattr(o, option)!r} must be {expected}", kernel.loc)

    for option, choices in OPTION_CHOICES.items():
        if getattr(o, option) not in choices:
            raise bad(option, " or ".join(repr(c) for c in choices))
    for option in ("capacity", "instances", "max_batch", "timers"):
        value = getattr(o, option)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(option, "a positive integer")
    if o.capacity & (o.capacity - 1) or o.capacity < 2:
        # a ring of one slot cannot tell a free slot from a full one by its sequence word
        raise bad("capacity", "a power of two, at least 2 (docs/device-program.md, Queues)")
    targets = o.targets
    if targets is not None and not (
            isinstance(targets, tuple) and targets and len(set(targets)) == len(targets)
            and all(isinstance(t, str) and t.isidentifier() for t in targets)
            and (known_targets is None or set(targets) <= set(known_targets))):
        names = "names" if known_targets is None else f"names among {', '.join(known_targets)}"
        raise bad("targets", f"None or distinct {names}")
    for option in ("bounds_check", "fast_math"):
        if not isinstance(getattr(o, option), bool):
            raise bad(option, "True or False")
    n = o.group_size
    if o.concurrency == "cooperative":
        if isinstance(n, bool) or not isinstance(n, int) or n < 1 or n & (n - 1) \
                or n > MAX_GROUP_SIZE:
            raise bad("group_size", f"a power of two from 1 to {MAX_GROUP_SIZE}")
    elif n != 1:
        raise bad("group_size", "1 (only a cooperative kernel has lanes)")


def _check_container(kernel: KernelDef, state: StateDef, messages: dict) -> None:
    t, what = state.type, f"state {kernel.name}.{state.name}"
    if t.kind not in CONTAINER_KINDS:
        raise IRVerifyError(f"{what}: unknown container {t.kind!r}", kernel.loc)
    if not isinstance(t.item, (ScalarType, AddressType, MessageType)):
        raise IRVerifyError(f"{what}: container items are scalars, addresses or records, "
                            f"not {t.item}", kernel.loc)
    if (t.kind in MAP_KINDS) != (t.key is not None) or (
            t.key is not None and not (isinstance(t.key, ScalarType) and t.key.is_int)):
        raise IRVerifyError(f"{what}: a map has an integer key type, other containers none",
                            kernel.loc)
    check_type(ArrayType(t.item, t.capacity), messages, kernel.loc, what, stored=True)
    if kernel.options.concurrency != "ordered":
        raise IRVerifyError(f"{what}: a container needs an ordered kernel", kernel.loc)
    if state.init is not None:
        raise IRVerifyError(f"{what}: a container has no initial value", kernel.loc)


def _check_state(kernel: KernelDef, state: StateDef, messages: dict) -> None:
    what = f"state {kernel.name}.{state.name}"
    if isinstance(state.type, ContainerType):
        _check_container(kernel, state, messages)
        return
    check_type(state.type, messages, kernel.loc, what, stored=True)
    if state.init is None:
        return
    elem = state.type.elem if isinstance(state.type, ArrayType) else state.type
    if not isinstance(elem, ScalarType):
        raise IRVerifyError(f"{what}: only scalars and arrays of scalars have initial "
                            f"values, not {elem}", kernel.loc)
    if isinstance(state.type, ArrayType):
        if not isinstance(state.init, tuple) or len(state.init) != state.type.length:
            raise IRVerifyError(f"{what}: initial value must be a tuple of "
                                f"{state.type.length} values", kernel.loc)
        for value in state.init:
            check_value(value, elem, kernel.loc, what)
    else:
        check_value(state.init, state.type, kernel.loc, what)


def _check_signature(function: FunctionDef, messages: dict) -> None:
    names = _unique(function.params + function.locals,
                    f"in function {function.name!r}, parameter or local", lambda _: function.loc)
    for name, item in names.items():
        check_type(item.type, messages, function.loc, f"{function.name}: {name}")
        if isinstance(item, SharedDef) and not (
                isinstance(item.type, ArrayType)
                and isinstance(leaf_type(item.type), ScalarType)):
            raise IRVerifyError(f"{function.name}: shared {name!r} must be an array of "
                                f"scalars, not {item.type}", function.loc)
    if function.returns is not None:
        check_type(function.returns, messages, function.loc, f"{function.name} returns")


def _check_no_recursion(program: Program, calls: dict) -> None:
    """No cycle in the call graph; nodes are (kernel name or None, function name)."""
    done: set = set()

    def visit(node, path: list) -> None:
        if node in path:
            cycle = path[path.index(node):] + [node]
            function = _function_at(program, node)
            raise IRVerifyError("recursion is not supported: "
                                + " -> ".join(name for _, name in cycle), function.loc)
        if node in done:
            return
        for callee in sorted(calls.get(node, ()), key=str):
            visit(callee, path + [node])
        done.add(node)

    for node in calls:
        visit(node, [])


def _function_at(program: Program, node: tuple[str | None, str]) -> FunctionDef:
    kernel, name = node
    functions = program.functions if kernel is None else program.kernel(kernel).helpers
    return next(f for f in functions if f.name == name)

