"""The helper functions printed code calls, described for the templates that define them.

Printed code calls a helper wherever C's own operator differs from ringc's semantics:
Python's `//` and `%` (integer and float), shifts by any count, saturating float-to-int
casts, `min`/`max`/`abs`, bounds-checked indexing, atomics, and the vector operations
(lane by lane, each lane spelled as the scalar operation is, so a vector lane and a scalar
give the same bits on every target). `Helpers` collects one
description per helper in first-use order; `templates/helpers.j2` has one macro per
description `kind` and reads the keys built here (`t` the C type, `u` the unsigned type of
its width, `w` the wrap type, `f` a float type, spelled pieces such as `sub` or `cas`).

Limits: the builders spell only what the dialect can: an atomic it lacks, or one on a
type narrower than 32 bits, is a `CompileError` at `loc`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CompileError
from ..ir.types import Loc, ScalarType, VectorType

if TYPE_CHECKING:
    from .printer import ProgramPrinter

__all__ = ["Helpers", "index_helper", "int_helper", "float_divmod_helper", "math_helper",
           "cast_helper", "atomic_helper", "vector_helper", "group_helper", "broadcast_helper"]

_BITS_TYPES = {32: ScalarType("u32"), 64: ScalarType("u64")}


@dataclass
class Helpers:
    """The helpers printed code calls, in first-use order: name -> description for the
    templates (`kind` selects the macro), and the target features they need."""
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    features: set[str] = field(default_factory=set)

    def need(self, name: str, kind: str, **info: Any) -> str:
        """Record helper `name` (described by `kind` and `info` on first use); its name."""
        if name not in self.items:
            self.items[name] = {"name": name, "kind": kind, **info}
        return name


def index_helper(printer: ProgramPrinter) -> str:
    """`rc_idx`: an index checked against an array length (out of range faults)."""
    return printer.helpers.need("rc_idx", "idx")


def int_helper(printer: ProgramPrinter, op: str, t: ScalarType) -> str:
    """`rc_<op>_<t>`: integer `floordiv`, `mod`, `shl` or `shr` on `t`."""
    return printer.helpers.need(
        f"rc_{op}_{t.name}", op, t=printer.ctype(t), bits=t.bits, signed=t.is_signed,
        w=printer.wrap_type(t), u=printer.unsigned(t))


def float_divmod_helper(printer: ProgramPrinter, op: str, t: ScalarType) -> str:
    """`rc_f<op>_<t>`: numpy's float `floordiv` or `mod` (remainder) on `t`."""
    return printer.helpers.need(
        f"rc_f{op}_{t.name}", "f" + op, t=printer.ctype(t),
        sub=lambda a, b: printer.fbin("sub", t, a, b),
        div=lambda a, b: printer.fbin("div", t, a, b),
        add=lambda a, b: printer.fbin("add", t, a, b),
        fmod=printer.math_name("fmod", t), floor=printer.math_name("floor", t),
        copysign=printer.math_name("copysign", t), zero=printer.const(0.0, t),
        one=printer.const(1.0, t), half=printer.const(0.5, t))


def math_helper(printer: ProgramPrinter, fn: str, t: ScalarType) -> str:
    """`rc_<fn>_<t>`: Python's `min`, `max` (of two) or integer `abs` (wrapping) on `t`."""
    return printer.helpers.need(
        f"rc_{fn}_{t.name}", fn, t=printer.ctype(t),
        w=printer.wrap_type(t) if t.is_int else None,
        u=printer.unsigned(t) if t.is_int else None)


def cast_helper(printer: ProgramPrinter, src: ScalarType, dst: ScalarType) -> str:
    """`rc_cast_<src>_<dst>`: float `src` to integer `dst`, truncating and saturating, NaN
    to 0."""
    lo, hi = dst.min_max()
    return printer.helpers.need(
        f"rc_cast_{src.name}_{dst.name}", "f2i", f=printer.ctype(src), t=printer.ctype(dst),
        flo=printer.const(float(src.np_dtype.type(lo)), src),
        fhi=printer.const(float(src.np_dtype.type(hi)), src),
        lo=printer.const(lo, dst), hi=printer.const(hi, dst))


def atomic_helper(printer: ProgramPrinter, op: str, t: ScalarType, loc: Loc | None) -> str:
    """`rc_atomic_<op>_<t>`: atomic `add`, `max`, `min` or `cas` on state of type `t`,
    returning the old value; floats go through a compare-and-swap loop on their bits."""
    d = printer.d
    if not (t.is_int or t.is_float) or t.bits < 32:
        raise CompileError(f"rc.atomic_{op} needs a 32- or 64-bit state variable, "
                           f"not {t}", loc)
    bits_type = _BITS_TYPES[t.bits]
    if t.bits == 64:
        printer.helpers.features.add("atomic64" if op in ("add", "cas") else "atomic64_minmax")
    info = {"t": printer.ctype(t), "op": op, "g": d.global_space}
    if t.is_float:
        cas = d.atomic("cas", bits_type, p="rc_p", e="rc_old", v="rc_new")
        if cas is None:
            raise CompileError(f"{d.target} has no {t.bits}-bit atomics (needed "
                               f"for rc.atomic_{op} on {t})", loc)
        printer.helpers.features.add("atomic64" if t.bits == 64 else "atomic32")
        to_bits = d.bitcast[(t.name, bits_type.name)]
        from_bits = d.bitcast[(bits_type.name, t.name)]
        step = {"add": printer.fbin("add", t, "rc_cur", "rc_v"),
                "max": "((rc_v > rc_cur) ? rc_v : rc_cur)",
                "min": "((rc_v < rc_cur) ? rc_v : rc_cur)",
                "cas": "((rc_cur == rc_e) ? rc_v : rc_cur)"}[op]
        info.update(kind="atomic_float", u=printer.ctype(bits_type), cas=cas,
                    cur=from_bits.format(x="rc_old"), step=step,
                    bits=to_bits.format(x="rc_next"))
    else:
        spelled = d.atomic(op, t, p="rc_p", v="rc_v", e="rc_e")
        if spelled is None:
            raise CompileError(f"{d.target} has no {t.bits}-bit atomic {op}", loc,
                               hint="use a 32-bit state variable")
        info.update(kind="atomic_int", expr=spelled)
    return printer.helpers.need(f"rc_atomic_{op}_{t.name}", info.pop("kind"), **info)


_VECTOR_DOCS = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "neg": "-a",
                "splat": "x in every lane", "dot": "dot product, summed left to right"}


def vector_helper(printer: ProgramPrinter, op: str, t: VectorType, loc: Loc | None,
                  exact: bool = True) -> str:
    """`rc_v<op>_<t>`: a vector `add sub mul div` (of two vectors), `neg`, `splat` (a
    scalar in every lane) or `dot`, lane by lane with the scalar spellings (floats
    correctly rounded unless `exact` is False: fast_math, name suffix `_fast`)."""
    elem, vt = t.elem, printer.ctype(t)
    lanes = [(printer.component("rc_a", c), printer.component("rc_b", c)) for c in t.components]
    fast = "_fast" if not exact and elem.is_float and op in ("add", "sub", "mul", "div",
                                                               "dot") else ""
    name = f"rc_v{op}_{t}{fast}"
    if op in ("add", "sub", "mul", "div"):
        params, ret = f"{vt} rc_a, {vt} rc_b", vt
        body = printer.vector(t, [printer.scalar_binary(op, elem, a, b, exact) for a, b in lanes])
    elif op == "neg":
        params, ret = f"{vt} rc_a", vt
        body = printer.vector(t, [printer.scalar_neg(elem, a) for a, _ in lanes])
    elif op == "splat":
        params, ret = f"{printer.ctype(elem)} rc_x", vt
        body = printer.vector(t, ["rc_x"] * t.lanes)
    elif op == "dot":
        params, ret = f"{vt} rc_a, {vt} rc_b", printer.ctype(elem)
        body = None
        for a, b in lanes:
            product = printer.scalar_binary("mul", elem, a, b, exact)
            body = product if body is None else printer.scalar_binary("add", elem, body,
                                                                      product, exact)
    else:
        raise CompileError(f"no vector operation {op!r} on {t}", loc)
    return printer.helpers.need(name, "function", ret=ret, params=params, body=body,
                                doc=f"{t}: {_VECTOR_DOCS[op]}, lane by lane")


def group_helper(printer: ProgramPrinter, op: str, t: ScalarType) -> str:
    """`rc_group_<op>_<t>`: a cooperative kernel's reduction (`sum`, `max`, `min`) of a `t`
    over its lanes: a pairwise tree in work-group memory (lane i takes lane i + w's
    partial, w = n/2, n/4, ... 1), floats added correctly rounded, integers wrapping; on a
    target with warp shuffles (`shuffle_down`) the levels below its warp size run in the
    first warp, lane i combining its value with lane i + w's in the same order."""
    def combine(a: str, b: str) -> str:
        return {"sum": printer.scalar_binary("add", t, a, b),
                "max": f"(({b} > {a}) ? {b} : {a})",
                "min": f"(({b} < {a}) ? {b} : {a})"}[op]
    return printer.helpers.need(f"rc_group_{op}_{t.name}", "group", op=op,
                                t=printer.ctype(t), s=printer.ctype(t, storage=True),
                                combine=combine("rc_s[rc_ctx->lane]",
                                                "rc_s[rc_ctx->lane + rc_w]"),
                                combine_shuffled=combine("rc_v", "rc_o"))


def broadcast_helper(printer: ProgramPrinter, t: ScalarType) -> str:
    """`rc_broadcast_<t>`: the value each lane asks for, from the lane it names (through
    work-group memory; a lane outside 0..n-1 faults with index_out_of_range)."""
    index_helper(printer)
    storage = printer.ctype(t, storage=True)
    load = "(rc_s[rc_i] != 0)" if t.is_bool else "rc_s[rc_i]"
    return printer.helpers.need(f"rc_broadcast_{t.name}", "broadcast", t=printer.ctype(t),
                                s=storage, load=load)
