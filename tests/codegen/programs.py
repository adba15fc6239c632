"""Hand-built IR programs covering every statement, expression and intrinsic, with Python
references for the ones the PoCL tests run. `semantics_program(metal=True)` leaves out what
Metal lacks (f64, 64-bit atomics); `coverage_program()` adds persistent and parallel kernels,
several instances and awkward user names, for build-only tests."""

from __future__ import annotations

import math

import numpy as np

from ringc.ir.nodes import Program
from ringc.ir.types import ADDRESS, MessageType, cast_value

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
    arr,
    assign,
    bin_,
    brk,
    c,
    call,
    cast,
    cmp,
    cont,
    emit,
    expr_stmt,
    fail,
    for_,
    function,
    handler,
    hcall,
    idx,
    if_,
    intr,
    kernel,
    lv,
    mcall,
    mem,
    message,
    new,
    or_,
    reply,
    ret,
    sel,
    send,
    st,
    un,
    while_,
)

# ---- integers -----------------------------------------------------------------------------

INT_KEYS = {"8": I8, "16": I16, "32": I32, "64": I64, "u8": U8, "u32": U32, "u64": U64}
INT_OPS = ("add", "sub", "mul", "floordiv", "mod", "shl", "shr", "bitand", "bitor", "bitxor",
           "neg", "invert", "abs", "min", "max", "narrow", "lt")
# narrowing/widening casts: result key <- source key
NARROW = {"8": "64", "16": "32", "32": "64", "64": "u64", "u8": "32", "u32": "8", "u64": "32"}


def _int_result(op: str, m):
    fields = {}
    for key, t in INT_KEYS.items():
        a, b = mem(m, "a" + key, t), mem(m, "b" + key, t)
        if op in ("neg", "invert"):
            value = un(op, a)
        elif op in ("abs",):
            value = mcall(op, a)
        elif op in ("min", "max"):
            value = mcall(op, a, b)
        elif op == "narrow":
            source = NARROW[key]
            value = cast(mem(m, "a" + source, INT_KEYS[source]), t)
        elif op == "lt":
            value = cast(cmp("lt", a, b), t)
        else:
            value = bin_(op, a, b)
        fields["r" + key] = value
    return new("IntRes", **fields)


_NUMPY_INT_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "shl": np.left_shift, "shr": np.right_shift, "bitand": lambda a, b: a & b,
    "bitor": lambda a, b: a | b, "bitxor": lambda a, b: a ^ b, "neg": lambda a, b: -a,
    "invert": lambda a, b: ~a, "abs": lambda a, b: np.abs(a), "min": min, "max": max}


def int_reference(op: str, values: dict) -> dict | None:
    """numpy's (Python's, for // and %) answer; None when the handler must fault."""
    out = {}
    for key, t in INT_KEYS.items():
        a, b = t.np_dtype.type(values["a" + key]), t.np_dtype.type(values["b" + key])
        with np.errstate(all="ignore"):
            if op in ("floordiv", "mod"):
                if int(b) == 0:
                    return None
                r = int(a) // int(b) if op == "floordiv" else int(a) % int(b)
            elif op == "narrow":
                r = values["a" + NARROW[key]]
            elif op == "lt":
                r = int(a < b)
            else:
                r = _NUMPY_INT_OPS[op](a, b)
        out["r" + key] = cast_value(int(r), t)
    return out


# ---- floats -------------------------------------------------------------------------------

FLOAT_OPS = ("add", "sub", "mul", "div", "floordiv", "mod", "sqrt", "muladd", "cast", "minmax",
             "tests", "unary", "rounding", "intfloat", "transcend")


def _float_result(op: str, m, f64: bool):
    a, b, cc = mem(m, "a", F32), mem(m, "b", F32), mem(m, "c", F32)
    x, y = (mem(m, "x", F64), mem(m, "y", F64)) if f64 else (None, None)
    f, fields = {}, {}
    if op in ("add", "sub", "mul", "div", "floordiv", "mod"):
        f = {"f": bin_(op, a, b), "d": bin_(op, x, y) if f64 else None}
    elif op == "sqrt":
        f = {"f": mcall("sqrt", a), "d": mcall("sqrt", x) if f64 else None}
    elif op == "muladd":
        f = {"f": bin_("add", bin_("mul", a, b), cc),
             "d": bin_("add", bin_("mul", x, y), x) if f64 else None}
    elif op == "cast":
        f = {"i": cast(a, I32), "u": cast(a, U32), "s8": cast(a, I8), "g": cast(b, F32),
             "l": cast(x, I64) if f64 else cast(b, I64),
             "ul": cast(x, U64) if f64 else cast(b, U64),
             "f": cast(x, F32) if f64 else a, "d": cast(a, F64) if f64 else None}
    elif op == "minmax":
        f = {"f": mcall("min", a, b), "g": mcall("max", a, b),
             "d": mcall("min", x, y) if f64 else None}
    elif op == "tests":
        f = {"flag": or_(mcall("isnan", a), and_(mcall("isinf", b), cmp("gt", b, c(0.0, F32)))),
             "i": cast(mcall("isinf", b), I32)}
    elif op == "unary":
        f = {"f": un("neg", a), "g": mcall("fabs", b), "d": mcall("abs", x) if f64 else None}
    elif op == "rounding":
        f = {"f": mcall("floor", a), "g": mcall("ceil", b),
             "d": mcall("ceil", x) if f64 else None}
    elif op == "intfloat":
        f = {"f": cast(cast(b, I64), F32), "g": cast(cast(a, U32), F32),
             "d": cast(cast(a, I32), F64) if f64 else None}
    elif op == "transcend":
        f = {"f": mcall("exp", a), "g": mcall("log", b),
             "d": mcall("sin", x) if f64 else None}
    fields.update({k: v for k, v in f.items() if v is not None})
    return new("FloatRes", **fields)


def float_reference(op: str, v: dict, f64: bool) -> dict:
    """numpy's answer (float32 arithmetic for f32, float64 for f64)."""
    a, b, cc = np.float32(v["a"]), np.float32(v["b"]), np.float32(v["c"])
    x, y = np.float64(v["x"]), np.float64(v["y"])
    ops = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
           "floordiv": np.floor_divide, "mod": np.remainder}
    r = {}
    with np.errstate(all="ignore"):
        if op in ops:
            r = {"f": ops[op](a, b), "d": ops[op](x, y)}
        elif op == "sqrt":
            r = {"f": np.sqrt(a), "d": np.sqrt(x)}
        elif op == "muladd":
            r = {"f": a * b + cc, "d": x * y + x}
        elif op == "cast":
            r = {"i": cast_value(a, I32), "u": cast_value(a, U32), "s8": cast_value(a, I8),
                 "g": b, "l": cast_value(x if f64 else b, I64),
                 "ul": cast_value(x if f64 else b, U64), "f": np.float32(x) if f64 else a,
                 "d": np.float64(a)}
        elif op == "minmax":
            r = {"f": min(a, b), "g": max(a, b), "d": min(x, y)}
        elif op == "tests":
            r = {"flag": bool(np.isnan(a) or (np.isinf(b) and b > 0)), "i": int(np.isinf(b))}
        elif op == "unary":
            r = {"f": -a, "g": np.abs(b), "d": np.abs(x)}
        elif op == "rounding":
            r = {"f": np.floor(a), "g": np.ceil(b), "d": np.ceil(x)}
        elif op == "intfloat":
            r = {"f": np.float32(cast_value(b, I64)), "g": np.float32(cast_value(a, U32)),
                 "d": np.float64(cast_value(a, I32))}
        elif op == "transcend":
            r = {"f": np.exp(a), "g": np.log(b), "d": np.sin(x)}
    if not f64:
        r.pop("d", None)
    return r


# ---- the programs -------------------------------------------------------------------------

def _messages(f64: bool):
    ints = {"op": I32, **{p + k: t for k, t in INT_KEYS.items() for p in "ab"}}
    floats = {"op": I32, "a": F32, "b": F32, "c": F32, **({"x": F64, "y": F64} if f64 else {})}
    float_res = {"f": F32, "g": F32, "d": F64 if f64 else F32, "i": I32, "l": I64, "u": U32,
                 "s8": I8, "ul": U64, "flag": BOOL}
    specs = [
        ("Ints", ints), ("IntRes", {"r" + k: t for k, t in INT_KEYS.items()}),
        ("Floats", floats), ("FloatRes", float_res),
        ("Idx", {"i": I32, "v": F32}), ("IdxRes", {"v": F32, "total": F32, "when": U64}),
        ("Loop", {"start": I32, "stop": I32}), ("LoopRes", {"s": I64, "n": I32, "w": I32}),
        ("Req", {"x": I32}), ("Job", {"x": I32, "back": ADDRESS}),
        ("Done", {"x": I32, "inst": I32}), ("Ack", {"x": I32}),
        ("Tick", {"v": I32}), ("TickAck", {"old": U32}),
        ("OddMsg", {"switch": I32, "device": I32, "kernel": I16, "float4": F32, "rc_x": I32,
                    "int": I32, "thread": BOOL, "private": U32, "half": I8}),
        ("Order", {"n": I32}), ("OrderRes", {"a": I32, "b": I32, "s": I32, "flag": BOOL}),
    ]
    return tuple(message(name, i + 1, **fields) for i, (name, fields) in enumerate(specs))


def _calc(f64: bool):
    m_i, m_f = lv("m", MessageType("Ints")), lv("m", MessageType("Floats"))
    r_i, r_f = lv("r", MessageType("IntRes")), lv("r", MessageType("FloatRes"))
    on_ints = handler("on_ints", "m", "Ints", [
        *[if_(cmp("eq", mem(m_i, "op", I32), c(k)), [assign(r_i, _int_result(op, m_i))])
          for k, op in enumerate(INT_OPS)],
        ret(r_i)], returns=MessageType("IntRes"), r=MessageType("IntRes"))
    on_floats = handler("on_floats", "m", "Floats", [
        *[if_(cmp("eq", mem(m_f, "op", I32), c(k)), [assign(r_f, _float_result(op, m_f, f64))])
          for k, op in enumerate(FLOAT_OPS)],
        ret(r_f)], returns=MessageType("FloatRes"), r=MessageType("FloatRes"))
    m = lv("m", MessageType("Idx"))
    table = st("kernel", arr(F32, 8))
    i_ = mem(m, "i", I32)
    on_idx = handler("on_idx", "m", "Idx", [
        if_(cmp("eq", i_, c(99)), [fail("ninety-nine")]),
        if_(cmp("eq", i_, c(-99)), [fail("minus ninety-nine")]),
        assign(idx(table, i_), mem(m, "v", F32)),
        assign(lv("total", F32), c(0.0, F32)),
        for_("k", c(0), c(8), 1, [assign(lv("total", F32), bin_("add", lv("total", F32),
                                                                  idx(table, lv("k", I32))))]),
        ret(new("IdxRes", v=bin_("add", idx(table, i_), c(1.0, F32)), total=lv("total", F32),
                when=cast(intr("now"), U64)))],
        returns=MessageType("IdxRes"), total=F32, k=I32)
    return kernel("Calc", state=[("kernel", arr(F32, 8), None)],
                  handlers=[on_ints, on_floats, on_idx, _loop_handler()], mode="event_driven")


def _loop_handler():
    m = lv("m", MessageType("Loop"))
    s, n, w, t = lv("s", I64), lv("n", I32), lv("w", I32), lv("t", I32)
    add = lambda a, b: bin_("add", a, b)  # noqa: E731
    return handler("on_loop", "m", "Loop", [
        assign(s, c(0, I64)), assign(n, c(0)), assign(w, c(0)), assign(t, c(0)),
        for_("i", mem(m, "start", I32), mem(m, "stop", I32), 3,
             [assign(s, add(s, cast(lv("i", I32), I64)))]),
        for_("j", mem(m, "stop", I32), mem(m, "start", I32), -2, [assign(n, add(n, c(1)))]),
        for_("k", c(2147483640), c(2147483647), 4, [assign(n, add(n, c(100)))]),
        for_("k", c(-2147483647), c(-2147483648), -5, [assign(n, add(n, c(1000)))]),
        for_("q", c(0, U8), c(255, U8), 100, [assign(n, add(n, c(10000)))]),
        while_(c(True, BOOL), [
            assign(t, add(t, c(1))),
            if_(cmp("gt", t, c(20)), [brk()]),
            if_(cmp("eq", bin_("mod", t, c(3)), c(0)), [cont()]),
            assign(w, add(w, t))]),
        ret(new("LoopRes", s=s, n=n, w=w))],
        returns=MessageType("LoopRes"), s=I64, n=I32, w=I32, t=I32, i=I32, j=I32, k=I32, q=U8)


def loop_reference(start: int, stop: int) -> dict:
    n = len(range(stop, start, -2)) + 100 * 2 + 1000 * 1 + 10000 * 3
    w = sum(t for t in range(1, 21) if t % 3)
    return {"s": sum(range(start, stop, 3)), "n": n, "w": w}


def _pipeline():
    m = lv("m", MessageType("Req"))
    on_req = handler("on_req", "m", "Req", [
        send("Back", new("Job", x=mem(m, "x", I32), back=intr("sender")),
             instance=bin_("mod", mem(m, "x", I32), c(3)))])
    a = lv("a", MessageType("Ack"))
    on_ack = handler("on_ack", "a", "Ack", [
        emit(new("Ack", x=bin_("add", mem(a, "x", I32), c(1000))))])
    front = kernel("Front", handlers=[on_req, on_ack], mode="event_driven")
    j = lv("j", MessageType("Job"))
    seen, count = st("seen", arr(ADDRESS, 4)), st("count", I32)
    on_job = handler("on_job", "j", "Job", [
        assign(idx(seen, bin_("mod", count, c(4))), mem(j, "back", ADDRESS)),
        assign(count, bin_("add", count, c(1))),
        reply(idx(seen, bin_("mod", bin_("sub", count, c(1)), c(4))),
              new("Done", x=bin_("mul", mem(j, "x", I32), c(2)), inst=intr("instance_id"))),
        if_(cmp("ne", mem(mem(j, "back", ADDRESS), "queue", U32), c(0xFFFFFFFF, U32)),
            [ret()]),
        ret(new("Ack", x=mem(j, "x", I32)))], returns=MessageType("Ack"))
    back = kernel("Back", state=[("seen", arr(ADDRESS, 4), None), ("count", I32, None)],
                  handlers=[on_job], instances=2, mode="event_driven")
    return front, back


def _parallel(atomics64: bool):
    t = lv("t", MessageType("Tick"))
    v = mem(t, "v", I32)
    body = [
        assign(lv("old", U32), intr("atomic_add", st("count", U32), c(1, U32))),
        expr_stmt(intr("atomic_add", st("total", F32), cast(v, F32))),
        expr_stmt(intr("atomic_max", st("hi", I32), v)),
        expr_stmt(intr("atomic_min", st("lo", I32), v)),
        expr_stmt(intr("atomic_cas", idx(st("slots", arr(I32, 4)), bin_("mod", v, c(4))), c(0),
                       v)),
    ]
    if atomics64:
        body.append(expr_stmt(intr("atomic_add", st("big", I64), cast(v, I64))))
    body.append(emit(new("TickAck", old=lv("old", U32))))
    state = [("count", U32, None), ("total", F32, None), ("hi", I32, -1000),
             ("lo", I32, 1000), ("slots", arr(I32, 4), None), ("big", I64, None)]
    return kernel("Par", state=state, handlers=[handler("on_tick", "t", "Tick", body,
                                                        old=U32)],
                  concurrency="parallel", mode="event_driven")


def _odd():
    """Awkward user names everywhere, a helper and call-order semantics."""
    d = lv("device", MessageType("OddMsg"))
    names = {"switch": I32, "device": I32, "kernel": I16, "float4": F32, "rc_x": I32,
             "int": I32, "thread": BOOL, "private": U32, "half": I8}
    f = {n: mem(d, n, t) for n, t in names.items()}
    sw, fl4 = lv("switch", I32), lv("float4", F32)
    on_odd = handler("on_odd", "device", "OddMsg", [
        assign(sw, bin_("add", f["switch"], f["device"])),
        assign(fl4, hcall("float4", [f["float4"]], F32)),
        assign(lv("int", I32), call("half", [f["int"]], I32)),
        assign(lv("rc_x", I32), bin_("mul", f["rc_x"], c(3))),
        assign(st("kernel", I32), bin_("add", st("kernel", I32), c(1))),
        ret(new("OddMsg", switch=sw, device=st("kernel", I32), kernel=f["kernel"], float4=fl4,
                rc_x=lv("rc_x", I32), int=lv("int", I32), thread=un("not", f["thread"]),
                private=bin_("bitor", f["private"], c(1, U32)),
                half=un("neg", f["half"])))],
        returns=MessageType("OddMsg"), switch=I32, float4=F32, int=I32, rc_x=I32)
    x = lv("x", F32)
    float4 = function("float4", {"x": F32}, F32, [ret(bin_("mul", x, c(2.0, F32)))])
    s = st("s", I32)
    n = lv("n", I32)
    bump = function("bump", {"n": I32}, I32, [
        assign(s, bin_("add", bin_("mul", s, c(10)), n)), ret(s)])
    a_, b_ = lv("a", I32), lv("b", I32)
    bump_call = lambda k: hcall("bump", [c(k)], I32)  # noqa: E731
    on_order = handler("on_order", "o", "Order", [
        assign(a_, bin_("add", bump_call(1), bump_call(2))),
        assign(b_, bin_("add", s, bump_call(3))),
        assign(lv("z", I32), sel(cmp("gt", a_, c(100)), bump_call(4), c(7))),
        assign(lv("flag", BOOL), and_(cmp("gt", a_, c(100)), cmp("gt", bump_call(5), c(0)))),
        ret(new("OrderRes", a=a_, b=b_, s=bin_("add", s, lv("z", I32)), flag=lv("flag", BOOL)))],
        returns=MessageType("OrderRes"), a=I32, b=I32, z=I32, flag=BOOL)
    return kernel("Odd", state=[("kernel", I32, None), ("s", I32, None)],
                  handlers=[on_odd, on_order], helpers=[float4, bump], mode="event_driven")


def odd_reference(v: dict) -> dict:
    return {"switch": v["switch"] + v["device"], "device": 1, "kernel": v["kernel"],
            "float4": np.float32(v["float4"]) * np.float32(2), "rc_x": v["rc_x"] * 3,
            "int": min(max(v["int"], -5), 5), "thread": not v["thread"],
            "private": v["private"] | 1, "half": -v["half"]}


def _half():
    """`half(x)`: a device function clamping to -5..5 (min and max of Python)."""
    x = lv("x", I32)
    return function("half", {"x": I32}, I32, [ret(mcall("min", mcall("max", x, c(-5)), c(5)))])


def semantics_program(metal: bool = False) -> Program:
    """Event-driven kernels the PoCL tests run with DRAIN_LAUNCH (and every target builds)."""
    front, back = _pipeline()
    return Program(_messages(not metal),
                   (_calc(not metal), front, back, _parallel(not metal), _odd()), (_half(),))


def coverage_program(metal: bool = False) -> Program:
    """`semantics_program` plus persistent and parallel kernels and instances (build only)."""
    base = semantics_program(metal)
    m = lv("m", MessageType("Req"))
    on_req = handler("on_req", "m", "Req", [
        if_(or_(cmp("lt", mem(m, "x", I32), c(0)), cmp("gt", mem(m, "x", I32), c(9))),
            [fail("out of range")]),
        send("Back", new("Job", x=mem(m, "x", I32), back=intr("sender")),
             instance=mem(m, "x", I32)),
        send("Calc", new("Idx", i=mem(m, "x", I32), v=c(math.pi, F32))),
        while_(cmp("lt", bin_("floordiv", mem(m, "x", I32), c(2)), c(0)), [
            assign(mem(m, "x", I32), bin_("add", mem(m, "x", I32), c(1)))]),
        ret(new("Done", x=mem(m, "x", I32), inst=intr("instance_id")))],
        returns=MessageType("Done"))
    persistent = kernel("Server", handlers=[on_req], instances=3, capacity=64, max_batch=8)
    return Program(base.messages, (*base.kernels, persistent), base.functions)
