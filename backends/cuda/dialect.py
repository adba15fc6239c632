"""CUDA C++ spelling for the C-family printer (header-free: NVRTC compiles it alone).

Float `+ - * /` and `sqrt` use the `__f*_rn` / `__d*_rn` intrinsics, which are never
contracted into FMA and ignore `--use_fast_math`, unless the kernel asked for fast_math.
`rc.now()` reads `%globaltimer` (ns) from the value the launch's first work-group found
there (`clock_anchor`). In a handler, `rc.now()` never reads less than `host_clock`, which
the host writes before it puts a message in (`handler_now`): the anchor trails the host's
clock by the launch latency, and a handler must not read a time before its message's send.
That floor is one read of host memory over PCIe, so the ring, timer and idle code, which
reads the clock per message or pass, reads `rc_now` without it. An idle pass sleeps 1 µs
(`__nanosleep`, sm_70 and later). 64-bit atomic max/min need sm_35 or later.
"""

from ringc.codegen.dialect import CFamilyDialect

_ULL = "unsigned long long"


class CudaDialect(CFamilyDialect):
    target = "cuda"
    types = {**CFamilyDialect.types, "i8": "signed char", "i64": "long long"}
    int_suffix = {**CFamilyDialect.int_suffix, "i64": "LL", "u64": "ULL"}
    function_qualifier = "__device__ "
    local_space = "__shared__ "
    kernel_qualifier = 'extern "C" __global__'
    barrier = "__syncthreads()"
    shuffle_down = "__shfl_down_sync(rc_n >= 32u ? 0xffffffffu : (1u << rc_n) - 1u, {x}, {w})"
    warp_size = 32
    fence = "__threadfence_system()"
    atomic_rmw = {
        ("add", 32): "atomicAdd(({t}*){p}, {v})",
        ("max", 32): "atomicMax(({t}*){p}, {v})",
        ("min", 32): "atomicMin(({t}*){p}, {v})",
        ("add", 64): f"(({{t}})atomicAdd(({_ULL}*){{p}}, ({_ULL}){{v}}))",
        ("max", 64): "atomicMax(({t}*){p}, {v})",
        ("min", 64): "atomicMin(({t}*){p}, {v})",
    }
    atomic_cas = {32: "atomicCAS(({t}*){p}, {e}, {v})",
                  64: f"(({{t}})atomicCAS(({_ULL}*){{p}}, ({_ULL}){{e}}, ({_ULL}){{v}}))"}
    exact_float_ops = {
        **{(op, "f32"): f"__f{op}_rn({{a}}, {{b}})" for op in ("add", "sub", "mul", "div")},
        **{(op, "f64"): f"__d{op}_rn({{a}}, {{b}})" for op in ("add", "sub", "mul", "div")},
        ("sqrt", "f32"): "__fsqrt_rn({a})",
        ("sqrt", "f64"): "__dsqrt_rn({a})",
    }
    math = {f: (f + "f", f) for f in ("sqrt", "exp", "log", "sin", "cos", "tan", "floor",
                                      "ceil", "fabs", "pow", "fmod", "copysign")}
    math.update(isnan=("isnan", "isnan"), isinf=("isinf", "isinf"))
    math.update(fma=("__fmaf_rn", "__fma_rn"))     # fused, rounded once, never fast_math's
    vector_new = "make_{t}({args})"                # CUDA's float4 has no operators or casts
    infinity = {"f32": "__int_as_float(0x7f800000)",
                "f64": "__longlong_as_double(0x7ff0000000000000LL)"}
    nan = {"f32": "__int_as_float(0x7fc00000)",
           "f64": "__longlong_as_double(0x7ff8000000000000LL)"}
    bitcast = {("f32", "u32"): "__float_as_uint({x})", ("u32", "f32"): "__uint_as_float({x})",
               ("f64", "u64"): "((ulong)__double_as_longlong({x}))",
               ("u64", "f64"): "__longlong_as_double((long long){x})"}
    now = ("return (long)(rc_load_u64(rc_ctl(rc_arena, RC_CTL_CLOCK_NS)) + (rc_globaltimer() "
           "- rc_load_u64(rc_ctl(rc_arena, RC_CTL_CLOCK_TICKS))));")
    handler_now = ("long rc_t = rc_now(rc_arena);\n"
                   "    long rc_floor = (long)rc_load_u64(rc_ctl(rc_arena, RC_CTL_HOST_CLOCK));\n"
                   "    return rc_t > rc_floor ? rc_t : rc_floor;     // signed: a trailing "
                   "anchor reads below 0 at first")
    clock_anchor = (f"atomicCAS(({_ULL}*)rc_ctl(rc_arena, RC_CTL_CLOCK_TICKS), 0ULL, "
                    f"({_ULL})rc_globaltimer())")
    idle_pause = "__nanosleep(1000u)"
    zero_init = "{}"
    printf = "printf"


DIALECT = CudaDialect()
