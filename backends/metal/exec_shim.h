// exec_shim.h (Metal): runs the Metal Shading Language ringc emits on this CPU, as C++17
// compiled by g++ (or clang++) into a shared library, for backend "metal-shim"
// (docs/shims.md). Unlike metal_shim.h (declarations for a syntax check), every builtin
// here has a body:
//
//     g++ -std=c++17 -O1 -fPIC -shared -pthread -ffp-contract=off -fno-strict-aliasing
//         -Wno-attributes -Wno-unknown-pragmas -DRINGC_EXEC_SHIM -x c++
//         -include exec_shim.h program.metal -o program.so -lm
//
// Threadgroups are host threads, a threadgroup's threads are fibers switching at
// threadgroup_barrier() (../shim/exec_runtime.h); `threadgroup` variables are thread-local
// storage, one copy per threadgroup.
//
// What this shim CANNOT show:
// - Metal's memory model: every atomic here is sequentially consistent and x86-64 is TSO,
//   far stronger than the relaxed atomics and fences of a GPU, so a missing
//   atomic_thread_fence can pass here (fences are also checked by reading the emitted code);
// - address spaces: `device`, `threadgroup`, `thread` and `constant` are defined away (a
//   pointer into the wrong address space compiles and runs here; only Apple's compiler
//   rejects it), and attributes such as [[buffer(0)]] are ignored;
// - SIMD-group scheduling and independent thread scheduling: a threadgroup's threads run
//   one at a time between barriers here;
// - anything of Apple's compiler: MSL version checks, restrictions C++ lacks, its math.
// Metal has no device clock: rc.now() reads the host's heartbeat in the control block, as
// on a Mac. The emitted loop has no idle pause on Metal; here the cores are shared with
// the host, so a group whose pass made no read-modify-write (took nothing) sleeps 1 us at
// its barrier, as CUDA's loop does (threadgroup_barrier below).
// It declares exactly what ringc's Metal dialect and template use: anything else the
// emitted code calls is a compile error naming it ("the metal executing shim has no `...`").
#ifndef RINGC_METAL_EXEC_SHIM_H
#define RINGC_METAL_EXEC_SHIM_H

#include "../shim/exec_runtime.h"

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;        // 64-bit in MSL, as on LP64 hosts
typedef _Float16 half;

#ifndef INFINITY
#define INFINITY __builtin_inff()
#endif
#ifndef NAN
#define NAN __builtin_nanf("")
#endif

namespace metal {

// ---- math (float only: MSL has no double); IEEE, -ffp-contract=off -----------------------
inline float sqrt(float x) { return __builtin_sqrtf(x); }
inline float exp(float x) { return __builtin_expf(x); }
inline float log(float x) { return __builtin_logf(x); }
inline float sin(float x) { return __builtin_sinf(x); }
inline float cos(float x) { return __builtin_cosf(x); }
inline float tan(float x) { return __builtin_tanf(x); }
inline float floor(float x) { return __builtin_floorf(x); }
inline float ceil(float x) { return __builtin_ceilf(x); }
inline float fabs(float x) { return __builtin_fabsf(x); }
inline float pow(float x, float y) { return __builtin_powf(x, y); }
inline float fmod(float x, float y) { return __builtin_fmodf(x, y); }
inline float copysign(float x, float y) { return __builtin_copysignf(x, y); }
inline bool isnan(float x) { return __builtin_isnan(x); }
inline bool isinf(float x) { return __builtin_isinf(x); }
inline float fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }  // rounded once

// ---- vectors (ringc's f32x2 f32x4 i32x4 u32x4): MSL's layout, lanes x y z w, built from
// every lane or from one value for all --------------------------------------------------
template <typename T, int N, int A> struct alignas(A) rcx_vec;
template <typename T, int A> struct alignas(A) rcx_vec<T, 2, A> {
    T x, y;
    rcx_vec() : x(0), y(0) {}
    explicit rcx_vec(T s) : x(s), y(s) {}
    rcx_vec(T a, T b) : x(a), y(b) {}
};
template <typename T, int A> struct alignas(A) rcx_vec<T, 4, A> {
    T x, y, z, w;
    rcx_vec() : x(0), y(0), z(0), w(0) {}
    explicit rcx_vec(T s) : x(s), y(s), z(s), w(s) {}
    rcx_vec(T a, T b, T c, T d) : x(a), y(b), z(c), w(d) {}
};
typedef rcx_vec<float, 2, 8> float2;
typedef rcx_vec<float, 4, 16> float4;
typedef rcx_vec<int, 4, 16> int4;
typedef rcx_vec<uint, 4, 16> uint4;

template <typename T> inline T min(T a, T b) { return b < a ? b : a; }
template <typename T> inline T max(T a, T b) { return a < b ? b : a; }
template <typename T> inline T abs(T a) { return a < T(0) ? -a : a; }
template <typename T> inline T select(T a, T b, bool c) { return c ? b : a; }
template <typename To, typename From> inline To as_type(From x) {
    static_assert(sizeof(To) == sizeof(From), "as_type keeps the size");
    To y;
    __builtin_memcpy(&y, &x, sizeof y);
    return y;
}

namespace precise {        // MSL's precise:: functions: here the same IEEE ones
using metal::sqrt; using metal::exp; using metal::log; using metal::sin; using metal::cos;
using metal::tan; using metal::pow; using metal::fmod;
}  // namespace precise

// ---- atomics: GCC builtins at the strongest order, whatever order is asked -------------
enum memory_order { memory_order_relaxed, memory_order_seq_cst };
enum thread_scope { thread_scope_thread, thread_scope_simdgroup, thread_scope_threadgroup,
                    thread_scope_device };

template <typename T> struct _atomic { T value; };
typedef _atomic<int> atomic_int;
typedef _atomic<uint> atomic_uint;
template <typename T> struct _same { typedef T type; };

// read-modify-writes by this host thread: a pass of the loop that makes none took nothing
static thread_local unsigned long _rmw = 0;

template <typename T> inline T atomic_load_explicit(const _atomic<T>* p, memory_order) {
    return __atomic_load_n(&p->value, __ATOMIC_SEQ_CST);
}
template <typename T>
inline void atomic_store_explicit(_atomic<T>* p, typename _same<T>::type v, memory_order) {
    __atomic_store_n(&p->value, v, __ATOMIC_SEQ_CST);
}
template <typename T>
inline T atomic_fetch_add_explicit(_atomic<T>* p, typename _same<T>::type v, memory_order) {
    ++_rmw;
    return __atomic_fetch_add(&p->value, v, __ATOMIC_SEQ_CST);
}
template <typename T>
inline T atomic_fetch_max_explicit(_atomic<T>* p, typename _same<T>::type v, memory_order) {
    ++_rmw;
    T seen = __atomic_load_n(&p->value, __ATOMIC_SEQ_CST);
    while (seen < v && !__atomic_compare_exchange_n(&p->value, &seen, v, false,
                                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return seen;
}
template <typename T>
inline T atomic_fetch_min_explicit(_atomic<T>* p, typename _same<T>::type v, memory_order) {
    ++_rmw;
    T seen = __atomic_load_n(&p->value, __ATOMIC_SEQ_CST);
    while (v < seen && !__atomic_compare_exchange_n(&p->value, &seen, v, false,
                                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return seen;
}
// never fails spuriously here (a strong compare-and-swap)
template <typename T>
inline bool atomic_compare_exchange_weak_explicit(_atomic<T>* p, T* expected,
                                                  typename _same<T>::type desired,
                                                  memory_order, memory_order) {
    ++_rmw;
    return __atomic_compare_exchange_n(&p->value, expected, desired, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

// ---- barriers and fences -------------------------------------------------------------
enum class mem_flags : uint { mem_none = 0, mem_device = 1, mem_threadgroup = 2,
                              mem_texture = 4 };
inline mem_flags operator|(mem_flags a, mem_flags b) { return mem_flags(uint(a) | uint(b)); }
// The loop's idle pause: CUDA's loop sleeps 1 us after a pass that took nothing, Metal's
// has no pause, and here the cores are shared with the host. A pass that takes anything
// makes read-modify-writes (busy +1 at least); lane 0 pauses at a barrier when none were
// made since the barrier two before it (a pass has two barriers), so idle groups sleep.
static thread_local unsigned long _rmw_seen[2] = {~0ul, ~0ul};
static thread_local unsigned _barriers = 0;
inline void threadgroup_barrier(mem_flags) {
    if (::rcx::lane_id() == 0u) {
        unsigned slot = _barriers++ & 1u;
        if (_rmw_seen[slot] == _rmw) ::rcx::pause_ns(1000ul);
        _rmw_seen[slot] = _rmw;
    }
    ::rcx::barrier();
}
inline void atomic_thread_fence(mem_flags, memory_order, thread_scope) { ::rcx::fence(); }

}  // namespace metal

// ---- the entry: declared here so the launcher can call it --------------------------------
void rc_main(uchar* rc_arena, uchar* rc_local, const uint& rc_mode, uint rc_lid, uint rc_group,
             uint rc_groups, uint rc_lsize);

namespace rcx {
void target_body(unsigned char* arena, unsigned char* local, unsigned mode, unsigned lane,
                 unsigned group, unsigned groups, unsigned lanes) {
    const uint mode_word = mode;          // `constant uint& rc_mode`: buffer 2
    rc_main(arena, local, mode_word, lane, group, groups, lanes);
}
}  // namespace rcx

// ---- address spaces and function qualifiers, defined away (last: the code above uses
// `thread`-free C++ only) -----------------------------------------------------------------
#define device
#define threadgroup static thread_local
#define thread
#define constant const
#define kernel

#endif  // RINGC_METAL_EXEC_SHIM_H
