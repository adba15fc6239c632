"""Hypothesis strategies that write random, well-typed ring-kernel *Python source*.

The programs exercise the whole handler subset: every operator, casts, math, conditional
expressions, short-circuit logic, nested if/for/while, state arrays, message construction,
replies and emits. Every assignment to a local casts to the local's declared type, so each
generated program compiles; what it computes at run time is arbitrary (it may fault).
"""

from __future__ import annotations

from hypothesis import strategies as st

# u64 is left out: mixing it with i64 is (rightly) a compile error.
INT_TYPES = ("i8", "i16", "i32", "i64", "u8", "u16", "u32")
FLOAT_TYPES = ("f32", "f64")

HEADER = '''
@rc.message
class In:
    a: i32
    b: i64
    c: u16
    x: f32
    y: f64
    flag: bool
    v: Array[f32, 4]

@rc.message
class Out:
    i: i64
    f: f64
    ok: bool

@rc.device
def clamp(x: f64, lo: f64, hi: f64) -> f64:
    return max(lo, min(x, hi))

@rc.ring_kernel
class Gen:
    si: i32
    su: u32
    sl: i64
    sf: f32
    arr: Array[i32, 8]
    farr: Array[f64, 4]
    q: rc.Queue[i32, 4]
    stk: rc.Stack[f32, 3]
    tbl: rc.Map[i16, i32, 4]
    lru: rc.LRUMap[i32, i64, 3]
    last: In

    def on_in(self, m: In) -> Out:
'''

INT_LEAVES = ("m.a", "m.b", "m.c", "self.si", "self.su", "self.sl", "self.arr[m.a % 8]")
FLOAT_LEAVES = ("m.x", "m.y", "m.v[2]", "self.sf", "self.farr[1]")


def _int_expr(depth: int, locals_: list[tuple[str, str]]):
    names = [n for n, t in locals_ if t in INT_TYPES]
    leaves = (st.sampled_from(INT_LEAVES + tuple(names))
              | st.integers(-1000, 1000).map(lambda v: f"i16({v})"))
    if depth <= 0:
        return leaves
    sub = _int_expr(depth - 1, locals_)
    fsub = _float_expr(depth - 1, locals_)
    bsub = _bool_expr(depth - 1, locals_)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "//", "%", "&", "|", "^"]), sub)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, st.sampled_from(["<<", ">>"]), st.integers(0, 70))
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(INT_TYPES), fsub).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(INT_TYPES), sub).map(lambda t: f"{t[0]}({t[1]})"),
        sub.map(lambda e: f"abs({e})"),
        sub.map(lambda e: f"(-{e})"),
        sub.map(lambda e: f"(~{e})"),
        st.tuples(sub, sub).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(bsub, sub, sub).map(lambda t: f"({t[1]} if {t[0]} else {t[2]})"),
    )


def _float_expr(depth: int, locals_: list[tuple[str, str]]):
    names = [n for n, t in locals_ if t in FLOAT_TYPES]
    leaves = (st.sampled_from(FLOAT_LEAVES + tuple(names))
              | st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"f64({v!r})"))
    if depth <= 0:
        return leaves
    sub = _float_expr(depth - 1, locals_)
    isub = _int_expr(depth - 1, locals_)
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "//", "%"]), sub)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(sub, st.sampled_from(["+", "*", "/"]), isub)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["sqrt", "exp", "log", "sin", "cos", "floor", "ceil",
                                   "fabs"]), sub).map(lambda t: f"math.{t[0]}({t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"math.pow({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"max({t[0]}, {t[1]})"),
        st.tuples(st.sampled_from(FLOAT_TYPES), isub).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(sub, sub, sub).map(lambda t: f"clamp({t[0]}, {t[1]}, {t[2]})"),
    )


def _bool_expr(depth: int, locals_: list[tuple[str, str]]):
    leaves = st.sampled_from(["m.flag", "True", "False"])
    if depth <= 0:
        return leaves
    isub = _int_expr(depth - 1, locals_)
    fsub = _float_expr(depth - 1, locals_)
    bsub = _bool_expr(depth - 1, locals_)
    cmp = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
    return st.one_of(
        leaves,
        st.tuples(isub, cmp, isub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(fsub, cmp, fsub).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(bsub, st.sampled_from(["and", "or"]), bsub)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        bsub.map(lambda e: f"(not {e})"),
        fsub.map(lambda e: f"math.isnan({e})"),
    )


def _expr_of(t: str, depth: int, locals_):
    if t in FLOAT_TYPES:
        return _float_expr(depth, locals_)
    if t == "bool":
        return _bool_expr(depth, locals_)
    return _int_expr(depth, locals_)


@st.composite
def statements(draw, locals_, depth: int, indent: int, loop_vars: list[str]) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["assign", "assign", "state", "if", "for", "while",
                                     "emit", "container", "container", "try", "each"]
                                    if depth > 0 else ["assign", "state", "emit", "container"]))
        if kind == "assign":
            name, t = draw(st.sampled_from(locals_))
            lines.append(f"{pad}{name} = {t}({draw(_expr_of(t, 2, locals_))})")
        elif kind == "state":
            target, t = draw(st.sampled_from([("self.si", "i32"), ("self.sl", "i64"),
                                              ("self.sf", "f32"), ("self.arr[m.a % 8]", "i32"),
                                              ("self.farr[m.c % 4]", "f64")]))
            op = draw(st.sampled_from(["=", "+=", "-="]))
            lines.append(f"{pad}{target} {op} {t}({draw(_expr_of(t, 2, locals_))})")
        elif kind == "emit":
            lines.append(f"{pad}rc.emit(Out(i={draw(_int_expr(1, locals_))}, "
                         f"f={draw(_float_expr(1, locals_))}))")
        elif kind == "if":
            lines.append(f"{pad}if {draw(_bool_expr(2, locals_))}:")
            lines += draw(statements(locals_, depth - 1, indent + 4, loop_vars))
            if draw(st.booleans()):
                lines.append(f"{pad}else:")
                lines += draw(statements(locals_, depth - 1, indent + 4, loop_vars))
        elif kind == "for":
            var = f"k{len(loop_vars)}"
            step = draw(st.sampled_from([1, 2, -1, -3]))
            bounds = (0, draw(st.integers(0, 6))) if step > 0 else (draw(st.integers(0, 6)), -1)
            lines.append(f"{pad}for {var} in range({bounds[0]}, {bounds[1]}, {step}):")
            body = draw(statements(locals_, depth - 1, indent + 4, loop_vars + [var]))
            if draw(st.booleans()):
                body.append(f"{pad}    if {var} == 2:")
                body.append(f"{pad}        {draw(st.sampled_from(['break', 'continue']))}")
            lines += body
        elif kind == "container":
            i, f = draw(_int_expr(1, locals_)), draw(_float_expr(1, locals_))
            lines.append(pad + draw(st.sampled_from([
                f"self.q.push(i32({i}))", "self.si = self.q.pop()", "self.si += self.q.peek()",
                f"self.stk.push(f32({f}))", "self.sf = self.stk.pop()",
                f"self.tbl[i16(({i}) % 6)] = i32(m.a)", "self.si += self.tbl[i16(m.c % 6)]",
                f"self.si += self.tbl.get(i16(({i}) % 6), i32(-1))",
                f"self.lru.put(i32(({i}) % 5), i64(m.b))",
                f"self.sl += self.lru.get(i32(({i}) % 5), i64(7))",
                "if self.tbl.remove(i16(m.c % 6)):\n" + pad + "    self.su += 1",
                "self.si += i32((m.a % 5) in self.lru) + len(self.q) + len(self.tbl)",
                "self.sl += i64(self.lru.evictions) + i64(self.stk.full())",
                "self.q[m.a % 3] += 1", "self.last = m", "self.last.a += self.q[0]",
                "self.lru.clear()", "self.q.clear()"])))
        elif kind == "try":
            lines.append(f"{pad}try:")
            lines += draw(statements(locals_, depth - 1, indent + 4, loop_vars))
            lines.append(f"{pad}except rc.Fault as fault:")
            lines.append(f"{pad}    if fault.reason == \"container_empty\":")
            lines.append(f"{pad}        self.si -= 1")
            lines.append(f"{pad}    elif fault.reason != \"container_full\":")
            lines.append(f"{pad}        raise")
            if draw(st.booleans()):
                lines.append(f"{pad}else:")
                lines.append(f"{pad}    self.su += 1")
            if draw(st.booleans()):
                lines.append(f"{pad}finally:")
                lines.append(f"{pad}    self.sl += 1")
        elif kind == "each":
            box, into = draw(st.sampled_from([("self.q", "self.si += {v}"),
                                              ("self.tbl", "self.si += i32({v})"),
                                              ("self.lru", "self.sl += i64({v})"),
                                              ("self.stk", "self.sf += {v}")]))
            var = f"e{len(loop_vars)}_{box[5:]}"     # one name per container: one type
            lines.append(f"{pad}for {var} in {box}:")
            lines.append(f"{pad}    {into.format(v=var)}")
        else:  # while with a counter, so it terminates
            var = f"w{len(loop_vars)}"
            lines.append(f"{pad}{var} = 0")
            lines.append(f"{pad}while {var} < {draw(st.integers(0, 4))}:")
            lines.append(f"{pad}    {var} += 1")
            lines += draw(statements(locals_, depth - 1, indent + 4, loop_vars + [var]))
    return lines


@st.composite
def kernel_sources(draw) -> str:
    """The source of a module (after the test prelude) with one generated kernel."""
    n = draw(st.integers(1, 4))
    locals_ = [(f"v{i}", draw(st.sampled_from(INT_TYPES + FLOAT_TYPES + ("bool",))))
               for i in range(n)]
    body = [f"        {name} = {t}({'False' if t == 'bool' else 0})" for name, t in locals_]
    body += draw(statements(locals_, 2, 8, []))
    body.append(f"        return Out(i={draw(_int_expr(1, locals_))}, "
                f"f={draw(_float_expr(1, locals_))}, ok={draw(_bool_expr(1, locals_))})")
    return HEADER + "\n".join(body) + "\n"
