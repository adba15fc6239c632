// exec_shim.h (CUDA): runs the CUDA C++ ringc emits on this CPU, as C++17 compiled by g++
// (or clang++) into a shared library, for backend "cuda-shim" (docs/shims.md):
//
//     g++ -std=c++17 -O1 -fPIC -shared -pthread -ffp-contract=off -fno-strict-aliasing
//         -DRINGC_EXEC_SHIM -x c++ -include exec_shim.h program.cu -o program.so -lm
//
// Blocks are host threads, a block's threads are fibers switching at __syncthreads()
// (../shim/exec_runtime.h); __shared__ is thread-local storage, one copy per block.
//
// What this shim CANNOT show:
// - the GPU memory model: x86-64 is TSO, far stronger than CUDA's, so a missing
//   __threadfence_system() can pass here (fences are also checked by reading the emitted
//   code and, on a GPU, by compute-sanitizer);
// - host-mapped memory over PCIe (here host and "device" share one address space and its
//   atomics; on a discrete GPU a device atomic on mapped memory is not atomic with the host);
// - warp scheduling and independent thread scheduling: a block's threads run one at a time
//   between barriers here, so a lane that spins waiting for another lane would hang;
// - occupancy and residency limits, NVRTC/nvcc's own diagnostics, and PTX (the
//   `%globaltimer` read is the host's CLOCK_MONOTONIC here, behind RINGC_EXEC_SHIM).
// It declares exactly what ringc's CUDA dialect and template use: anything else the emitted
// code calls is a compile error naming it ("the cuda executing shim has no `...`").
#ifndef RINGC_CUDA_EXEC_SHIM_H
#define RINGC_CUDA_EXEC_SHIM_H

#include "../shim/exec_runtime.h"

#include <math.h>     // sqrtf, expf, ..., isnan/isinf overloads for float and double

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;

// ---- qualifiers ------------------------------------------------------------------------
#define __device__
#define __global__
#define __host__
#define __forceinline__ inline
#define __shared__ static thread_local

// ---- ids: per lane (fiber) and per block (host thread) ----------------------------------
struct rcx_dim3 {
    unsigned x, y, z;
};
inline rcx_dim3 rcx_dim(unsigned x) { return rcx_dim3{x, 0u, 0u}; }
#define threadIdx (rcx_dim(::rcx::lane_id()))
#define blockIdx (rcx_dim(::rcx::group_id()))
#define gridDim (rcx_dim(::rcx::group_count()))
#define blockDim (rcx_dim(::rcx::lane_count()))

// ---- barriers, fences, sleep, the clock, printf ----------------------------------------
inline void __syncthreads() { ::rcx::barrier(); }
// a warp's lanes exchange values: they wait for one another, not for the block (the shim's
// lanes of a warp are fibers like the rest; `mask` names the lanes taking part)
template <typename T>
inline T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = 32) {
    (void)mask;
    return ::rcx::shuffle_down(value, delta, (unsigned)width);
}
inline void __threadfence() { ::rcx::fence(); }
inline void __threadfence_system() { ::rcx::fence(); }
inline void __threadfence_block() { ::rcx::fence(); }
inline void __nanosleep(unsigned ns) { ::rcx::pause_ns(ns); }
// %globaltimer: CLOCK_MONOTONIC, or the word a test's script sets (rcx_clock_from), so a
// drain launch's rc.now() can read the same clock the simulator is given
static const volatile unsigned long long* rcx_clock_word = nullptr;
extern "C" __attribute__((visibility("default")))
void rcx_clock_from(const unsigned long long* word) { rcx_clock_word = word; }
inline unsigned long long rc_shim_globaltimer() {
    return rcx_clock_word ? *rcx_clock_word : ::rcx::monotonic_ns();
}
#define printf ::rcx::printf_flushed

template <typename To, typename From> inline To rcx_bits_of(From x) {
    static_assert(sizeof(To) == sizeof(From), "a bit cast keeps the size");
    To y;
    memcpy(&y, &x, sizeof y);
    return y;
}

// ---- atomics: GCC builtins at the strongest order -----------------------------------------
// Exactly CUDA's overloads (an atomic CUDA lacks, e.g. atomicAdd on long long*, is an error
// here too); the value arguments convert as they do in CUDA.
template <typename T> inline T rcx_cas(T* p, T e, T v) {
    __atomic_compare_exchange_n(p, &e, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return e;                        // the value seen: e when the swap happened
}
template <typename T> inline T rcx_max(T* p, T v) {
    T seen = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (seen < v && !__atomic_compare_exchange_n(p, &seen, v, false, __ATOMIC_SEQ_CST,
                                                    __ATOMIC_SEQ_CST)) {
    }
    return seen;
}
template <typename T> inline T rcx_min(T* p, T v) {
    T seen = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (v < seen && !__atomic_compare_exchange_n(p, &seen, v, false, __ATOMIC_SEQ_CST,
                                                    __ATOMIC_SEQ_CST)) {
    }
    return seen;
}
template <typename T, typename B> inline T rcx_float_add(T* p, T v) {
    B seen = __atomic_load_n((B*)p, __ATOMIC_SEQ_CST);
    while (true) {
        T old = rcx_bits_of<T>(seen), next = old + v;
        if (__atomic_compare_exchange_n((B*)p, &seen, rcx_bits_of<B>(next), false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return old;
    }
}
#define RCX_INT_ATOMICS(T)                                                                 \
    inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }  \
    inline T atomicCAS(T* p, T e, T v) { return rcx_cas(p, e, v); }                       \
    inline T atomicMax(T* p, T v) { return rcx_max(p, v); }                               \
    inline T atomicMin(T* p, T v) { return rcx_min(p, v); }                               \
    inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
RCX_INT_ATOMICS(int)
RCX_INT_ATOMICS(unsigned int)
RCX_INT_ATOMICS(unsigned long long int)
#undef RCX_INT_ATOMICS
inline int atomicSub(int* p, int v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicSub(unsigned* p, unsigned v) {
    return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST);
}
inline long long atomicMax(long long* p, long long v) { return rcx_max(p, v); }
inline long long atomicMin(long long* p, long long v) { return rcx_min(p, v); }
inline float atomicAdd(float* p, float v) { return rcx_float_add<float, unsigned>(p, v); }
inline double atomicAdd(double* p, double v) {
    return rcx_float_add<double, unsigned long long>(p, v);
}

// ---- correctly rounded arithmetic (IEEE on SSE; compiled with -ffp-contract=off) --------
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }   // rounded once
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }

// ---- vector types: CUDA's layout (float2 8-aligned, the 4-lane ones 16), no operators ----
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
    return uint4{x, y, z, w};
}

// ---- bit casts ---------------------------------------------------------------------------
inline float __int_as_float(int x) { return rcx_bits_of<float>(x); }
inline float __uint_as_float(unsigned x) { return rcx_bits_of<float>(x); }
inline int __float_as_int(float x) { return rcx_bits_of<int>(x); }
inline unsigned __float_as_uint(float x) { return rcx_bits_of<unsigned>(x); }
inline double __longlong_as_double(long long x) { return rcx_bits_of<double>(x); }
inline long long __double_as_longlong(double x) { return rcx_bits_of<long long>(x); }

// ---- the entry: declared here so the launcher can call it --------------------------------
extern "C" __global__ void rc_main(uchar* rc_arena, uchar* rc_local, uint rc_mode);

namespace rcx {
void target_body(unsigned char* arena, unsigned char* local, unsigned mode, unsigned,
                        unsigned, unsigned, unsigned) {
    rc_main(arena, local, mode);        // ids come from threadIdx / blockIdx above
}
}  // namespace rcx

#endif  // RINGC_CUDA_EXEC_SHIM_H
