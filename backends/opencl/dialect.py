"""OpenCL C spelling for the C-family printer (OpenCL C 1.2 and 3.0; tested on PoCL).

Atomics are the OpenCL 1.2 built-ins on `volatile __global` pointers (64-bit ones need
`cl_khr_int64_base_atomics`, min/max `cl_khr_int64_extended_atomics`); f64 needs
`cl_khr_fp64`. OpenCL has no clock: built with `-DRC_TSC_CLOCK` (the loader does on PoCL's
CPU device on x86-64), `rc.now()` reads the CPU's time-stamp counter and scales it by the
host's calibration in the control block; otherwise it reads the heartbeat the host writes
there, whose resolution is how often the host refreshes it. Build with
`-cl-fp32-correctly-rounded-divide-sqrt` so f32 `/` and `sqrt` are correctly rounded.
Group reductions stay in `__local` memory: sub-group functions (`cl_khr_subgroups`) have a
device-chosen width and reduce in an unspecified order, so their float sums would differ
from the other targets' pairwise tree.
"""

from ringc.codegen.dialect import CFamilyDialect

_ATOMIC = "volatile __global {t}*"


class OpenCLDialect(CFamilyDialect):
    target = "opencl"
    global_space = "__global "
    local_space = "__local "
    local_pointer_space = "__local "
    kernel_qualifier = "__kernel"
    barrier = "barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)"
    fence = "mem_fence(CLK_GLOBAL_MEM_FENCE)"
    atomic_rmw = {
        ("add", 32): f"atomic_add(({_ATOMIC}){{p}}, {{v}})",
        ("max", 32): f"atomic_max(({_ATOMIC}){{p}}, {{v}})",
        ("min", 32): f"atomic_min(({_ATOMIC}){{p}}, {{v}})",
        ("add", 64): f"atom_add(({_ATOMIC}){{p}}, {{v}})",
        ("max", 64): f"atom_max(({_ATOMIC}){{p}}, {{v}})",
        ("min", 64): f"atom_min(({_ATOMIC}){{p}}, {{v}})",
    }
    atomic_cas = {32: f"atomic_cmpxchg(({_ATOMIC}){{p}}, {{e}}, {{v}})",
                  64: f"atom_cmpxchg(({_ATOMIC}){{p}}, {{e}}, {{v}})"}
    bitcast = {("f32", "u32"): "as_uint({x})", ("u32", "f32"): "as_float({x})",
               ("f64", "u64"): "as_ulong({x})", ("u64", "f64"): "as_double({x})"}
    pragmas = ("#pragma OPENCL FP_CONTRACT OFF",)
    feature_pragmas = {
        "f64": "#pragma OPENCL EXTENSION cl_khr_fp64 : enable",
        "atomic64": "#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable",
        "atomic64_minmax": "#pragma OPENCL EXTENSION cl_khr_int64_extended_atomics : enable",
    }
    printf = "printf"
    # rdtsc as inline assembly: PoCL 3.1's compiler crashes on __builtin_readcyclecounter
    # in a program with barriers
    now = """#ifdef RC_TSC_CLOCK
    uint rc_lo, rc_hi;
    __asm__ volatile("rdtsc" : "=a"(rc_lo), "=d"(rc_hi));
    ulong rc_ticks = ((ulong)rc_hi << 32) | rc_lo;
    long rc_dt = (long)(rc_ticks - rc_load_u64(rc_ctl(rc_arena, RC_CTL_CLOCK_TICKS)));
    ulong rc_t = rc_dt > 0 ? (ulong)rc_dt : 0ul;
    ulong rc_scale = rc_load_u64(rc_ctl(rc_arena, RC_CTL_CLOCK_SCALE));
    ulong rc_ns = ((rc_t >> 20) * rc_scale >> 12) + ((rc_t & 0xFFFFFul) * rc_scale >> 32);
    return (long)(rc_load_u64(rc_ctl(rc_arena, RC_CTL_CLOCK_NS)) + rc_ns);
#else
    return (long)rc_load_u64(rc_ctl(rc_arena, RC_CTL_HOST_CLOCK));
#endif"""


DIALECT = OpenCLDialect()
