"""What a C-family target spells its own way: the data a target's dialect holds.

A target (`backends/<name>/dialect.py`) is a `CFamilyDialect` subclass that overrides class
attributes only: type names, address spaces, operator and atomic spellings, math function
names, pragmas. The printer (`printer.py`) and the templates spell C with nothing but
this data, so adding a C-family target is writing its spellings, not a printer.
"""

from __future__ import annotations

from ..ir.types import ScalarType

__all__ = ["CFamilyDialect"]


class CFamilyDialect:
    """Spellings of one C-family target. Subclasses override attributes only; merge tables
    with `{**CFamilyDialect.x, ...}`. Format fields: {a} {b} operands, {t} a C type, {w} the
    wrap type, {op} an operator symbol, {p} a pointer, {v} {e} values, {x} a bit pattern."""

    target = "c"
    # C spelling of each IR scalar as a value; `storage_types` overrides inside structs
    types = {"bool": "bool", "i8": "char", "i16": "short", "i32": "int", "i64": "long",
             "u8": "uchar", "u16": "ushort", "u32": "uint", "u64": "ulong", "f32": "float",
             "f64": "double"}
    storage_types = {"bool": "uchar"}
    int_suffix = {"u32": "u", "i64": "L", "u64": "UL"}
    # address-space qualifiers (with their trailing space) for pointers and local arrays
    global_space = ""
    local_space = ""                 # declares work-group memory (an array in the entry point)
    local_pointer_space = ""         # qualifies a pointer into work-group memory
    private_space = ""
    function_qualifier = ""          # before every device function definition
    kernel_qualifier = ""            # before the entry point
    barrier = ""                     # a work-group barrier that also orders global memory
    # `{x}` of the lane `{w}` above, within a warp of `warp_size` lanes (the lanes of a
    # group of `rc_n`, fewer than a warp, named in the mask): the last levels of a group
    # reduction; "" where the target has no shuffle of a fixed width
    shuffle_down = ""
    warp_size = 0
    fence = ""                       # orders this work-item's global stores and loads
    load_u32 = "(*(volatile {g}uint*)({p}))"
    store_u32 = "(*(volatile {g}uint*)({p}) = {v})"
    load_u64 = "(*(volatile {g}ulong*)({p}))"
    # atomics returning the old value, keyed by (operation, bits); missing = unsupported
    atomic_rmw: dict[tuple[str, int], str] = {}
    atomic_cas: dict[int, str] = {}
    atomic_type: dict[str, str] = {}   # the atomic object type per IR type (Metal)
    symbols = {"add": "+", "sub": "-", "mul": "*", "div": "/", "bitand": "&", "bitor": "|",
               "bitxor": "^", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
               "ge": ">="}
    ops = {
        "wrap": "(({t})(({w}){a} {op} ({w}){b}))",   # int + - *: unsigned, converted back
        "wrap_small": "(({t})({u})(({w}){a} {op} ({w}){b}))",   # ... through the same width
        "wrap_neg": "(({t})({u})(({w})0 - ({w}){a}))",
        "binary": "({a} {op} {b})",
        "narrow": "(({t})({a} {op} {b}))",          # bitwise ops on promoted small ints
        "neg": "(-{a})",
        "not": "(!{a})",
        "invert": "(({t})(~{a}))",
        "and": "({a} && {b})",
        "or": "({a} || {b})",
        "select": "({c} ? {a} : {b})",
        "cast": "(({t}){a})",
        "narrow_cast": "(({t})({w}){a})",
        "to_bool": "({a} != 0)",
        "sequence": "({a}, {b})",
        "call": "{f}({args})",
    }
    # correctly rounded float ops where plain operators are not guaranteed to be
    exact_float_ops: dict[tuple[str, str], str] = {}
    # math function -> (f32 spelling, f64 spelling)
    # (`fma` must be one correctly rounded fused multiply-add: math.fma)
    math = {f: (f, f) for f in ("sqrt", "exp", "log", "sin", "cos", "tan", "floor", "ceil",
                                "fabs", "pow", "isnan", "isinf", "fmod", "copysign", "fma")}
    infinity = {"f32": "INFINITY", "f64": "((double)INFINITY)"}
    nan = {"f32": "NAN", "f64": "((double)NAN)"}
    bitcast: dict[tuple[str, str], str] = {}      # (from, to) IR type names -> {x}
    # the body of `long rc_now(G uchar* rc_arena)`: rc.now(), ns since the launch
    # (docs/device-program.md, "Time"); by default the heartbeat the host writes
    now = "return (long)rc_load_u64(rc_ctl(rc_arena, RC_CTL_HOST_CLOCK));"
    # the body of `long rc_handler_now(G uchar* rc_arena)`, what rc.now() in a handler
    # reads, where it is not `rc_now` (CUDA's floor); empty: handlers call rc_now
    handler_now = ""
    clock_anchor = ""     # a statement each work-group's leader runs first (CUDA's clock)
    idle_pause = ""       # a statement the leader runs after a pass that took nothing
    pragmas: tuple[str, ...] = ()
    feature_pragmas: dict[str, str] = {}          # feature -> pragma enabling it
    # vectors (docs/language.md, "Vectors"): the C type of each IR vector type (its layout
    # must be the IR's: 16 bytes aligned 16, f32x2 8 aligned 8; every build asserts the
    # offsets), a vector from one value per lane ({t} its C type, {args} the lanes), a lane
    # ({v} the vector, {c} x y z or w). Vector + - * / and rc.dot are helper functions
    # spelled lane by lane with the scalar spellings above, never the target's vector
    # operators or dot (whose rounding and overflow rules differ between targets).
    vector_types = {"f32x2": "float2", "f32x4": "float4", "i32x4": "int4", "u32x4": "uint4"}
    vector_new = "(({t})({args}))"
    component = "{v}.{c}"
    zero_init = "{0}"
    printf: str | None = None
    lacks: dict[str, str] = {}                    # IR type name -> why the target lacks it

    def atomic(self, op: str, t: ScalarType, **fields: str) -> str | None:
        """The spelled atomic `op` on `t`, or None when the target has none."""
        table = self.atomic_cas if op == "cas" else self.atomic_rmw
        spelling = table.get(t.bits) if op == "cas" else table.get((op, t.bits))
        if spelling is None:
            return None
        return spelling.format(t=self.types[t.name], a=self.atomic_type.get(t.name, ""),
                               g=self.global_space, **fields)
