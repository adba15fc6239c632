"""C identifiers: how user names become C names without colliding with any target's
keywords, types and built-ins, or with the names ringc generates."""

from __future__ import annotations

import re

__all__ = ["RESERVED", "mangle", "Names"]


_VECTOR_BASES = "bool char uchar short ushort int uint long ulong float double half".split()
RESERVED: frozenset[str] = frozenset(
    # C99 / C++17 keywords and alternative tokens
    """auto break case char const continue default do double else enum extern float for goto
    if inline int long register restrict return short signed sizeof static struct switch
    typedef union unsigned void volatile while _Bool _Complex _Imaginary alignas alignof and
    and_eq asm bitand bitor bool catch char16_t char32_t char8_t class compl concept consteval
    constexpr constinit const_cast co_await co_return co_yield decltype delete dynamic_cast
    explicit export false friend mutable namespace new noexcept not not_eq nullptr operator or
    or_eq private protected public reinterpret_cast requires static_assert static_cast
    template this thread_local throw true try typeid typename using virtual wchar_t xor xor_eq
    NULL main std size_t ptrdiff_t intptr_t uintptr_t offsetof printf malloc free
    """
    # OpenCL C: qualifiers, types, built-ins this compiler or common headers use
    """kernel __kernel global __global local __local constant __constant private __private
    generic __generic read_only write_only read_write uchar ushort uint ulong half quad
    image1d_t image2d_t image3d_t sampler_t event_t queue_t clk_event_t reserve_id_t
    ndrange_t cl_mem_fence_flags memory_scope memory_order atomic_int atomic_uint
    atomic_long atomic_ulong atomic_float atomic_double atomic_flag atomic_bool
    get_global_id get_local_id get_group_id get_num_groups get_local_size get_global_size
    get_work_dim barrier mem_fence read_mem_fence write_mem_fence work_group_barrier
    atomic_add atomic_sub atomic_inc atomic_dec atomic_xchg atomic_cmpxchg atomic_min
    atomic_max atomic_and atomic_or atomic_xor atom_add atom_sub atom_min atom_max
    atom_cmpxchg atom_xchg atom_inc atom_dec as_char as_uchar as_short as_ushort as_int
    as_uint as_long as_ulong as_float as_double as_half convert_int convert_float vload
    vstore select clamp mix step smoothstep sign dot cross length distance normalize any all
    """
    # math built-ins (C, OpenCL, CUDA, Metal spellings)
    """sqrt exp log sin cos tan floor ceil fabs pow isnan isinf min max abs fmod copysign
    sqrtf expf logf sinf cosf tanf floorf ceilf fabsf powf fmodf copysignf fmin fmax fminf
    fmaxf trunc round rint exp2 log2 log10 asin acos atan atan2 sinh cosh tanh rsqrt cbrt
    hypot fma mad ldexp frexp modf isfinite signbit nan INFINITY NAN precise fast
    """
    # CUDA
    """__global__ __device__ __host__ __shared__ __constant__ __restrict__ threadIdx blockIdx
    blockDim gridDim warpSize atomicAdd atomicSub atomicExch atomicMin atomicMax atomicInc
    atomicDec atomicCAS atomicAnd atomicOr atomicXor __syncthreads __threadfence
    __threadfence_system __fadd_rn __fsub_rn __fmul_rn __fdiv_rn __fsqrt_rn __dadd_rn
    __dsub_rn __dmul_rn __ddiv_rn __dsqrt_rn __float_as_uint __uint_as_float __int_as_float
    __double_as_longlong __longlong_as_double dim3 cudaError_t
    """
    # Metal
    """metal device thread threadgroup threadgroup_imageblock ray_data object_data vertex
    fragment kernel visible stitchable packed_float2 packed_float3 packed_float4 simd
    threadgroup_barrier simdgroup_barrier mem_flags mem_none mem_device mem_threadgroup
    mem_texture atomic_load_explicit atomic_store_explicit atomic_fetch_add_explicit
    atomic_fetch_sub_explicit atomic_fetch_max_explicit atomic_fetch_min_explicit
    atomic_compare_exchange_weak_explicit atomic_thread_fence memory_order_relaxed
    memory_order_seq_cst thread_scope_device as_type texture2d sampler array vec
    """.split()
    + [b + n for b in _VECTOR_BASES for n in ("2", "3", "4", "8", "16")]
    + [f"{b}{r}x{c}" for b in ("float", "half", "double") for r in "234" for c in "234"])

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ALL_CAPS = re.compile(r"[A-Z][A-Z0-9_]*\Z")   # macro-like: INFINITY, FLT_MAX, CLK_...


def mangle(name: str) -> str:
    """The C identifier of a user name. Injective, and disjoint from generated names:

    - an ASCII name that is reserved in some target (keywords, types, built-ins, anything
      all-caps, which may be a macro), starts with `rc_`/`RC_`/`__` or ends with `_` gets
      one `_` appended (so it ends with `_`);
    - another ASCII name is itself (it does not end with `_`);
    - a non-ASCII name becomes `u` + the hex of its UTF-8 bytes + `_`; the part before the
      `_` is an ASCII name of the second kind, so this never equals a first-kind result.
    Generated identifiers start with `rc_`/`RC_` and never end with `_`."""
    if not name.isascii():
        return "u" + name.encode().hex() + "_"
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not an identifier")
    if (name in RESERVED or _ALL_CAPS.match(name) or name.startswith(("rc_", "RC_", "__"))
            or name.endswith("_")):
        return name + "_"
    return name


class Names:
    """Global identifiers derived from user names: `rc_<kind>_<name>[_<name>]`, made unique
    in first-come order (a clash gets `_2`, `_3`...). Kinds are the prefixes below; the
    templates' own identifiers never start with one of them."""

    KINDS = ("msg", "state", "put", "send", "dead", "fn", "dev", "dispatch", "room", "serve",
             "take", "lifecycle", "box", "ready", "after", "timers", "timer_before", "timer_up",
             "timer_down", "ctake", "cdispatch", "devc")

    def __init__(self) -> None:
        self._names: dict[tuple[str, tuple[str, ...]], str] = {}
        self._taken: set[str] = set()

    def __call__(self, kind: str, *parts: str) -> str:
        assert kind in self.KINDS, kind
        key = (kind, parts)
        if key not in self._names:
            text = "_".join(p if p.isascii() else "u" + p.encode().hex() for p in parts)
            base = f"rc_{kind}_{text}"
            if base.endswith("_"):
                base += "x"
            name, n = base, 1
            while name in self._taken:
                n += 1
                name = f"{base}_{n}"
            self._taken.add(name)
            self._names[key] = name
        return self._names[key]

    def all(self) -> frozenset[str]:
        return frozenset(self._taken)
