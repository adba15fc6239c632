"""Lowering faults: `try: ... except rc.Fault as f:` (`lower_try`), `raise rc.Fault("reason")`
and a bare `raise` (`lower_raise`), and the test of a caught fault's reason,
`f.reason == "literal"` (`fault_reason_test`).

Limits: a try has one except block, and it catches rc.Fault (every fault) under a name that
is not a local; only `rc.Fault("reason")` is raised, its reason a non-empty string literal,
and a bare raise stands only in an except block; a fault's reason is compared (== or !=)
with a non-empty string literal only, inside the except block that caught it; no return
in a finally block, nor in a try statement that has one; no break or continue out of a
finally block (refused where they are lowered, `FunctionLowering.check_jump`).
"""

from __future__ import annotations

import ast

from ..intrinsics import Fault
from ..ir import nodes as ir
from ..ir.types import BOOL
from . import names


def lower_try(fl, node: ast.Try) -> ir.Stmt:
    if len(node.handlers) > 1:
        raise fl.error(node.handlers[1], "a try has one except block: except rc.Fault "
                       "catches every fault", "tell faults apart inside it: "
                       'if f.reason == "timeout": ...')
    handler = node.handlers[0] if node.handlers else None
    if handler is not None:
        _check_fault_class(fl, handler)
    _check_finally(fl, node)
    body = fl.block(node.body)
    caught = None
    if handler is not None:
        fl.caught.append(handler.name)
        caught = fl.block(handler.body)
        fl.caught.pop()
    orelse = fl.block(node.orelse)
    loops, fl.loop_depth = fl.loop_depth, 0     # a finally cannot jump out
    final = fl.block(node.finalbody)
    fl.loop_depth = loops
    return ir.Try(body, handler.name if handler else None, caught, orelse, final,
                  fl.loc(node))


def _check_fault_class(fl, handler: ast.ExceptHandler) -> None:
    """The except clause names rc.Fault, and its `as` name is not a local."""
    example = "except rc.Fault as f:"
    if handler.type is None:
        raise fl.error(handler, "a bare except: name what it catches", example)
    if names.resolve(handler.type, fl.ctx.globals) is not Fault:
        raise fl.error(handler.type, f"except {ast.unparse(handler.type)}: only rc.Fault "
                                     "can be caught in a ring kernel",
                       f"device faults are rc.Fault: {example}")
    if handler.name is not None and handler.name in fl.locals:
        raise fl.error(handler, f"'{handler.name}' is already a local: give the fault "
                                "another name", "except rc.Fault as fault:")


def _check_finally(fl, node: ast.Try) -> None:
    """No return from a finally block, and (not supported) none from a try statement
    that has one. (A break or continue out of a finally is refused where it is lowered:
    `FunctionLowering.check_jump`.)"""
    if not node.finalbody:
        return
    for stmt in node.finalbody:
        for inner in ast.walk(stmt):
            if isinstance(inner, ast.Return):
                raise fl.error(inner, "return in a finally block",
                               "return after the try statement")
    for part in (node.body, node.orelse, *(h.body for h in node.handlers)):
        for stmt in part:
            for inner in ast.walk(stmt):
                if isinstance(inner, ast.Return):
                    raise fl.error(inner, "return inside a try statement that has a "
                                   "finally block is not supported",
                                   "set a local, and return after the try statement")


def lower_raise(fl, node: ast.Raise) -> ir.Stmt:
    if node.exc is None:
        if not fl.caught:
            raise fl.error(node, "a bare raise outside an except block",
                           'raise rc.Fault("reason") to fault here')
        return ir.Raise(fl.loc(node))
    exc = node.exc
    if node.cause is not None or not (
            isinstance(exc, ast.Call)
            and names.resolve(exc.func, fl.ctx.globals) is Fault):
        raise fl.error(exc, "only rc.Fault(\"reason\") can be raised in a ring kernel",
                       'raise rc.Fault("timeout")')
    reason = exc.args[0] if len(exc.args) == 1 and not exc.keywords else None
    if not (isinstance(reason, ast.Constant) and isinstance(reason.value, str)
            and reason.value):
        raise fl.error(exc, "rc.Fault takes one non-empty string literal reason",
                       'raise rc.Fault("timeout")')
    return ir.Fail(reason.value, fl.loc(node))


def fault_reason_test(fl, node: ast.Compare):
    """`f.reason == "literal"` (or `!=`) for a caught fault `f`, else None."""
    if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
        return None
    sides = (node.left, node.comparators[0])
    for attr, other in (sides, sides[::-1]):
        if (isinstance(attr, ast.Attribute) and attr.attr == "reason"
                and isinstance(attr.value, ast.Name) and attr.value.id not in fl.locals
                and attr.value.id in fl.fault_names):
            name = attr.value.id
            if not (isinstance(other, ast.Constant) and isinstance(other.value, str)
                    and other.value):
                raise fl.error(other, f"{name}.reason is compared with a string literal",
                               f'{name}.reason == "timeout"')
            if name not in fl.caught and not fl.probing:
                raise fl.error(attr, f"'{name}' is only known inside the except block "
                                     "that catches it", f"except rc.Fault as {name}:")
            test = ir.FaultIs(name, other.value, BOOL)
            return test if isinstance(node.ops[0], ast.Eq) else ir.Unary("not", test, BOOL)
    return None
