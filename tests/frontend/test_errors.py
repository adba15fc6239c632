"""Every user mistake is one CompileError at file:line:col, with the line, a caret and a
hint, and nothing of the frontend's own stack in its text."""

from __future__ import annotations

import pytest

from ringc.errors import CompileError
from ringc.frontend import build_program
from tests.conftest import PRELUDE_LINES

MSGS = """
@rc.message
class In:
    a: i32
    b: i64
    x: f32
    u: u64
    v: Array[f32, 4]

@rc.message
class Out:
    i: i32
"""
MSG_LINES = MSGS.count("\n")


def compile_error(user_kernels, source: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        build_program(user_kernels(MSGS + source))
    return info.value


def handler_error(user_kernels, body: str, state: str = "n: i32") -> CompileError:
    import textwrap
    lines = textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8)
    return compile_error(user_kernels, f"""
@rc.ring_kernel
class K:
    {state}

    def on_in(self, m: In):
{lines}
""")


def where(err: CompileError) -> tuple[int, int]:
    """(line within the handler body, column) of an error raised by handler_error."""
    return err.line - PRELUDE_LINES - MSG_LINES - 6, err.col - 8


def assert_well_formed(err: CompileError) -> None:
    text = str(err)
    first = text.splitlines()[0]
    assert first.startswith(f"{err.file}:{err.line}:{err.col}: error: ")
    assert "^" in text.splitlines()[2]
    assert "Traceback" not in text and "ringc/frontend" not in text and "lower.py" not in text


@pytest.mark.parametrize("body, message, line, col", [
    ("x = [1, 2]", "List is not supported", 1, 5),
    ("x = {1: 2}", "Dict is not supported", 1, 5),
    ("x = [i for i in range(3)]", "ListComp is not supported", 1, 5),
    ("x = lambda: 1", "Lambda is not supported", 1, 5),
    ("x = 2 ** 3", "operator Pow is not supported", 1, 5),
    ("try:\n    pass\nexcept Exception:\n    pass", "only rc.Fault can be caught", 3, 8),
    ("raise ValueError()", "only rc.Fault(\"reason\") can be raised", 1, 7),
    ("assert m.a > 0", "Assert is not supported", 1, 1),
    ("with open('f') as f:\n    pass", "With is not supported", 1, 1),
    ("print(m.a)", "'print' cannot be called", 1, 1),
    ("x = f'{m.a}'", "JoinedStr is not supported", 1, 5),
    ("x = m.v[1:2]", "Slice is not supported", 1, 9),
    ("x = m.a is None", "comparison Is is not supported", 1, 5),
])
def test_unsupported_constructs(user_kernels, body, message, line, col):
    err = handler_error(user_kernels, body)
    assert message in err.message
    assert where(err) == (line, col)
    assert err.hint
    assert_well_formed(err)


@pytest.mark.parametrize("body, message, line, col", [
    ("x = totl + 1", "name 'totl' is not defined", 1, 5),
    ("x = m.aa", "message In has no field 'aa'", 1, 5),
    ("self.count = 1", "kernel 'K' has no state 'count'", 1, 1),
    ("x = m.a\nx = 0.5", "assigning a float to int local 'x'", 2, 5),
    ("x = m.x\nx = m.a", "assigning a int to f32 local 'x'", 2, 5),
    ("m.u = m.a", "cannot store a i32 in this place of type u64", 1, 7),
    ("self.n = m.x", "cannot store a f32", 1, 10),
    ("x = m.b + m.u", "mixes i64 and u64", 1, 5),
    ("x = m.a + True", "mixes bool", 1, 5),
    ("x = u8(m.a) + 300", "literal 300 does not fit in u8", 1, 5),
    ("x = m.v[4]", "index 4 is out of range", 1, 9),
    ("x = m.x << 1", "needs integers", 1, 5),
    ("x = 1 // 0", "division by zero in a constant", 1, 5),
    ("for i in [1, 2]:\n    pass", "for loops iterate over range", 1, 10),
    ("for i in range(0, 10, m.a):\n    pass", "step of range must be an integer constant", 1, 23),
    ("for i in range(0, 10, 0):\n    pass", "range step must not be zero", 1, 23),
    ("return 5", "a handler returns a message", 1, 8),
    ("rc.fail(m.a)", "non-empty string literal", 1, 9),
    ("x = rc.send(K, Out())", "is a statement, not a value", 1, 5),
    ("rc.send(In, Out())", "is not a ring kernel", 1, 9),
    ("rc.send(K, Out())", "kernel 'K' has no handler for Out", 1, 12),
    ("rc.atomic_add(m.a, 1)", "works on a state variable", 1, 15),
    ("x = self.nope(1)", "has no helper method 'nope'", 1, 5),
    ("x = Out(1)", "takes keyword arguments", 1, 9),
    ("x = Out(j=1)", "message Out has no field 'j'", 1, 11),
    ("x = int(m.x)", "'int' cannot be called", 1, 5),
    ("m.a", "has no effect", 1, 1),
    ("m.v = m.x", "cannot store a f32 in an array of type f32[4]", 1, 7),
    ("rc.emit(rc.zeros(Out))", "rc.zeros(...) is the whole value of an assignment", 1, 9),
    ("x = rc.zeros(i32)", "rc.zeros takes an Array[...] or a message class", 1, 14),
    ("m.v = rc.zeros(Array[f32, 3])", "cannot store a f32[3] in an array of type f32[4]",
     1, 7),
    ("x = 1 << 100", "does not fit in 64 bits", 1, 5),
    ("for i in range(99999999999999999999999):\n    pass", "does not fit", 1, 16),
    ("x = i32(99999999999999999999999)", "does not fit in 64 bits", 1, 9),
    ("m.x = 1e39", "float literal 1e+39 overflows f32", 1, 7),
    ("x = m.a and 5", "'and' as a value needs bool operands", 1, 5),
    ("x = m.a > 0 or m.b", "'or' as a value needs bool operands", 1, 16),
    ("x: i32 = 0\nx = m.x", "assigning a float to i32 local 'x'", 2, 5),
    ("a = rc.sender()\nq = a.queue", "an rc.Address is opaque", 2, 5),
    ("x = super().on_in(m)", "calling 'super().on_in' is not supported", 1, 5),
    ("yield 1", "Yield is not supported", 1, 1),
])
def test_typing_and_name_errors(user_kernels, body, message, line, col):
    err = handler_error(user_kernels, body)
    assert message in err.message, err.message
    assert where(err) == (line, col)
    assert_well_formed(err)


def test_hint_suggests_close_names(user_kernels):
    err = handler_error(user_kernels, "self.m = 1", state="mm: i32")
    assert err.hint == "did you mean 'self.mm'?"
    err = handler_error(user_kernels, "x = m.xx")
    assert err.hint == "did you mean 'x'?"


def test_parallel_kernel_cannot_write_state(user_kernels):
    err = compile_error(user_kernels, """
@rc.ring_kernel(concurrency="parallel")
class K:
    n: i32

    def on_in(self, m: In):
        self.n += 1
""")
    assert "may only change through rc.atomic_" in err.message
    assert err.line == PRELUDE_LINES + MSG_LINES + 7
    assert_well_formed(err)


def test_recursion_between_helpers(user_kernels):
    err = compile_error(user_kernels, """
@rc.ring_kernel
class K:
    def on_in(self, m: In):
        x = self.f(1)

    def f(self, n: i32) -> i32:
        return self.g(n)

    def g(self, n: i32) -> i32:
        return self.f(n - 1)
""")
    assert "recursion is not supported (K.f -> K.g -> K.f)" in err.message
    assert_well_formed(err)


def test_state_changing_call_must_stand_alone(user_kernels):
    err = compile_error(user_kernels, """
@rc.ring_kernel
class K:
    n: i32

    def on_in(self, m: In):
        x = self.bump() + self.n

    def bump(self) -> i32:
        self.n += 1
        return self.n
""")
    assert "self.bump() changes state or sends, so it must be the whole expression" in err.message
    assert_well_formed(err)


@pytest.mark.parametrize("source, message", [
    ("@rc.ring_kernel(capcity=16)\nclass K:\n    def on_in(self, m: In):\n        pass\n",
     "unknown ring_kernel option 'capcity'"),
    ("@rc.ring_kernel(capacity=100)\nclass K:\n    def on_in(self, m: In):\n        pass\n",
     "capacity=100 is invalid"),
    ("@rc.ring_kernel(mode='eager')\nclass K:\n    def on_in(self, m: In):\n        pass\n",
     "mode='eager' is invalid"),
    ("@rc.ring_kernel(targets=['vulkan'])\nclass K:\n    def on_in(self, m: In):\n        pass\n",
     "targets=['vulkan'] is invalid"),
])
def test_decorator_options_fail_at_the_decorator(user_module, source, message):
    with pytest.raises(CompileError) as info:
        user_module(MSGS + source)
    err = info.value
    assert message in err.message
    assert err.line == PRELUDE_LINES + MSG_LINES + 1
    assert_well_formed(err)


@pytest.mark.parametrize("source, message, line", [
    ("@rc.message\nclass M:\n    a: int\n", "has type int, which a message cannot hold", 3),
    ("@rc.message\nclass M:\n    a: i32 = 3\n", "cannot have a default value", 3),
])
def test_message_definition_errors(user_module, source, message, line):
    with pytest.raises(CompileError) as info:
        user_module(source)
    assert message in info.value.message
    assert info.value.line == PRELUDE_LINES + line


@pytest.mark.parametrize("source, message", [
    ("class K:\n    def on_in(self, m):\n        pass\n", "needs a message type"),
    ("class K:\n    def on_in(self, m: i32):\n        pass\n", "which is not a message"),
    ("class K:\n    def on_in(self, a: In, b: In):\n        pass\n",
     "must take exactly one message parameter"),
    ("class K:\n    def on_a(self, m: In):\n        pass\n    def on_b(self, m: In):\n"
     "        pass\n", "two handlers for In"),
    ("class K:\n    n = 0\n    def on_in(self, m: In):\n        pass\n",
     "state needs a type annotation"),
    ("class K:\n    n: Array[i32, 2] = [1]\n    def on_in(self, m: In):\n        pass\n",
     "must list 2 values"),
    ("class K:\n    n: i32\n", "has no handlers"),
    ("class K:\n    r: In = 0\n    def on_in(self, m: In):\n        pass\n",
     "state 'r' of type In cannot have a default"),
    ("class K:\n    g: Array[Array[i32, 2], 2] = [1, 2]\n    def on_in(self, m: In):\n"
     "        pass\n", "nested array 'g' cannot have a default"),
    ("class K:\n    n: i32\n    def __init__(self):\n        self.n = 3\n"
     "    def on_in(self, m: In):\n        pass\n", "a kernel class cannot have __init__"),
    ("class K:\n    def __repr__(self):\n        return 'K'\n    def on_in(self, m: In):\n"
     "        pass\n", "a kernel class cannot define __repr__"),
])
def test_kernel_definition_errors(user_kernels, source, message):
    err = compile_error(user_kernels, "@rc.ring_kernel\n" + source)
    assert message in err.message, err.message
    assert_well_formed(err) if err.source_line else None


def test_device_function_cannot_send(user_kernels):
    err = compile_error(user_kernels, """
@rc.device
def bad(x: i32) -> i32:
    rc.emit(Out(i=x))
    return x

@rc.ring_kernel
class K:
    def on_in(self, m: In):
        y = bad(m.a)
""")
    assert "cannot be used in an @rc.device function" in err.message
    assert_well_formed(err)


def test_annotated_local_keeps_its_type(user_kernels):
    from ringc.ir import nodes as ir
    program = build_program(user_kernels(MSGS + """
@rc.ring_kernel
class K:
    def on_in(self, m: In):
        x: i32 = 0
        x = m.b
"""))
    fn = program.kernel("K").handlers[0]
    assert [(d.name, str(d.type)) for d in fn.locals] == [("x", "i32")]
    assert isinstance(fn.body[1].value, ir.Cast)       # i64 -> i32 converts, same_kind


def test_helper_must_return_on_every_path(user_kernels):
    err = compile_error(user_kernels, """
@rc.ring_kernel
class K:
    def on_in(self, m: In):
        x = self.pick(m.a)

    def pick(self, a: i32) -> i32:
        if a > 0:
            return 1
""")
    assert "'pick' may reach its end without returning a i32" in err.message
    assert_well_formed(err)


def test_numbers_in_conditions_test_against_zero(user_kernels):
    program = build_program(user_kernels(MSGS + """
@rc.ring_kernel
class K:
    def on_in(self, m: In):
        if m.a and not m.b or m.x:
            pass
        y = 1 if m.a or m.b else 2
        z = not m.a
"""))
    fn = program.kernel("K").handlers[0]
    assert str(fn.body[0].cond.type) == "bool"
    assert [(d.name, str(d.type)) for d in fn.locals] == [("y", "i32"), ("z", "bool")]


def test_an_array_size_must_be_a_constant_expression(user_module):
    """With string annotations Python leaves sizes to ringc: a name that is no module-level
    int is a located error; an expression of module-level ints is a size."""
    module = user_module("""from __future__ import annotations
import ringc as rc
from ringc import *

ROWS = 3

@rc.message
class In:
    a: i32

@rc.ring_kernel
class Good:
    grid: Array[f32, ROWS * 4]
    big: Array[u8, 2 ** 3 + (1 << 2)]
    def on_in(self, m: In):
        self.grid[ROWS * 4 - 1] = 1.0

@rc.ring_kernel
class Bad:
    grid: Array[f32, rows]
    def on_in(self, m: In):
        pass
""", prelude=False)
    state = build_program(module.Good).kernel("Good").state
    assert (state[0].type.length, state[1].type.length) == (12, 12)
    with pytest.raises(CompileError) as info:
        build_program(module.Bad)
    err = info.value
    assert "the size 'rows' of 'Array[f32, rows]' is not a constant" in err.message
    assert (err.line, err.col) == (20, 11)
    assert "ROWS * COLS" in err.hint


def test_self_cannot_be_assigned(user_kernels):
    err = handler_error(user_kernels, "self = m")
    assert "'self' is the kernel instance" in err.message
    assert where(err) == (1, 8)
    assert_well_formed(err)


@pytest.mark.parametrize("body, col", [("x = 0 < self.h(m.a) < 5", 17),
                                       ("x = 0 < self.h(m.a) + 1 < 5", 17),
                                       ("x = 0 < m.a < self.h(1) < 5", 23)])
def test_a_chained_comparison_refuses_a_call_in_the_middle(user_kernels, body, col):
    source = f"""
@rc.ring_kernel
class K:
    n: i32

    def h(self, x: i32) -> i32:
        self.n += 1
        return x

    def on_in(self, m: In):
        {body}
"""
    err = compile_error(user_kernels, source)
    assert "a chained comparison would evaluate this call twice" in err.message
    assert err.col == col
    assert_well_formed(err)


_EVERY_HANDLER = "    def on_in(self, m: In):\n        pass\n"


@pytest.mark.parametrize("source, message, line", [
    ("    @rc.every(0)\n    def tick(self):\n        pass\n" + _EVERY_HANDLER,
     "@rc.every's period must be positive", 2),
    ("    @rc.every(-0.5)\n    def tick(self):\n        pass\n" + _EVERY_HANDLER,
     "@rc.every's period must be positive", 2),
    ("    @rc.every('fast')\n    def tick(self):\n        pass\n" + _EVERY_HANDLER,
     "@rc.every needs a period in seconds, not 'fast'", 2),
    ("    @rc.every(0.1)\n    def on_in(self, m: In):\n        pass\n",
     "@rc.every cannot make a handler (on_...) periodic", 2),
    ("    @rc.every(0.1)\n    def on_start(self):\n        pass\n" + _EVERY_HANDLER,
     "@rc.every cannot make a lifecycle hook periodic", 2),
    ("    @rc.every(0.1)\n    def tick(self, n: i32):\n        pass\n" + _EVERY_HANDLER,
     "periodic method tick takes only self", 3),
    ("    @rc.every(0.1)\n    def tick(self) -> i32:\n        return 1\n" + _EVERY_HANDLER,
     "periodic method tick returns nothing", 3),
    ("    @rc.every\n    def tick(self):\n        pass\n" + _EVERY_HANDLER,
     "@rc.every takes one argument", 2),
    ("    @rc.every(0.1)\n    def tick(self):\n        pass\n"
     "    def on_in(self, m: In):\n        self.tick()\n", "has no helper method 'tick'", 6),
])
def test_periodic_method_errors(user_kernels, source, message, line):
    err = compile_error(user_kernels, "@rc.ring_kernel\nclass K:\n" + source)
    assert message in err.message, err.message
    assert err.line == PRELUDE_LINES + MSG_LINES + 1 + line
    assert_well_formed(err)


def test_a_parallel_kernel_cannot_have_a_periodic_method(user_kernels):
    err = compile_error(user_kernels, "@rc.ring_kernel(concurrency='parallel')\nclass K:\n"
                        "    @rc.every(0.1)\n    def tick(self):\n        pass\n"
                        + _EVERY_HANDLER)
    assert "periodic methods need an ordered kernel" in err.message
    assert_well_formed(err)


@pytest.mark.parametrize("body, message, col", [
    ("rc.send_after(-5, K, Out(i=1))", "rc.send_after's delay is -5 ns: it cannot be "
     "negative", 22),
    ("rc.send_after(1.5, K, Out(i=1))", "delay is an integer number of nanoseconds", 22),
    ("rc.send_after(10, K)", "rc.send_after takes (delay_ns, Kernel, msg, instance=0)", 8),
    ("t = rc.clock()", "rc.clock() is retired: rc.now() replaced it", 12),
])
def test_time_call_errors(user_kernels, body, message, col):
    err = compile_error(user_kernels, f"""
@rc.ring_kernel
class K:
    def on_out(self, m: Out):
        pass

    def on_in(self, m: In):
        {body}
""")
    assert message in err.message, err.message
    assert (err.line, err.col) == (PRELUDE_LINES + MSG_LINES + 8, col + 1)
    assert_well_formed(err)


def test_a_parallel_kernel_cannot_schedule(user_kernels):
    err = compile_error(user_kernels, "@rc.ring_kernel(concurrency='parallel')\nclass K:\n"
                        "    def on_in(self, m: In):\n        rc.send_after(5, K, m)\n")
    assert "rc.send_after needs an ordered kernel" in err.message
    assert err.line == PRELUDE_LINES + MSG_LINES + 4
    assert_well_formed(err)


def test_timers_option_must_be_a_positive_int(user_module):
    with pytest.raises(CompileError) as info:
        user_module(MSGS + "@rc.ring_kernel(timers=0)\nclass K:\n    def on_in(self, m: In):"
                    "\n        pass\n")
    assert "timers=0 is invalid" in info.value.message
    assert info.value.line == PRELUDE_LINES + MSG_LINES + 1
