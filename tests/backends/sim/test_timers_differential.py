"""Timers and periodic methods, the simulator against PoCL and the shims: a script of
clock readings and messages, one drain launch per step, the whole arena compared after
each (timer heaps, `scheduled`, `tick_fault`, dead letters). The clock is the heartbeat
word the script sets, so both backends see the same time."""

from __future__ import annotations

import numpy as np

import ringc as rc
from ringc.protocol import RETURN_WHEN_IDLE, SERVE_PERSISTENT, STATS
from tests.backends.sim import timed_program
from tests.backends.sim.test_differential import runners, where
from tests.codegen.arena import push

T0 = 123_456_789_000
NEVER = (1 << 63) - 1
# (clock, [(sender instance, delay ns, target instance, tag, caught)]): ties, a delay of 0,
# a negative one, one past the clock's end, a bad instance, a full table (timers=5), ticks
# of two periods, one faulting, and sends into a full two-slot ring
SCRIPT = [
    (T0, [(0, 5, 0, 1, 0), (0, 3, 0, 2, 0), (0, 3, 0, 3, 0), (0, 0, 0, 4, 0), (0, 7, 1, 5, 0),
          (0, 1, 0, 6, 0), (0, -1, 0, 7, 0), (0, NEVER, 0, 8, 0), (1, 2, 9, 9, 0),
          (1, 4, 1, 10, 1), (1, 4, 1, 11, 0)]),
    (T0 + 3, [(0, 0, 0, 12, 1)] * 4),
    (T0 + 5, []),
    (T0 + 1_000_000, [(1, 2, 0, 13, 0)]),
    (T0 + 2_000_001, [(0, 100, 0, 20 + i, 1) for i in range(6)]),
    (T0 + 3_000_000, [(0, 0, i % 2, 30 + i, 1) for i in range(6)]),
    (T0 + 5_000_000, []),
    (T0 + 9_000_000, []),
]


def test_timers_and_ticks_leave_the_same_arena_on_both(device):
    compiled = rc.compile(timed_program.Sched, "opencl", output_capacity=8)
    layout = compiled.layout
    go = layout.message("Go").dtype
    sched = layout.kernel("Sched")
    steps = []
    for runner in runners(compiled.program, compiled, device=device):
        arena = layout.new_arena()
        seen, correlation = [], 1
        for clock, gos in SCRIPT:
            arena[8:16].view(np.uint64)[0] = clock
            for instance, delay, target, tag, caught in gos:
                push(arena, layout, sched.queue_base + instance, "Go",
                     np.array((delay, target, tag, caught), go)[()], correlation=correlation)
                correlation += 1
            runner.run(arena, mode=SERVE_PERSISTENT | RETURN_WHEN_IDLE)
            seen.append(arena.copy())
            runner.host(arena)
            runner.dead(arena)
        steps.append(seen)
    for step, (pocl, sim) in enumerate(zip(*steps)):
        differ = np.nonzero(pocl != sim)[0]
        assert differ.size == 0, (step, sorted({where(layout, int(i)) for i in differ[:64]}))
    final = steps[1][-1]
    stats = final[layout.stats_offset:layout.stats_offset + layout.num_queues * STATS.size]
    stats = stats.view(STATS.dtype)
    state = final[sched.state_offset:][:sched.state_dtype.itemsize].view(sched.state_dtype)[0]
    assert int(state["caught"]) > 0 and int(state["rc_timer_count"]) <= 5
    assert stats["tick_fault"][sched.queue_base:sched.queue_base + 2].any()
    sink = layout.kernel("Sink")
    first = final[sink.state_offset:][:sink.state_dtype.itemsize].view(sink.state_dtype)[0]
    # due order, ties in send order; tag 6 found the table full (it held 1, 2, 3, 4, 5)
    assert list(first["seen"][:8]) == [4, 2, 3, 12, 12, 12, 12, 1]
