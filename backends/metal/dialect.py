"""Metal Shading Language spelling for the C-family printer.

Metal has no f64 and no 64-bit atomic add (a CompileError names the line). MSL before 3.2
accepts only `memory_order_relaxed`; ordering between a slot's payload and its sequence
word uses `atomic_thread_fence` (MSL 3.2, macOS 15 / iOS 18). Metal has no device clock:
`rc.now()` reads the host heartbeat in the control block, so its resolution is how often
the host refreshes it. `#pragma METAL fp math_mode(safe)` and `fp contract(off)` keep float
arithmetic IEEE and uncontracted whatever the loader's fast-math setting. Group reductions
stay in threadgroup memory (no `shuffle_down`): a SIMD-group is 32 threads on Apple GPUs but
8 to 64 on the Intel and AMD GPUs of Intel Macs, so no fixed width is right everywhere.
"""

from ringc.codegen.dialect import CFamilyDialect

_RELAXED = "memory_order_relaxed"


class MetalDialect(CFamilyDialect):
    target = "metal"
    global_space = "device "
    local_space = "threadgroup "
    # a pointer into threadgroup memory: RC_TG, `threadgroup` (program.metal.j2 defines it;
    # empty in the executing shim, whose `threadgroup` declares per-group storage)
    local_pointer_space = "RC_TG "
    private_space = "thread "
    kernel_qualifier = "kernel"
    barrier = "threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup)"
    fence = "atomic_thread_fence(mem_flags::mem_device, memory_order_seq_cst, thread_scope_device)"
    load_u32 = f"atomic_load_explicit((device atomic_uint*)({{p}}), {_RELAXED})"
    store_u32 = f"atomic_store_explicit((device atomic_uint*)({{p}}), {{v}}, {_RELAXED})"
    load_u64 = "(*(volatile device ulong*)({p}))"
    atomic_rmw = {
        ("add", 32): f"atomic_fetch_add_explicit((device {{a}}*){{p}}, {{v}}, {_RELAXED})",
        ("max", 32): f"atomic_fetch_max_explicit((device {{a}}*){{p}}, {{v}}, {_RELAXED})",
        ("min", 32): f"atomic_fetch_min_explicit((device {{a}}*){{p}}, {{v}}, {_RELAXED})",
    }
    atomic_cas = {32: "rc_metal_cas((device {a}*){p}, {e}, {v})"}
    atomic_type = {"i32": "atomic_int", "u32": "atomic_uint"}
    math = {**CFamilyDialect.math,
            **{f: ("precise::" + f, "precise::" + f)
               for f in ("sqrt", "exp", "log", "sin", "cos", "tan", "pow", "fmod")}}
    bitcast = {("f32", "u32"): "as_type<uint>({x})", ("u32", "f32"): "as_type<float>({x})"}
    pragmas = ("#pragma METAL fp math_mode(safe)", "#pragma METAL fp contract(off)")
    zero_init = "{}"
    lacks = {"f64": "Metal has no f64 (double precision)"}
    vector_new = "{t}({args})"      # (math's fma: metal::fma, correctly rounded in MSL)


DIALECT = MetalDialect()
