// metal_shim.h: lets a C++17 compiler syntax- and type-check the Metal Shading Language
// ringc emits, on machines without Apple's Metal compiler:
//
//     g++ -std=c++17 -fsyntax-only -Wno-unknown-pragmas -Wno-attributes -x c++
//         -include metal_shim.h program.metal        (one command line)
//
// This is a syntax/type check, not Metal: address spaces become nothing, attributes are
// ignored, and the functions below are declarations only (nothing links or runs). It
// declares exactly what ringc's templates and dialect use; anything else the emitted code
// calls is an error here, as it would be for a target that lacks it.
#ifndef RINGC_METAL_SHIM_H
#define RINGC_METAL_SHIM_H

// address spaces and function qualifiers
#define device
#define threadgroup
#define thread
#define constant const
#define kernel

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;        // 64-bit in MSL, as on LP64 hosts
typedef _Float16 half;

#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")

namespace metal {

// ---- math (float only: MSL has no double) -------------------------------------------
float sqrt(float); float exp(float); float log(float); float sin(float); float cos(float);
float tan(float); float floor(float); float ceil(float); float fabs(float);
float pow(float, float); float fmod(float, float); float copysign(float, float);
bool isnan(float); bool isinf(float);
float fma(float, float, float);
template <typename T> T min(T, T);
template <typename T> T max(T, T);
template <typename T> T abs(T);
template <typename T> T select(T, T, bool);
template <typename To, typename From> To as_type(From);

namespace precise {
float sqrt(float); float exp(float); float log(float); float sin(float); float cos(float);
float tan(float); float pow(float, float); float fmod(float, float);
}  // namespace precise

// ---- vectors (ringc's f32x2 f32x4 i32x4 u32x4): MSL's layout, lanes x y z w ------------
struct alignas(8) float2 { float x, y; float2(); float2(float, float); };
struct alignas(16) float4 { float x, y, z, w; float4(); float4(float, float, float, float); };
struct alignas(16) int4 { int x, y, z, w; int4(); int4(int, int, int, int); };
struct alignas(16) uint4 { uint x, y, z, w; uint4(); uint4(uint, uint, uint, uint); };

// ---- atomics (device memory, relaxed order) -----------------------------------------
enum memory_order { memory_order_relaxed, memory_order_seq_cst };
enum thread_scope { thread_scope_thread, thread_scope_simdgroup, thread_scope_threadgroup,
                    thread_scope_device };

template <typename T> struct _atomic { T value; };
typedef _atomic<int> atomic_int;
typedef _atomic<uint> atomic_uint;

template <typename T> T atomic_load_explicit(const _atomic<T>*, memory_order);
template <typename T> void atomic_store_explicit(_atomic<T>*, T, memory_order);
template <typename T> T atomic_fetch_add_explicit(_atomic<T>*, T, memory_order);
template <typename T> T atomic_fetch_max_explicit(_atomic<T>*, T, memory_order);
template <typename T> T atomic_fetch_min_explicit(_atomic<T>*, T, memory_order);
template <typename T>
bool atomic_compare_exchange_weak_explicit(_atomic<T>*, T*, T, memory_order, memory_order);

// ---- barriers and fences -------------------------------------------------------------
enum class mem_flags : uint { mem_none = 0, mem_device = 1, mem_threadgroup = 2,
                              mem_texture = 4 };
inline mem_flags operator|(mem_flags a, mem_flags b) {
    return mem_flags(uint(a) | uint(b));
}
void threadgroup_barrier(mem_flags);
void atomic_thread_fence(mem_flags, memory_order, thread_scope);

}  // namespace metal

#endif  // RINGC_METAL_SHIM_H
