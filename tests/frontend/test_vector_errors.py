"""Vectors and math.fma (docs/language.md, "Vectors"): every misuse is one CompileError at
file:line:col with the line, a caret and a hint, nothing of the frontend's stack in it."""

from __future__ import annotations

import textwrap

import pytest

from ringc.errors import CompileError
from ringc.frontend import build_program
from tests.conftest import PRELUDE_LINES

MSGS = """
@rc.message
class In:
    a: i32
    x: f32
    d: f64
    v: f32x4
    w: f32x2
    i: i32x4
    arr: Array[f32, 8]
    ints: Array[i32, 8]
    short: Array[f32, 2]
"""
MSG_LINES = MSGS.count("\n")


def handler_error(user_kernels, body: str, state: str = "n: i32") -> CompileError:
    lines = textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8)
    with pytest.raises(CompileError) as info:
        build_program(user_kernels(MSGS + f"""
@rc.ring_kernel
class K:
    {state}

    def on_in(self, m: In):
{lines}
"""))
    return info.value


def assert_well_formed(err: CompileError) -> None:
    """As tests/frontend/test_errors.py: located, the line and a caret, no frontend frame."""
    text = str(err)
    assert text.splitlines()[0].startswith(f"{err.file}:{err.line}:{err.col}: error: ")
    assert "^" in text.splitlines()[2]
    assert "Traceback" not in text and "ringc/frontend" not in text and "calls.py" not in text


def where(err: CompileError) -> tuple[int, int]:
    """(line within the handler body, column) of an error raised by handler_error."""
    return err.line - PRELUDE_LINES - MSG_LINES - 6, err.col - 8


@pytest.mark.parametrize("body, message, hint, line, col", [
    # a vector type ringc does not have: say which exist
    ("v = rc.f64x4(1.0, 2.0, 3.0, 4.0)", "'rc.f64x4' is not defined",
     "the vector types are f32x2, f32x4, i32x4, u32x4", 1, 5),
    ("v: rc.i32x2 = m.i", "'rc.i32x2' is not a ringc type",
     "the vector types are f32x2, f32x4, i32x4, u32x4", 1, 4),
    # components a vector lacks
    ("x = m.w.z", "a f32x2 has no component 'z'", ".x .y", 1, 5),
    ("m.w.w = 1.0", "a f32x2 has no component 'w'", ".x .y", 1, 1),
    ("x = m.v.q", "a f32x4 has no component 'q'", ".x .y .z .w", 1, 5),
    # mixing vector types, or a vector with a scalar of another type
    ("v = m.v + m.i", "'+' mixes f32x4 and i32x4", "convert the lanes", 1, 5),
    ("v = m.v * m.w", "'*' mixes f32x4 and f32x2", "convert the lanes", 1, 5),
    ("v = m.v * m.d", "'*' mixes f32x4 with a f64", "f32(x)", 1, 5),
    ("v = m.i * 0.5", "float literal 0.5 where i32 is needed", "cast", 1, 5),
    # operators vectors lack
    ("v = m.v // m.v", "'//' is not defined on vectors", "+ - *", 1, 5),
    ("v = m.i / m.i", "integer vectors have + - * only", "f32x4", 1, 5),
    ("b = m.v == m.v", "a f32x4 cannot be compared", "v.x == w.x", 1, 5),
    ("if m.v:\n    pass", "a f32x4 has no truth value", "compare", 1, 4),
    # construction
    ("v = rc.f32x4(1.0, 2.0)", "rc.f32x4 takes 4 values or one", "rc.f32x4(x, y, z, w)",
     1, 5),
    ("v: f32x4 = 1.0", "a number cannot be stored in local 'v' of type f32x4",
     "rc.f32x4(1.0)", 1, 12),
    # loads and stores with a constant index that can never fit
    ("v = rc.f32x4.load(m.arr, 5)", "elements 5..8 are out of range for f32[8]",
     "i is 0..4", 1, 26),
    ("m.v.store(m.arr, -1)", "elements -1..2 are out of range", "i is 0..4", 1, 18),
    ("v = rc.f32x4.load(m.short, 0)", "f32[2] is shorter than a f32x4", "at least 4",
     1, 19),
    ("v = rc.f32x4.load(m.ints, 0)", "not a i32[8]", "rc.f32x4.load(a, i)", 1, 19),
    ("v = rc.f32x4.fetch(m.arr, 0)", "rc.f32x4 has no 'fetch'", "v.store(a, i)", 1, 5),
    ("x = m.v.store(m.arr, 0)", "is a statement: it returns nothing", "own", 1, 5),
    ("rc.f32x4(1.0).x = 2.0", "computed on the spot", "v.x = 1.0", 1, 1),
    # dot and fma
    ("x = rc.dot(m.v, m.w)", "rc.dot takes two vectors of one type", "f32x4", 1, 5),
    ("x = math.fma(m.x, m.x)", "fma() takes 3 arguments", None, 1, 5),
    ("x = math.fma(m.v, m.v, m.v)", "fma() cannot take a f32x4", None, 1, 14),
])
def test_vector_and_fma_errors(user_kernels, body, message, hint, line, col):
    err = handler_error(user_kernels, body)
    assert message in err.message, err.message
    if hint is not None:
        assert hint in (err.hint or ""), err.hint
    assert where(err) == (line, col)
    assert_well_formed(err)


def test_state_of_an_unknown_vector_type_names_the_ones_there_are(user_kernels):
    """Python evaluates a class's annotations on import: the error is located there."""
    err = handler_error(user_kernels, "pass", state="v: rc.f64x4")
    assert "the vector types are f32x2, f32x4, i32x4, u32x4" in err.message
    assert_well_formed(err)


def test_a_vector_state_has_no_default_and_arrays_hold_no_vectors(user_kernels):
    err = handler_error(user_kernels, "pass", state="v: f32x4 = 1.0")
    assert "cannot have a default" in err.message
    assert_well_formed(err)
    err = handler_error(user_kernels, "pass", state="vs: Array[f32x4, 4]")
    assert "an Array cannot hold vectors (f32x4)" in err.message
    assert "rc.f32x4.load(a, i)" in err.message
    assert_well_formed(err)


def test_ringc_names_the_vector_types_there_are():
    import ringc as rc
    with pytest.raises(AttributeError, match="the vector types are f32x2, f32x4, i32x4"):
        rc.f64x4  # noqa: B018
