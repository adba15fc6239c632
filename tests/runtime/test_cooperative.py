"""Cooperative kernels (docs/language.md, "Cooperative kernels") on every backend present,
against numpy: a work-group's lanes handle each message together, with barriers, shared
arrays, group reductions (a pairwise tree, so float sums are bit-exact) and broadcasts,
at group sizes 1, 2, 32, 128 and 256."""

from __future__ import annotations

import time

import numpy as np
import pytest

import ringc as rc

N = 256              # elements of a message's arrays

SOURCE = """
@rc.message
class Data:
    k: i32
    v: Array[f32, 256]
    w: Array[i32, 256]

@rc.message
class Result:
    total: f32
    manual: f32
    top: i32
    low: i32
    wrapped: i32
    last: f32
    shuffled: i32
    lanes: i32
    umin: u32

@rc.message
class Poison:
    lane: i32

@rc.message
class Note:
    lane: i32

@rc.ring_kernel(concurrency="cooperative", group_size=GROUP)
class Coop:
    handled: i32
    partials: Array[f32, GROUP]

    def on_data(self, d: Data) -> Result:
        tile: rc.Shared[Array[f32, GROUP]]
        lane = rc.lane()
        acc = f32(0.0)
        top = i32(-2147483648)
        low = i32(2147483647)
        wsum = i32(0)
        for i in range(lane, 256, rc.group_size()):
            acc += d.v[i]
            top = max(top, d.w[i])
            low = min(low, d.w[i])
            wsum += d.w[i]
        self.partials[lane] = acc
        tile[lane] = acc
        rc.barrier()
        stride = rc.group_size() // 2
        while stride > 0:
            if lane < stride:
                tile[lane] = tile[lane] + tile[lane + stride]
            rc.barrier()
            stride = stride // 2
        manual = tile[0]
        total = rc.group_sum(acc)
        gtop = rc.group_max(top)
        glow = rc.group_min(low)
        wrapped = rc.group_sum(wsum)
        last = rc.broadcast(acc, rc.group_size() - 1)
        nxt = rc.broadcast(lane * 10, (lane + 1) % rc.group_size())
        shuffled = rc.group_sum(nxt)
        lanes = rc.group_sum(1)
        umin = rc.group_min(u32(lane + d.k))
        if lane % 8 == 0:
            rc.emit(Note(lane=lane))
        if lane == 0:
            self.handled += 1
        return Result(total=total, manual=manual, top=gtop, low=glow, wrapped=wrapped,
                      last=last, shuffled=shuffled, lanes=lanes, umin=umin)

    def on_poison(self, p: Poison):
        rc.barrier()
        if rc.lane() == p.lane:
            self.handled = 1 // (rc.lane() - p.lane)
        rc.barrier()
        rc.emit(Note(lane=-1 - rc.lane()))
"""

SIZES = [1, 2, 32, 128, 256]


def _tree(values: np.ndarray) -> np.generic:
    """The pairwise tree the group reductions use: lane i takes lane i + w's partial."""
    vals = list(values)
    w = len(vals) // 2
    while w >= 1:
        for i in range(w):
            vals[i] = vals[i] + vals[i + w]
        w //= 2
    return vals[0]


def _expected(v: np.ndarray, w: np.ndarray, k: int, g: int) -> dict:
    partials = np.zeros(g, np.float32)
    for lane in range(g):
        acc = np.float32(0.0)
        for i in range(lane, N, g):
            acc = np.float32(acc + v[i])
        partials[lane] = acc
    wsums = [int(np.sum(w[lane::g].astype(np.int64))) for lane in range(g)]
    wrapped = int(np.array(sum(wsums) & 0xFFFFFFFF, np.uint32).view(np.int32))
    return dict(total=_tree(partials), manual=_tree(partials), top=int(w.max()),
                low=int(w.min()), wrapped=wrapped, last=partials[g - 1],
                shuffled=10 * sum(range(g)), lanes=g, umin=k, partials=partials)


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """Coop of each group size, each in its own module (a .py file: ringc reads source)."""
    from ringc.frontend.files import import_file
    from tests.conftest import PRELUDE
    folder = tmp_path_factory.mktemp("coop")
    found = {}
    for g in SIZES:
        path = folder / f"coop_{g}.py"
        path.write_text(PRELUDE + SOURCE.replace("GROUP", str(g)))
        found[g] = import_file(path)
    return found


@pytest.mark.parametrize("group", SIZES)
def test_a_group_handles_each_message_together(backend, kernels, group):
    mod = kernels[group]
    rng = np.random.default_rng(group)
    messages = []
    for k in (0, 7):
        v = rng.standard_normal(N).astype(np.float32) * np.float32(1e3)
        w = rng.integers(-2**31, 2**31, N, dtype=np.int64).astype(np.int32)
        messages.append((k, v, w))
    with rc.launch(mod.Coop, backend=backend) as rt:
        for k, v, w in messages:
            got = rt.request(mod.Coop, mod.Data(k=k, v=v, w=w), timeout=120)
            want = _expected(v, w, k, group)
            assert np.float32(got.total).tobytes() == np.float32(want["total"]).tobytes()
            assert got.manual == got.total          # the hand-written tree: the same bits
            assert (got.top, got.low, got.wrapped) == (want["top"], want["low"],
                                                       want["wrapped"])
            assert got.last == want["last"]
            assert (got.shuffled, got.lanes, got.umin) == (want["shuffled"], group, k)
        notes = rt.receive_many(2 * ((group + 7) // 8), timeout=60, type=mod.Note)
        state = rt.checkpoint(mod.Coop)
        status = rt.status(mod.Coop)
    assert sorted(notes["lane"].tolist()) == sorted(list(range(0, group, 8)) * 2)
    assert int(state["handled"]) == 2 and status.processed == 2
    np.testing.assert_array_equal(state["partials"], want["partials"])


@pytest.mark.parametrize("group", [2, 32])
def test_a_fault_on_one_lane_dead_letters_the_message_and_stops_every_lane(backend,
                                                                         kernels, group):
    mod = kernels[group]
    with rc.launch(mod.Coop, backend=backend) as rt:
        rt.send(mod.Coop, mod.Poison(lane=group - 1), timeout=30)
        rt.send(mod.Coop, mod.Poison(lane=group), timeout=30)       # no lane faults
        deadline = time.monotonic() + 120
        while rt.status(mod.Coop).processed + rt.status(mod.Coop).dead_lettered < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        (dead,) = rt.dead_letters()
        assert dead.reason == "division_by_zero" and dead.message == mod.Poison(lane=group - 1)
        notes = rt.receive_many(group + 1, timeout=0.5, type=mod.Note)   # (all came)
        state = rt.checkpoint(mod.Coop)
        status = rt.status(mod.Coop)
    # after the barrier that follows the fault no lane did anything: only the second
    # message's notes came, and its handler stored nothing either
    assert sorted(notes["lane"].tolist()) == sorted(-1 - i for i in range(group))
    assert int(state["handled"]) == 0
    assert status.dead_lettered == 1 and status.processed == 1


def test_a_group_larger_than_the_device_runs_is_refused(backend, kernels, monkeypatch):
    """Each loader refuses a group_size its device cannot run, in one sentence: here the
    limits are made smaller than 32 (PoCL runs 4096 work-items a group, the shims 1024)."""
    if backend == "opencl":
        import pyopencl as cl
        monkeypatch.setattr(cl.Kernel, "get_work_group_info", lambda *args: 16)
    elif backend in ("cuda-shim", "metal-shim"):
        monkeypatch.setattr("ringc.backends.shim.loader.MAX_LANES", 16)
    else:
        pytest.skip(f"{backend}: the simulator runs any group; CUDA's limit is 1024")
    with pytest.raises(rc.BackendUnavailable, match="group_size=32") as info:
        rc.launch(kernels[32].Coop, backend=backend)
    assert str(info.value).count(". ") == 0 and "\n" not in str(info.value)
