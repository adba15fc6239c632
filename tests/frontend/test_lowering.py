"""Every construct of the handler subset lowers to the IR the contract implies."""

from __future__ import annotations

from ringc.frontend import build_program
from ringc.ir import nodes as ir
from ringc.ir.types import ArrayType, MessageType, ScalarType

MESSAGES = """
@rc.message
class In:
    a: i32
    b: i64
    x: f32
    y: f64
    u: u8
    flag: bool
    v: Array[f32, 4]

@rc.message
class Out:
    i: i32
    f: f32
    d: f64
"""


def lower(user_kernels, body: str, state: str = "", extra: str = "") -> ir.FunctionDef:
    source = MESSAGES + extra + f"""
@rc.ring_kernel
class K:
    {state or "count: i64"}

    def on_in(self, m: In):
{_indent(body, 8)}
"""
    program = build_program(user_kernels(source))
    return program.kernel("K").handlers[0]


def _indent(text: str, n: int) -> str:
    import textwrap
    return textwrap.indent(textwrap.dedent(text).strip("\n"), " " * n)


def local_types(fn: ir.FunctionDef) -> dict[str, str]:
    return {d.name: str(d.type) for d in fn.locals}


def assigned(fn: ir.FunctionDef, name: str) -> ir.Expr:
    for stmt in fn.body:
        if isinstance(stmt, ir.Assign) and isinstance(stmt.target, ir.Local) \
                and stmt.target.name == name:
            return stmt.value
    raise KeyError(name)


def t(name: str) -> ScalarType:
    return ScalarType(name)


# -- literals and promotion -----------------------------------------------------------------

def test_literals_alone_take_default_types(user_kernels):
    fn = lower(user_kernels, """
        a = 1
        b = 3000000000
        c = 1.5
        d = True
    """)
    assert local_types(fn) == {"a": "i32", "b": "i64", "c": "f32", "d": "bool"}


def test_literal_takes_type_of_typed_operand(user_kernels):
    fn = lower(user_kernels, """
        p = m.u + 1
        q = m.b * 2
        r = m.y + 0.5
    """)
    assert local_types(fn) == {"p": "u8", "q": "i64", "r": "f64"}
    assert assigned(fn, "p") == ir.Binary("add", ir.Member(ir.Local("m", MessageType("In")),
                                                           "u", t("u8")),
                                          ir.Const(1, t("u8")), t("u8"))


def test_int_meeting_float_gives_the_float_type(user_kernels):
    fn = lower(user_kernels, """
        p = m.a + m.x
        q = m.b + m.x
        r = m.a * 0.5
        s = m.b * 0.5
    """)
    assert local_types(fn) == {"p": "f32", "q": "f32", "r": "f32", "s": "f64"}


def test_true_division_of_ints_gives_float(user_kernels):
    fn = lower(user_kernels, """
        p = m.a / 2
        q = m.b / m.a
        r = 7 / 2
    """)
    assert local_types(fn) == {"p": "f32", "q": "f64", "r": "f32"}
    assert assigned(fn, "r") == ir.Const(3.5, t("f32"))


def test_integer_promotion_follows_numpy(user_kernels):
    fn = lower(user_kernels, """
        p = m.a + m.u
        q = m.a + m.b
    """)
    assert local_types(fn) == {"p": "i32", "q": "i64"}


def test_local_type_is_promotion_of_all_assignments(user_kernels):
    fn = lower(user_kernels, """
        s = 0.0
        s += m.y
        n = 0
        n = n + m.b
    """)
    assert local_types(fn) == {"s": "f64", "n": "i64"}


def test_constant_folding_of_literals_and_module_constants(user_kernels):
    fn = lower(user_kernels, """
        p = LIMIT * 2 + 1
        q = m.a + LIMIT
        r = -LIMIT // 3
        z = SCALE * m.x
    """, extra="LIMIT = 10\nSCALE = 0.25\n")
    assert assigned(fn, "p") == ir.Const(21, t("i32"))
    assert assigned(fn, "r") == ir.Const(-4, t("i32"))
    assert local_types(fn)["z"] == "f32"


def test_math_floor_returns_the_float_type_given(user_kernels):
    fn = lower(user_kernels, """
        p = math.floor(m.y)
        q = math.sqrt(m.a)
        r = math.isnan(m.x)
        s = min(m.a, m.u, 3)
        u = abs(m.b)
    """)
    assert local_types(fn) == {"p": "f64", "q": "f32", "r": "bool", "s": "i32", "u": "i64"}


# -- stores -----------------------------------------------------------------------------

def test_stores_convert_same_kind(user_kernels):
    fn = lower(user_kernels, """
        self.count = m.a
        self.ratio = m.y
    """, state="count: i64\n    ratio: f32")
    first, second = fn.body
    assert first.value == ir.Cast(ir.Member(ir.Local("m", MessageType("In")), "a", t("i32")),
                                  t("i64"))
    assert second.value.type == t("f32")


def test_explicit_casts(user_kernels):
    fn = lower(user_kernels, """
        p = i32(m.x)
        q = f64(m.a)
        r = u8(300)
    """)
    assert assigned(fn, "p") == ir.Cast(ir.Member(ir.Local("m", MessageType("In")), "x",
                                                  t("f32")), t("i32"))
    assert assigned(fn, "r") == ir.Const(44, t("u8"))
    assert local_types(fn)["q"] == "f64"


def test_augmented_assignment_on_state_array(user_kernels):
    fn = lower(user_kernels, "self.hist[m.a % 8] += 1", state="hist: Array[i32, 8]")
    stmt = fn.body[0]
    assert isinstance(stmt.target, ir.Index)
    assert stmt.target.base == ir.State("hist", ArrayType(t("i32"), 8))
    assert isinstance(stmt.value, ir.Binary) and stmt.value.op == "add"


# -- control flow -----------------------------------------------------------------------

def test_control_flow_statements(user_kernels):
    fn = lower(user_kernels, """
        total = 0
        for i in range(10):
            if i == 3:
                continue
            elif i > 8:
                break
            total += i
        j = 5
        while j > 0:
            j -= 1
        for k in range(10, 0, -2):
            total += k
        if not m.flag:
            return
    """)
    kinds = [type(s).__name__ for s in fn.body]
    assert kinds == ["Assign", "For", "Assign", "While", "For", "If"]
    loop = fn.body[1]
    assert loop.step == 1 and loop.start == ir.Const(0, t("i32"))
    inner = loop.body[0]
    assert isinstance(inner.then[0], ir.Continue)
    assert isinstance(inner.orelse[0], ir.If) and isinstance(inner.orelse[0].then[0], ir.Break)
    assert fn.body[4].step == -2


def test_conditional_expression_and_boolean_operators(user_kernels):
    fn = lower(user_kernels, """
        p = m.x if m.a > 0 and not m.flag else 0.0
        q = m.a > 0 or m.b < 0
        r = 0 < m.a < 10
    """)
    sel = assigned(fn, "p")
    assert isinstance(sel, ir.Select) and sel.type == t("f32")
    assert isinstance(sel.cond, ir.Logical) and sel.cond.op == "and"
    assert assigned(fn, "r").op == "and"


def test_truthiness_of_numbers_in_conditions(user_kernels):
    fn = lower(user_kernels, """
        if m.a:
            self.count += 1
    """)
    cond = fn.body[0].cond
    assert cond == ir.Compare("ne", ir.Member(ir.Local("m", MessageType("In")), "a", t("i32")),
                              ir.Const(0, t("i32")), t("bool"))


# -- messages, replies, intrinsics ------------------------------------------------------------

def test_reply_with_omitted_fields_and_local_message(user_kernels):
    fn = lower(user_kernels, """
        r = Out(i=m.a)
        r.f = m.x * 2.0
        if m.flag:
            return Out(d=m.y)
        return r
    """)
    assert fn.returns == MessageType("Out")
    new = assigned(fn, "r")
    assert new == ir.MessageNew("Out", (("i", ir.Member(ir.Local("m", MessageType("In")), "a",
                                                           t("i32"))),), MessageType("Out"))
    assert isinstance(fn.body[1].target, ir.Member)


def test_intrinsics(user_kernels):
    source = MESSAGES + """
@rc.ring_kernel(instances=4)
class Sink:
    def on_out(self, m: Out):
        pass

@rc.ring_kernel
class K:
    waiting: Array[rc.Address, 4]
    hits: u32

    def on_in(self, m: In):
        self.waiting[0] = rc.sender()
        rc.send(Sink, Out(i=m.a), instance=m.a % 4)
        rc.emit(Out(f=m.x))
        rc.reply(self.waiting[0], Out())
        old = rc.atomic_add(self.hits, 1)
        t = rc.now()
        me = rc.instance_id()
        if old > 10:
            rc.fail("too_many")
"""
    program = build_program(user_kernels(source)[1:])
    assert [k.name for k in program.kernels] == ["K", "Sink"]   # Sink reached by rc.send
    fn = program.kernel("K").handlers[0]
    kinds = [type(s).__name__ for s in fn.body]
    assert kinds == ["Assign", "Send", "Emit", "Reply", "Assign", "Assign", "Assign", "If"]
    assert fn.body[1].kernel == "Sink"
    assert fn.body[4].value.name == "atomic_add"
    assert local_types(fn) == {"old": "u32", "t": "i64", "me": "i32"}
    assert fn.body[7].then[0] == ir.Fail("too_many", fn.body[7].then[0].loc)


def test_helpers_and_device_functions(user_kernels):
    fn_source = MESSAGES + """
@rc.device
def square(x: f32) -> f32:
    return x * x

@rc.ring_kernel
class K:
    total: f64

    def on_in(self, m: In) -> Out:
        self.add(m.y)
        return Out(f=square(m.x), d=self.total)

    def add(self, v: f64):
        self.total += v
"""
    program = build_program(user_kernels(fn_source))
    kernel = program.kernel("K")
    assert [h.name for h in kernel.helpers] == ["add"]
    assert [f.name for f in program.functions] == ["square"]
    call = kernel.handlers[0].body[0]
    assert call == ir.ExprStmt(ir.HelperCall("add", (ir.Member(ir.Local("m", MessageType("In")),
                                                              "y", t("f64")),), None), call.loc)


def test_message_type_ids_follow_first_use(user_kernels):
    program = build_program(user_kernels(MESSAGES + """
@rc.ring_kernel
class K:
    def on_out(self, m: Out):
        pass
    def on_in(self, m: In):
        pass
"""))
    assert [(m.name, m.type_id) for m in program.messages] == [("Out", 1), ("In", 2)]


def test_state_defaults(user_kernels):
    program = build_program(user_kernels(MESSAGES + """
LIMIT = 7

@rc.ring_kernel(mode="event_driven", capacity=64, concurrency="parallel")
class K:
    count: i64 = LIMIT
    weights: Array[f32, 3] = [0.5, 1, 2.0]
    on: bool = True

    def on_in(self, m: In):
        rc.atomic_add(self.count, 1)
"""))
    kernel = program.kernel("K")
    assert [s.init for s in kernel.state] == [7, (0.5, 1.0, 2.0), True]
    assert kernel.options.mode == "event_driven" and kernel.options.capacity == 64
    assert kernel.options.max_batch == 32


def test_awkward_names_are_plain_names_in_ir(user_kernels):
    program = build_program(user_kernels("""
@rc.message
class kernel:
    switch: i32
    float4: f32
    device: i64

@rc.ring_kernel
class K:
    thread: i32

    def on_kernel(self, m: kernel):
        half = m.switch + 1
        self.thread = half
"""))
    fn = program.kernel("K").handlers[0]
    assert local_types(fn) == {"half": "i32"}
    assert [f.name for f in program.messages[0].fields] == ["switch", "float4", "device"]
