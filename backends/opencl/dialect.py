"""OpenCL C spelling for the C-family printer (OpenCL C 1.2 and 3.0; tested on PoCL).

Atomics are the OpenCL 1.2 built-ins on `volatile __global` pointers (64-bit ones need
`cl_khr_int64_base_atomics`, min/max `cl_khr_int64_extended_atomics`); f64 needs
`cl_khr_fp64`. OpenCL has no device clock: `rc.clock()` reads the host heartbeat in the
control block, so its resolution is how often the host refreshes it. Build with
`-cl-fp32-correctly-rounded-divide-sqrt` so f32 `/` and `sqrt` are correctly rounded.
"""

from ringc.codegen.dialect import CFamilyDialect

_ATOMIC = "volatile __global {t}*"


class OpenCLDialect(CFamilyDialect):
    target = "opencl"
    global_space = "__global "
    local_space = "__local "
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


DIALECT = OpenCLDialect()
