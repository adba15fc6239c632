"""The C-family printer: identifier mangling, constants, and how expressions and statements
are spelled for each dialect."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from ringc.codegen import dialect_for, generate
from ringc.codegen.dialect import CFamilyDialect
from ringc.codegen.identifiers import RESERVED, Names, mangle
from ringc.codegen.layout import compute_layout
from ringc.codegen.printer import FunctionPrinter, ProgramPrinter
from ringc.errors import CompileError
from ringc.ir.nodes import EXPR_KINDS, STMT_KINDS, Program

from .irbuild import (
    BOOL,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U32,
    U64,
    and_,
    assign,
    bin_,
    c,
    cast,
    cmp,
    function,
    handler,
    hcall,
    idx,
    intr,
    kernel,
    lv,
    mcall,
    message,
    new,
    ret,
    sel,
    st,
    un,
    while_,
)

ROOT = Path(__file__).resolve().parents[2]


# ---- identifiers ----------------------------------------------------------------------

def test_mangle_appends_an_underscore_to_reserved_and_prefixed_names():
    for name in ("switch", "device", "kernel", "float4", "int", "thread", "private", "half",
                 "constant", "global", "local", "uchar", "sqrt", "min", "atomic_add", "barrier",
                 "threadIdx", "NAN", "FLT_MAX", "M_PI", "rc_x", "RC_Y", "__z", "x_", "ulong16"):
        assert mangle(name) == name + "_", name
    for name in ("x", "total", "Summer", "on_work", "Rc_x", "rcx", "_private", "i"):
        assert mangle(name) == name


def test_mangle_is_injective_and_disjoint_from_generated_names():
    pool = ["x", "x_", "x__", "switch", "switch_", "switch__", "rc_a", "rc_a_", "rc_", "rc",
            "FOO", "FOO_", "Foo", "café", "u636166c3a9", "u636166c3a9_", "__", "___", "_",
            "half", "half_", "int", "int_", "thread", "rc_t1", "rc_ctx", "rc_self", "a_b"]
    pool += ["".join(p) for p in itertools.product("ar_c", repeat=4)
             if re.fullmatch(r"[A-Za-z_]\w*", "".join(p))]
    mangled = [mangle(n) for n in pool]
    assert len(set(mangled)) == len(set(pool))
    for out in mangled:
        assert re.fullmatch(r"[A-Za-z_]\w*", out) and out not in RESERVED
        # generated identifiers start with rc_/RC_ and never end with "_"
        assert not (out.startswith(("rc_", "RC_")) and not out.endswith("_"))


def test_names_are_unique_even_when_parts_contain_underscores():
    names = Names()
    a, b = names("fn", "A_b", "c"), names("fn", "A", "b_c")
    assert a == "rc_fn_A_b_c" and b == "rc_fn_A_b_c_2"
    assert names("fn", "A_b", "c") == a
    assert names("msg", "X_") == "rc_msg_X_x" and not names("msg", "ü").endswith("_")
    assert len(names.all()) == 4


# ---- constants ------------------------------------------------------------------------

def printer(target="opencl", program=None):
    program = program or Program((message("M", 1, x=I32),), (), ())
    return ProgramPrinter(dialect_for(target), program, compute_layout(program), Names(), {})


@pytest.mark.parametrize("value,t,text", [
    (0, I32, "0"), (-5, I32, "(-5)"), (-2**31, I32, "((int)(-2147483647 - 1))"),
    (2**32 - 1, U32, "4294967295u"), (-2**63, I64, "((long)(-9223372036854775807L - 1))"),
    (2**64 - 1, U64, "18446744073709551615UL"), (200, U8, "((uchar)200)"),
    (-3, I8, "((char)(-3))"), (True, BOOL, "true"), (0.1, F32, "0.1f"), (-0.0, F32, "(-0.0f)"),
    (1e-45, F32, "1e-45f"), (3.0, F64, "3.0"), (0.1, F64, "0.1"),
    (float("inf"), F32, "INFINITY"), (float("-inf"), F64, "(-((double)INFINITY))"),
    (float("nan"), F32, "NAN"), (1e300, F64, "1e+300")])
def test_constants_opencl(value, t, text):
    assert printer().const(value, t) == text


def test_constants_cuda_and_metal():
    cuda, metal = printer("cuda"), printer("metal")
    assert cuda.const(-2**63, I64) == "((long long)(-9223372036854775807LL - 1))"
    assert cuda.const(2**64 - 1, U64) == "18446744073709551615ULL"
    assert cuda.const(float("inf"), F32) == "__int_as_float(0x7f800000)"
    assert cuda.const(float("nan"), F64) == "__longlong_as_double(0x7ff8000000000000LL)"
    assert metal.const(float("nan"), F32) == "NAN"


def test_f32_constants_round_trip():
    import numpy as np
    p = printer()
    for v in np.random.default_rng(0).standard_normal(200).astype(np.float32):
        text = p.const(float(v), F32).strip("()")
        assert np.float32(float(text.rstrip("f"))) == v


# ---- expressions and statements -------------------------------------------------------

def body_of(target: str, fn, program=None, kernel_=None) -> str:
    program = program or Program((message("M", 1, x=I32),), (), ())
    p = printer(target, program)
    return p.function(fn, kernel_, handler=False)


def expr_text(target: str, expr, **locals_) -> str:
    """The C text of `return expr` in a device function with the given locals."""
    fn = function("f", {n: t for n, t in locals_.items()}, expr.type, [ret(expr)])
    text = body_of(target, fn)
    return re.search(r"return (.*);\n}", text).group(1)


@pytest.mark.parametrize("target,t,want", [
    ("opencl", I32, "((int)((uint)a + (uint)b))"),
    ("opencl", I8, "((char)(uchar)((uint)a + (uint)b))"),
    ("opencl", U32, "(a + b)"),
    ("opencl", I64, "((long)((ulong)a + (ulong)b))"),
    ("cuda", I64, "((long long)((ulong)a + (ulong)b))"),
    ("cuda", F32, "__fadd_rn(a, b)"), ("cuda", F64, "__dadd_rn(a, b)"),
    ("opencl", F32, "(a + b)"), ("metal", F32, "(a + b)")])
def test_addition_wraps_and_rounds_per_target(target, t, want):
    a, b = lv("a", t), lv("b", t)
    assert expr_text(target, bin_("add", a, b), a=t, b=t) == want


def test_operators_and_casts():
    a, b, x = lv("a", I16), lv("b", I16), lv("x", F32)
    assert expr_text("opencl", un("neg", a), a=I16) == "((short)(ushort)((uint)0 - (uint)a))"
    assert expr_text("opencl", un("invert", a), a=I16) == "((short)(~a))"
    assert expr_text("opencl", bin_("bitxor", a, b), a=I16, b=I16) == "((short)(a ^ b))"
    assert expr_text("opencl", bin_("shl", a, b), a=I16, b=I16) == "rc_shl_i16(a, b)"
    assert expr_text("opencl", bin_("floordiv", a, b), a=I16, b=I16) == (
        "rc_floordiv_i16(rc_ctx, a, b)")
    assert expr_text("opencl", cast(x, I32), x=F32) == "rc_cast_f32_i32(x)"
    assert expr_text("opencl", cast(lv("n", I64), I8), n=I64) == "((char)(uchar)n)"
    assert expr_text("opencl", cast(lv("n", I64), BOOL), n=I64) == "(n != 0)"
    assert expr_text("opencl", cast(a, F64), a=I16) == "((double)a)"
    assert expr_text("metal", mcall("sqrt", x), x=F32) == "precise::sqrt(x)"
    assert expr_text("cuda", mcall("sqrt", x), x=F32) == "__fsqrt_rn(x)"
    assert expr_text("cuda", mcall("exp", x), x=F32) == "expf(x)"
    assert expr_text("opencl", mcall("isnan", x), x=F32) == "(isnan(x) != 0)"
    assert expr_text("opencl", mcall("min", a, b, a), a=I16, b=I16) == (
        "rc_min_i16(rc_min_i16(a, b), a)")
    assert expr_text("opencl", sel(cmp("lt", a, b), a, b), a=I16, b=I16) == (
        "((a < b) ? a : b)")
    flag = lv("f", BOOL)
    assert expr_text("opencl", and_(flag, un("not", flag)), f=BOOL) == "(f && (!f))"


def test_fast_math_uses_plain_operators():
    x = lv("x", F32)
    h = handler("on_m", "m", "M", [assign(st("s", F32), bin_("mul", x, x))], x=F32)
    program = Program((message("M", 1, x=I32),),
                      (kernel("K", state=[("s", F32, None)], handlers=[h], fast_math=True),), ())
    source = generate(program, "cuda").source
    assert "rc_self->s = (x * x);" in source
    precise = Program(program.messages, (kernel("K", state=[("s", F32, None)], handlers=[h]),),
                      ())
    assert "rc_self->s = __fmul_rn(x, x);" in generate(precise, "cuda").source


def order_program():
    s = st("s", I32)
    bump = function("bump", {"n": I32}, I32, [
        assign(s, bin_("add", s, lv("n", I32))), ret(s)])
    arr_ = st("t", __import__("ringc.ir.types", fromlist=["ArrayType"]).ArrayType(I32, 4))
    h = handler("on_m", "m", "M", [
        assign(lv("a", I32), bin_("add", hcall("bump", [c(1)], I32),
                                  hcall("bump", [c(2)], I32))),
        assign(lv("b", I32), bin_("add", s, hcall("bump", [c(3)], I32))),
        assign(idx(arr_, lv("a", I32)), lv("b", I32)),
        assign(lv("z", I32), intr("atomic_add", idx(arr_, lv("b", I32)),
                                  hcall("bump", [c(4)], I32))),
        while_(cmp("lt", bin_("floordiv", lv("a", I32), lv("b", I32)), c(3)), [
            assign(lv("a", I32), bin_("add", lv("a", I32), c(1)))])],
        a=I32, b=I32, z=I32)
    k = kernel("K", state=[("s", I32, None), ("t", arr_.type, None)], handlers=[h],
               helpers=[bump])
    return Program((message("M", 1, x=I32),), (k,), ())


def test_operands_with_effects_are_evaluated_in_python_order():
    source = generate(order_program(), "opencl").source
    body = source[source.index("void rc_fn_K_on_m("):]
    body = body[:body.index("\n}\n")]
    # a call is sequenced before a later call, and a state read before a later call
    assert "a = (rc_t1 = rc_fn_K_bump(rc_ctx, rc_self, 1), (rc_t1 + " in body.replace(
        "((int)((uint)", "(").replace("(uint)", "").replace("))", ")")
    assert re.search(r"b = \(rc_t\d+ = rc_self->s, ", body)
    # a store whose index can fault checks the fault before storing
    assert re.search(r"ulong rc_t\d+ = rc_idx\(rc_ctx, \(ulong\)a, 4u\);\n\s+"
                     r"if \(rc_ctx->fault\) return;\n\s+rc_self->t\[rc_t\d+\] = b;", body)
    # the atomic's element index is evaluated before the call in its second argument
    assert re.search(r"z = \(rc_t\d+ = rc_idx\(rc_ctx, \(ulong\)b, 4u\), "
                     r"rc_atomic_add_i32\(rc_ctx, &rc_self->t\[rc_t\d+\], ", body)
    # a condition that can fault is evaluated inside the loop, then checked
    assert re.search(r"while \(1\) \{\n\s+bool rc_t\d+ = \(rc_floordiv_i32", body)
    generate(order_program(), "cuda")


def test_messages_are_built_zeroed_then_assigned():
    m = new("M", x=c(3))
    fn = function("f", {}, None, [assign(lv("v", m.type), m)], v=m.type)
    text = body_of("opencl", fn)
    assert "rc_msg_M rc_m1 = {0};" in text and "v = (rc_m1.x = 3, rc_m1);" in text
    assert "rc_msg_M rc_m1 = {};" in body_of("metal", fn)


def test_unsupported_constructs_raise_with_the_statement_loc():
    a = lv("a", F64)
    fn = function("f", {"a": F64}, F64, [ret(bin_("add", a, a))])
    with pytest.raises(CompileError, match="Metal has no f64") as err:
        body_of("metal", fn)
    assert err.value.loc == fn.body[0].loc
    h = handler("on_m", "m", "M", [assign(lv("z", I64), intr("atomic_add", st("n", I64),
                                                               c(1, I64)))], z=I64)
    program = Program((message("M", 1, x=I32),),
                      (kernel("K", state=[("n", I64, None)], handlers=[h]),), ())
    with pytest.raises(CompileError, match="metal has no 64-bit atomic add") as err:
        generate(program, "metal")
    assert err.value.loc == h.body[0].loc
    generate(program, "opencl")
    small = Program(program.messages, (kernel("K", state=[("n", I16, None)], handlers=[
        handler("on_m", "m", "M", [assign(lv("z", I16), intr("atomic_add", st("n", I16),
                                                              c(1, I16)))], z=I16)]),), ())
    with pytest.raises(CompileError, match="32- or 64-bit"):
        generate(small, "cuda")


def test_every_dialect_field_is_read():
    """A dialect is data: each of its fields is used by the printer, the helper builders,
    the dialect's own `atomic()` or the templates."""
    used = "".join((ROOT / "ringc" / "codegen" / name).read_text()
                   for name in ("printer.py", "helpers.py", "dialect.py", "__init__.py"))
    used += "".join(p.read_text() for folder in ("templates", "backends")
                    for p in (ROOT / folder).rglob("*.j2"))
    fields = [name for name, value in vars(CFamilyDialect).items()
              if not name.startswith("_") and not callable(value)]
    assert len(fields) > 25
    for name in fields:
        assert re.search(rf"\b(?:d|dialect|self\.d|self)\.{name}\b", used), name


@pytest.mark.parametrize("target", ["opencl", "cuda", "metal"])
def test_dialects_only_override_spelling(target):
    dialect = dialect_for(target)
    assert isinstance(dialect, CFamilyDialect) and dialect.target == target
    overridden = {n for n in vars(type(dialect)) if not n.startswith("_")}
    assert overridden <= set(vars(CFamilyDialect))


def test_the_printer_handles_every_node_kind():
    assert FunctionPrinter.statement.kinds == set(STMT_KINDS)
    assert FunctionPrinter.spelled.kinds == set(EXPR_KINDS)
