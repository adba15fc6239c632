"""`Dispatch`, the one way passes handle IR nodes by kind, and the IR passes built on it:
each handles every node kind, and an unknown kind is one clear error, never skipped."""

from __future__ import annotations

import pytest

from ringc.ir import printer as rir_printer
from ringc.ir import walk as ir_walk
from ringc.ir.dispatch import Dispatch, UnhandledNode
from ringc.ir.nodes import (
    EXPR_KINDS,
    STMT_KINDS,
    Break,
    Const,
    For,
    FunctionDef,
    Local,
    LocalDef,
    Param,
)
from ringc.ir.types import I32, I64, Loc
from ringc.ir.verify_bodies import FunctionChecker
from ringc.ir.walk import function_locals

LOC = Loc("d.py", 1, 1)


class _Pass:
    kind = Dispatch()

    def __init__(self, label: str):
        self.label = label

    @kind.on(Const)
    def constant(self, e: Const, suffix: str) -> str:
        return f"{self.label}:{e.value}{suffix}"

    @kind.on(Local, Break)
    def named(self, e, suffix: str) -> str:
        return f"{self.label}:{type(e).__name__}{suffix}"


def test_a_class_attribute_calls_handlers_as_methods_of_the_instance():
    assert _Pass("a").kind(Const(3, I32), "!") == "a:3!"
    assert _Pass("b").kind(Break(LOC), "?") == "b:Break?"
    assert _Pass.kind.kinds == {Const, Local, Break}


def test_an_unhandled_kind_raises_naming_the_pass_and_the_kind():
    with pytest.raises(UnhandledNode, match=r"^_Pass\.kind has no handler for For: ") as info:
        _Pass("a").kind(For("i", Const(0, I32), Const(1, I32), 1, (), LOC), "")
    assert isinstance(info.value, TypeError) and isinstance(info.value.node, For)


def test_module_level_dispatch_calls_functions_and_otherwise_takes_the_rest():
    describe = Dispatch("describe")

    @describe.on(Const)
    def _(e: Const) -> str:
        return "const"

    with pytest.raises(UnhandledNode, match="^describe has no handler for str"):
        describe("x")

    @describe.otherwise
    def _(e: object) -> str:
        return "other"

    assert (describe(Const(1, I32)), describe("x")) == ("const", "other")


def test_a_kind_cannot_have_two_handlers():
    twice = Dispatch("twice")
    twice.on(Const)(lambda e: 1)
    with pytest.raises(ValueError, match="two handlers for Const"):
        twice.on(Local, Const)(lambda e: 2)


@pytest.mark.parametrize(("dispatch", "kinds"), [
    (ir_walk._operands, EXPR_KINDS),
    (ir_walk._parts, STMT_KINDS),
    (rir_printer._expr, EXPR_KINDS),
    (FunctionChecker.expr, EXPR_KINDS),
    (FunctionChecker.stmt, STMT_KINDS),
], ids=lambda x: getattr(x, "name", ""))
def test_ir_passes_handle_every_node_kind(dispatch, kinds):
    assert dispatch.kinds == set(kinds)


def test_the_rir_printer_handles_every_statement_kind():
    assert rir_printer._statement.kinds | rir_printer._line.kinds == set(STMT_KINDS)


def test_function_locals_are_declared_then_undeclared_ones_in_source_order():
    loop = For("j", Const(0, I64), Const(2, I64), 1, (), LOC)
    body = (loop, Break(LOC))
    fn = FunctionDef("f", (Param("p", I32),), None, (LocalDef("x", I32),), body, LOC)
    assert function_locals(fn) == {"x": I32, "j": I64}
    uses_param = FunctionDef("g", (Param("p", I32),), None, (), (
        For("p", Local("p", I32), Const(2, I32), 1, (), LOC),), LOC)
    assert function_locals(uses_param) == {}
