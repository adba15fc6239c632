"""The IR verifier: generated and hand-written programs pass; each rule rejects a bad one.

Every bad program below is the valid base program with one thing broken; the test checks
the error names the problem and points at the statement or definition at fault.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

from ringc.ir import (
    Assign,
    Binary,
    Break,
    Call,
    Cast,
    Compare,
    Const,
    Continue,
    Emit,
    ExprStmt,
    Fail,
    FieldDef,
    For,
    FunctionDef,
    HelperCall,
    If,
    Index,
    Intrinsic,
    IRVerifyError,
    KernelDef,
    KernelOptions,
    Local,
    LocalDef,
    Logical,
    MathCall,
    Member,
    MessageDef,
    MessageNew,
    Param,
    Program,
    Reply,
    Return,
    Select,
    Send,
    State,
    StateDef,
    Unary,
    While,
    parse_program,
    print_program,
    verify,
)
from ringc.ir.types import (
    ADDRESS,
    BOOL,
    F32,
    I32,
    I64,
    SCALAR_TYPES,
    ArrayType,
    Loc,
    MessageType,
)

from .strategies import programs

U8, U32, U64 = SCALAR_TYPES["u8"], SCALAR_TYPES["u32"], SCALAR_TYPES["u64"]
WORK_T, SUM_T = MessageType("Work"), MessageType("Sum")
I32x4 = ArrayType(I32, 4)
BAD = Loc("bad.py", 7, 3)
WORK_LOC, SUM_LOC = Loc("k.py", 1, 1), Loc("k.py", 5, 1)
KERNEL_LOC, HANDLER_LOC = Loc("k.py", 10, 1), Loc("k.py", 12, 5)
HELPER_LOC, DEVICE_LOC = Loc("k.py", 20, 5), Loc("k.py", 30, 1)

WORK = MessageDef("Work", 1, (FieldDef("id", I32), FieldDef("data", ArrayType(F32, 4)),
                              FieldDef("who", ADDRESS)), WORK_LOC)
SUM = MessageDef("Sum", 2, (FieldDef("id", I32), FieldDef("value", F32)), SUM_LOC)
STATE = (StateDef("total", I64, None), StateDef("counts", I32x4, (0, 1, 2, 3)),
         StateDef("level", F32, 0.5), StateDef("addr", ADDRESS, None))
LOCALS = (LocalDef("x", I32), LocalDef("y", F32), LocalDef("b", BOOL), LocalDef("u", U64),
          LocalDef("w", WORK_T), LocalDef("a", ADDRESS), LocalDef("arr", I32x4))

m, x, y, b = Local("m", WORK_T), Local("x", I32), Local("y", F32), Local("b", BOOL)
u, w, a, arr = Local("u", U64), Local("w", WORK_T), Local("a", ADDRESS), Local("arr", I32x4)
total, counts, level = State("total", I64), State("counts", I32x4), State("level", F32)
v = Local("v", I32)
ONE, ONE64, TRUE = Const(1, I32), Const(1, I64), Const(True, BOOL)


def new_sum(*fields) -> MessageNew:
    return MessageNew("Sum", fields, SUM_T)


def new_work(*fields) -> MessageNew:
    return MessageNew("Work", fields, WORK_T)


V_PARAMS, P_PARAMS, M_PARAMS = (Param("v", I32),), (Param("p", F32),), (Param("m", WORK_T),)
DEFAULT_OPTIONS = KernelOptions()


def helper(name="twice", body=None, params=V_PARAMS, returns=I32) -> FunctionDef:
    if body is None:
        body = (Return(Binary("mul", v, Const(2, I32), I32), HELPER_LOC),)
    return FunctionDef(name, params, returns, (), body, HELPER_LOC)


NOTE = helper("note", (), (), None)
TWICE = helper()


def device(name="dev", body=None, params=P_PARAMS, returns=F32) -> FunctionDef:
    if body is None:
        body = (Return(Local("p", F32), DEVICE_LOC),)
    return FunctionDef(name, params, returns, (), body, DEVICE_LOC)


DEV = device()


def program(*stmts, locals_=LOCALS, returns=SUM_T, state=STATE, options=DEFAULT_OPTIONS,
            helpers=(TWICE, NOTE), devices=(DEV,), messages=(WORK, SUM),
            handlers=None, more_kernels=()) -> Program:
    """The base program: kernel K with one handler on_work(m: Work) -> Sum whose body is
    `stmts`, helpers twice(v: i32) -> i32 and note(), device function dev(p: f32) -> f32."""
    handler = FunctionDef("on_work", M_PARAMS, returns, locals_, stmts,
                          HANDLER_LOC)
    kernel = KernelDef("K", options, state, handlers or (handler,), helpers, KERNEL_LOC)
    return Program(messages, (kernel, *more_kernels), devices)


def e(expr) -> ExprStmt:
    return ExprStmt(expr, BAD)


def assign(target, value) -> Assign:
    return Assign(target, value, BAD)


GOOD_BODY = (
    Assign(total, Binary("add", total, ONE64, I64), HANDLER_LOC),
    Assign(y, Binary("div", Cast(x, F32), Const(2.0, F32), F32), HANDLER_LOC),
    Assign(Index(arr, x, I32), HelperCall("twice", (Index(counts, ONE, I32),), I32), HANDLER_LOC),
    Assign(Member(w, "id", I32), Unary("invert", x, I32), HANDLER_LOC),
    Assign(b, Logical("or", Compare("lt", x, ONE, BOOL),
                      MathCall("isnan", (Index(Member(m, "data", ArrayType(F32, 4)), x, F32),),
                               BOOL), BOOL), HANDLER_LOC),
    Assign(u, Binary("shl", Member(a, "correlation", U64), Cast(x, U64), U64), HANDLER_LOC),
    Assign(a, Intrinsic("sender", (), ADDRESS), HANDLER_LOC),
    ExprStmt(Intrinsic("atomic_add", (Index(counts, x, I32), ONE), I32), HANDLER_LOC),
    ExprStmt(Intrinsic("atomic_cas", (total, ONE64, ONE64), I64), HANDLER_LOC),
    ExprStmt(HelperCall("note", (), None), HANDLER_LOC),
    ExprStmt(Call("dev", (MathCall("pow", (y, level), F32),), F32), HANDLER_LOC),
    For("x", Const(10, I32), Const(0, I32), -2, (
        While(TRUE, (If(b, (Break(HANDLER_LOC),), (Continue(HANDLER_LOC),), HANDLER_LOC),),
              HANDLER_LOC),), HANDLER_LOC),
    Send("K", Intrinsic("instance_id", (), I32), new_work(("id", x)), HANDLER_LOC),
    Emit(Select(b, new_sum(), new_sum(("value", y)), SUM_T), HANDLER_LOC),
    Reply(Member(m, "who", ADDRESS), new_sum(("id", MathCall("max", (x, ONE), I32))), HANDLER_LOC),
    If(b, (Fail("bad input", HANDLER_LOC),), (), HANDLER_LOC),
    If(b, (Return(None, HANDLER_LOC),), (), HANDLER_LOC),
    Return(new_sum(("id", Member(m, "id", I32))), HANDLER_LOC),
)


def test_the_base_program_verifies():
    verify(program(*GOOD_BODY))


def test_a_parallel_kernel_may_use_atomics_and_write_locals():
    options = KernelOptions(concurrency="parallel")
    verify(program(ExprStmt(Intrinsic("atomic_min", (total, ONE64), I64), BAD),
                   assign(x, ONE), options=options))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_verify(p: Program):
    verify(p)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_kernels=1))
def test_verify_accepts_what_the_parser_reads_back(p: Program):
    verify(parse_program(print_program(p)))


def test_error_reads_like_a_compiler_message():
    with pytest.raises(IRVerifyError) as info:
        verify(program(e(Local("nope", I32))))
    assert str(info.value) == "bad.py:7:3: error: in on_work: unknown local 'nope'"
    assert info.value.loc == BAD and info.value.message == "in on_work: unknown local 'nope'"


def _options(**changes) -> Program:
    return program(options=replace(KernelOptions(), **changes))


def _state(*defs) -> Program:
    return program(state=defs)


def _fields(*fields) -> Program:
    return program(messages=(replace(WORK, fields=fields), SUM))


def _handler(params=M_PARAMS, returns=SUM_T, name="on_work") -> FunctionDef:
    return FunctionDef(name, params, returns, (), (), HANDLER_LOC)


def _dev_body(*stmts) -> Program:
    return program(devices=(device(body=stmts),))


def _helper_body(*stmts, returns=I32) -> Program:
    return program(helpers=(helper(body=stmts, returns=returns), NOTE))


# (id, bad program, a fragment of the message, the loc the error points at)
DEFINITION_CASES = [
    ("duplicate message", lambda: program(messages=(WORK, replace(WORK, type_id=2, loc=SUM_LOC))),
     "message 'Work' defined twice", SUM_LOC),
    ("type id out of order", lambda: program(messages=(WORK, replace(SUM, type_id=5))),
     "type_id 5", SUM_LOC),
    ("duplicate field", lambda: _fields(FieldDef("id", I32), FieldDef("id", F32)),
     "field 'id' defined twice", WORK_LOC),
    ("record of a later message", lambda: _fields(FieldDef("inner", SUM_T)),
     "holds record Sum, which is not a message defined before Work", WORK_LOC),
    ("message holding itself", lambda: _fields(FieldDef("inner", ArrayType(WORK_T, 2))),
     "holds record Work, which is not a message defined before Work", WORK_LOC),
    ("empty array", lambda: _fields(FieldDef("none", ArrayType(I32, 0))),
     "array length must be at least 1", WORK_LOC),
    ("huge array", lambda: _fields(FieldDef("big", ArrayType(F32, 10**9))),
     "f32[1000000000] would take 4000000000 bytes (at most 1073741824)", WORK_LOC),
    ("huge message", lambda: _fields(*(FieldDef(f"a{i}", ArrayType(F32, 1 << 28))
                                       for i in range(3))),
     "message 'Work' would take 3221225472 bytes", WORK_LOC),
    ("not a type", lambda: _fields(FieldDef("f", "i32")), "not an IR type", WORK_LOC),
    ("duplicate kernel", lambda: program(more_kernels=program().kernels),
     "kernel 'K' defined twice", KERNEL_LOC),
    ("duplicate device function", lambda: program(devices=(device(), device())),
     "device function 'dev' defined twice", DEVICE_LOC),
    ("duplicate state", lambda: _state(STATE[0], STATE[0]), "state 'total' defined twice",
     KERNEL_LOC),
    ("handler and helper share a name", lambda: program(helpers=(helper("on_work"),)),
     "function 'on_work' defined twice", HELPER_LOC),
    ("local shadows parameter", lambda: program(locals_=(LocalDef("m", I32),)),
     "parameter or local 'm' defined twice", HANDLER_LOC),
    ("unknown message type", lambda: program(locals_=(LocalDef("q", MessageType("Nope")),)),
     "unknown message 'Nope'", HANDLER_LOC),
    ("handler with two parameters",
     lambda: program(handlers=(_handler((Param("m", WORK_T), Param("n", I32))),)),
     "exactly one parameter, a message", HANDLER_LOC),
    ("handler of a scalar", lambda: program(handlers=(_handler((Param("m", I32),)),)),
     "exactly one parameter, a message", HANDLER_LOC),
    ("two handlers for one message",
     lambda: program(handlers=(_handler(), _handler(name="again"))),
     "two handlers for message 'Work'", HANDLER_LOC),
    ("handler replies a scalar", lambda: program(returns=I32), "reply a message or nothing",
     HANDLER_LOC),
    ("state init of the wrong kind", lambda: _state(StateDef("level", F32, 1)),
     "1 (int) is not a f32 value", KERNEL_LOC),
    ("state init out of range", lambda: _state(StateDef("s", U8, 256)),
     "256 does not fit u8", KERNEL_LOC),
    ("state tuple of the wrong length", lambda: _state(StateDef("counts", I32x4, (1, 2))),
     "tuple of 4 values", KERNEL_LOC),
    ("state tuple for a scalar", lambda: _state(StateDef("s", I32, (1,))),
     "is not a i32 value", KERNEL_LOC),
    ("state address with init", lambda: _state(StateDef("addr", ADDRESS, 0)),
     "only scalars and arrays of scalars have initial values", KERNEL_LOC),
    ("record without its layout", lambda: _state(StateDef("s", WORK_T, None)),
     "record Work is laid out without its fields", KERNEL_LOC),
    ("bad mode", lambda: _options(mode="sometimes"), "'persistent' or 'event_driven'",
     KERNEL_LOC),
    ("bad concurrency", lambda: _options(concurrency="chaos"), "option concurrency=",
     KERNEL_LOC),
    ("bad backpressure", lambda: _options(backpressure="drop"), "option backpressure=",
     KERNEL_LOC),
    ("capacity not a power of two", lambda: _options(capacity=1000), "a power of two",
     KERNEL_LOC),
    ("capacity zero", lambda: _options(capacity=0), "a positive integer", KERNEL_LOC),
    ("no instances", lambda: _options(instances=0), "option instances=0", KERNEL_LOC),
    ("max_batch a bool", lambda: _options(max_batch=True), "option max_batch=True",
     KERNEL_LOC),
    ("empty domain", lambda: _options(domain=""), "option domain=''", KERNEL_LOC),
    ("unknown domain", lambda: _options(domain="x */ y"), "option domain='x */ y' must be",
     KERNEL_LOC),
    ("no targets", lambda: _options(targets=()), "option targets=()", KERNEL_LOC),
    ("unknown target", lambda: _options(targets=("vulkan",)), "option targets=", KERNEL_LOC),
    ("repeated target", lambda: _options(targets=("cuda", "cuda")), "distinct names",
     KERNEL_LOC),
    ("bounds_check not a bool", lambda: _options(bounds_check=1), "option bounds_check=1",
     KERNEL_LOC),
    ("fast_math not a bool", lambda: _options(fast_math="yes"), "option fast_math=",
     KERNEL_LOC),
    ("direct recursion",
     lambda: _helper_body(Return(HelperCall("twice", (v,), I32), HELPER_LOC)),
     "recursion is not supported: twice -> twice", HELPER_LOC),
    ("mutual recursion", lambda: program(devices=(
        device("ping", (e(Call("pong", (), None)),), (), None),
        device("pong", (e(Call("ping", (), None)),), (), None))),
     "recursion is not supported: ping -> pong -> ping", DEVICE_LOC),
]

EXPRESSION_CASES = [
    ("unknown local", Local("nope", I32), "unknown local 'nope'"),
    ("local used at another type", Local("x", F32), "local 'x' is i32, used as f32"),
    ("unknown state", State("nope", I32), "unknown state 'nope'"),
    ("state used at another type", State("total", I32), "state 'total' is i64, used as i32"),
    ("unknown field", Member(m, "nope", I32), "message 'Work' has no field 'nope'"),
    ("field of the wrong type", Member(m, "id", F32), "member is i32, typed f32"),
    ("field of a scalar", Member(x, "id", I32), "not a message or address"),
    ("unknown address field", Member(a, "nope", U32), "an address has no field 'nope'"),
    ("address field of the wrong type", Member(a, "queue", U64), "member is u32, typed u64"),
    ("index of a scalar", Index(x, x, I32), "indexing a i32, not an array"),
    ("float index", Index(arr, y, I32), "index must be an integer, not f32"),
    ("element of the wrong type", Index(arr, x, F32), "index is i32, typed f32"),
    ("constant out of range", Const(300, U8), "300 does not fit u8"),
    ("bool constant of an int type", Const(True, I32), "True (bool) is not a i32 value"),
    ("int constant of a float type", Const(1, F32), "1 (int) is not a f32 value"),
    ("float constant of bool type", Const(0.0, BOOL), "is not a bool value"),
    ("constant of array type", Const(0, I32x4), "constant of non-scalar type"),
    ("unknown unary op", Unary("sqrt", x, I32), "unary 'sqrt'"),
    ("neg of bool", Unary("neg", b, BOOL), "needs numeric"),
    ("not of int", Unary("not", x, I32), "needs bool"),
    ("invert of float", Unary("invert", y, F32), "needs an integer"),
    ("unary operand mismatch", Unary("neg", y, I32), "operand of 'neg' must be i32, not f32"),
    ("unknown binary op", Binary("pow", x, x, I32), "unknown binary operator 'pow'"),
    ("mixed binary operands", Binary("add", x, y, I32),
     "right operand of 'add' must be i32, not f32"),
    ("binary result mismatch", Binary("add", x, x, I64), "left operand of 'add' must be i64"),
    ("true division of ints", Binary("div", x, x, I32), "must be a float"),
    ("shift of floats", Binary("shl", y, y, F32), "binary 'shl' of type f32"),
    ("shift by another type", Binary("shr", x, Cast(x, U8), I32),
     "right operand of 'shr' must be i32, not u8"),
    ("arithmetic on bool", Binary("add", b, b, BOOL), "binary 'add' of type bool"),
    ("binary of arrays", Binary("add", arr, arr, I32x4), "binary of non-scalar type"),
    ("compare typed int", Compare("lt", x, x, I32), "compare 'lt' of type i32"),
    ("compare mixed operands", Compare("lt", x, y, BOOL),
     "right operand of 'lt' must be i32, not f32"),
    ("unknown compare op", Compare("like", x, x, BOOL), "compare 'like'"),
    ("compare of messages", Compare("eq", m, m, BOOL), "operand of 'eq' must be a scalar"),
    ("logical of ints", Logical("and", x, x, BOOL), "left operand of 'and' must be bool"),
    ("unknown logical op", Logical("xor", b, b, BOOL), "logical 'xor'"),
    ("select on an int", Select(x, x, x, I32), "select condition must be bool, not i32"),
    ("select branches differ", Select(b, x, y, I32), "select alternative must be i32"),
    ("cast of a message", Cast(m, I32), "cast operand must be a scalar, not Work"),
    ("cast to an address", Cast(x, ADDRESS), "cast of non-scalar type address"),
    ("unknown helper", HelperCall("nope", (), None), "kernel 'K' has no helper 'nope'"),
    ("unknown device function", Call("nope", (), None), "unknown device function 'nope'"),
    ("too few arguments", HelperCall("twice", (), I32), "takes 1 arguments, given 0"),
    ("argument of the wrong type", HelperCall("twice", (y,), I32),
     "argument 'v' of self.twice must be i32, not f32"),
    ("call typed unlike the callee", HelperCall("twice", (x,), F32),
     "self.twice returns i32, call typed f32"),
    ("unknown math function", MathCall("hypot", (y, y), F32), "unknown math function"),
    ("math arity", MathCall("sqrt", (y, y), F32), "sqrt takes 1 arguments, given 2"),
    ("sqrt of an int", MathCall("sqrt", (x,), I32), "argument of sqrt must be a float"),
    ("isnan typed float", MathCall("isnan", (y,), F32), "isnan gives bool, typed f32"),
    ("min of mixed types", MathCall("min", (x, u), I32), "argument of min must be i32, not u64"),
    ("abs of bool", MathCall("abs", (b,), BOOL), "argument of abs must be numeric"),
    ("new of an unknown message", MessageNew("Nope", (), MessageType("Nope")),
     "unknown message 'Nope'"),
    ("new with an unknown field", new_sum(("nope", x)), "message 'Sum' has no field 'nope'"),
    ("new with a field twice", new_sum(("id", x), ("id", x)), "field 'id' of Sum given twice"),
    ("new with a field of the wrong type", new_sum(("value", x)),
     "field Sum.value must be f32, not i32"),
    ("new typed as another message", MessageNew("Sum", (), WORK_T), "new Sum typed Work"),
    ("unknown intrinsic", Intrinsic("warp_id", (), I32), "unknown intrinsic 'warp_id'"),
    ("intrinsic arity", Intrinsic("sender", (x,), ADDRESS), "sender takes 0 arguments"),
    ("sender typed int", Intrinsic("sender", (), I32), "sender gives an address"),
    ("now typed float", Intrinsic("now", (), F32), "now gives an integer"),
    ("atomic on a local", Intrinsic("atomic_add", (x, x), I32),
     "atomic_add acts on state or an element of state, not Local"),
    ("atomic on an element of a local", Intrinsic("atomic_min", (Index(arr, x, I32), x), I32),
     "acts on state or an element of state, not Index"),
    ("atomic argument of the wrong type", Intrinsic("atomic_add", (total, x), I64),
     "argument of atomic_add must be i64, not i32"),
    ("atomic typed unlike its target", Intrinsic("atomic_max", (total, ONE64), I32),
     "atomic_max gives i64, typed i32"),
    ("atomic cas arity", Intrinsic("atomic_cas", (total, ONE64), I64),
     "atomic_cas takes 3 arguments, given 2"),
    ("not an expression", "x + 1", "not an expression"),
]

STATEMENT_CASES = [
    ("assign to a constant", lambda: program(assign(ONE, x)), "cannot assign to Const"),
    ("assign to an operation", lambda: program(assign(Binary("add", x, x, I32), x)),
     "cannot assign to Binary"),
    ("assign of another type", lambda: program(assign(x, y)),
     "assigned value must be i32, not f32"),
    ("assign a call that returns nothing", lambda: program(assign(x, HelperCall("note", (), None))),
     "assigned value must be i32, not None"),
    ("parallel kernel writes state",
     lambda: program(assign(total, ONE64), options=KernelOptions(concurrency="parallel")),
     "parallel kernel 'K' writes state 'total'; use rc.atomic_*"),
    ("parallel kernel writes a state element",
     lambda: program(assign(Index(counts, x, I32), x),
                     options=KernelOptions(concurrency="parallel")),
     "writes state 'counts'"),
    ("if on an int", lambda: program(If(x, (), (), BAD)), "if condition must be bool, not i32"),
    ("while on a float", lambda: program(While(y, (), BAD)), "while condition must be bool"),
    ("for over an undeclared variable",
     lambda: program(For("nope", ONE, ONE, 1, (), BAD)), "for variable 'nope'"),
    ("for over a float variable", lambda: program(For("y", ONE, ONE, 1, (), BAD)),
     "for variable 'y' must be an integer local"),
    ("for start of another type", lambda: program(For("x", ONE64, ONE, 1, (), BAD)),
     "range start must be i32, not i64"),
    ("for stop of another type", lambda: program(For("x", ONE, ONE64, 1, (), BAD)),
     "range stop must be i32, not i64"),
    ("for step zero", lambda: program(For("x", ONE, ONE, 0, (), BAD)),
     "range step must be a non-zero integer, not 0"),
    ("for step a bool", lambda: program(For("x", ONE, ONE, True, (), BAD)),
     "range step must be a non-zero integer, not True"),
    ("break outside a loop", lambda: program(Break(BAD)), "break outside a loop"),
    ("continue in an if outside a loop",
     lambda: program(If(b, (Continue(BAD),), (), HANDLER_LOC)), "continue outside a loop"),
    ("return a value from a function returning nothing",
     lambda: program(helpers=(helper(), helper("note", (Return(v, BAD),), (), None))),
     "return with a value from a function that returns nothing"),
    ("return nothing from a function returning a value", lambda: _helper_body(Return(None, BAD)),
     "return without a value from a function returning i32"),
    ("return the wrong message", lambda: program(Return(new_work(), BAD)),
     "returned value must be Sum, not Work"),
    ("handler without reply returns a value", lambda: program(Return(new_sum(), BAD),
                                                              returns=None),
     "return with a value from a function that returns nothing"),
    ("send to an unknown kernel", lambda: program(Send("Nope", ONE, new_work(), BAD)),
     "send to unknown kernel 'Nope'"),
    ("send a message the kernel has no handler for",
     lambda: program(Send("K", ONE, new_sum(), BAD)), "kernel 'K' has no handler for Sum"),
    ("send to a float instance", lambda: program(Send("K", y, new_work(), BAD)),
     "send instance must be an integer, not f32"),
    ("send a scalar", lambda: program(Send("K", x, x, BAD)),
     "sent value must be a message, not i32"),
    ("emit a scalar", lambda: program(Emit(x, BAD)), "emitted value must be a message"),
    ("reply to an int", lambda: program(Reply(x, new_sum(), BAD)),
     "reply address must be address, not i32"),
    ("reply a scalar", lambda: program(Reply(a, x, BAD)), "reply value must be a message"),
    ("fail reason not a string", lambda: program(Fail(3, BAD)), "fail reason must be a string"),
    ("state in a device function", lambda: _dev_body(e(total)),
     "device function reads state 'total'"),
    ("helper call in a device function", lambda: _dev_body(e(HelperCall("twice", (x,), I32))),
     "device function calls kernel helper 'self.twice'"),
]


def test_targets_are_checked_against_the_known_ones_only_when_given():
    verify(_options(targets=None), KNOWN_TARGETS)          # None: every target
    verify(_options(targets=("hip",)))                     # any name, without a registry
    with pytest.raises(IRVerifyError, match="names among cuda, opencl, metal"):
        verify(_options(targets=("hip",)), KNOWN_TARGETS)


@pytest.mark.parametrize(("make", "fragment", "loc"),
                         [pytest.param(*case[1:], id=case[0]) for case in DEFINITION_CASES])
def test_bad_definition(make, fragment, loc):
    _expect_error(make(), fragment, loc)


@pytest.mark.parametrize(("expr", "fragment"),
                         [pytest.param(*case[1:], id=case[0]) for case in EXPRESSION_CASES])
def test_bad_expression(expr, fragment):
    _expect_error(program(Assign(x, ONE, HANDLER_LOC), e(expr)), fragment, BAD)


@pytest.mark.parametrize(("make", "fragment"),
                         [pytest.param(*case[1:], id=case[0]) for case in STATEMENT_CASES])
def test_bad_statement(make, fragment):
    _expect_error(make(), fragment, BAD)


def test_not_a_statement():
    _expect_error(program(x), "not a statement", HANDLER_LOC)


def test_error_in_else_branch_points_at_its_statement():
    inner = Loc("bad.py", 9, 9)
    bad = program(If(b, (Assign(x, ONE, HANDLER_LOC),), (Emit(x, inner),), BAD))
    _expect_error(bad, "emitted value must be a message", inner)


KNOWN_TARGETS = ("cuda", "opencl", "metal")     # what the compiler passes (its registry)


def _expect_error(p: Program, fragment: str, loc: Loc) -> None:
    with pytest.raises(IRVerifyError) as info:
        verify(p, KNOWN_TARGETS)
    assert fragment in info.value.message
    assert info.value.loc == loc
    assert str(info.value) == f"{loc}: error: {info.value.message}"


def test_expressions_nested_beyond_the_limit_are_refused_without_recursion():
    deep = x
    for _ in range(400):                      # far past Python's recursion limit / 3
        deep = Binary("add", deep, ONE, I32)
    with pytest.raises(IRVerifyError, match="an expression nests 401 levels deep; ringc's "
                                            "limit is 100"):
        verify(program(assign(x, deep)))
