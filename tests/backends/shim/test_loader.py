"""The executing shims' loader (backends/shim/loader.py): a program built and run on this
CPU, the errors of a rejected build, the build cache, groups and a parallel kernel's
barrier. Needs g++ or clang++; every test skips with the reason where neither is here."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

import ringc as rc
from tests.runtime.kernels import Done, Job, Note, Squares, Sum, Summer, Work, Worker

pytestmark = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("clang++") is None,
                                reason="the executing shims need g++ or clang++")

RUNNERS = ["cuda-shim", "metal-shim"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh build cache for this test."""
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _launch_entry(library):
    lib = ctypes.CDLL(str(library))
    lib.rcx_launch.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_uint] * 3
    lib.rcx_launch.restype = ctypes.c_int
    return lib.rcx_launch


@pytest.mark.parametrize("backend", RUNNERS)
def test_a_program_runs_end_to_end_on_the_cpu(backend):
    with rc.launch(Summer, backend=backend) as rt:
        assert "not a GPU" in rt._device.description
        assert rt._device.clock == ("globaltimer" if backend == "cuda-shim" else "heartbeat")
        for i in range(20):
            assert rt.request(Summer, Work(id=i, data=[i, 1, 0, 0.5]), 10.0) == \
                Sum(id=i, value=i + 1.5)
        assert rt.checkpoint(Summer)["processed"] == 20
    assert not rt._device.running()


@pytest.mark.parametrize("backend", RUNNERS)
@pytest.mark.parametrize("groups", [1, 2, 4])
def test_groups_are_host_threads_serving_their_queues(backend, groups):
    with rc.launch(Worker, backend=backend, groups=groups) as rt:
        assert f"{groups} group(s) x 1 lane(s)" in rt._device.description
        for i in range(40):
            rt.send(Worker, Job(sender=i, seq=i, divisor=1, index=0), instance=i % 2)
        got = [rt.receive(timeout=10.0) for _ in range(50)]        # 40 replies, 10 notes
        assert sorted(m.seq for m in got if isinstance(m, Done)) == list(range(40))
        assert sorted(m.seq for m in got if isinstance(m, Note)) == list(range(3, 40, 4))
        assert [rt.status(Worker, instance=i).processed for i in range(2)] == [20, 20]


@pytest.mark.parametrize("backend", RUNNERS)
def test_a_parallel_kernel_runs_32_lanes_per_group(backend):
    with rc.launch(Squares, backend=backend, groups=2) as rt:
        assert "2 group(s) x 32 lane(s)" in rt._device.description
        for i in range(300):
            rt.send(Squares, Work(id=i, data=[i % 17, 0, 0, 0]), instance=i % 2)
        got = sorted((m.id, m.value) for m in (rt.receive(timeout=10.0) for _ in range(300)))
        assert got == [(i, float((i % 17) ** 2)) for i in range(300)]
        assert sum(int(rt.checkpoint(Squares, instance=i)["handled"]) for i in range(2)) == 300


def test_groups_must_be_positive():
    with pytest.raises(ValueError, match="groups"):
        rc.launch(Summer, backend="cuda-shim", groups=0)


BARRIER = {
    "cuda": """
extern "C" __global__ void rc_main(uchar* rc_arena, uchar* rc_local, uint rc_mode)
{
    __shared__ uint rc_seen[64];
    uint rc_lid = threadIdx.x;
    for (uint rc_round = 0u; rc_round < 3u; ++rc_round) {
        rc_seen[rc_lid] = (rc_lid + 1u) * (rc_round + 1u) + blockIdx.x;
        __syncthreads();
        uint rc_sum = 0u;
        for (uint rc_i = 0u; rc_i < blockDim.x; ++rc_i) rc_sum += rc_seen[rc_i];
        ((uint*)rc_arena)[(rc_round * gridDim.x + blockIdx.x) * 64u + rc_lid] = rc_sum;
        __syncthreads();
    }
    if (rc_mode == 7u && rc_lid == 0u) return;       // leaves before the others' barrier
    __syncthreads();
}
""",
    "metal": """
kernel void rc_main(device uchar* rc_arena [[buffer(0)]], device uchar* rc_local [[buffer(1)]],
                    constant uint& rc_mode [[buffer(2)]],
                    uint rc_lid [[thread_position_in_threadgroup]],
                    uint rc_group [[threadgroup_position_in_grid]],
                    uint rc_groups [[threadgroups_per_grid]],
                    uint rc_lsize [[threads_per_threadgroup]])
{
    threadgroup uint rc_seen[64];
    for (uint rc_round = 0u; rc_round < 3u; ++rc_round) {
        rc_seen[rc_lid] = (rc_lid + 1u) * (rc_round + 1u) + rc_group;
        threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup);
        uint rc_sum = 0u;
        for (uint rc_i = 0u; rc_i < rc_lsize; ++rc_i) rc_sum += rc_seen[rc_i];
        ((device uint*)rc_arena)[(rc_round * rc_groups + rc_group) * 64u + rc_lid] = rc_sum;
        threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup);
    }
    if (rc_mode == 7u && rc_lid == 0u) return;       // leaves before the others' barrier
    threadgroup_barrier(mem_flags::mem_device | mem_flags::mem_threadgroup);
}
""",
}
PRELUDE = {"cuda": "typedef unsigned char uchar;\ntypedef unsigned int uint;\n",
           "metal": "using namespace metal;\n"}


@pytest.mark.parametrize("target", ["cuda", "metal"])
def test_a_barrier_waits_for_every_lane_and_shared_memory_is_per_group(target, cache):
    from ringc.backends.shim.loader import build

    launch = _launch_entry(build(PRELUDE[target] + BARRIER[target], target))
    groups, lanes = 3, 32
    memory = np.zeros(3 * groups * 64 + 64, dtype=np.uint32)
    base = memory.ctypes.data
    stop = base + memory.nbytes - 4
    assert launch(base, base, stop, 0, groups, lanes) == 0
    for r in range(3):
        for g in range(groups):
            row = memory[(r * groups + g) * 64:][:lanes]
            # each lane saw every lane's store of this round, and only its own group's
            expected = (r + 1) * lanes * (lanes + 1) // 2 + g * lanes
            assert list(row) == [expected] * lanes, (r, g)
    assert launch(base, base, stop, 7, groups, lanes) == 3      # RCX_DIVERGED


@pytest.mark.parametrize("target, call, builtin", [
    ("cuda", "__shfl_sync(0xffffffffu, rc_pos, 0)", "__shfl_sync"),
    ("metal", "metal::simd_sum(rc_pos)", "metal::simd_sum"),
])
def test_a_missing_builtin_is_named_with_its_line(target, call, builtin, cache):
    from ringc.backends.shim.loader import ShimMissingBuiltin, build

    source = rc.compile(Summer, target).source
    lines = source.splitlines()
    at = next(i for i, text in enumerate(lines) if "rc_pos = rc_load_u32(rc_ring(" in text)
    lines.insert(at + 1, f"            rc_pos = {call};")
    with pytest.raises(ShimMissingBuiltin) as caught:
        build("\n".join(lines) + "\n", target)
    name = "program.cu" if target == "cuda" else "program.metal"
    assert str(caught.value) == (f"the {target} executing shim has no `{builtin}` "
                                 f"(used at {name}:{at + 2})")
    assert caught.value.builtin == builtin and caught.value.line == at + 2


def test_another_rejection_quotes_the_emitted_line_and_the_first_error(cache):
    from ringc.backends.shim.loader import ShimMissingBuiltin, build
    from ringc.errors import ShimBuildError

    source = rc.compile(Summer, "cuda").source.replace(
        "uint rc_took = 0u;", "uint rc_took = 0u; rc_took.x = 1u;", 1)
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "rc_took.x" in text)
    with pytest.raises(ShimBuildError) as caught:
        build(source, "cuda")
    assert not isinstance(caught.value, ShimMissingBuiltin)
    first, _, error = str(caught.value).partition("\n")
    assert first.startswith("cuda-shim: ") and f"rejected the emitted program at " \
        f"program.cu:{line}: uint rc_took = 0u; rc_took.x = 1u;" in first
    assert "rc_took" in error


def test_the_build_cache_reuses_a_library_and_rebuilds_a_damaged_one(cache, monkeypatch):
    from ringc.backends.shim import loader

    source = rc.compile(Summer, "metal").source
    first = loader.build(source, "metal")
    assert first.parent == cache / "metal-shim" and first.is_file()
    real_run = subprocess.run

    def no_compiler(*args, **kwargs):
        raise AssertionError("compiled again")
    monkeypatch.setattr(loader.subprocess, "run", no_compiler)
    assert loader.build(source, "metal") == first               # from the cache
    first.write_bytes(first.read_bytes()[:100])                 # damaged: built again
    monkeypatch.setattr(loader.subprocess, "run", real_run)
    again = loader.build(source, "metal")
    assert again == first and len(again.read_bytes()) > 100
    with rc.launch(Summer, backend="metal-shim") as rt:         # a launch finds it too
        monkeypatch.setattr(loader.subprocess, "run", no_compiler)
        assert rt.request(Summer, Work(id=1, data=[1, 1, 1, 1]), 10.0) == Sum(id=1, value=4)


def test_the_devices_say_it_is_the_cpu():
    from ringc.targets import list_devices, run_targets

    assert {"cuda-shim", "metal-shim"} <= set(run_targets())
    shims = [d for d in list_devices() if d.backend.endswith("-shim")]
    assert [d.backend for d in shims] == RUNNERS
    assert all(d.available and "not a GPU" in d.device for d in shims)


def test_no_compiler_is_backend_unavailable(monkeypatch):
    from ringc.backends.shim import devices, loader
    from ringc.backends.toolchain import ToolchainUnavailable

    def none():
        raise ToolchainUnavailable("no C++ compiler (g++ or clang++) on PATH")
    monkeypatch.setattr(loader, "compiler", none)
    [info] = devices.cuda_devices()
    assert not info.available and "no C++ compiler" in info.reason
    with pytest.raises(rc.BackendUnavailable, match="cuda-shim cannot run here"):
        rc.launch(Summer, backend="cuda-shim")
