"""From `@rc.ring_kernel` classes to an IR `Program`.

The program is the kernels asked for plus every kernel they can `rc.send` to, the messages
they use (numbered in order of first use) and the `@rc.device` functions they call. Helpers
and device functions are lowered when first called, so their signatures and effects are
known at each call site and recursion is found as it happens.
"""

from __future__ import annotations

import ast
import sys
import types
from dataclasses import dataclass, field

from .. import intrinsics
from ..dsl import is_device_function, is_kernel, is_message, record_class
from ..errors import CompileError
from ..ir import nodes as ir
from ..ir.types import (
    ADDRESS,
    BOOL,
    AddressType,
    ArrayType,
    ContainerType,
    MessageType,
    ScalarType,
    VectorType,
    leaf_type,
)
from ..ir.walk import has_sync
from ..protocol import HOOKS, NEVER
from ..source import loc_of, source_of
from ..types import Address, SharedArray
from . import names
from .lower import Context, FunctionInfo, FunctionLowering
from .typerules import TypeRuleError, Weak, weak_to
from .uniform import check_cooperative


@dataclass
class KernelInfo:
    """A kernel class as parsed: state, handler and helper definitions."""
    name: str
    cls: type
    options: ir.KernelOptions
    loc: ir.Loc
    file: str
    globals: dict
    state: dict = field(default_factory=dict)            # name -> type
    state_defs: list = field(default_factory=list)
    handlers: list = field(default_factory=list)         # (ast node, param name, msg type)
    handled: dict = field(default_factory=dict)          # message name -> handler name
    helper_nodes: dict = field(default_factory=dict)     # name -> ast.FunctionDef
    helpers: dict = field(default_factory=dict)          # name -> FunctionInfo
    periodic: list = field(default_factory=list)         # ir.Periodic, in source order


class ProgramBuilder:
    """Collects kernels, messages and device functions while lowering them."""

    def __init__(self) -> None:
        self.messages: dict[type, ir.MessageDef] = {}
        self.message_names: dict[str, type] = {}
        self.kernels: dict[type, KernelInfo] = {}
        self.kernel_names: dict[str, type] = {}
        self.device_functions: dict[object, FunctionInfo] = {}
        self.stack: list[str] = []

    # -- types ---------------------------------------------------------------------------

    def value_type(self, obj: object):
        """The IR type an annotation object names, or None. Records it holds (message
        classes, also as array elements) join the program's messages."""
        if obj is bool:
            return BOOL
        if isinstance(obj, ArrayType):
            self.add_records(obj)
            return obj
        if isinstance(obj, ContainerType):
            self.add_records(obj.item)
            return obj
        if isinstance(obj, (ScalarType, VectorType, AddressType)):
            return obj
        if obj is Address:
            return ADDRESS
        if is_message(obj):
            return self.message_type(obj)
        return None

    def add_records(self, t) -> None:
        """Make every record type inside `t` (through arrays) a message of the program."""
        t = leaf_type(t)
        if isinstance(t, MessageType):
            self.message_type(record_class(t))

    def is_message_class(self, obj: object) -> bool:
        return is_message(obj)

    def is_device_function(self, obj: object) -> bool:
        return is_device_function(obj)

    def message_type(self, cls: type, node: ast.AST | None = None, fl=None) -> MessageType:
        spec = cls._ringc_message
        if cls not in self.messages:
            other = self.message_names.get(spec.name)
            if other is not None and other is not cls:
                raise CompileError(f"two different messages are named '{spec.name}'",
                                   spec.loc, f"the other is defined in {other.__module__}; "
                                             "rename one")
            for _, t in spec.fields:     # records first: a message follows what it holds
                self.add_records(t)
            fields = tuple(ir.FieldDef(n, t) for n, t in spec.fields)
            self.messages[cls] = ir.MessageDef(spec.name, len(self.messages) + 1, fields,
                                               spec.loc)
            self.message_names[spec.name] = cls
        return spec.type

    def message_fields(self, name: str) -> dict:
        return dict(self.message_names[name]._ringc_message.fields)

    # -- kernels -------------------------------------------------------------------------

    def kernel_for_send(self, obj: object) -> KernelInfo | None:
        return self.add_kernel(obj) if is_kernel(obj) else None

    def add_kernel(self, cls: type) -> KernelInfo:
        if cls in self.kernels:
            return self.kernels[cls]
        spec = cls._ringc_kernel
        other = self.kernel_names.get(spec.name)
        if other is not None:
            raise CompileError(f"two different kernels are named '{spec.name}'", spec.loc,
                               "rename one")
        file, node = source_of(cls)
        info = KernelInfo(spec.name, cls, spec.options, spec.loc, file,
                          _class_globals(cls))
        self.kernels[cls] = info
        self.kernel_names[spec.name] = cls
        self._parse_kernel(info, node)
        return info

    def _parse_kernel(self, info: KernelInfo, node: ast.ClassDef) -> None:
        file = info.file
        for stmt in node.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            if isinstance(stmt, ast.Pass):
                continue
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                self._parse_state(info, stmt)
            elif isinstance(stmt, ast.FunctionDef):
                if stmt.decorator_list and self._parse_every(info, stmt):
                    continue
                if stmt.decorator_list:
                    raise CompileError("kernel methods cannot be decorated",
                                       loc_of(file, stmt.decorator_list[0]),
                                       "handlers and helpers are plain methods")
                if stmt.name in info.helper_nodes or any(h[0].name == stmt.name
                                                         for h in info.handlers):
                    raise CompileError(f"method '{stmt.name}' is defined twice",
                                       loc_of(file, stmt))
                if stmt.name == "__init__":
                    raise CompileError(
                        "a kernel class cannot have __init__: it never runs on the device",
                        loc_of(file, stmt), "give state its starting values as defaults, "
                        "e.g. `count: i64 = 0` (state without a default starts at zero)")
                if stmt.name.startswith("__") and stmt.name.endswith("__"):
                    raise CompileError(f"a kernel class cannot define {stmt.name}",
                                       loc_of(file, stmt), "handlers are on_<name> methods, "
                                       "helpers plain methods")
                if stmt.name in HOOKS:
                    self._parse_hook(info, stmt)
                elif stmt.name.startswith("on_"):
                    self._parse_handler(info, stmt)
                else:
                    info.helper_nodes[stmt.name] = stmt
            elif isinstance(stmt, ast.Assign):
                raise CompileError("kernel state needs a type annotation", loc_of(file, stmt),
                                   "write e.g. `count: i64 = 0`")
            else:
                raise CompileError(f"{type(stmt).__name__} is not allowed in a kernel class",
                                   loc_of(file, stmt),
                                   "a kernel holds state annotations, handlers and helpers")
        if not info.handlers:
            raise CompileError(f"kernel '{info.name}' has no handlers", info.loc,
                               "add a method on_<name>(self, m: SomeMessage)")

    def _parse_state(self, info: KernelInfo, stmt: ast.AnnAssign) -> None:
        name = stmt.target.id
        annotation = names.static_type(stmt.annotation, info.globals)
        if isinstance(annotation, names.Unresolved) and annotation.why:
            raise CompileError(annotation.why, loc_of(info.file, stmt.annotation),
                               "an Array size is a positive constant expression of "
                               "module-level ints, e.g. Array[f32, ROWS * COLS]")
        if isinstance(annotation, SharedArray):
            raise CompileError(f"state '{name}' is a shared array ({annotation}): state cannot "
                               "hold one", loc_of(info.file, stmt.annotation),
                               "rc.Shared arrays are locals of a cooperative kernel's handler "
                               f"or helper; declare state as {annotation.array!r} without "
                               "rc.Shared")
        t = self.value_type(annotation)
        if isinstance(t, ContainerType):
            if info.options.concurrency != "ordered":
                raise CompileError(f"kernel '{info.name}' is concurrency="
                                   f"'{info.options.concurrency}': state "
                                   f"'{name}' cannot be a container", loc_of(info.file, stmt),
                                   "containers need an ordered kernel")
            if stmt.value is not None:
                raise CompileError(f"container '{name}' cannot have a default",
                                   loc_of(info.file, stmt.value), "a container starts empty")
            info.state[name] = t
            info.state_defs.append(ir.StateDef(name, t, None))
            return
        if not isinstance(t, (ScalarType, VectorType, ArrayType, AddressType, MessageType)):
            dotted = names.dotted_name(stmt.annotation) or ""
            raise CompileError(f"state '{name}' has type '{ast.unparse(stmt.annotation)}', "
                               "which state cannot hold", loc_of(info.file, stmt.annotation),
                               names.unknown_vector_hint(dotted) or
                               "use a scalar type, a vector (rc.f32x4, ...), Array[T, n], "
                               "rc.Address or a message class (a record)")
        init = None
        if stmt.value is not None:
            init = self._state_init(info, name, t, stmt.value)
        info.state[name] = t
        info.state_defs.append(ir.StateDef(name, t, init))

    def _state_init(self, info: KernelInfo, name: str, t, value: ast.expr):
        where = loc_of(info.file, value)
        if isinstance(leaf_type(t), (AddressType, MessageType, VectorType)):
            raise CompileError(f"state '{name}' of type {t} cannot have a default", where,
                               "leave it out: state starts at zero, or set it in a handler")
        if isinstance(t, ArrayType):
            if isinstance(t.elem, ArrayType):
                raise CompileError(f"nested array '{name}' cannot have a default", where,
                                   "leave it out: state starts at zero")
            if not isinstance(value, (ast.List, ast.Tuple)) or len(value.elts) != t.length:
                raise CompileError(f"the default of '{name}' must list {t.length} values",
                                   where, "or leave it out: state starts at zero")
            return tuple(self._constant(info, t.elem, e) for e in value.elts)
        return self._constant(info, t, value)

    def _constant(self, info: KernelInfo, t, node: ast.expr):
        value = names.static_constant(node, info.globals)
        where = loc_of(info.file, node)
        if isinstance(value, names.Unresolved) or isinstance(t, AddressType):
            raise CompileError("a state default must be a constant", where,
                               "use a literal or a module-level constant")
        if isinstance(value, bool) or t == BOOL:
            if not (isinstance(value, bool) and t == BOOL):
                raise CompileError(f"{value!r} does not fit {t}", where)
            return value
        try:
            return weak_to(Weak(value), t)
        except TypeRuleError as exc:
            raise CompileError(exc.message, where, exc.hint) from None

    def _parse_handler(self, info: KernelInfo, node: ast.FunctionDef) -> None:
        where = loc_of(info.file, node)
        args = node.args
        if (args.vararg or args.kwarg or args.kwonlyargs or args.defaults
                or len(args.args) != 2 or args.args[0].arg != "self"):
            raise CompileError(f"handler '{node.name}' must take exactly one message parameter",
                               where, f"def {node.name}(self, m: SomeMessage):")
        param = args.args[1]
        if param.annotation is None:
            raise CompileError(f"parameter '{param.arg}' of handler '{node.name}' needs a "
                               "message type", loc_of(info.file, param),
                               f"def {node.name}(self, {param.arg}: SomeMessage):")
        obj = names.static_type(param.annotation, info.globals)
        if not is_message(obj):
            raise CompileError(f"handler '{node.name}' takes "
                               f"'{ast.unparse(param.annotation)}', which is not a message",
                               loc_of(info.file, param.annotation),
                               "annotate the parameter with an @rc.message class")
        t = self.message_type(obj)
        if t.name in info.handled:
            raise CompileError(f"kernel '{info.name}' has two handlers for {t.name}", where,
                               f"'{info.handled[t.name]}' already handles it")
        info.handled[t.name] = node.name
        info.handlers.append((node, param.arg, t))

    def _parse_hook(self, info: KernelInfo, node: ast.FunctionDef) -> None:
        """`on_start(self)` / `on_stop(self)`: lowered like a helper of no parameters."""
        where = loc_of(info.file, node)
        _self_alone(info, node, f"{node.name} is a lifecycle hook: it",
                    f"def {node.name}(self): ... (a handler of a message needs another name, "
                    f"e.g. on_{node.name[3:]}_msg)")
        if info.options.concurrency != "ordered":
            raise CompileError(f"kernel '{info.name}' is concurrency="
                               f"'{info.options.concurrency}': lifecycle "
                               f"hooks need an ordered kernel", where,
                               "make the kernel 'ordered', or send it a start message")
        info.helper_nodes[node.name] = node

    def _parse_every(self, info: KernelInfo, node: ast.FunctionDef) -> bool:
        """`@rc.every(seconds)` on a method without parameters: a periodic helper. False
        when the decorator is something else (the caller refuses it)."""
        decorator = node.decorator_list[0]
        call = decorator if isinstance(decorator, ast.Call) else None
        target = names.resolve(call.func if call else decorator, info.globals)
        if target is not intrinsics.every:
            return False
        where = loc_of(info.file, decorator)
        if call is None or len(call.args) != 1 or call.keywords:
            raise CompileError("@rc.every takes one argument, the period in seconds", where,
                               "write @rc.every(0.5)")
        if len(node.decorator_list) > 1:
            raise CompileError("a periodic method takes no other decorator",
                               loc_of(info.file, node.decorator_list[1]))
        if node.name in HOOKS or node.name.startswith("on_"):
            what = "a lifecycle hook" if node.name in HOOKS else "a handler (on_...)"
            raise CompileError(f"@rc.every cannot make {what} periodic", where,
                               f"put it on a method with another name, e.g. def "
                               f"tick(self): (not {node.name})")
        _self_alone(info, node, f"periodic method {node.name}", f"def {node.name}(self): ...")
        # Python evaluated the argument once, when the class was defined: that value is
        # the period (constant for the kernel's life, whatever expression gave it)
        seconds = getattr(getattr(info.cls, node.name, None), "_ringc_every", None)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise CompileError(f"@rc.every needs a period in seconds, not {seconds!r}",
                               loc_of(info.file, call.args[0]),
                               "use a number or a module-level constant: @rc.every(0.01)")
        period = round(seconds * 1e9)
        if not (seconds > 0 and period >= 1) or period > NEVER:
            raise CompileError(f"@rc.every's period must be positive (at least 1 ns), not "
                               f"{seconds!r} s", loc_of(info.file, call.args[0]))
        if info.options.concurrency != "ordered":
            raise CompileError(f"kernel '{info.name}' is concurrency="
                               f"'{info.options.concurrency}': periodic "
                               "methods need an ordered kernel", where,
                               "make the kernel 'ordered' (its ticks never run beside a "
                               "handler)")
        if node.name in info.helper_nodes:
            raise CompileError(f"method '{node.name}' is defined twice", loc_of(info.file, node))
        info.helper_nodes[node.name] = node
        info.periodic.append(ir.Periodic(node.name, period))
        return True

    def _returns(self, info_file: str, globals_: dict, node: ast.FunctionDef):
        if node.returns is None:
            return None
        obj = names.static_type(node.returns, globals_)
        if obj is None:
            return None
        t = self.value_type(obj)
        if t is None or isinstance(t, ArrayType):
            raise CompileError(f"'{ast.unparse(node.returns)}' cannot be returned",
                               loc_of(info_file, node.returns),
                               "return a scalar, a message or rc.Address")
        return t

    def _params(self, file: str, globals_: dict, node: ast.FunctionDef,
                skip_self: bool) -> tuple[ir.Param, ...]:
        args = node.args
        where = loc_of(file, node)
        if args.vararg or args.kwarg or args.kwonlyargs or args.defaults:
            raise CompileError(f"'{node.name}' may only have plain positional parameters",
                               where)
        params = args.args
        if skip_self:
            if not params or params[0].arg != "self":
                raise CompileError(f"helper '{node.name}' must take self first", where)
            params = params[1:]
        out = []
        for p in params:
            if p.annotation is None:
                raise CompileError(f"parameter '{p.arg}' needs a type annotation",
                                   loc_of(file, p), f"{p.arg}: i32")
            t = self.value_type(names.static_type(p.annotation, globals_))
            if t is None or isinstance(t, ArrayType):
                raise CompileError(f"parameter '{p.arg}' has type "
                                   f"'{ast.unparse(p.annotation)}', which cannot be passed",
                                   loc_of(file, p.annotation),
                                   "pass scalars, messages or rc.Address")
            out.append(ir.Param(p.arg, t))
        return tuple(out)

    # -- functions -----------------------------------------------------------------------

    def helper(self, kernel: KernelInfo, name: str, node: ast.AST, fl) -> FunctionInfo:
        if name in kernel.helpers and kernel.helpers[name].lowered is not None:
            return kernel.helpers[name]
        if name not in kernel.helper_nodes or name in HOOKS or any(
                p.method == name for p in kernel.periodic):
            raise fl.error(node, f"kernel '{kernel.name}' has no helper method '{name}'",
                           "handlers (on_*), lifecycle hooks and periodic methods cannot be "
                           "called; define a helper method")
        return self._lower_helper(kernel, name, fl, node)

    def _lower_helper(self, kernel: KernelInfo, name: str, fl=None, node=None) -> FunctionInfo:
        key = f"{kernel.name}.{name}"
        fn_node = kernel.helper_nodes[name]
        if key in self.stack:
            cycle = " -> ".join(self.stack[self.stack.index(key):] + [key])
            raise CompileError(f"recursion is not supported ({cycle})",
                               fl.loc(node) if fl else loc_of(kernel.file, fn_node),
                               "rewrite the recursion as a loop")
        params = self._params(kernel.file, kernel.globals, fn_node, skip_self=True)
        returns = self._returns(kernel.file, kernel.globals, fn_node)
        info = FunctionInfo(name, helper=True, params=params, returns=returns, node=fn_node)
        kernel.helpers[name] = info
        ctx = Context(kernel.file, kernel.globals, self, kernel, "helper", kernel.state)
        self.stack.append(key)
        try:
            lowering = FunctionLowering(ctx, fn_node, params, returns)
            info.lowered = lowering.lower()
            info.effects = lowering.effects
            info.syncs = has_sync(info.lowered.body, {n for n, h in kernel.helpers.items()
                                                      if h.syncs})
        finally:
            self.stack.pop()
        return info

    def device_function(self, fn, node: ast.AST, fl) -> FunctionInfo:
        info = self.device_functions.get(fn)
        if info is not None and info.lowered is not None:
            return info
        key = fn.__name__
        if key in self.stack:
            cycle = " -> ".join(self.stack[self.stack.index(key):] + [key])
            raise fl.error(node, f"recursion is not supported ({cycle})",
                           "rewrite the recursion as a loop")
        for other, other_info in self.device_functions.items():
            if other is not fn and other_info.name == key:
                raise fl.error(node, f"two different device functions are named '{key}'",
                               "rename one")
        file, fn_node = source_of(fn)
        globals_ = fn.__globals__
        params = self._params(file, globals_, fn_node, skip_self=False)
        returns = self._returns(file, globals_, fn_node)
        info = FunctionInfo(key, helper=False, params=params, returns=returns, node=fn_node)
        self.device_functions[fn] = info
        ctx = Context(file, globals_, self, None, "device", {})
        self.stack.append(key)
        try:
            lowering = FunctionLowering(ctx, fn_node, params, returns)
            info.lowered = lowering.lower()
        finally:
            self.stack.pop()
        return info

    def helper_effects(self, kernel: KernelInfo | None, name: str) -> bool:
        """Does helper `name` of `kernel` write state, send, emit, reply or use atomics?"""
        info = kernel.helpers.get(name) if kernel is not None else None
        return bool(info and info.effects)

    # -- the whole program ---------------------------------------------------------------

    def build(self, roots) -> ir.Program:
        for root in roots:
            if not is_kernel(root):
                what = getattr(root, "__name__", repr(root))
                raise CompileError(f"'{what}' is not a @rc.ring_kernel class",
                                   hint="pass the kernel classes themselves")
            self.add_kernel(root)
        lowered: dict[type, tuple] = {}
        done = 0
        while done < len(self.kernels):
            cls = list(self.kernels)[done]
            lowered[cls] = self._lower_kernel(self.kernels[cls])
            done += 1
        kernels = []
        for cls, info in self.kernels.items():
            handlers = lowered[cls]
            helpers = tuple(info.helpers[name].lowered for name in info.helper_nodes)
            kernels.append(ir.KernelDef(info.name, info.options, tuple(info.state_defs),
                                        handlers, helpers, info.loc, tuple(info.periodic)))
        functions = tuple(i.lowered for i in self.device_functions.values())
        for k in kernels:
            if k.options.concurrency == "cooperative":
                check_cooperative(k)
        return ir.Program(tuple(self.messages.values()), tuple(kernels), functions)

    def _lower_kernel(self, info: KernelInfo) -> tuple[ir.FunctionDef, ...]:
        ctx = Context(info.file, info.globals, self, info, "handler", info.state)
        handlers = []
        for node, param, mtype in info.handlers:
            returns = self._returns(info.file, info.globals, node)
            if returns is not None and not isinstance(returns, MessageType):
                raise CompileError(f"handler '{node.name}' must return a message or nothing",
                                   loc_of(info.file, node.returns),
                                   "annotate -> ReplyMessage, or leave the annotation out")
            lowering = FunctionLowering(ctx, node, (ir.Param(param, mtype),), returns)
            handlers.append(lowering.lower())
        for name in info.helper_nodes:
            if name not in info.helpers:
                self._lower_helper(info, name)
        return tuple(handlers)


def _self_alone(info: KernelInfo, node: ast.FunctionDef, says: str, hint: str) -> None:
    """A method the device loop calls itself (a lifecycle hook, a periodic method) takes
    `self` alone and returns nothing; `says` begins each error ("periodic method tick")."""
    args = node.args
    if (args.vararg or args.kwarg or args.kwonlyargs or args.defaults
            or len(args.args) != 1 or args.args[0].arg != "self"):
        raise CompileError(f"{says} takes only self", loc_of(info.file, node), hint)
    if node.returns is not None and not (isinstance(node.returns, ast.Constant)
                                         and node.returns.value is None):
        raise CompileError(f"{says} returns nothing", loc_of(info.file, node.returns),
                           "remove the annotation")


def _class_globals(cls: type) -> dict:
    """The globals the class's methods see: its module's namespace, even when a module of
    that name was imported again since (sys.modules then holds the newer one)."""
    for value in vars(cls).values():
        if isinstance(value, types.FunctionType) and value.__module__ == cls.__module__:
            return value.__globals__
    return sys.modules[cls.__module__].__dict__


def build_program(kernels) -> ir.Program:
    """The IR program of `kernels` (a kernel class or a sequence of them)."""
    return build_program_with_classes(kernels)[0]


def build_program_with_classes(kernels) -> tuple[ir.Program, dict[str, type], dict[str, type]]:
    """The IR program of `kernels`, and the Python classes of its messages and of its
    kernels by name (the runtime answers with objects of those message classes)."""
    if not isinstance(kernels, (list, tuple)):
        kernels = [kernels]         # one class, or something else that build() refuses
    builder = ProgramBuilder()
    program = builder.build(list(kernels))
    return program, dict(builder.message_names), dict(builder.kernel_names)
