"""Textual IR: print_program and parse_program round-trip, the text is readable, and
malformed text raises RirSyntaxError at the right line and column."""

from __future__ import annotations

import ast
import math
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

import ringc.ir.nodes as nodes
from ringc.ir import (
    Assign,
    Binary,
    Break,
    Call,
    Const,
    Continue,
    ExprStmt,
    Fail,
    FieldDef,
    For,
    FunctionDef,
    HelperCall,
    If,
    Index,
    KernelDef,
    KernelOptions,
    Local,
    LocalDef,
    Member,
    MessageDef,
    MessageNew,
    Param,
    Program,
    Return,
    RirSyntaxError,
    State,
    StateDef,
    While,
    parse_program,
    print_program,
    verify,
)
from ringc.ir.types import F32, F64, I32, I64, ArrayType, Loc, MessageType

from .strategies import node_kinds, programs

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def round_trip(program: Program) -> Program:
    text = print_program(program)
    back = parse_program(text)
    assert back == program
    assert print_program(back) == text  # bit-exact: -0.0, NaN payloads, True vs 1
    return back


# ---------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------

@SETTINGS
@given(programs())
def test_generated_programs_round_trip(program: Program):
    round_trip(program)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")   # of the program found
def test_generated_programs_use_every_node_kind():
    """Every node kind is drawn: most in one batch of programs; a rare one (a Raise needs
    a try, a Periodic a helper without parameters) is searched for by itself, so the test
    does not depend on how a Hypothesis release happens to spread its draws."""
    expected = {name for name in nodes.__all__
                if isinstance(getattr(nodes, name), type) and getattr(nodes, name).__module__
                == nodes.__name__}
    seen: set[str] = set()
    quiet = dict(deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))

    @settings(max_examples=150, **quiet)
    @given(programs())
    def collect(program: Program):
        seen.update(node_kinds(program))

    collect()
    for kind in sorted(expected - seen):
        try:
            # the first program found will do: shrinking one took minutes
            found = find(programs(), lambda p, kind=kind: kind in node_kinds(p),
                         settings=settings(max_examples=2000, phases=[Phase.generate],
                                           **quiet))
        except NoSuchExample:
            continue
        seen.update(node_kinds(found))
    assert expected - seen == set()


F = "k.py"
WORK_T, SUM_T = MessageType("Work"), MessageType("Sum")
F32x4 = ArrayType(F32, 4)
m, s, i = Local("m", WORK_T), Local("s", F32), Local("i", I32)
processed = State("processed", I64)
SUMMER = Program(
    messages=(
        MessageDef("Work", 1, (FieldDef("id", I32), FieldDef("data", F32x4),
                               FieldDef("ts", I64)), Loc(F, 5, 1)),
        MessageDef("Sum", 2, (FieldDef("id", I32), FieldDef("value", F32)), Loc(F, 11, 1)),
    ),
    kernels=(KernelDef("Summer", KernelOptions(), (StateDef("processed", I64, None),), (
        FunctionDef("on_work", (Param("m", WORK_T),), SUM_T,
                    (LocalDef("s", F32), LocalDef("i", I32)), (
            Assign(processed, Binary("add", processed, Const(1, I64), I64), Loc(F, 19, 9)),
            Assign(s, Const(0.0, F32), Loc(F, 20, 9)),
            For("i", Const(0, I32), Const(4, I32), 1, (
                Assign(s, Binary("add", s, Index(Member(m, "data", F32x4), i, F32), F32),
                       Loc(F, 22, 13)),), Loc(F, 21, 9)),
            Return(MessageNew("Sum", (("id", Member(m, "id", I32)), ("value", s)), SUM_T),
                   Loc(F, 23, 9)),
        ), Loc(F, 18, 5)),), (), Loc(F, 15, 1)),),
    functions=(),
)
SUMMER_TEXT = [
    'message Work #1 @"k.py":5:1 {',
    "  id: i32",
    "  data: f32[4]",
    "  ts: i64",
    "}",
    "",
    'message Sum #2 @"k.py":11:1 {',
    "  id: i32",
    "  value: f32",
    "}",
    "",
    'kernel Summer @"k.py":15:1 {',
    "  options { mode=persistent capacity=1024 instances=1 concurrency=ordered "
    "backpressure=block max_batch=32 domain=general targets=all "
    "bounds_check=true fast_math=false timers=256 }",
    "  state processed: i64",
    '  handler on_work(m: Work) -> Sum @"k.py":18:5 {',
    "    local s: f32",
    "    local i: i32",
    "    assign (state processed:i64) = (add:i64 (state processed:i64) (const 1:i64)) "
    '@"k.py":19:9',
    '    assign (local s:f32) = (const 0.0:f32) @"k.py":20:9',
    '    for i in range((const 0:i32), (const 4:i32), 1) @"k.py":21:9 {',
    "      assign (local s:f32) = (add:f32 (local s:f32) (index:f32 (member data:f32[4] "
    '(local m:Work)) (local i:i32))) @"k.py":22:13',
    "    }",
    "    return (new Sum id=(member id:i32 (local m:Work)) value=(local s:f32)) "
    '@"k.py":23:9',
    "  }",
    "}",
    "",
]


def test_printed_text_is_the_documented_syntax():
    verify(SUMMER)
    assert print_program(SUMMER).split("\n") == SUMMER_TEXT
    round_trip(SUMMER)


HAND_WRITTEN = r"""
// Comments and free spacing are allowed; `local`, `state`, `in` and `true` are names here.
message Ping #1 @"p.py":1:1 { state: i32  local: address  in: u8[2] }
message "i32" #2 @"p.py":4:1 { true: bool }

kernel kernel @"p.py":8:1 {
  options { mode=event_driven capacity=8 instances=2 concurrency=ordered
            backpressure=reject max_batch=4 domain=actor targets=[opencl] bounds_check=false
            fast_math=true }
  state switch: f64[2] = [-0.0, inf]
  state float4: bool = false
  handler on_ping(local: Ping) -> "i32" @"p.py":12:5 {
    local in: i32
    for in in range((member state:i32 (local local:Ping)), (const -3:i32), -1) @"p.py":13:9 {
      if (eq:bool (local in:i32) (const 0:i32)) @"p.py":14:13 { break @"p.py":14:27 }
      else { if (const true:bool) @"p.py":15:13 { continue @"p.py":15:20 } }
    }
    while (state float4:bool) @"p.py":16:9 { eval (call self.helper) @"p.py":17:13 }
    assign (state float4:bool) =
        (call device:bool (index:f64 (state switch:f64[2]) (local in:i32))) @"p.py":18:9
    return (new "i32" true=(const false:bool)) @"p.py":19:9
  }
  helper helper() @"p.py":21:5 { return @"p.py":22:9 }
}

device device(x: f64) -> bool @"p.py":25:1 {
  fail "no \"device\" here\n" @"p.py":26:5
}
"""


def test_hand_written_text_parses_verifies_and_round_trips():
    program = parse_program(HAND_WRITTEN, "hand.rir")
    verify(program)
    round_trip(program)
    ping, i32_msg = program.messages
    assert [f.name for f in ping.fields] == ["state", "local", "in"]
    assert i32_msg.name == "i32" and program.kernels[0].name == "kernel"
    kernel = program.kernels[0]
    assert kernel.options == KernelOptions("event_driven", 8, 2, "ordered", "reject", 4,
                                           "actor", ("opencl",), False, True)
    assert kernel.state[0].init == (-0.0, math.inf)
    assert math.copysign(1.0, kernel.state[0].init[0]) == -1.0
    handler = kernel.handlers[0]
    assert handler.returns == MessageType("i32")
    loop = handler.body[0]
    assert isinstance(loop, For) and loop.var == "in" and loop.step == -1
    branch = loop.body[0]
    assert isinstance(branch, If) and isinstance(branch.then[0], Break)
    assert isinstance(branch.orelse[0], If) and isinstance(branch.orelse[0].then[0], Continue)
    assert isinstance(handler.body[1], While)
    assert handler.body[1].body == (ExprStmt(HelperCall("helper", (), None), Loc("p.py", 17, 13)),)
    assert program.functions[0].body == (Fail('no "device" here\n', Loc("p.py", 26, 5)),)


def test_empty_program():
    assert print_program(Program((), (), ())) == ""
    assert parse_program("") == Program((), (), ())
    assert parse_program("  // nothing\n") == Program((), (), ())


def test_message_named_like_a_builtin_type_is_quoted_where_a_type_is_read():
    program = parse_program('message "address" #1 @"f":1:1 { }\n'
                            'device f(a: address, b: "address") @"f":2:1 { }\n')
    params = program.functions[0].params
    assert params[0].type != params[1].type == MessageType("address")
    assert 'f(a: address, b: "address")' in print_program(program)


# ---------------------------------------------------------------------------------------
# Values, strings and names
# ---------------------------------------------------------------------------------------

def _bits(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def _from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def _const_program(value, t=F64) -> Program:
    body = (ExprStmt(Const(value, t), Loc("c.py", 1, 1)),)
    return Program((), (), (FunctionDef("f", (), None, (), body, Loc("c.py", 1, 1)),))


def _const_back(value, t=F64):
    program = parse_program(print_program(_const_program(value, t)))
    return program.functions[0].body[0].expr.value


@pytest.mark.parametrize("value", [
    0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 1e16, 1e-7, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, math.inf, -math.inf, float(struct.unpack("<f", b"\x01\0\0\0")[0]),
    _from_bits(0x7FF8000000000000), _from_bits(0xFFF8000000000000),
    _from_bits(0x7FF0000000000001), _from_bits(0x7FF8DEADBEEF0001),
], ids=repr)
def test_float_constants_round_trip_bit_exactly(value):
    back = _const_back(value)
    assert type(back) is float and _bits(back) == _bits(value)


def test_canonical_nan_reads_back_as_math_nan_so_programs_compare_equal():
    assert _const_back(math.nan) is math.nan
    round_trip(_const_program(math.nan))
    assert "(const nan:f64)" in print_program(_const_program(math.nan))
    assert "nan(0xfff8000000000000)" in print_program(_const_program(-math.nan))


@pytest.mark.parametrize(("value", "t"), [(True, F64), (1, F64), (1.0, F64), (-2**70, I64),
                                           (False, I32)])
def test_values_keep_their_python_type(value, t):
    back = _const_back(value, t)
    assert type(back) is type(value) and back == value


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=12)


@SETTINGS
@given(file=ANY_TEXT, reason=ANY_TEXT)
def test_any_string_round_trips(file: str, reason: str):
    body = (Fail(reason, Loc(file, 1, 2)),)
    round_trip(Program((), (), (FunctionDef("f", (), None, (), body, Loc(file, 3, 4)),)))


@SETTINGS
@given(names=st.lists(ANY_TEXT, min_size=5, max_size=5))
def test_any_name_round_trips(names: list[str]):
    message, field, kernel, local, function = names
    t = MessageType(message)
    body = (ExprStmt(Member(Local(local, t), field, I32), Loc("n", 1, 1)),
            ExprStmt(Call(function, (), None), Loc("n", 2, 1)),
            ExprStmt(HelperCall(function, (), None), Loc("n", 2, 2)),
            ExprStmt(MessageNew(message, ((field, Const(1, I32)),), t), Loc("n", 3, 1)))
    handler = FunctionDef(function, (Param(local, t),), None, (LocalDef(field, t),), body,
                          Loc("n", 4, 1))
    round_trip(Program((MessageDef(message, 1, (FieldDef(field, I32),), Loc("n", 5, 1)),),
                       (KernelDef(kernel, KernelOptions(domain=kernel, targets=(field,)),
                                  (StateDef(local, I32, None),), (handler,), (handler,),
                                  Loc("n", 6, 1)),), (handler,)))


def test_state_initialisers():
    states = (StateDef("a", I32, None), StateDef("b", I32, -7), StateDef("c", F64, 2.5),
              StateDef("d", ArrayType(I32, 3), (1, -2, 3)), StateDef("e", F32x4, ()))
    program = Program((), (KernelDef("K", KernelOptions(), states, (), (), Loc("s", 1, 1)),),
                      ())
    text = print_program(program)
    assert "state a: i32\n" in text and "state b: i32 = -7" in text
    assert "state d: i32[3] = [1, -2, 3]" in text and "state e: f32[4] = []" in text
    round_trip(program)


# ---------------------------------------------------------------------------------------
# Syntax errors
# ---------------------------------------------------------------------------------------

MSG = 'message A #1 @"f":1:1 {\n'
KERNEL = 'kernel K @"f":1:1 {\n'
DEVICE = 'device f() @"f":1:1 {\n'

SYNTAX_ERRORS = [
    ("missing colon", MSG + "  x i32\n}\n", 2, 5, "unexpected 'i32'; expected ':'"),
    ("unknown option", KERNEL + "  options { bogus=1 }\n}\n", 2, 13,
     "unknown kernel option 'bogus'"),
    ("option given twice", KERNEL + "  options { capacity=2 capacity=4 }\n}\n", 2, 24,
     "kernel option 'capacity' given twice"),
    ("int option given a bool", KERNEL + "  options { capacity=true }\n}\n", 2, 13,
     "kernel option 'capacity' takes an integer"),
    ("bool option given an int", KERNEL + "  options { fast_math=1 }\n}\n", 2, 13,
     "kernel option 'fast_math' takes true or false"),
    ("list option given a name", KERNEL + "  options { targets=cuda }\n}\n", 2, 13,
     "kernel option 'targets' takes a list"),
    ("unknown escape", 'message A #1 @"f\\q":1:1 {\n}\n', 1, 15, "unknown escape \\q"),
    ("negative line", 'message A #1 @"f.py":-5:1 {\n}\n', 1, 22,
     "a location's line and column are not negative"),
    ("escape past unicode", 'message A #1 @"\\U00110000":1:1 {\n}\n', 1, 15,
     "escape \\U00110000 is not a character"),
    ("unterminated string", 'message A #1 @"f:1:1 {\n}\n', 1, 15,
     "unterminated string literal"),
    ("end of input", MSG, 2, 1, "unexpected end of input"),
    ("end of input without newline", DEVICE + "  break", 2, 8, "unexpected end of input"),
    ("stray character", MSG + "  $\n}\n", 2, 3, "unexpected character '$'"),
    ("unknown statement", DEVICE + "  frobnicate @\"f\":1:1\n}\n", 2, 3,
     "unexpected 'frobnicate'"),
    ("statement without loc", DEVICE + "  break\n}\n", 3, 1, "unexpected '}'; expected '@'"),
    ("expression without type", DEVICE + '  eval (local x) @"f":1:1\n}\n', 2, 16,
     "unexpected ')'; expected ':'"),
    ("unknown operator", DEVICE + '  eval (pow:i32 (const 1:i32)) @"f":1:1\n}\n', 2, 9,
     "unexpected 'pow'"),
    ("type id not a number", 'message A #x @"f":1:1 {\n}\n', 1, 12, "unexpected 'x'"),
    ("float where an int goes", 'message A #1.5 @"f":1:1 {\n}\n', 1, 13,
     "unexpected '.'; expected '@'"),
    ("handler outside a kernel", 'handler h(m: A) @"f":1:1 {\n}\n', 1, 1,
     "unexpected 'handler'"),
    ("helper call not through self", DEVICE + '  eval (call this.f) @"f":1:1\n}\n', 2, 14,
     "a helper call is written self.NAME, not this.NAME"),
]


def test_helper_and_device_calls_are_told_apart_by_self():
    """`(call self.f)` calls helper f, `(call f)` device function f; a device function
    named `self` or `self.f` (not an identifier) keeps its own spelling."""
    loc = Loc("c.py", 1, 1)
    body = (ExprStmt(HelperCall("f", (), None), loc), ExprStmt(Call("f", (), None), loc),
            ExprStmt(Call("self", (), I32), loc), ExprStmt(Call("self.f", (), None), loc))
    text = print_program(Program((), (), (FunctionDef("g", (), None, (), body, loc),)))
    assert [line.split(" @")[0].strip() for line in text.splitlines()[1:-1]] == [
        "eval (call self.f)", "eval (call f)", "eval (call self:i32)", 'eval (call "self.f")']
    round_trip(parse_program(text))


@pytest.mark.parametrize(("text", "line", "col", "fragment"),
                         [pytest.param(*case[1:], id=case[0]) for case in SYNTAX_ERRORS])
def test_syntax_error_location(text, line, col, fragment):
    with pytest.raises(RirSyntaxError) as info:
        parse_program(text, "bad.rir")
    error = info.value
    assert fragment in error.message
    assert (error.loc.file, error.loc.line, error.loc.col) == ("bad.rir", line, col)
    assert str(error) == f"bad.rir:{line}:{col}: error: {error.message}"


def test_syntax_error_default_file_name():
    with pytest.raises(RirSyntaxError, match=r"^<rir>:1:1: error: unexpected character '\?'$"):
        parse_program("?")


def test_syntax_error_is_an_exception_with_message_and_loc():
    error = RirSyntaxError("oops", Loc("x.rir", 3, 4))
    assert isinstance(error, Exception)
    assert (error.message, error.loc, str(error)) == ("oops", Loc("x.rir", 3, 4),
                                                      "x.rir:3:4: error: oops")


# ---------------------------------------------------------------------------------------
# Package boundary
# ---------------------------------------------------------------------------------------

def test_the_ir_imports_nothing_else_of_ringc():
    package = Path(nodes.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name} imports from outside ringc.ir"
                assert node.level == 1 or not (node.module or "").startswith("ringc"), path.name
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("ringc") for a in node.names), path.name
