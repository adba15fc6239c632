"""User source -> frontend -> codegen -> PoCL: what a handler does when it faults, and that
the loop makes progress and stays fair. Runs rc_main(mode=DRAIN_LAUNCH) over a numpy arena
(tests/codegen/arena), on PoCL and on the simulator (`backend="sim"`)."""

from __future__ import annotations

import numpy as np
import pytest

import ringc as rc
from tests.backends.sim.runner import SimDrainRunner
from tests.codegen.arena import DrainRunner, push, stats


@pytest.fixture(params=["pocl", "sim"])
def backend(request):
    if request.param == "pocl":
        pytest.importorskip("pyopencl", reason="the OpenCL tests need pyopencl and PoCL")
    return request.param


def runner_for(compiled, backend: str, local_size: int = 1):
    """A drain runner of a compiled program on PoCL or the simulator."""
    if backend == "sim":
        return SimDrainRunner(compiled.program, compiled.layout, compiled.reasons, local_size)
    return DrainRunner(compiled.source, compiled.layout, local_size=local_size)

FAULTS = """
@rc.message
class In:
    a: i32
    v: Array[i32, 4]

@rc.ring_kernel(mode="event_driven")
class K:
    t1: i32 = 11
    t2: i32 = 22
    t3: i32 = 33
    t4: i32 = 44
    arr: Array[i32, 2] = [55, 66]

    def h(self, x: i32) -> i32:
        if x < 0:
            rc.fail("negative")
        return x

    def on_in(self, m: In):
        if m.a == 1:
            self.t1 = m.v[m.v[0]]
        if m.a == 2:
            self.t2 = m.a // m.v[0]
        if m.a == 3:
            self.t3 = self.h(m.v[0])
        if m.a == 4:
            self.arr[1] = m.a % m.v[0]
        if m.a == 5:
            self.t4 -= self.h(m.v[0])
        if m.a == 6:
            self.t4 += 1 // m.v[0] + 1
"""


def start(kernel_cls, backend: str, local_size: int = 1):
    """(layout, runner, fresh arena, fail reasons) of a kernel compiled for OpenCL and
    built on PoCL, or run by the simulator."""
    compiled = rc.compile(kernel_cls, "opencl")
    layout = compiled.layout
    runner = runner_for(compiled, backend, local_size)
    return layout, runner, layout.new_arena(), compiled.reasons


def run(module, kernel: str, message: str, records: list[dict], backend: str):
    layout, runner, arena, reasons = start(getattr(module, kernel), backend)
    dtype = layout.message(message).dtype
    for i, fields in enumerate(records):
        record = np.zeros((), dtype)
        for name, value in fields.items():
            record[name] = value
        push(arena, layout, layout.kernel(kernel).queue_base, message, record,
             correlation=i + 1)
    runner.run(arena)
    k = layout.kernel(kernel)
    state = arena[k.state_offset:k.state_offset + k.state_dtype.itemsize].view(k.state_dtype)
    return state[0], runner.dead(arena), reasons


def test_a_faulting_handler_stores_nothing(user_module, backend):
    module = user_module(FAULTS)
    state, dead, reasons = run(module, "K", "In", [
        {"a": 1, "v": [9, 0, 0, 0]},      # index out of range
        {"a": 2, "v": [0, 0, 0, 0]},      # division by zero
        {"a": 3, "v": [-1, 0, 0, 0]},     # rc.fail in a helper
        {"a": 4, "v": [0, 0, 0, 0]},      # modulo by zero into an array element
        {"a": 5, "v": [-1, 0, 0, 0]},     # augmented assignment through a failing helper
        {"a": 6, "v": [0, 0, 0, 0]},      # augmented assignment with a faulting operand
    ], backend)
    assert [(d["reason"], d["correlation"]) for d in dead] == [
        (3, 1), (2, 2), (16, 3), (2, 4), (16, 5), (2, 6)]
    assert reasons == ("negative",)
    assert (state["t1"], state["t2"], state["t3"], state["t4"]) == (11, 22, 33, 44)
    assert list(state["arr"]) == [55, 66]


LOOP_AFTER_FAULT = """
@rc.message
class In:
    a: i32
    n: i32

@rc.ring_kernel(mode="event_driven")
class K:
    t: i32 = 5
    q: rc.Queue[i32, 2]

    def on_in(self, m: In):
        x = 7 // m.a + 1                     # faults (a private store: no check yet)
        for i in range(m.n):                 # runs no time at all
            x += i
        while x < 0:
            x += 1
        for v in self.q:
            x += v
        self.t = x                           # must not happen
"""


def test_a_fault_before_a_loop_that_never_runs_still_stores_nothing(user_module, backend):
    """The check of a pending fault is not only inside a loop: a loop that runs no time
    must not let the store after it happen."""
    module = user_module(LOOP_AFTER_FAULT)
    state, dead, _ = run(module, "K", "In", [{"a": 0, "n": 0}], backend)
    assert [d["reason"] for d in dead] == [2]
    assert state["t"] == 5


PING = """
@rc.message
class Ping:
    n: i32

@rc.ring_kernel(mode="event_driven", capacity=16)
class Echo:
    seen: i32

    def on_ping(self, m: Ping):
        self.seen += 1
        rc.send(Echo, Ping(n=m.n + 1))
"""


def test_an_event_driven_launch_is_bounded(user_module, backend):
    """A kernel that keeps feeding itself must not keep one drain launch alive forever:
    the launch returns after its bound, with the conversation still queued."""
    module = user_module(PING)
    state, dead, _ = run(module, "Echo", "Ping", [{"n": 0}], backend)
    assert dead == []
    assert 0 < state["seen"] < 1_000_000


RELAY = """
@rc.message
class Ping:
    n: i32

@rc.ring_kernel(mode="event_driven", capacity=16, concurrency="parallel")
class Relay:
    def on_ping(self, m: Ping):
        if m.n > 0:
            rc.send(Relay, Ping(n=m.n - 1))
"""


def test_parallel_claims_leave_room_for_their_sends(user_module, backend):
    """Claimed but unreleased slots are not free: eight work-items must not all claim
    when the device ring has room for one more send (they would end in queue_full)."""
    layout, runner, arena, _ = start(user_module(RELAY).Relay, backend, local_size=8)
    for i in range(15):                       # the device ring: 15 of 16 slots taken
        push(arena, layout, 0, "Ping", np.array((1,), layout.message("Ping").dtype),
             correlation=i + 1, ring="device")
    for _ in range(8):
        runner.run(arena)
    s = stats(arena, layout, 0)
    assert runner.dead(arena) == []
    assert (s["processed"], s["dead_lettered"], s["busy"]) == (30, 0, 0)


ORDERED = """
@rc.message
class Item:
    n: i32

@rc.message
class Seen:
    n: i32

@rc.ring_kernel(mode="event_driven", capacity=32)
class Log:
    def on_item(self, m: Item) -> Seen:
        return Seen(n=m.n)
"""


def test_host_and_device_rings_are_both_served_in_order_and_active_is_honoured(
        user_module, backend):
    layout, runner, arena, _ = start(user_module(ORDERED).Log, backend)
    item = layout.message("Item").dtype
    for n in range(10):
        ring = "ingress" if n % 3 else "device"
        push(arena, layout, 0, "Item", np.array((n,), item), correlation=n + 1, ring=ring)
    active = arena[layout.stats_line(0):layout.stats_line(0) + 4].view(np.uint32)
    active[0] = 0                              # deactivated: nothing is taken
    runner.run(arena)
    assert runner.host(arena) == [] and stats(arena, layout, 0)["busy"] == 0
    active[0] = 1
    runner.run(arena)
    seen = [h["payload"]["n"] for h in runner.host(arena)]
    assert sorted(seen) == list(range(10))
    for ring in ([n for n in range(10) if n % 3], [n for n in range(10) if not n % 3]):
        assert [n for n in seen if n in ring] == ring        # each ring in its own order


FANOUT = """
@rc.message
class Job:
    n: i32

@rc.ring_kernel(mode="event_driven", capacity=4, backpressure="reject")
class Fan:
    def on_job(self, m: Job):
        if m.n > 0:
            rc.send(Fan, Job(n=m.n - 1))
            rc.send(Fan, Job(n=m.n - 1))
"""


def test_a_kernel_that_floods_its_own_queue_still_makes_progress(user_module, backend):
    """Each handling sends two messages to its own 4-slot queue: waiting for room would
    wait forever, so after RC_ROOM_PATIENCE passes the message is taken anyway and the
    send that finds no room is dead-lettered as queue_full; nothing hangs, nothing is lost."""
    layout, runner, arena, _ = start(user_module(FANOUT).Fan, backend)
    push(arena, layout, 0, "Job", np.array((6,), layout.message("Job").dtype), correlation=1)
    dead = []
    rings = (layout.queue(0), layout.ingress_queue(0))

    def pending() -> int:
        return sum(int(arena[q.tail_offset:q.tail_offset + 4].view(np.uint32)[0])
                   - int(arena[q.head_offset:q.head_offset + 4].view(np.uint32)[0])
                   for q in rings)
    for _ in range(2000):
        runner.run(arena)
        dead += runner.dead(arena)
        if pending() == 0:
            break
    s = stats(arena, layout, 0)
    assert pending() == 0
    assert dead and {d["reason"] for d in dead} == {1}                 # queue_full only
    assert 1 + s["received"] == s["processed"] + s["dead_lettered"]    # conservation
    assert s["dead_lettered"] == len(dead)


SPREAD = """
@rc.message
class Unit:
    n: i32

@rc.ring_kernel(mode="event_driven", capacity=8192, instances=2, concurrency="parallel")
class Spread:
    def on_unit(self, m: Unit):
        pass
"""


def test_a_busy_parallel_instance_does_not_starve_another(user_module, backend):
    layout, runner, arena, _ = start(user_module(SPREAD).Spread, backend, local_size=4)
    unit = np.array((0,), layout.message("Unit").dtype)
    for _ in range(8000):
        push(arena, layout, 0, "Unit", unit)
    for _ in range(10):
        push(arena, layout, 1, "Unit", unit)
    runner.run(arena)                          # one launch: at most RC_DRAIN_PASSES passes
    assert stats(arena, layout, 1)["processed"] == 10
    assert stats(arena, layout, 0)["processed"] > 0


MIXED = """
@rc.message
class Tick:
    n: i32

@rc.ring_kernel
class Always:
    count: i32

    def on_tick(self, m: Tick):
        self.count += 1
        rc.send(Sometimes, Tick(n=m.n))

@rc.ring_kernel(mode="event_driven")
class Sometimes:
    count: i32

    def on_tick(self, m: Tick):
        self.count += 1
"""


def test_the_launch_mode_selects_which_kernels_are_served(user_module, backend):
    from ringc.protocol import RETURN_WHEN_IDLE, SERVE_EVENT_DRIVEN, SERVE_PERSISTENT
    layout, runner, arena, _ = start(user_module(MIXED).Always, backend)
    tick = np.array((1,), layout.message("Tick").dtype)
    for _ in range(5):
        push(arena, layout, layout.kernel("Always").queue_base, "Tick", tick)
    runner.run(arena)                                  # a drain launch: event-driven only
    assert stats(arena, layout, 0)["processed"] == 0
    runner.run(arena, mode=SERVE_PERSISTENT | SERVE_EVENT_DRIVEN | RETURN_WHEN_IDLE)
    processed = [stats(arena, layout, k.queue_base)["processed"] for k in layout.kernels]
    assert processed == [5, 5]                         # one launch served both kinds


LOOP = """
@rc.message
class Job:
    n: i32

@rc.ring_kernel(mode="event_driven", capacity=4, backpressure="reject", max_batch=1)
class Loop:
    def on_job(self, m: Job):
        if m.n > 0:
            rc.send(Loop, Job(n=m.n - 1))
"""


def test_a_head_waiting_for_room_does_not_block_the_other_ring(user_module, backend):
    """The device ring is full of self-sending jobs (each frees the slot it needs); a host
    job at the head of the ingress ring must wait, but the device ring goes on meanwhile,
    and with max_batch=1 the two rings still take turns."""
    layout, runner, arena, _ = start(user_module(LOOP).Loop, backend)
    job = layout.message("Job").dtype
    for _ in range(4):
        push(arena, layout, 0, "Job", np.array((3,), job), ring="device")
    push(arena, layout, 0, "Job", np.array((3,), job))
    runner.run(arena)
    assert runner.dead(arena) == []
    assert stats(arena, layout, 0)["processed"] == 20          # 5 chains of 4, one launch


PIPE = """
@rc.message
class Job:
    n: i32

@rc.ring_kernel(mode="event_driven", capacity=16, backpressure="reject")
class A:
    def on_job(self, m: Job):
        rc.send(B, Job(n=m.n))

@rc.ring_kernel(mode="event_driven", capacity=4)
class B:
    def on_job(self, m: Job):
        rc.emit(m)
"""


def test_a_slow_host_backpressures_two_hops_upstream_without_loss(user_module, backend):
    """B waits for the host output queue; A waits for B. Patience must not cut A's wait
    short (that would reject A's sends): the wait ends when the host reads."""
    compiled = rc.compile(user_module(PIPE).A, "opencl", output_capacity=4)
    layout = compiled.layout
    runner = runner_for(compiled, backend)
    arena = layout.new_arena()
    job = layout.message("Job").dtype
    for n in range(12):
        push(arena, layout, 0, "Job", np.array((n,), job))
    for _ in range(100):                           # the host does not read for a while
        runner.run(arena)
    got, dead = [], []
    for _ in range(50):
        got += runner.host(arena)
        dead += runner.dead(arena)
        runner.run(arena)
    got += runner.host(arena)
    assert dead == [] and runner.dead(arena) == []
    assert sorted(int(h["payload"]["n"]) for h in got) == list(range(12))
