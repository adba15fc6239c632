"""The simulator's compiler from IR to closures handles every node kind."""

from __future__ import annotations

from ringc.backends.sim.interpreter import _Compiler
from ringc.ir.nodes import EXPR_KINDS, STMT_KINDS


def test_the_interpreter_compiles_every_node_kind():
    assert _Compiler.stmt.kinds == set(STMT_KINDS)
    assert _Compiler.expr.kinds == set(EXPR_KINDS)
