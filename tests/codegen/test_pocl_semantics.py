"""Run emitted OpenCL on PoCL: `rc_main(arena, local, DRAIN_LAUNCH)` over a numpy arena
filled as the runtime fills it, and compare every answer with numpy / Python semantics, bit
for bit. Every test runs on PoCL and on the simulator (`backend="sim"`), which must agree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ringc.codegen import generate
from ringc.ir.types import cast_value
from ringc.protocol import DEAD_QUEUE, HOST_QUEUE

from .arena import DrainRunner, push, stats, u32
from .irbuild import F32, F64
from .programs import (
    FLOAT_OPS,
    INT_KEYS,
    INT_OPS,
    float_reference,
    int_reference,
    loop_reference,
    odd_reference,
    semantics_program,
)

HOST_CLOCK = 123_456_789_000


@pytest.fixture(scope="module", params=["pocl", "sim"])
def backend(request):
    return request.param


def make_runner(backend: str, program, generated, local_size: int = 1):
    """A drain runner of `generated` (emitted from `program`) on PoCL or the simulator."""
    if backend == "sim":
        from tests.backends.sim.runner import SimDrainRunner
        return SimDrainRunner(program, generated.layout, generated.reasons, local_size)
    return DrainRunner(generated.source, generated.layout, local_size=local_size)


@pytest.fixture(scope="module")
def calc(backend):
    generated = generate(semantics_program(), "opencl")
    return generated, make_runner(backend, semantics_program(), generated)


def run_batch(calc, kernel: str, message: str, records, instance: int = 0, groups: int = 1,
              runner=None):
    """Send `records` (correlation = index + 1), run one drain launch; returns (arena,
    host output by correlation, dead letters)."""
    generated, default_runner = calc
    runner = runner or default_runner
    layout = generated.layout
    arena = layout.new_arena()
    arena[8:16].view(np.uint64)[0] = HOST_CLOCK
    queue = layout.kernel(kernel).queue_base + instance
    for i, rec in enumerate(records):
        push(arena, layout, queue, message, rec, correlation=i + 1)
    runner.run(arena, groups)
    out = {}
    for entry in runner.host(arena):
        out.setdefault(entry["correlation"], []).append(entry)
    return arena, out, runner.dead(arena)


def edge_ints(t, rng, n):
    lo, hi = t.min_max()
    edges = [0, 1, -1, 2, -2, 3, -3, 7, -7, lo, hi, lo + 1, hi - 1, 8, 16, 31, 32, 63, 64, 100]
    values = [v for v in edges if lo <= v <= hi]
    return values + [int(x) for x in rng.integers(lo, hi, size=n, endpoint=True,
                                                  dtype=t.np_dtype)]


def int_cases(rng, per_op: int = 60):
    dtype = generate(semantics_program(), "opencl").layout.message("Ints").dtype
    records, cases = [], []
    for k, op in enumerate(INT_OPS):
        for i in range(per_op):
            rec = np.zeros((), dtype)
            rec["op"] = k
            values = {}
            for key, t in INT_KEYS.items():
                pool = edge_ints(t, rng, per_op)
                for side in "ab":
                    v = pool[(i * (3 if side == "a" else 7) + (k if side == "b" else 0))
                             % len(pool)] if i < per_op // 2 else pool[int(rng.integers(len(pool)))]
                    values[side + key] = v
                    rec[side + key] = t.np_dtype.type(v)
            records.append(rec)
            cases.append((op, values))
    return records, cases


def test_integer_semantics_match_numpy_and_python(calc):
    rng = np.random.default_rng(1)
    records, cases = int_cases(rng)
    arena, out, dead = run_batch(calc, "Calc", "Ints", records)
    dead_by_corr = {d["correlation"]: d for d in dead}
    faults = 0
    for i, (op, values) in enumerate(cases):
        expected = int_reference(op, values)
        if expected is None:
            faults += 1
            assert dead_by_corr[i + 1]["reason"] == 2, (op, values)      # division_by_zero
            assert dead_by_corr[i + 1]["payload"]["op"] == INT_OPS.index(op)
            continue
        (entry,) = out[i + 1]
        got = entry["payload"]
        for field, want in expected.items():
            assert got[field] == want, (op, field, values, got[field], want)
    assert faults > 0 and len(dead) == faults
    s = stats(arena, calc[0].layout, 0)
    assert s["processed"] == len(cases) - faults and s["dead_lettered"] == faults


def float_values(rng, n):
    specials = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 3.0, -3.0, 7.0, 0.1, math.inf,
                -math.inf, math.nan, 1e-45, -1e-45, 1.17e-38, 3.4028235e38, -3.4028235e38,
                2147483520.0, 2147483648.0, -2147483904.0, 4294967296.0, 1e10, -1e10, 255.5,
                -128.5, 1e20, 9.2233715e18, 1.8446743e19]
    bits = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    uniform = rng.uniform(-1000, 1000, size=n).astype(np.float32)
    return [np.float32(v) for v in specials] + list(bits) + list(uniform)


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_float_semantics_match_numpy_bit_for_bit(calc, op):
    rng = np.random.default_rng(2)
    generated, _ = calc
    dtype = generated.layout.message("Floats").dtype
    values = float_values(rng, 40)
    records, cases = [], []
    k = FLOAT_OPS.index(op)
    if True:
        for i, a in enumerate(values):
            b = values[(i * 7 + 3 + k) % len(values)]
            cc = values[(i * 5 + 1) % len(values)]
            x = float(a) * 1.000000119 + (1e-300 if i % 3 == 0 else 0.0)
            y = float(b) / 3.0
            rec = np.zeros((), dtype)
            rec["op"], rec["a"], rec["b"], rec["c"], rec["x"], rec["y"] = k, a, b, cc, x, y
            records.append(rec)
            cases.append((op, {"a": a, "b": b, "c": cc, "x": x, "y": y}))
    _, out, dead = run_batch(calc, "Calc", "Floats", records)
    assert dead == []
    for i, (op, v) in enumerate(cases):
        got = out[i + 1][0]["payload"]
        for field, want in float_reference(op, v, f64=True).items():
            have = got[field]
            if op == "transcend":
                ftype = F64 if field == "d" else F32
                assert np.isclose(have, want, rtol=4 * np.finfo(ftype.np_dtype).eps,
                                  equal_nan=True) or (np.isinf(want) and have == want), (
                    op, field, v, have, want)
            elif isinstance(want, (float, np.floating)):
                same = (np.isnan(have) and np.isnan(want)) or (
                    np.asarray(have).tobytes() == np.asarray(want, have.dtype).tobytes())
                assert same, (op, field, v, have, want)
            else:
                assert have == want, (op, field, v, have, want)


def test_index_faults_and_fail_reasons(calc):
    generated, _ = calc
    dtype = generated.layout.message("Idx").dtype
    cases = [(0, 1.5), (7, 2.5), (8, 9.0), (-1, 9.0), (2**31 - 1, 9.0), (-2**31, 9.0),
             (99, 9.0), (-99, 9.0), (3, 4.0)]
    records = [np.array((i, v), dtype)[()] for i, v in cases]
    arena, out, dead = run_batch(calc, "Calc", "Idx", records)
    assert generated.reasons == ("ninety-nine", "minus ninety-nine")
    reasons = {d["correlation"]: (d["reason"], d["queue"], d["payload"]["i"]) for d in dead}
    assert reasons == {3: (3, 0, 8), 4: (3, 0, -1), 5: (3, 0, 2**31 - 1), 6: (3, 0, -2**31),
                       7: (16, 0, 99), 8: (17, 0, -99)}
    table = np.zeros(8, np.float32)
    for corr, (i, v) in enumerate(cases, 1):
        if corr in reasons:
            continue
        table[i] = v
        got = out[corr][0]
        assert got["payload"]["v"] == np.float32(v) + np.float32(1.0)
        assert got["payload"]["total"] == np.float32(sum(table.astype(np.float64)))
        assert got["payload"]["when"] == HOST_CLOCK and got["timestamp"] == HOST_CLOCK
        assert got["source"] == 0 and got["type_id"] == generated.layout.message(
            "IdxRes").type_id
    state = generated.layout.kernel("Calc")
    record = arena[state.state_offset:state.state_offset + 32].view(state.state_dtype)[0]
    np.testing.assert_array_equal(record["kernel"], table)   # no store ran for a fault


def test_loops_follow_range_semantics(calc):
    generated, _ = calc
    dtype = generated.layout.message("Loop").dtype
    cases = [(0, 10), (-7, 20), (5, 5), (10, 0), (-2**31, -2**31 + 10), (2**31 - 10, 2**31 - 1)]
    _, out, dead = run_batch(calc, "Calc", "Loop", [np.array(c, dtype)[()] for c in cases])
    assert dead == []
    for corr, (start, stop) in enumerate(cases, 1):
        got = out[corr][0]["payload"]
        want = loop_reference(start, stop)
        assert (int(got["s"]), int(got["n"]), int(got["w"])) == (want["s"], want["n"],
                                                                   want["w"])


def test_send_reply_return_emit_and_routing_faults(calc):
    generated, runner = calc
    layout = generated.layout
    req = layout.message("Req").dtype
    arena = layout.new_arena()
    for x in range(6):                      # x % 3 == 2 names instance 2 of 2: no such one
        push(arena, layout, layout.kernel("Front").queue_base, "Req", np.array(x, req)[()],
             correlation=100 + x)
    job = np.zeros((), layout.message("Job").dtype)
    job["x"], job["back"]["queue"], job["back"]["correlation"] = 42, 999, 7
    back = layout.kernel("Back").queue_base
    push(arena, layout, back + 1, "Job", job, source=HOST_QUEUE, correlation=5)
    runner.run(arena)
    host = runner.host(arena)
    done = sorted((e["correlation"], int(e["payload"]["x"]), int(e["payload"]["inst"]))
                  for e in host if e["message"] == "Done")
    assert done == [(100, 0, 0), (101, 2, 1), (103, 6, 0), (104, 8, 1)]
    acks = sorted(int(e["payload"]["x"]) for e in host if e["message"] == "Ack")
    assert acks == [1000, 1001, 1003, 1004]
    dead = {(d["message"], d["reason"]): d for d in runner.dead(arena)}
    assert set(dead) == {("Job", 4), ("Done", 6)}
    assert dead[("Job", 4)]["detail"] in (2,) and dead[("Job", 4)]["queue"] == back
    assert dead[("Done", 6)]["queue"] == 999 and dead[("Done", 6)]["detail"] == back + 1
    assert dead[("Done", 6)]["correlation"] == 7
    front = layout.kernel("Front").queue_base
    # conservation per kernel: sent to it = processed + pending + dead-lettered at it
    s_front, s_b0, s_b1 = (stats(arena, layout, q) for q in (front, back, back + 1))
    assert (s_front["processed"], s_front["received"], s_front["dead_lettered"]) == (10, 4, 0)
    assert s_b0["received"] == 4 and s_b0["processed"] == 2 and s_b0["dead_lettered"] == 2
    assert s_b1["received"] == 2 and s_b1["processed"] == 3
    assert u32(arena, 16)[0] == 6           # next_correlation: one per rc.send
    seen = layout.kernel("Back")
    rec = arena[seen.state_offset:seen.state_offset + seen.state_dtype.itemsize].view(
        seen.state_dtype)[0]
    assert rec["count"] == 2 and rec["seen"][0]["queue"] == HOST_QUEUE
    assert rec["seen"][0]["correlation"] == 100


def test_parallel_kernel_uses_atomics(calc, backend):
    generated, _ = calc
    runner = make_runner(backend, semantics_program(), generated, local_size=8)
    dtype = generated.layout.message("Tick").dtype
    values = list(range(-20, 45))
    arena, out, dead = run_batch(calc, "Par", "Tick", [np.array(v, dtype)[()] for v in values],
                                 runner=runner)
    assert dead == []
    olds = sorted(int(e["payload"]["old"]) for entries in out.values() for e in entries)
    assert olds == list(range(len(values)))
    k = generated.layout.kernel("Par")
    rec = arena[k.state_offset:k.state_offset + k.state_dtype.itemsize].view(k.state_dtype)[0]
    assert rec["count"] == len(values) and rec["total"] == np.float32(sum(values))
    assert rec["hi"] == 44 and rec["lo"] == -20 and rec["big"] == sum(values)
    assert sorted(rec["slots"]) != [0, 0, 0, 0]
    assert stats(arena, generated.layout, k.queue_base)["processed"] == len(values)


def test_awkward_names_helpers_and_evaluation_order(calc):
    generated, _ = calc
    layout = generated.layout
    odd = np.zeros((), layout.message("OddMsg").dtype)
    values = {"switch": 5, "device": 6, "kernel": -300, "float4": 1.25, "rc_x": 7, "int": 99,
              "thread": True, "private": 8, "half": -128}
    for name, v in values.items():
        odd[name] = v
    arena = layout.new_arena()
    q = layout.kernel("Odd").queue_base
    push(arena, layout, q, "OddMsg", odd, correlation=1)
    push(arena, layout, q, "Order", np.array(0, layout.message("Order").dtype)[()],
         correlation=2)
    runner = calc[1]
    runner.run(arena)
    out = {e["correlation"]: e["payload"] for e in runner.host(arena)}
    for name, want in odd_reference(values).items():
        ftype = dict(layout.message("OddMsg").dtype.fields)[name][0]
        assert out[1][name] == cast_value(want, _scalar(ftype)), name
    assert (out[2]["a"], out[2]["b"], out[2]["s"], out[2]["flag"]) == (13, 135, 130, False)


def _scalar(dtype):
    from ringc.ir.types import SCALAR_TYPES
    return next(t for t in SCALAR_TYPES.values() if t.np_dtype == dtype)


def test_room_check_defers_instead_of_dead_lettering(backend):
    """With the host output queue nearly full, a drain takes only what can reply."""
    generated = generate(semantics_program(), "opencl", output_capacity=4)
    runner = make_runner(backend, semantics_program(), generated)
    layout = generated.layout
    dtype = layout.message("Loop").dtype
    arena = layout.new_arena()
    for i in range(10):
        push(arena, layout, 0, "Loop", np.array((0, i), dtype)[()], correlation=i + 1)
    runner.run(arena)
    assert len(runner.host(arena)) == 4 and runner.dead(arena) == []
    assert stats(arena, layout, 0)["processed"] == 4
    runner.run(arena)                       # the host drained its queue: 4 more
    assert [e["correlation"] for e in runner.host(arena)] == [5, 6, 7, 8]
    assert u32(arena, layout.queue(DEAD_QUEUE).tail_offset)[0] == 0


def test_rerun_is_idempotent_when_nothing_is_queued(calc):
    generated, runner = calc
    arena = generated.layout.new_arena()
    before = arena.copy()
    runner.run(arena)
    assert np.array_equal(before[8:], arena[8:]) and u32(arena, 4)[0] == 0

