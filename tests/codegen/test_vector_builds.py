"""Vectors and math.fma emitted for every target and built with the real toolchains here
(PoCL CL3.0 and CL1.2, NVRTC sm_80 and sm_90, the Metal shim's syntax check): each build
also asserts every offset of a struct holding vectors against the numpy layout."""

from __future__ import annotations

import pytest

import ringc as rc

from .toolchains import build_cuda, build_opencl, check_metal, every_target_source

SOURCE = """
@rc.message
class In:
    a: f32
    v: f32x4
    w: f32x2
    i: i32x4
    u: u32x4
    arr: Array[f32, 8]
    ints: Array[i32, 8]
    k: i32

@rc.message
class Holder:
    flag: bool
    inner: In
    v: f32x4

@rc.device
def twice(v: f32x4) -> f32x4:
    v.w = 1.0
    return v + v

@rc.ring_kernel(mode="event_driven")
class K:
    acc: f32x4
    lanes: f32x2
    iv: i32x4
    rows: Array[Array[f32, 8], 2]
    last: Holder

    def pick(self, m: In) -> f32x4:
        return m.v if m.k > 0 else -m.v

    def on_in(self, m: In) -> Holder:
        v = twice(m.v) * m.a - rc.f32x4(m.a) / 3.0
        self.acc += v
        self.acc.z = rc.dot(v, self.pick(m))
        self.lanes = m.w * 2.0
        self.lanes.y -= m.w.x
        self.iv = m.i * rc.i32x4(1, 2, 3, 4) - m.i + 7
        self.iv.x = rc.dot(m.i, self.iv)
        u = m.u - rc.u32x4(1)
        t = rc.f32x4.load(self.rows[m.k % 2], m.k)
        t.store(self.rows[1 - m.k % 2], 4)
        rc.i32x4.load(m.ints, 4).store(m.ints, 0)
        x = math.fma(m.a, v.x, t.y)
        h = Holder(inner=m, v=rc.f32x4(x, f32(u.x), f32(self.iv.y), self.lanes.y))
        self.last = h
        return h
"""


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    return every_target_source(tmp_path_factory, SOURCE, "K")


@pytest.mark.parametrize("std", ["CL3.0", "CL1.2"])
def test_opencl_builds_on_pocl(sources, std):
    build_opencl(sources["opencl"], [f"-cl-std={std}", "-cl-fp32-correctly-rounded-divide-sqrt"])


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_builds_with_nvrtc(sources, arch):
    assert len(build_cuda(sources["cuda"], arch)) > 1000


def test_metal_passes_the_shim_syntax_check(sources):
    check_metal(sources["metal"])


def test_each_target_spells_vectors_and_fma_from_its_dialect(sources):
    assert "float4 acc;" in sources["opencl"] and "((float4)(" in sources["opencl"]
    assert " fma(" in sources["opencl"]
    assert "make_float4(" in sources["cuda"] and "__fmaf_rn(" in sources["cuda"]
    assert "__fadd_rn(rc_a.x, rc_b.x)" in sources["cuda"]        # lanes correctly rounded
    assert "float4(" in sources["metal"] and " fma(" in sources["metal"]
    for source in sources.values():
        assert "rc_vdot_f32x4" in source and "rc_vmul_i32x4" in source
        assert " dot(" not in source                 # the targets' own dot rounds its way


def test_metal_has_no_f64_fma(user_module):
    module = user_module("""
    @rc.message
    class In:
        x: f64

    @rc.ring_kernel
    class K:
        y: f64

        def on_in(self, m: In):
            self.y = math.fma(m.x, m.x, m.x)
    """)
    with pytest.raises(rc.CompileError, match="Metal has no f64") as info:
        rc.compile(module.K, "metal")
    assert info.value.line is not None
