"""Cooperative kernels emitted for every target and built with the real toolchains here
(PoCL CL3.0 and CL1.2, NVRTC and nvcc for sm_80 and sm_90, the Metal shim's syntax
check): every cooperative construct, each spelled with its target's own means."""

from __future__ import annotations

import pytest

from .toolchains import build_opencl, check_metal, every_target_source

SOURCE = """
@rc.message
class Job:
    k: i32
    data: Array[f32, 64]
    ints: Array[i32, 64]

@rc.message
class Done:
    total: f32
    top: i32
    low: u32
    wide: i64
    first: f32
    flag: bool

@rc.device
def halve(x: f32) -> f32:
    y = x
    for i in range(2):
        y = y * 0.5
    return y

@rc.ring_kernel(concurrency="cooperative", group_size=32, mode="event_driven")
class Coop:
    seen: i32
    last: Array[f32, 32]

    def spread(self, x: f32) -> f32:
        rc.barrier()
        return rc.group_sum(x)

    def on_job(self, m: Job) -> Done:
        tile: rc.Shared[Array[f32, 32]]
        grid: rc.Shared[Array[Array[i32, 8], 4]]
        lane = rc.lane()
        acc = f32(0.0)
        best = i32(-1)
        for i in range(lane, 64, rc.group_size()):
            acc += halve(m.data[i])
            best = max(best, m.ints[i])
        tile[lane] = acc
        grid[lane % 4][lane // 4 % 8] = best
        rc.barrier()
        stride = rc.group_size() // 2
        while stride > 0:
            if lane < stride:
                tile[lane] = tile[lane] + tile[lane + stride]
            rc.barrier()
            stride = stride // 2
        total = rc.group_sum(acc)
        top = rc.group_max(best)
        low = rc.group_min(u32(lane + 3))
        wide = rc.group_sum(i64(best))
        first = rc.broadcast(tile[0], 0)
        flag = rc.broadcast(lane == 0, (lane + 1) % 32)
        again = self.spread(acc)
        try:
            self.last[lane] = acc / f32(m.k)
        except rc.Fault as f:
            if f.reason == "index_out_of_range":
                rc.fail("odd")
        if lane == 0:
            self.seen += 1
            rc.emit(Done(total=again, top=grid[0][0]))
        if m.k < 0:
            rc.fail("negative")
        return Done(total=total, top=top, low=low, wide=wide, first=first, flag=flag)
"""


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return every_target_source(tmp_path_factory, SOURCE, "Coop")


@pytest.mark.parametrize("std", ["CL3.0", "CL1.2"])
def test_opencl_builds_on_pocl(sources, std):
    build_opencl(sources["opencl"], [f"-cl-std={std}", "-cl-fp32-correctly-rounded-divide-sqrt"])


@pytest.mark.parametrize("tool", ["nvrtc", "nvcc"])
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_builds(sources, tool, arch):
    from ringc.backends.cuda import toolchain as cuda
    why = cuda.available_tools()[tool]
    if why is not None:
        pytest.skip(f"{tool} unavailable: {why}")
    result = cuda.check(sources["cuda"], arch=arch, tool=tool)
    assert result.ok is True, result.log


def test_metal_passes_the_shim_syntax_check(sources):
    check_metal(sources["metal"])


def test_each_target_spells_work_group_memory_and_barriers_from_its_dialect(sources):
    cl, cu, metal = sources["opencl"], sources["cuda"], sources["metal"]
    assert "__local uint4 rc_l_coop[" in cl and "__local float *tile" in cl
    assert "__local int (*grid)[8]" in cl
    assert "barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)" in cl
    assert "__shared__ uint4 rc_l_coop[" in cu and "__syncthreads()" in cu
    assert "\n    float *tile = (float*)(rc_ctx->coop" in cu
    assert "threadgroup uint4 rc_l_coop[" in metal and "RC_TG float *tile" in metal
    assert "threadgroup_barrier(" in metal
    # CUDA's reductions end in the first warp, by shuffles; the others keep to memory
    assert "for (; rc_w >= 32u; rc_w >>= 1)" in cu and "__shfl_down_sync(" in cu
    assert "rc_v = __fadd_rn(rc_v, rc_o);" in cu
    assert "shfl" not in cl + metal and "rc_w >= 32u" not in cl + metal
    for source in sources.values():
        # the portable reductions: a pairwise tree in work-group memory, every lane synced
        assert "rc_group_sum_f32(rc_ctx, acc, 32u)" in source
        assert "rc_group_max_i32" in source and "rc_group_min_u32" in source
        assert "rc_broadcast_bool" in source and "rc_sync(rc_ctx);" in source
        handler = source.split("rc_fn_Coop_on_job(")[2].split("\n}\n")[0]
        assert "rc_devc_halve(rc_ctx, " in handler      # the device function's copy for
        assert "rc_dev_halve(" not in handler           # cooperative lanes
        # a lane that faulted stores nothing, and only lane 0 replies
        assert "if (!rc_ctx->fault) rc_self->seen" in source
        assert "if (!rc_ctx->fault && rc_ctx->lane == 0u) rc_put_Done" in source
