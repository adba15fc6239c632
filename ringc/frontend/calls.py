"""The calls a handler body may make: casts, `math.*`, `min max abs len`, message
constructors, kernel helpers, `@rc.device` functions and the expression intrinsics as
values; the intrinsic statements (`rc.send`, `rc.send_after`, `rc.emit`, `rc.reply`,
`rc.fail`, `rc.barrier`) and `v.store(a, i)` as statements. Anything else called is one
located error."""

from __future__ import annotations

import ast
import difflib

from ..errors import CompileError
from ..ir import nodes as ir
from ..ir.types import (
    ADDRESS,
    BOOL,
    CONTAINER_KINDS,
    F64,
    I32,
    I64,
    MAP_KINDS,
    ArrayType,
    ContainerType,
    MessageType,
    ScalarType,
    VectorType,
    cast_value,
)
from ..ir.verify_types import container_args, container_result
from . import names
from .typerules import TypeRuleError, Weak, default_type, float_for_int, promote, weak_to


def lower_call(fl, node: ast.Call):
    """Lower `node` (a call expression) for the FunctionLowering `fl`."""
    func = node.func
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "self" and "self" not in fl.locals):
        return helper_call(fl, node, func.attr)
    container = fl.container_of(func.value) if isinstance(func, ast.Attribute) else None
    if container is not None:
        return container_call(fl, node, container, func.attr)
    if names.math_fma(func, fl.ctx.globals):
        return math_call(fl, node, "fma")
    obj = names.resolve(func, fl.ctx.globals)
    if isinstance(func, ast.Attribute) and isinstance(
            names.resolve(func.value, fl.ctx.globals), VectorType):
        return vector_load(fl, node, names.resolve(func.value, fl.ctx.globals), func.attr)
    if isinstance(obj, names.Unresolved):
        vector_method(fl, node)                 # v.store(...) where a value is wanted
        if names.dotted_name(func) is None:
            raise fl.error(func, f"calling '{ast.unparse(func)}' is not supported in ring "
                                 "kernels", "call self.helper(...), an @rc.device function, "
                                            "math.*, min/max/abs or an rc intrinsic")
        raise fl.error(func, f"'{obj.dotted}' is not defined",
                       names.unknown_vector_hint(obj.dotted))
    if isinstance(obj, ScalarType) or obj is bool:
        return cast(fl, node, obj if isinstance(obj, ScalarType) else BOOL)
    if isinstance(obj, VectorType):
        return construct_vector(fl, node, obj)
    math_name = names.math_function(obj)
    if math_name is not None:
        return math_call(fl, node, math_name)
    intrinsic = names.intrinsic_name(obj)
    if intrinsic is not None:
        return intrinsic_expr(fl, node, intrinsic)
    if obj is len:
        fl.expect_args(node, 1, "len(array)")
        value = fl.expr(node.args[0])
        if isinstance(getattr(value, "type", None), ContainerType):
            return ir.ContainerCall(value, "len", (), I32)
        if not isinstance(getattr(value, "type", None), ArrayType):
            raise fl.error(node.args[0], "len() takes an array or a state container")
        return Weak(value.type.length)
    builder = fl.ctx.builder
    if builder.is_message_class(obj):
        return construct(fl, node, obj)
    if builder.is_device_function(obj):
        info = builder.device_function(obj, node, fl)
        return call_with(fl, node, info)
    hints = {print: "no printing on the device; rc.emit a message to the host",
             int: "use an explicit width: i32(x) or i64(x)",
             float: "use an explicit width: f32(x) or f64(x)",
             range: "range is only allowed in `for i in range(...)`"}
    hint = None
    try:
        hint = hints.get(obj)
    except TypeError:
        pass
    raise fl.error(func, f"'{ast.unparse(func)}' cannot be called in a ring kernel",
                   hint or "call kernel helpers (self.f), @rc.device functions, math.*, "
                           "min/max/abs or the rc intrinsics")


def cast(fl, node: ast.Call, target: ScalarType):
    fl.expect_args(node, 1, f"{target}(value)")
    value = fl.expr(node.args[0])
    if isinstance(value, Weak):
        if not value.is_float and not -(1 << 63) <= value.value < 1 << 64:
            raise fl.error(node.args[0], f"integer literal {value.value} does not fit in "
                                         "64 bits")
        return ir.Const(_py(cast_value(value.value, target)), target)
    if not isinstance(value.type, ScalarType):
        raise fl.error(node.args[0], f"cannot cast a {value.type} to {target}")
    if target == BOOL:
        return fl.truth(value, node.args[0])
    return value if value.type == target else ir.Cast(value, target)


def _py(value):
    return value.item() if hasattr(value, "item") else value


def math_call(fl, node: ast.Call, name: str):
    if node.keywords:
        raise fl.error(node, f"{name}() takes positional arguments only")
    args = [fl.expr(a) for a in node.args]
    for a, n in zip(args, node.args):
        if not isinstance(a, Weak) and not isinstance(a.type, ScalarType):
            raise fl.error(n, f"{name}() cannot take a {a.type}")
    if name in ("min", "max"):
        if len(args) < 2:
            raise fl.error(node, f"{name}() takes two or more numbers", f"{name}(a, b)")
        t = common_type(fl, args, node, name)
        if t.is_bool:
            raise fl.error(node, f"{name}() of bools is not supported")
        typed = [fl.operand(a, t, n) for a, n in zip(args, node.args)]
        result = typed[0]
        for value in typed[1:]:
            result = ir.MathCall(name, (result, value), t)
        return result
    arity = {"pow": 2, "fma": 3}.get(name, 1)
    if len(args) != arity:
        form = " (math.fma(a, b, c) is a * b + c, rounded once)" if name == "fma" else ""
        raise fl.error(node, f"{name}() takes {arity} argument{'s' if arity > 1 else ''}"
                             f"{form}")
    if name == "abs":
        value = args[0]
        if isinstance(value, Weak):
            return Weak(abs(value.value))
        if value.type.is_bool:
            raise fl.error(node, "abs() of a bool is not supported")
        return ir.MathCall("abs", (value,), value.type)
    t = common_type(fl, args, node, name)
    if t.is_bool:
        raise fl.error(node, f"math.{name}() cannot take a bool")
    if t.is_int:
        t = float_for_int(t)
    typed = tuple(fl.operand(a, t, n) for a, n in zip(args, node.args))
    result_type = BOOL if name in ("isnan", "isinf") else t
    return ir.MathCall(name, typed, result_type)


def common_type(fl, args, node: ast.AST, what: str) -> ScalarType:
    typed = [a.type for a in args if not isinstance(a, Weak)]
    try:
        if not typed:
            weak = [a for a in args if isinstance(a, Weak)]
            return max((default_type(w) for w in weak), key=lambda t: (t.is_float, t.bits))
        t = typed[0]
        for other in typed[1:]:
            t = promote(t, other, f"{what}()")
        for a in args:
            if isinstance(a, Weak):
                if a.is_float and t.is_int:
                    t = float_for_int(t)
                weak_to(a, t)
        return t
    except TypeRuleError as exc:
        raise fl.rule(node, exc) from None


def construct(fl, node: ast.Call, cls) -> ir.MessageNew:
    spec = cls._ringc_message
    t = fl.ctx.builder.message_type(cls, node, fl)
    if node.args:
        raise fl.error(node.args[0], f"{spec.name}(...) takes keyword arguments",
                       f"{spec.name}({', '.join(n + '=...' for n, _ in spec.fields[:2])})")
    known = dict(spec.fields)
    fields = []
    for kw in node.keywords:
        if kw.arg is None:
            raise fl.error(kw.value, "** is not supported", "name each field")
        if kw.arg not in known:
            close = difflib.get_close_matches(kw.arg, list(known), n=1)
            raise fl.error(kw.value, f"message {spec.name} has no field '{kw.arg}'",
                           f"did you mean '{close[0]}'?" if close else
                           "fields: " + ", ".join(known))
        ftype = known[kw.arg]
        if isinstance(ftype, ArrayType):
            raise fl.error(kw.value, f"array field '{kw.arg}' cannot be given in the "
                                     "constructor",
                           f"build the message in a local, then set m.{kw.arg}[i] in a loop")
        fields.append((kw.arg, fl.convert(fl.expr(kw.value), ftype, kw.value)))
    return ir.MessageNew(spec.name, tuple(fields), t)


def helper_call(fl, node: ast.Call, name: str):
    if fl.ctx.kernel is None:
        raise fl.error(node, "device functions have no self")
    info = fl.ctx.builder.helper(fl.ctx.kernel, name, node, fl)
    return call_with(fl, node, info)


def call_with(fl, node: ast.Call, info) -> ir.Call | ir.HelperCall:
    if node.keywords:
        raise fl.error(node.keywords[0].value, "pass arguments by position")
    if info.syncs:
        whole_value(fl, node, f"{info.spelled}() (it synchronises the lanes)",
                    f"{info.spelled}(...)", statement=True)
    if len(node.args) != len(info.params):
        raise fl.error(node, f"{info.spelled}() takes {len(info.params)} argument"
                             f"{'' if len(info.params) == 1 else 's'}, got {len(node.args)}")
    args = tuple(fl.convert(fl.expr(a), p.type, a) for a, p in zip(node.args, info.params))
    if info.effects:
        fl.effects = True
    return info.call(args)


def need_cooperative(fl, node: ast.Call, name: str) -> None:
    """`rc.<name>()` is only in the handlers and helpers of a cooperative kernel."""
    kernel = fl.ctx.kernel
    if kernel is not None and kernel.options.concurrency == "cooperative":
        return
    where = ("an @rc.device function" if kernel is None else
             f"kernel '{kernel.name}', which is concurrency='{kernel.options.concurrency}'")
    raise fl.error(node, f"rc.{name}() is only for a cooperative kernel, not {where}",
                   "give the kernel concurrency='cooperative' (and group_size=n): a group of "
                   "lanes then handles each message together"
                   if kernel is not None else "call it in the kernel's handler or helper "
                   "and pass the value in")


def whole_value(fl, node: ast.Call, what: str, example: str, statement: bool = False) -> None:
    """A synchronisation point (a group reduction, a broadcast, a helper that has one) is
    the whole value of an assignment to a local or of a helper's return (or, `statement`,
    a statement of its own): every lane must reach it, so it stands where nothing decides
    per lane whether it runs."""
    if node is not fl.sync_ok:
        raise fl.error(node, f"{what} is a synchronisation point of the lanes: it must be "
                             "the whole value of an assignment to a local"
                       + (" or a statement of its own" if statement else ""),
                       f"write x = {example} on a line of its own")


INTRINSIC_STATEMENTS = ("send", "send_after", "emit", "reply", "fail", "barrier")


def intrinsic_expr(fl, node: ast.Call, name: str):
    if name in INTRINSIC_STATEMENTS:
        raise fl.error(node, f"rc.{name}(...) is a statement, not a value",
                       "call it on its own line")
    if name in ("lane", "group_size", "group_sum", "group_max", "group_min", "broadcast"):
        return cooperative_expr(fl, node, name)
    if name == "zeros":
        return zeros(fl, node)
    if name == "dot":
        return dot(fl, node)
    if name == "clock":
        raise fl.error(node, "rc.clock() is retired: rc.now() replaced it",
                       "rc.now() is nanoseconds since the launch as an i64, on one clock "
                       "with the host's rt.now() (docs/language.md, Time)")
    kernel_only = name != "now"
    if kernel_only and fl.ctx.kernel is None:
        raise fl.error(node, f"rc.{name}() cannot be used in an @rc.device function",
                       "pass the value in as a parameter")
    if name in ("sender", "now", "instance_id"):
        fl.expect_args(node, 0, f"rc.{name}()")
        t = {"sender": ADDRESS, "now": I64, "instance_id": I32}[name]
        return ir.Intrinsic(name, (), t)
    arity = 3 if name == "atomic_cas" else 2
    form = "rc.atomic_cas(self.x, expected, desired)" if arity == 3 else f"rc.{name}(self.x, v)"
    fl.expect_args(node, arity, form)
    place = fl.expr(node.args[0])
    root = place.base if isinstance(place, ir.Index) else place
    if not isinstance(root, ir.State) or not isinstance(place.type, ScalarType):
        raise fl.error(node.args[0], f"rc.{name} works on a state variable or an element of "
                                     "a state array", form)
    t = place.type
    allowed = t.is_int and t.bits >= 32 or (t.is_float and name in ("atomic_add", "atomic_cas")
                                             and t.bits == 32)
    if not allowed:
        raise fl.error(node.args[0], f"rc.{name} is not available for {t}",
                       "atomics work on i32, u32, i64, u64 (and f32 for add and cas)")
    if t == F64:
        raise fl.error(node.args[0], f"rc.{name} is not available for f64")
    args = (place,) + tuple(fl.convert(fl.expr(a), t, a) for a in node.args[1:])
    fl.effects = True
    return ir.Intrinsic(name, args, t)


_REDUCIBLE = ("i32", "u32", "i64", "u64", "f32", "f64")


def cooperative_expr(fl, node: ast.Call, name: str):
    """`rc.lane()`, `rc.group_size()`, `rc.group_sum/max/min(x)`, `rc.broadcast(x, lane)`."""
    need_cooperative(fl, node, name)
    if name == "group_size":          # a constant of the kernel: also a range's step
        fl.expect_args(node, 0, "rc.group_size()")
        return Weak(fl.ctx.kernel.options.group_size)
    if name == "lane":
        fl.expect_args(node, 0, "rc.lane()")
        return ir.Intrinsic(name, (), I32)
    if name == "broadcast":
        fl.expect_args(node, 2, "rc.broadcast(x, lane)")
        whole_value(fl, node, "rc.broadcast(...)", "rc.broadcast(v, 0)")
        value = fl.typed(fl.expr(node.args[0]), node.args[0])
        if not isinstance(value.type, ScalarType):
            raise fl.error(node.args[0], f"rc.broadcast takes a scalar, not a {value.type}",
                           "broadcast the fields or components one by one")
        lane = fl.expr(node.args[1])
        if not isinstance(lane, Weak) and not (isinstance(lane.type, ScalarType)
                                               and lane.type.is_int):
            raise fl.error(node.args[1], f"the lane of rc.broadcast is an integer, not "
                                         f"{lane.type}")
        if isinstance(lane, Weak):
            lane = fl.convert(lane, I32, node.args[1])
        elif lane.type != I32:
            lane = ir.Cast(lane, I32)
        return ir.Broadcast(value, lane, value.type)
    op = name[len("group_"):]
    fl.expect_args(node, 1, f"rc.{name}(x)")
    whole_value(fl, node, f"rc.{name}(...)", f"rc.{name}(v)")
    value = fl.typed(fl.expr(node.args[0]), node.args[0])
    t = value.type
    if not (isinstance(t, ScalarType) and t.name in _REDUCIBLE):
        raise fl.error(node.args[0], f"rc.{name} takes a 32- or 64-bit number "
                                     f"({' '.join(_REDUCIBLE)}), not {t}",
                       "convert it first, e.g. i32(x)" if isinstance(t, ScalarType) else
                       "reduce the fields or components one by one")
    return ir.GroupReduce(op, value, t)


def zeros(fl, node: ast.Call) -> ir.Zero:
    """`rc.zeros(T)`, T an `Array[...]` or a message class: only the whole value of an
    assignment (`fl.zero_value` is the value node being assigned)."""
    example = "buf = rc.zeros(Array[f32, 8])"
    if node is not fl.zero_value:
        raise fl.error(node, "rc.zeros(...) is the whole value of an assignment", example)
    fl.expect_args(node, 1, "rc.zeros(T)")
    t = fl.ctx.builder.value_type(names.static_type(node.args[0], fl.ctx.globals))
    if not isinstance(t, (ArrayType, MessageType)):
        raise fl.error(node.args[0], f"rc.zeros takes an Array[...] or a message class, not "
                                     f"'{ast.unparse(node.args[0])}'", example)
    return ir.Zero(t)


# what a container method's arguments are, by name (error hints)
_ARG_NAMES = {"push": "item", "get": "key, default", "put": "key, value", "remove": "key"}


def container_call(fl, node: ast.Call, container: ir.State, method: str) -> ir.ContainerCall:
    """`self.q.push(x)`, `self.q.pop()`, ... on a state container."""
    t: ContainerType = container.type
    spelled = f"self.{container.name}.{method}"
    methods = ir.CONTAINER_METHODS[t.kind]
    callable_ = [m for m in methods if m not in ("len", "contains", "evictions")]
    if method not in callable_:
        extra = " and `k in` it" if t.kind in MAP_KINDS else ""
        raise fl.error(node.func, f"{CONTAINER_KINDS[t.kind]} has no method '{method}'",
                       f"its methods are {', '.join(callable_)}, len(self.{container.name})"
                       f"{extra}")
    count, changes, _ = methods[method]
    wanted = container_args(t, method)
    fl.expect_args(node, count, f"{spelled}({_ARG_NAMES.get(method, '')})  # "
                                + ", ".join(f"{n}: {w}" for n, w in zip(
                                    _ARG_NAMES.get(method, "").split(", "), wanted)))
    args = tuple(fl.convert(fl.expr(a), w, a) for a, w in zip(node.args, wanted, strict=True))
    if changes:
        fl.check_state_write(container, node.func)
    return ir.ContainerCall(container, method, args, container_result(t, method))


# ---- intrinsic statements --------------------------------------------------------------

def intrinsic_statement(fl, call: ast.Call):
    name = names.intrinsic_name(names.resolve(call.func, fl.ctx.globals))
    if name not in INTRINSIC_STATEMENTS:
        return None
    loc = fl.loc(call)
    if name == "barrier":
        need_cooperative(fl, call, "barrier")
        fl.expect_args(call, 0, "rc.barrier()")
        return ir.Barrier(loc)
    if name == "fail":
        fl.expect_args(call, 1, "rc.fail(\"reason\")")
        reason = call.args[0]
        if not (isinstance(reason, ast.Constant) and isinstance(reason.value, str)
                and reason.value):
            raise fl.error(reason, "rc.fail takes a non-empty string literal reason",
                           'write rc.fail("stale_request")')
        return ir.Fail(reason.value, loc)
    if fl.ctx.kind == "device":
        raise fl.error(call, f"rc.{name} cannot be used in an @rc.device function",
                       "device functions compute values; send from the handler")
    fl.effects = True
    if name == "emit":
        fl.expect_args(call, 1, "rc.emit(msg)")
        return ir.Emit(message_value(fl, call.args[0]), loc)
    if name == "reply":
        fl.expect_args(call, 2, "rc.reply(address, msg)")
        address = fl.expr(call.args[0])
        if getattr(address, "type", None) != ADDRESS:
            raise fl.error(call.args[0], "rc.reply's first argument must be an "
                                         "rc.Address", "keep the value of rc.sender()")
        return ir.Reply(address, message_value(fl, call.args[1]), loc)
    if name == "send_after":
        return send_after(fl, call)
    return send(fl, call)


def send_after(fl, call: ast.Call) -> ir.Stmt:
    form = "rc.send_after(delay_ns, Kernel, msg, instance=0)"
    if fl.ctx.kernel is not None and fl.ctx.kernel.options.concurrency != "ordered":
        raise fl.error(call, f"kernel '{fl.ctx.kernel.name}' is concurrency="
                             f"'{fl.ctx.kernel.options.concurrency}': rc.send_after "
                             "needs an ordered kernel (its "
                             "timer table is the instance's)",
                       "send to an ordered kernel that schedules it, or make this "
                       "kernel 'ordered'")
    if not call.args:
        raise fl.error(call, f"rc.send_after takes {form}")
    delay_node = call.args[0]
    delay = fl.expr(delay_node)
    if isinstance(delay, Weak) and isinstance(delay.value, int) and delay.value < 0:
        raise fl.error(delay_node, f"rc.send_after's delay is {delay.value} ns: it "
                                   "cannot be negative", "a delay of 0 sends at once")
    if isinstance(delay, Weak) and isinstance(delay.value, float) or not isinstance(
            delay, Weak) and not (isinstance(delay.type, ScalarType) and delay.type.is_int):
        raise fl.error(delay_node, "rc.send_after's delay is an integer number of "
                                   "nanoseconds", "e.g. 100 * 1_000_000 for 100 ms")
    rest = ast.Call(call.func, call.args[1:], call.keywords)
    ast.copy_location(rest, call)
    sent = send(fl, rest, form)
    return ir.SendAfter(fl.convert(delay, I64, delay_node), sent.kernel, sent.instance,
                        sent.message, sent.loc)


def send(fl, call: ast.Call, form: str = "rc.send(Kernel, msg, instance=0)") -> ir.Send:
    kw = {k.arg: k.value for k in call.keywords}
    if len(call.args) == 3 and "instance" not in kw:
        kw["instance"] = call.args[2]
    if len(call.args) not in (2, 3) or set(kw) - {"instance"}:
        name, args = form.split("(", 1)
        raise fl.error(call, f"{name} takes ({args}")
    target = names.resolve(call.args[0], fl.ctx.globals)
    kernel = fl.ctx.builder.kernel_for_send(target)
    if kernel is None:
        raise fl.error(call.args[0], f"'{ast.unparse(call.args[0])}' is not a ring kernel",
                       "the first argument of rc.send is a @rc.ring_kernel class")
    message = message_value(fl, call.args[1])
    if message.type.name not in kernel.handled:
        raise fl.error(call.args[1], f"kernel '{kernel.name}' has no handler for "
                                     f"{message.type.name}",
                       f"add a method on_...(self, m: {message.type.name}) to "
                       f"{kernel.name}")
    instance = ir.Const(0, I32)
    if "instance" in kw:
        value = fl.expr(kw["instance"])
        if isinstance(value, Weak):
            instance = fl.convert(value, I32, kw["instance"])
        elif isinstance(value.type, ScalarType) and value.type.is_int:
            instance = value if value.type == I32 else ir.Cast(value, I32)
        else:
            raise fl.error(kw["instance"], "instance must be an integer")
    return ir.Send(kernel.name, instance, message, fl.loc(call))


def message_value(fl, node: ast.expr) -> ir.Expr:
    value = fl.expr(node)
    if not isinstance(getattr(value, "type", None), MessageType):
        raise fl.error(node, "a message is expected here",
                       "construct one: Msg(field=...), or pass a message variable")
    fl.check_alone(value, node, allow_root=True)
    return value


# ---- vectors (docs/language.md, "Vectors") ---------------------------------------------

def construct_vector(fl, node: ast.Call, t: VectorType) -> ir.VectorNew:
    """`rc.f32x4(a, b, c, d)`, or `rc.f32x4(s)`: s in every lane. Each value converts to
    the element type as a store does."""
    form = f"rc.{t}({', '.join(t.components)}) or rc.{t}(value) for every lane"
    if node.keywords or len(node.args) not in (1, t.lanes):
        raise fl.error(node, f"rc.{t} takes {t.lanes} values or one", f"write {form}")
    return ir.VectorNew(tuple(fl.convert(fl.expr(a), t.elem, a) for a in node.args), t)


def _vector_array(fl, node: ast.expr, t: VectorType, form: str) -> ir.Expr:
    """The array a vector is loaded from or stored into: a place holding `t.elem`s."""
    array = fl.expr(node)
    at = getattr(array, "type", None)
    if not (isinstance(at, ArrayType) and at.elem == t.elem):
        what = f"a {at}" if at is not None else "a number"
        raise fl.error(node, f"rc.{t} is read and written in an Array[{t.elem}, n], not "
                             f"{what}", form)
    if at.length < t.lanes:
        raise fl.error(node, f"{at} is shorter than a {t} ({t.lanes} elements)",
                       f"use an array of at least {t.lanes} elements")
    return array


def _vector_index(fl, node: ast.expr, array: ir.Expr, t: VectorType) -> ir.Expr:
    """The index of the first element; a constant must leave room for every lane."""
    n = array.type.length
    index = fl.expr(node)
    if isinstance(index, Weak):
        if index.is_float:
            raise fl.error(node, "array indices must be integers")
        if not 0 <= index.value <= n - t.lanes:
            raise fl.error(node, f"elements {index.value}..{index.value + t.lanes - 1} are "
                                 f"out of range for {array.type}",
                           f"a {t} at index i takes elements i..i+{t.lanes - 1}: i is "
                           f"0..{n - t.lanes} here")
        return ir.Const(index.value, I32)
    if not (isinstance(index.type, ScalarType) and index.type.is_int):
        raise fl.error(node, f"array indices must be integers, not {index.type}")
    return index


def vector_load(fl, node: ast.Call, t: VectorType, method: str) -> ir.VectorAt:
    """`rc.f32x4.load(a, i)`: elements i..i+3 of an Array[f32, n]."""
    form = f"rc.{t}.load(a, i)  # a: Array[{t.elem}, n], elements i..i+{t.lanes - 1}"
    if method != "load":
        raise fl.error(node.func, f"rc.{t} has no '{method}'",
                       f"rc.{t}.load(a, i) reads a vector; v.store(a, i) writes one")
    fl.expect_args(node, 2, form)
    array = _vector_array(fl, node.args[0], t, form)
    return ir.VectorAt(array, _vector_index(fl, node.args[1], array, t), t)


def _vector_receiver(fl, node: ast.Call):
    """The vector `v` of a call `v.method(...)`, or None when `node` is no such call."""
    func = node.func
    if not (isinstance(func, ast.Attribute)
            and isinstance(names.resolve(func, fl.ctx.globals), names.Unresolved)):
        return None
    base = func.value
    if isinstance(base, ast.Name) and base.id not in fl.locals:
        return None                   # a module or an undefined name: reported elsewhere
    try:
        value = fl.expr(base)
    except CompileError:              # not a vector's: the caller's path says what is wrong
        return None
    return value if isinstance(getattr(value, "type", None), VectorType) else None


def vector_method(fl, node: ast.Call) -> None:
    """Raise the error for `v.method(...)` of a vector used as a value."""
    value = _vector_receiver(fl, node)
    if value is None:
        return
    t, method = value.type, node.func.attr
    if method == "store":
        raise fl.error(node, f"{ast.unparse(node.func)}(...) is a statement: it returns "
                             "nothing", "call it on a line of its own")
    raise fl.error(node.func, f"a {t} has no method '{method}'",
                   f"v.store(a, i) writes one; rc.{t}.load(a, i) reads one; components "
                   f"are {' '.join('.' + c for c in t.components)}")


def vector_store(fl, node: ast.Call) -> ir.Assign | None:
    """`v.store(a, i)` as a statement: v into elements i..i+3 of a (value first, then the
    array and the index, as Python evaluates them); None when `node` is no vector's call."""
    value = _vector_receiver(fl, node)
    if value is None:
        return None
    t = value.type
    if node.func.attr != "store":
        vector_method(fl, node)
    form = f"v.store(a, i)  # a: Array[{t.elem}, n], elements i..i+{t.lanes - 1}"
    fl.expect_args(node, 2, form)
    fl.check_alone(value, node.func.value, allow_root=True)
    array = _vector_array(fl, node.args[0], t, form)
    target = ir.VectorAt(array, _vector_index(fl, node.args[1], array, t), t)
    fl.check_state_write(target, node)
    return ir.Assign(target, value, fl.loc(node))


def dot(fl, node: ast.Call) -> ir.MathCall:
    """`rc.dot(a, b)` of two vectors of one type: a scalar of their element type."""
    fl.expect_args(node, 2, "rc.dot(a, b)  # two vectors of one type")
    a, b = (fl.expr(x) for x in node.args)
    ta, tb = getattr(a, "type", None), getattr(b, "type", None)
    if not isinstance(ta, VectorType) or ta != tb:
        raise fl.error(node, f"rc.dot takes two vectors of one type, not "
                             f"{ta or 'a number'} and {tb or 'a number'}",
                       "e.g. rc.dot(v, w) with v and w both f32x4")
    return ir.MathCall("dot", (a, b), ta.elem)
