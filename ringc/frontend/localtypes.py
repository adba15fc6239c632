"""Typing the locals of a function body before it is lowered (`infer_locals`).

Every assignment to a local is typed with the locals known so far until nothing changes,
untyped literals being weak (docs/language.md, "Semantics": "a local's type is the
promotion of everything assigned to it"). An annotated local has its annotation's type; the
variable of a for loop over a state container has the type of what the container yields.

Limits: only assignments to plain names type a local (`x = ...`, `x: T = ...`, `x += ...`,
`for x in ...`); the rounds stop after twice as many as there are assignments, plus two.
A value that never gets a type is lowered once more for real, so that its own error is
reported; failing that, the error is "cannot infer the type of local".
"""

from __future__ import annotations

import ast

from ..errors import CompileError
from ..ir.types import I32, ArrayType, ContainerType, ScalarType
from ..types import SharedArray
from . import names
from .typerules import TypeRuleError, Weak, default_type, promote


class UntypedLocal(Exception):
    """A local whose type is not known yet (raised only while inferring local types)."""


def infer_locals(fl) -> None:
    assignments = list(_assignments(fl, fl.node.body))
    for name, _, value in assignments:
        if name == "self" and fl.ctx.kind != "device":
            node = value[0] if isinstance(value, tuple) else value
            raise fl.error(node if node is not None else fl.node,
                           "'self' is the kernel instance: it cannot be assigned",
                           "store into a local or a state field (self.x = ...)")
    for name, annotation, _ in assignments:
        if annotation is not None:
            fl.declared[name] = _annotation(fl, annotation, name)
            fl.locals[name] = fl.declared[name]
    weak_only: set[str] = set()
    fl.probing = True
    for _ in range(2 * len(assignments) + 2):
        changed = False
        for name, _, value in assignments:
            if name in fl.declared or name in fl.param_names or value is None:
                continue
            try:
                result = _probe(fl, value)
                changed = _merge(fl, name, result, weak_only) or changed
            except (UntypedLocal, CompileError, TypeRuleError):
                continue
        if not changed:
            break
    fl.probing = False
    for name, _, value in assignments:
        if name not in fl.locals:
            if value is None:
                fl.locals[name] = I32     # a for loop over no range: reported there
                continue
            _probe_for_error(fl, value)
            node = value[1] if isinstance(value, tuple) else value
            raise fl.error(node, f"cannot infer the type of local '{name}'",
                           f"annotate it: {name}: i32 = ...")


def _probe(fl, value) -> object:
    if isinstance(value, tuple):        # (target name node, augmented BinOp node)
        fl.sync_ok = None
        return fl.expr(value[1])
    fl.zero_value = fl.sync_ok = value
    return fl.expr(value)


def _probe_for_error(fl, value) -> None:
    """Lower `value` for real, so whatever made its type unknowable is reported."""
    fl.probing = False
    result = _probe(fl, value)
    if isinstance(result, Weak):
        fl.typed(result, value[1] if isinstance(value, tuple) else value)


def _merge(fl, name: str, result: object, weak_only: set[str]) -> bool:
    new_weak = isinstance(result, Weak)
    new_type = default_type(result) if new_weak else result.type
    old = fl.locals.get(name)
    if old is None:
        fl.locals[name] = new_type
        if new_weak:
            weak_only.add(name)
        return True
    if not (isinstance(old, ScalarType) and isinstance(new_type, ScalarType)):
        return False
    if old.kind != new_type.kind and not (old.is_int and new_type.is_int):
        return False        # a float into an int local: reported when lowering
    if name in weak_only:
        if new_weak:
            merged = old if old.bits >= new_type.bits else new_type
        else:
            merged = new_type
            weak_only.discard(name)
    elif new_weak:
        return False
    else:
        try:
            merged = promote(old, new_type, "assignment")
        except TypeRuleError:
            return False
    if merged != old:
        fl.locals[name] = merged
        return True
    return False


def _assignments(fl, body: list[ast.stmt]):
    """(name, annotation, value) for every assignment to a plain local name."""
    for stmt in body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    yield target.id, None, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            yield stmt.target.id, stmt.annotation, stmt.value
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            binop = ast.BinOp(left=ast.Name(stmt.target.id, ast.Load()), op=stmt.op,
                              right=stmt.value)
            ast.copy_location(binop, stmt)
            ast.copy_location(binop.left, stmt.target)
            yield stmt.target.id, None, (stmt.target, binop)
        elif isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
            container = fl.container_of(stmt.iter)
            if container is not None:         # typed by its items: declared up front
                fl.declared[stmt.target.id] = iterated(container.type)
                fl.locals[stmt.target.id] = iterated(container.type)
            else:
                yield stmt.target.id, None, _range_probe(stmt)
        if isinstance(stmt, (ast.If, ast.While, ast.For, ast.Try)):
            yield from _assignments(fl, stmt.body)
            yield from _assignments(fl, stmt.orelse)
        if isinstance(stmt, ast.Try):
            for handler in stmt.handlers:
                yield from _assignments(fl, handler.body)
            yield from _assignments(fl, stmt.finalbody)


def _range_probe(stmt: ast.For) -> ast.expr | None:
    """An expression whose type is the loop variable's: start + stop (+ 0 for range(n))."""
    call = stmt.iter
    if not (isinstance(call, ast.Call) and 1 <= len(call.args) <= 3):
        return None
    args = call.args[:2] if len(call.args) > 1 else [call.args[0]]
    if len(args) == 1:
        return args[0]
    probe = ast.BinOp(left=args[0], op=ast.Add(), right=args[1])
    return ast.copy_location(probe, call)


def _annotation(fl, node: ast.AST, name: str | None = None) -> object:
    obj = names.static_type(node, fl.ctx.globals)
    if isinstance(obj, names.Unresolved) and obj.why and "Shared" in obj.dotted:
        raise fl.error(node, obj.why, "write rc.Shared[Array[f32, 256]]: an array of "
                                      "scalars the lanes share")
    if isinstance(obj, SharedArray):
        return _shared(fl, node, obj, name)
    t = fl.ctx.builder.value_type(obj)
    if t is None:
        raise fl.error(node, f"'{ast.unparse(node)}' is not a ringc type",
                       names.unknown_vector_hint(names.dotted_name(node) or "") or
                       "use a scalar type (i32, f32, ...), a vector (rc.f32x4, ...), "
                       "a message class or rc.Address")
    return t


def _shared(fl, node: ast.AST, obj: SharedArray, name: str | None) -> ArrayType:
    """A local `rc.Shared[Array[...]]`: only in a cooperative kernel's functions."""
    kernel = fl.ctx.kernel
    if kernel is None or kernel.options.concurrency != "cooperative":
        where = "an @rc.device function" if kernel is None else \
            f"kernel '{kernel.name}', which is concurrency='{kernel.options.concurrency}'"
        raise fl.error(node, f"a shared array ({obj}) is only for a cooperative "
                             f"kernel, not {where}",
                       "give the kernel concurrency='cooperative' (lanes share the "
                       "array), or use a plain local Array[...]")
    if name is not None:
        fl.shared_names.add(name)
    fl.ctx.builder.add_records(obj.array)
    return obj.array


def assigned_later(fl, name: str) -> bool:
    """Whether `name` is assigned somewhere in the body: a local not typed yet."""
    return any(n == name for n, _, _ in _assignments(fl, fl.node.body))


def iterated(t: ContainerType):
    """What `for x in c:` takes from container `t`: a map's keys, a queue's or stack's items."""
    return t.key if t.key is not None else t.item
