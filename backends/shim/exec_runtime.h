// exec_runtime.h: the part of ringc's executing shims every target shares (docs/shims.md).
//
// A launch of G groups (CUDA blocks, Metal threadgroups) of L lanes runs each group on one
// host thread (pthreads: groups run in parallel for real, so cross-group atomics, fences
// and the reservation protocol meet real concurrency). A group's L lanes run as fibers on
// that thread, one at a time, switching only at barriers: each lane runs until it reaches
// the barrier, then the next lane runs, and once all are there all continue (as PoCL runs
// work-items). So block-shared memory is thread-local storage: one copy per group, shared
// by its lanes. A group of one lane runs on its thread directly, with no fiber.
//
// What this CANNOT show: the GPU memory model (weaker than x86-64's TSO, so a missing
// fence can pass here), host-mapped memory over PCIe, warp scheduling and independent
// thread scheduling (lanes run one at a time between barriers), and target address-space
// rules. Each target's exec_shim.h says the same for its builtins.
//
// Plain C and POSIX headers only: no C++ standard library (it would bring math overloads
// into the global namespace, which Metal's `using namespace metal;` must not meet).
#ifndef RINGC_EXEC_RUNTIME_H
#define RINGC_EXEC_RUNTIME_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

namespace rcx {

// the entry of one lane: the target's shim calls its rc_main with these
typedef void (*Body)(unsigned char* arena, unsigned char* local, unsigned mode, unsigned lane,
                     unsigned group, unsigned groups, unsigned lanes);

enum Status {
    RCX_OK = 0,
    RCX_NO_THREAD = 1,        // pthread_create failed
    RCX_NO_STACK = 2,         // a fiber stack could not be mapped
    RCX_DIVERGED = 3,         // lanes of a group left rc_main at different barriers
};

static const unsigned long FIBER_STACK = 512ul * 1024ul;     // per lane, plus a guard page
static const unsigned long GROUP_STACK = 16ul * 1024ul * 1024ul;

struct Launch {
    unsigned char* arena;
    unsigned char* local;
    unsigned* stop;             // the control block's stop word
    unsigned mode, groups, lanes;
    Body body;
    int status;                 // the first failure (Status), set atomically
};

struct Lane {
    ucontext_t context;
    void* stack;                // the mapping, guard page first
    int done;
    int at_warp_sync;           // stopped at warp_sync(), not at a barrier
};

struct Group {
    Launch* launch;
    unsigned id;
    ucontext_t scheduler;
    Lane* lanes;
    unsigned long long* exchange;   // a word per lane for warp shuffles
};

static thread_local Group* t_group = nullptr;   // the group this host thread runs
static thread_local unsigned t_lane = 0;        // the lane running now on it

inline unsigned lane_id() { return t_lane; }
inline unsigned group_id() { return t_group ? t_group->id : 0u; }
inline unsigned group_count() { return t_group ? t_group->launch->groups : 1u; }
inline unsigned lane_count() { return t_group ? t_group->launch->lanes : 1u; }

inline void fail(Launch* launch, int status) {
    int none = RCX_OK;
    __atomic_compare_exchange_n(&launch->status, &none, status, false, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
}

inline void fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// a barrier of the lanes of one group: this lane waits (its fiber yields to the group's
// scheduler) until every lane has reached it
__attribute__((noinline)) inline void barrier() {
    Group* g = t_group;
    fence();
    if (g != nullptr && g->launch->lanes > 1u) swapcontext(&g->lanes[t_lane].context, &g->scheduler);
    fence();
}

// a sync of the lanes of a warp (CUDA's __shfl_*_sync): this lane waits until every lane
// still running has reached its next barrier or warp sync; then those at warp syncs go on,
// and those at barriers keep waiting (a shuffle inside `if (lane < 32)` syncs that warp only)
__attribute__((noinline)) inline void warp_sync() {
    Group* g = t_group;
    fence();
    if (g != nullptr && g->launch->lanes > 1u) {
        g->lanes[t_lane].at_warp_sync = 1;
        swapcontext(&g->lanes[t_lane].context, &g->scheduler);
    }
    fence();
}

// the value `delta` lanes above this one, within a warp of `width` lanes (this lane's own
// where that lane is past the warp or the group): every lane of the warp calls it together
template <typename T>
inline T shuffle_down(T value, unsigned delta, unsigned width) {
    static_assert(sizeof(T) <= sizeof(unsigned long long), "a shuffle moves one word");
    Group* g = t_group;
    if (g == nullptr || g->launch->lanes <= 1u) return value;
    unsigned long long word = 0;
    __builtin_memcpy(&word, &value, sizeof(T));
    g->exchange[t_lane] = word;
    warp_sync();                                    // every lane's value is there
    unsigned from = t_lane + delta;
    T result = value;
    if (t_lane % width + delta < width && from < g->launch->lanes)
        __builtin_memcpy(&result, &g->exchange[from], sizeof(T));
    warp_sync();                                    // every lane has read before the next
    return result;
}

// a short real pause for an idle loop: on a machine with few cores the host shares them
inline void pause_ns(unsigned long ns) {
    if (ns < 1000ul) ns = 1000ul;
    struct timespec t = {(time_t)(ns / 1000000000ul), (long)(ns % 1000000000ul)};
    nanosleep(&t, nullptr);
}

// CLOCK_MONOTONIC in ns: the clock Python's time.monotonic_ns() reads
inline unsigned long long monotonic_ns() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

// printf, flushed at once (a shared library's stdout is buffered apart from Python's)
inline int printf_flushed(const char* format, ...) {
    va_list args;
    va_start(args, format);
    int n = vprintf(format, args);
    va_end(args);
    fflush(stdout);
    return n;
}

inline void run_lane(Group* g, unsigned lane) {
    Launch* l = g->launch;
    l->body(l->arena, l->local, l->mode, lane, g->id, l->groups, l->lanes);
}

inline void fiber_entry() {
    Group* g = t_group;
    unsigned lane = t_lane;
    run_lane(g, lane);
    g->lanes[lane].done = 1;
}   // returns to uc_link: the group's scheduler

// run a group's lanes as fibers, round by round: each round runs every lane to its next
// barrier (or its end), resuming those that stop at a warp sync pass by pass until they
// reach one too
inline void run_fibers(Group* g) {
    unsigned n = g->launch->lanes;
    Lane* lanes = new Lane[n];
    g->lanes = lanes;
    g->exchange = new unsigned long long[n];
    unsigned long page = 4096ul;
    unsigned made = 0;
    for (; made < n; ++made) {
        Lane& lane = lanes[made];
        lane.done = 0;
        lane.at_warp_sync = 0;
        lane.stack = mmap(nullptr, FIBER_STACK + page, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (lane.stack == MAP_FAILED) break;
        mprotect(lane.stack, page, PROT_NONE);      // an overflow faults, never corrupts
        getcontext(&lane.context);
        lane.context.uc_stack.ss_sp = (char*)lane.stack + page;
        lane.context.uc_stack.ss_size = FIBER_STACK;
        lane.context.uc_link = &g->scheduler;
        makecontext(&lane.context, (void (*)())fiber_entry, 0);
    }
    if (made < n) {
        fail(g->launch, RCX_NO_STACK);
    } else {
        unsigned left = n;
        while (left > 0u) {
            unsigned ended = 0u;
            for (bool first = true, again = true; again; first = false) {
                again = false;
                for (unsigned i = 0; i < n; ++i) {
                    if (lanes[i].done || !(first || lanes[i].at_warp_sync)) continue;
                    lanes[i].at_warp_sync = 0;
                    t_lane = i;
                    swapcontext(&g->scheduler, &lanes[i].context);
                    if (lanes[i].done) ++ended;
                    else if (lanes[i].at_warp_sync) again = true;
                }
            }
            left -= ended;
            if (ended != 0u && left != 0u) fail(g->launch, RCX_DIVERGED);
        }
    }
    for (unsigned i = 0; i < made; ++i) munmap(lanes[i].stack, FIBER_STACK + page);
    delete[] lanes;
    delete[] g->exchange;
    g->lanes = nullptr;
    g->exchange = nullptr;
}

inline void* group_main(void* arg) {
    Group* g = (Group*)arg;
    t_group = g;
    t_lane = 0;
    if (g->launch->lanes <= 1u) run_lane(g, 0u);
    else run_fibers(g);
    fence();
    t_group = nullptr;
    return nullptr;
}

// run one launch to its end: G host threads, joined; a Status
inline int run(Launch* launch) {
    unsigned n = launch->groups;
    Group* groups = new Group[n];
    pthread_t* threads = new pthread_t[n];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, GROUP_STACK);
    launch->status = RCX_OK;
    fence();
    unsigned started = 0;
    for (; started < n; ++started) {
        groups[started].launch = launch;
        groups[started].id = started;
        groups[started].lanes = nullptr;
        groups[started].exchange = nullptr;
        if (pthread_create(&threads[started], &attr, group_main, &groups[started]) != 0) break;
    }
    pthread_attr_destroy(&attr);
    if (started < n) {
        // the groups that started wait for the others (a persistent kernel may never end
        // without them): ask them to stop through the control block's stop word
        fail(launch, RCX_NO_THREAD);
        __atomic_store_n(launch->stop, 1u, __ATOMIC_SEQ_CST);
    }
    for (unsigned i = 0; i < started; ++i) pthread_join(threads[i], nullptr);
    delete[] threads;
    delete[] groups;
    fence();
    return launch->status;
}

// the target's lane entry: its exec_shim.h defines it (it calls the program's rc_main)
void target_body(unsigned char* arena, unsigned char* local, unsigned mode, unsigned lane,
                 unsigned group, unsigned groups, unsigned lanes);

}  // namespace rcx

// what the loader calls (through ctypes, which lets go of Python's lock): one launch of
// `groups` x `lanes`, to its end; 0, or a rcx::Status
extern "C" __attribute__((visibility("default")))
int rcx_launch(unsigned char* arena, unsigned char* local, unsigned* stop, unsigned mode,
               unsigned groups, unsigned lanes) {
    rcx::Launch launch;
    launch.arena = arena;
    launch.local = local;
    launch.stop = stop;
    launch.mode = mode;
    launch.groups = groups;
    launch.lanes = lanes;
    launch.body = rcx::target_body;
    launch.status = rcx::RCX_OK;
    return rcx::run(&launch);
}

#endif  // RINGC_EXEC_RUNTIME_H
