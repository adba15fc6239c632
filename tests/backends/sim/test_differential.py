"""The simulator against each device that runs emitted source here: PoCL, and the emitted
CUDA and Metal programs on this CPU through the executing shims (docs/shims.md). The same
program, the same inputs, the same launches; the whole arena afterwards (host output, dead
letters, stats, state, ring counters) must be identical byte for byte (every target lays
the arena out alike, which `device_runner` checks)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ringc as rc
from ringc.codegen import generate
from ringc.errors import CompileError
from ringc.protocol import RETURN_WHEN_IDLE, SERVE_PERSISTENT, SLOT
from tests.backends.sim.runner import SimDrainRunner
from tests.codegen.arena import DrainRunner, ShimDrainRunner, push, stats
from tests.codegen.programs import FLOAT_OPS, semantics_program
from tests.codegen.test_pocl_semantics import HOST_CLOCK, float_values, int_cases
from tests.conftest import PRELUDE
from tests.strategies import kernel_sources
from tests.test_end_to_end_semantics import FANOUT, FAULTS, LOOP, PIPE, RELAY, SPREAD


def device_runner(device: str, program, generated, local_size: int = 1):
    """A drain runner for `device`, over `generated`'s layout (an OpenCL compile): the
    shims get their own target's source, emitted with the same queue sizes."""
    if device == "opencl":
        return DrainRunner(generated.source, generated.layout, local_size=local_size)
    target = device.removesuffix("-shim")
    layout = generated.layout
    try:
        other = generate(program, target, output_capacity=layout.host_queue.capacity,
                         dead_letter_capacity=layout.dead_letter_queue.capacity)
    except CompileError as exc:
        if "f64" in exc.message:
            pytest.skip(f"{device}: the program uses f64, which {target} lacks")
        raise
    assert other.layout == layout, f"{target} lays the arena out differently"
    return ShimDrainRunner(other.source, layout, target, local_size=local_size)


def runners(program, generated, local_size: int = 1, device: str = "opencl"):
    return (device_runner(device, program, generated, local_size),
            SimDrainRunner(program, generated.layout, generated.reasons, local_size))


def where(layout, offset: int) -> str:
    """Which region of the layout a byte offset lies in (for failure messages)."""
    regions = [(q.offset, q.size, q.name) for q in (*layout.queues, *layout.ingress,
                                                    layout.host_queue, layout.dead_letter_queue)]
    regions += [(k.state_offset, k.state_stride * k.instances, f"state {k.name}")
                for k in layout.kernels]
    regions += [(0, layout.stats_offset, "control"),
                (layout.stats_offset, layout.num_queues * 64, "stats")]
    for start, size, name in regions:
        if start <= offset < start + size:
            return f"{name} +{offset - start}"
    return "padding"


def assert_same(layout, pocl: np.ndarray, sim: np.ndarray) -> None:
    differ = np.nonzero(pocl != sim)[0]
    assert differ.size == 0, sorted({where(layout, int(i)) for i in differ[:64]})


def canonical_nans(layout, arena: np.ndarray) -> None:
    """Every NaN in a float of a message slot or of state made the one quiet NaN. IEEE 754
    leaves the sign and payload of the NaN of an invalid operation (0/0) open: x86 gives
    -NaN at run time while PoCL's compiler folds a constant 0/0 to +NaN."""
    def fix(view: np.ndarray) -> None:
        if view.dtype.names:
            for name in view.dtype.names:
                fix(view[name])
        elif view.dtype.kind == "f":
            view[np.isnan(view)] = np.nan

    by_id = {m.type_id: m for m in layout.messages}
    for q in (*layout.queues, *layout.ingress, layout.host_queue, layout.dead_letter_queue):
        rows = arena[q.slots_offset:q.slots_offset + q.capacity * q.slot_size].reshape(
            q.capacity, q.slot_size)
        type_ids = rows[:, SLOT.offset("type_id"):SLOT.offset("type_id") + 4].copy().view(
            np.uint32)[:, 0]
        for i, type_id in enumerate(type_ids):
            m = by_id.get(int(type_id))
            if m is not None:
                fix(rows[i, q.payload_offset:q.payload_offset + m.size].view(m.dtype))
    for k in layout.kernels:
        for i in range(k.instances):
            start = k.state_offset + i * k.state_stride
            fix(arena[start:start + k.state_dtype.itemsize].view(k.state_dtype))


def compare(program, generated, drive, local_size: int = 1,
            nans_alike: bool = False, device: str = "opencl") -> np.ndarray:
    """Run `drive(runner, arena)` on a fresh arena with each backend; compare the arenas
    (`nans_alike`: any two NaNs compare equal, see `canonical_nans`; always on a shim,
    whose x86 arithmetic makes an invalid operation's NaN negative, docs/shims.md)."""
    nans_alike = nans_alike or device.endswith("-shim")
    arenas = []
    for runner in runners(program, generated, local_size, device):
        arena = generated.layout.new_arena()
        arena[8:16].view(np.uint64)[0] = HOST_CLOCK
        drive(runner, arena)
        if nans_alike:
            canonical_nans(generated.layout, arena)
        arenas.append(arena)
    assert_same(generated.layout, *arenas)
    return arenas[1]


@pytest.fixture(scope="module")
def calc():
    program = semantics_program()
    return program, generate(program, "opencl")


def pushes(layout, kernel: str, message: str, records, instance: int = 0):
    queue = layout.kernel(kernel).queue_base + instance

    def drive(runner, arena):
        for i, record in enumerate(records):
            push(arena, layout, queue, message, record, correlation=i + 1)
        runner.run(arena)
    return drive


def test_integers(device, calc):
    program, generated = calc
    records, _ = int_cases(np.random.default_rng(5), per_op=40)
    compare(program, generated, pushes(generated.layout, "Calc", "Ints", records),
            device=device)


@pytest.mark.parametrize("op", [op for op in FLOAT_OPS if op != "transcend"])
def test_floats_bit_for_bit(device, calc, op):
    program, generated = calc
    dtype = generated.layout.message("Floats").dtype
    values = float_values(np.random.default_rng(6), 40)
    records = []
    for i, a in enumerate(values):
        rec = np.zeros((), dtype)
        rec["op"], rec["a"], rec["b"] = FLOAT_OPS.index(op), a, values[(i * 7 + 3) % len(values)]
        rec["c"], rec["x"], rec["y"] = values[(i * 5 + 1) % len(values)], float(a) * 1.1, 1 / 3
        records.append(rec)
    compare(program, generated, pushes(generated.layout, "Calc", "Floats", records),
            device=device)


def test_index_faults_fail_reasons_and_loops(device, calc):
    program, generated = calc
    layout = generated.layout
    idx, loop = layout.message("Idx").dtype, layout.message("Loop").dtype
    cases = [(0, 1.5), (7, 2.5), (8, 9.0), (-1, 9.0), (2**31 - 1, 9.0), (-2**31, 9.0),
             (99, 9.0), (-99, 9.0), (3, 4.0)]
    loops = [(0, 10), (-7, 20), (5, 5), (10, 0), (-2**31, -2**31 + 10)]

    def drive(runner, arena):
        pushes(layout, "Calc", "Idx", [np.array(c, idx)[()] for c in cases])(runner, arena)
        pushes(layout, "Calc", "Loop", [np.array(c, loop)[()] for c in loops])(runner, arena)
    compare(program, generated, drive, device=device)


def test_send_reply_emit_routing_and_evaluation_order(device, calc):
    program, generated = calc
    layout = generated.layout
    front, back, odd = (layout.kernel(k).queue_base for k in ("Front", "Back", "Odd"))

    def drive(runner, arena):
        for x in range(7):
            push(arena, layout, front, "Req", np.array(x, layout.message("Req").dtype)[()],
                 correlation=100 + x)
        job = np.zeros((), layout.message("Job").dtype)
        job["x"], job["back"]["queue"], job["back"]["correlation"] = 42, 999, 7
        push(arena, layout, back + 1, "Job", job, correlation=5)
        push(arena, layout, back, "Ack", np.array(3, layout.message("Ack").dtype)[()])
        odd_msg = np.zeros((), layout.message("OddMsg").dtype)
        odd_msg["switch"], odd_msg["int"], odd_msg["half"] = 5, 99, -128
        push(arena, layout, odd, "OddMsg", odd_msg, correlation=1)
        push(arena, layout, odd, "Order", np.zeros((), layout.message("Order").dtype))
        runner.run(arena)
        runner.run(arena)
    compare(program, generated, drive, device=device)


def test_parallel_atomics(device, calc):
    program, generated = calc
    dtype = generated.layout.message("Tick").dtype
    records = [np.array(v, dtype)[()] for v in range(-20, 45)]
    compare(program, generated, pushes(generated.layout, "Par", "Tick", records),
            local_size=8, device=device)


def test_room_check_deferral(device):
    program = semantics_program()
    generated = generate(program, "opencl", output_capacity=4)
    layout = generated.layout
    dtype = layout.message("Loop").dtype

    def drive(runner, arena):
        for i in range(10):
            push(arena, layout, 0, "Loop", np.array((0, i), dtype)[()], correlation=i + 1)
        runner.run(arena)
        runner.host(arena)
        runner.run(arena)
    compare(program, generated, drive, device=device)


@pytest.mark.parametrize("source, kernel, message, local_size, launches, values", [
    (FAULTS, "K", "In", 1, 1, [(a, [v, 0, 0, 0]) for a in range(1, 7) for v in (-1, 0, 1, 9)]),
    (FANOUT, "Fan", "Job", 1, 300, [(6,)]),
    (LOOP, "Loop", "Job", 1, 2, [(3,)] * 4),
    (PIPE, "A", "Job", 1, 40, [(n,) for n in range(12)]),
    (RELAY, "Relay", "Job", 8, 8, [(1,)] * 15),
    (SPREAD, "Spread", "Unit", 4, 1, [(0,)] * 300),
])
def test_end_to_end_programs(device, user_module, source, kernel, message, local_size,
                             launches, values):
    source = source.replace("class Ping", "class Job").replace("Ping(", "Job(").replace(
        "m: Ping", "m: Job")
    compiled = rc.compile(getattr(user_module(source), kernel), "opencl", output_capacity=8)
    layout = compiled.layout
    dtype = layout.message(message).dtype

    def drive(runner, arena):
        for i, v in enumerate(values):
            push(arena, layout, 0, message, np.array(v, dtype)[()], correlation=i + 1)
        for n in range(launches):
            runner.run(arena)
            if n % 3 == 2:
                runner.host(arena)
                runner.dead(arena)
    compare(compiled.program, compiled, drive, local_size, device=device)


def test_bells_are_rung_and_cleared_alike_and_a_silent_one_is_swept(device, user_module):
    """Messages whose bell was never rung are still taken (a launch's first pass looks at
    every ring); after the drain every bell is clear, on PoCL and the simulator alike."""
    compiled = rc.compile(user_module(PIPE).A, "opencl", output_capacity=64)
    layout = compiled.layout
    job = layout.message("Job").dtype

    def drive(runner, arena):
        for n in range(10):
            push(arena, layout, 0, "Job", np.array((n,), job)[()], bell=False)
        runner.run(arena)
        assert [int(m["payload"]["n"]) for m in runner.host(arena)] == list(range(10))
    arena = compare(compiled.program, compiled, drive, device=device)
    assert [int(stats(arena, layout, q)["bell"]) for q in range(layout.num_queues)] == [0, 0]


# ---- random programs ---------------------------------------------------------------------

_counter = itertools.count()
# transcendental functions agree to a few ulps only: swapped for exactly rounded ones
_EXACT = [(r"math\.(exp|log|sin|cos)\(", "math.sqrt("), (r"math\.pow\(", "max(")]


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(source=kernel_sources(), seed=st.integers(0, 2**32 - 1))
def test_random_programs_agree(device, tmp_path_factory, source, seed):
    for pattern, exact in _EXACT:
        source = re.sub(pattern, exact, source)
    path = tmp_path_factory.mktemp("diff") / f"diff_{next(_counter)}.py"
    path.write_text(PRELUDE + source)
    compiled = rc.compile(str(path), "opencl")
    layout = compiled.layout
    dtype = layout.message("In").dtype
    rng = np.random.default_rng(seed)
    records = np.zeros(12, dtype)
    for name in ("a", "b", "c"):
        info = np.iinfo(dtype[name])
        records[name] = rng.integers(max(info.min, -2**40), min(info.max, 2**40), size=12,
                                     endpoint=True)
    records["a"][:4] = [0, 1, -1, 7]
    records["x"] = rng.normal(0, 100, 12)
    records["y"] = rng.normal(0, 1e6, 12)
    records["flag"] = rng.integers(0, 2, 12).astype(bool)
    records["v"] = rng.normal(0, 10, (12, 4))

    def drive(runner, arena):
        for i, record in enumerate(records):
            push(arena, layout, 0, "In", record, correlation=i + 1)
        runner.run(arena, mode=SERVE_PERSISTENT | RETURN_WHEN_IDLE)
    compare(compiled.program, compiled, drive, nans_alike=True, device=device)


COOPERATIVE = """
@rc.message
class Job:
    k: i32
    v: Array[f32, 64]

@rc.message
class Out:
    lane: i32
    x: f32

@rc.ring_kernel
class Sink:
    got: f32

    def on_out(self, m: Out):
        self.got += m.x

@rc.ring_kernel(concurrency="cooperative", group_size=16, max_batch=3)
class Coop:
    partials: Array[f32, 16]
    count: i32

    def on_job(self, m: Job) -> Out:
        tile: rc.Shared[Array[f32, 16]]
        lane = rc.lane()
        acc = f32(0.0)
        for i in range(lane, 64, rc.group_size()):
            acc += m.v[i] * f32(m.k)
        tile[lane] = acc
        rc.barrier()
        # read the neighbour's partial: right only after the barrier
        self.partials[lane] = acc + tile[(lane + 1) % 16]
        total = rc.group_sum(acc)
        big = rc.group_max(acc)
        if lane % 4 == 1:
            rc.emit(Out(lane=lane, x=acc))
        if lane == 0:
            self.count += 1
            rc.send(Sink, Out(lane=-1, x=total))
        if m.k == 3 and lane == 9:
            rc.fail("three")
        rc.barrier()
        if m.k == 5:
            x = m.v[lane * 5]           # lanes 13..15 are out of range
        return Out(lane=lane, x=big)
"""


def test_cooperative_kernels_agree(device, user_module):
    """A work-group of 16 lanes per message: shared memory read across a barrier, state
    written by every lane, reductions, emits from some lanes, a send from lane 0, faults on
    one lane (rc.fail, an index): the arena afterwards is the same byte for byte."""
    compiled = rc.compile(user_module(COOPERATIVE).Coop, "opencl", output_capacity=64)
    layout = compiled.layout
    dtype = layout.message("Job").dtype
    rng = np.random.default_rng(13)
    coop = layout.kernel("Coop").queue_base

    records = []
    for k in (1, 2, 3, 4, 5, 6, 2):
        rec = np.zeros((), dtype)
        rec["k"] = k
        rec["v"] = rng.standard_normal(64).astype(np.float32)
        records.append(rec)

    def drive(runner, arena):
        for i, rec in enumerate(records):
            push(arena, layout, coop, "Job", rec, correlation=i + 1)
        for _ in range(3):
            runner.run(arena)
    compare(compiled.program, compiled, drive, local_size=16, device=device)
