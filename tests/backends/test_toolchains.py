"""Each target's toolchain on tiny programs: builds, rejections with logs, absent tools."""

from __future__ import annotations

import sys
import warnings

import pytest

from ringc.backends import toolchain
from ringc.backends.cuda import toolchain as cuda
from ringc.backends.metal import toolchain as metal
from ringc.backends.opencl import toolchain as opencl
from ringc.backends.toolchain import BuildFailed, CheckResult, ToolchainUnavailable
from ringc.targets import check_all

OPENCL_OK = """
#pragma OPENCL FP_CONTRACT OFF
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
__kernel void k(volatile __global uint* flags, volatile __global ulong* total,
                __global float* x) {
    uint old = atomic_cmpxchg(&flags[0], 0u, 1u);
    atomic_add(&flags[1], old);
    mem_fence(CLK_GLOBAL_MEM_FENCE);
    atom_add(&total[0], (ulong)1);
    x[0] = x[1] / x[2] + sqrt(x[3]);
}
"""
OPENCL_BAD = "__kernel void k(__global int* a) { a[0] = undefined_name; }\n"

CUDA_OK = ('extern "C" __global__ void k(float* a, const float* b, const float* c)\n'
           "{ a[threadIdx.x] = a[threadIdx.x] * b[0] + c[0]; }\n")
CUDA_BAD = 'extern "C" __global__ void k(int* a) { a[0] = undefined_name; }\n'

METAL_OK = """
using namespace metal;
kernel void k(device atomic_uint* counter [[buffer(0)]],
              device uint* out [[buffer(1)]],
              uint gid [[thread_position_in_grid]]) {
    uint seen = atomic_fetch_add_explicit(counter, 1u, memory_order_relaxed);
    out[gid] = max(seen, 1u);
    threadgroup_barrier(mem_flags::mem_device);
}
"""
METAL_BAD = "kernel void k(device uint* out [[buffer(0)]]) { out[0] = undefined_name; }\n"


@pytest.fixture(autouse=True)
def fresh_probes():
    """Tool discovery is cached per process; tests that fake an absent tool need it fresh."""
    caches = (opencl._context, cuda._nvrtc_version, cuda._nvcc, metal._compiler)
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


def need_opencl():
    why = opencl.available()
    if why is not None:
        pytest.skip(f"OpenCL unavailable: {why}")


def need_cuda(tool: str):
    why = cuda.available_tools()[tool]
    if why is not None:
        pytest.skip(f"{tool} unavailable: {why}")


def need_metal():
    why = metal.available()
    if why is not None:
        pytest.skip(f"Metal shim check unavailable: {why}")


# ---- OpenCL --------------------------------------------------------------------------

def test_opencl_options_keep_ieee_semantics_unless_fast_math():
    assert opencl.build_options() == ("-cl-std=CL1.2", "-cl-fp32-correctly-rounded-divide-sqrt")
    assert "-cl-fast-relaxed-math" not in opencl.build_options()
    assert "-cl-fast-relaxed-math" in opencl.build_options(fast_math=True)


@pytest.mark.parametrize("fast_math", [False, True])
def test_opencl_builds_cl12_atomics_and_64bit_atomics(fast_math):
    need_opencl()
    result = opencl.check(OPENCL_OK, fast_math=fast_math)
    assert result.ok is True, result.log
    assert result.target == "opencl" and "via pyopencl" in result.tool
    assert result.seconds > 0


def test_opencl_rejection_returns_the_compiler_log():
    need_opencl()
    result = opencl.check(OPENCL_BAD)
    assert result.ok is False
    assert "undefined_name" in result.log
    assert "tempfile_" not in result.log          # PoCL's temp file is named program.cl


def test_opencl_without_pyopencl_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopencl", None)      # import pyopencl -> ImportError
    assert "pyopencl is not installed" in opencl.available()
    with pytest.raises(ToolchainUnavailable, match="pyopencl is not installed"):
        opencl.check(OPENCL_OK)


def test_opencl_without_platform_says_so(monkeypatch):
    cl = pytest.importorskip("pyopencl", reason="pyopencl is not installed")
    monkeypatch.setattr(cl, "get_platforms", lambda: [])
    with pytest.raises(ToolchainUnavailable, match="no OpenCL platform found"):
        opencl.check(OPENCL_OK)


# ---- CUDA ----------------------------------------------------------------------------

def test_cuda_options_disable_fma_unless_fast_math():
    strict = cuda.options("sm_90")
    assert strict[:2] == ("-arch=sm_90", "--std=c++17") and "--fmad=false" in strict
    assert "--use_fast_math" in cuda.options("sm_90", fast_math=True)
    assert "--fmad=false" not in cuda.options("sm_90", fast_math=True)
    with pytest.raises(ValueError, match="sm_90"):
        cuda.options("hopper")


@pytest.mark.parametrize("tool", ["nvrtc", "nvcc"])
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_compiles_a_header_free_kernel(tool, arch):
    need_cuda(tool)
    result = cuda.check(CUDA_OK, arch=arch, tool=tool)
    assert result.ok is True, result.log
    assert result.tool.startswith(f"{tool} ") and result.tool.endswith(arch)


@pytest.mark.parametrize("tool", ["nvrtc", "nvcc"])
def test_cuda_rejection_returns_the_compiler_log(tool):
    need_cuda(tool)
    result = cuda.check(CUDA_BAD, arch="sm_80", tool=tool)
    assert result.ok is False
    assert "undefined_name" in result.log and "program.cu" in result.log


def test_cuda_auto_prefers_nvrtc():
    need_cuda("nvrtc")
    assert cuda.check(CUDA_OK, arch="sm_80").tool.startswith("nvrtc ")


def test_nvrtc_honours_fmad_false():
    need_cuda("nvrtc")
    source = 'extern "C" __global__ void k(float* a) { a[0] = a[0] * a[1] + a[2]; }'
    strict = cuda.compile_ptx(source, arch="sm_90")
    fast = cuda.compile_ptx(source, arch="sm_90", fast_math=True)
    assert "mul.rn.f32" in strict and "fma" not in strict
    assert "fma.rn" in fast


def test_compile_cubin_is_cached_on_disk(tmp_path, monkeypatch):
    need_cuda("nvrtc")
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path))
    first = cuda.compile_cubin(CUDA_OK, "sm_80")
    assert first[:4] == b"\x7fELF"
    assert [p.suffix for p in (tmp_path / "cuda").iterdir()] == [".cubin"]

    def must_not_compile(*args):
        raise AssertionError("compiled again instead of reading the cache")

    monkeypatch.setattr(cuda, "_compile", must_not_compile)
    assert cuda.compile_cubin(CUDA_OK, "sm_80") == first


def test_a_damaged_cubin_in_the_cache_is_rebuilt(tmp_path, monkeypatch):
    need_cuda("nvrtc")
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path))
    first = cuda.compile_cubin(CUDA_OK, "sm_80")
    (entry,) = (tmp_path / "cuda").iterdir()
    for damage in (entry.read_bytes()[:100], b"", b"garbage" * 10):
        entry.write_bytes(damage)                  # truncated, empty, overwritten
        assert cuda.compile_cubin(CUDA_OK, "sm_80") == first
        assert entry.read_bytes()[32:] == first    # and the entry is whole again


def test_compile_cubin_keys_on_arch_and_options(tmp_path, monkeypatch):
    need_cuda("nvrtc")
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path))
    cuda.compile_cubin(CUDA_OK, "sm_80")
    cuda.compile_cubin(CUDA_OK, "sm_90")
    cuda.compile_cubin(CUDA_OK, "sm_90", fast_math=True)
    assert len(list((tmp_path / "cuda").glob("*.cubin"))) == 3


def test_compile_cubin_raises_with_the_log(tmp_path, monkeypatch):
    need_cuda("nvrtc")
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path))
    with pytest.raises(BuildFailed, match="undefined_name") as failure:
        cuda.compile_cubin(CUDA_BAD, "sm_80")
    assert failure.value.result.ok is False


def test_cache_dir_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv("RINGC_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert toolchain.cache_dir("cuda") == tmp_path / ".cache" / "ringc" / "cuda"
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert toolchain.cache_dir("cuda") == tmp_path / "elsewhere" / "cuda"


def fake_no_cuda_compilers(monkeypatch):
    from cuda.bindings import nvrtc

    def missing_library():      # what cuda.pathfinder raises when libnvrtc is absent
        raise RuntimeError("libnvrtc not found")

    monkeypatch.setattr(nvrtc, "nvrtcVersion", missing_library)
    monkeypatch.setattr(cuda.shutil, "which", lambda name: None)
    monkeypatch.setattr(cuda, "_DEFAULT_CUDA_HOME", "/nonexistent")
    monkeypatch.delenv("CUDA_HOME", raising=False)
    monkeypatch.delenv("CUDA_PATH", raising=False)


def test_cuda_without_compilers_says_why(monkeypatch):
    pytest.importorskip("cuda.bindings.nvrtc", reason="cuda-bindings is not installed")
    fake_no_cuda_compilers(monkeypatch)
    reasons = cuda.available_tools()
    assert "libnvrtc was not found" in reasons["nvrtc"]
    assert "nvcc: not on PATH" in reasons["nvcc"]
    assert cuda.tool_versions() == {}
    with pytest.raises(ToolchainUnavailable, match="no CUDA compiler here"):
        cuda.check(CUDA_OK, arch="sm_80")
    with pytest.raises(ToolchainUnavailable, match="libnvrtc"):
        cuda.compile_cubin(CUDA_OK, "sm_80", tool="nvrtc")


# ---- Metal ---------------------------------------------------------------------------

def test_metal_shim_check_accepts_a_small_kernel():
    need_metal()
    result = metal.check(METAL_OK)
    assert result.ok is True, result.log
    assert "-fsyntax-only + metal shim" in result.tool


def test_metal_shim_check_rejects_an_undeclared_name():
    need_metal()
    result = metal.check(METAL_BAD)
    assert result.ok is False
    assert "undefined_name" in result.log


def test_metal_without_compiler_says_so(monkeypatch):
    monkeypatch.setattr(metal.shutil, "which", lambda name: None)
    assert "no C++ compiler" in metal.available()
    with pytest.raises(ToolchainUnavailable, match="no C.. compiler"):
        metal.check(METAL_OK)


def test_metal_without_shim_says_so(monkeypatch):
    class Missing:
        def __truediv__(self, name):
            return self

        def is_file(self):
            return False

    monkeypatch.setattr(metal.resources, "files", lambda package: Missing())
    with pytest.raises(ToolchainUnavailable, match="metal_shim.h is missing"):
        metal.check(METAL_OK)


# ---- check_all -----------------------------------------------------------------------

def test_check_all_builds_every_target_with_every_cuda_compiler_and_arch():
    results = check_all({"opencl": OPENCL_OK, "cuda": CUDA_OK, "metal": METAL_OK})
    compilers = [t for t, reason in cuda.available_tools().items() if reason is None] or ["-"]
    cuda_builds = [("cuda", arch) for _ in compilers for arch in ("sm_80", "sm_90")]
    assert [(r.target, r.tool.split()[-1] if r.target == "cuda" else "") for r in results] \
        == [("opencl", "")] + cuda_builds + [("metal", "")]
    used = {r.tool.split()[0] for r in results if r.target == "cuda" and r.ok}
    assert used == {t for t in compilers if t != "-"}
    for result in results:
        assert result.ok is not False, result.log
        assert result.ok is True or result.log        # skipped results say why


def test_check_all_skips_absent_tools_with_the_reason(monkeypatch):
    pytest.importorskip("cuda.bindings.nvrtc", reason="cuda-bindings is not installed")
    fake_no_cuda_compilers(monkeypatch)
    results = check_all({"cuda": CUDA_OK})
    assert [r.tool for r in results] == ["CUDA sm_80", "CUDA sm_90"]
    assert all(r.skipped and r.seconds == 0.0 and "no CUDA compiler" in r.log
               for r in results)


def test_check_all_reports_failures_not_tracebacks():
    results = check_all({"opencl": OPENCL_BAD, "cuda": CUDA_BAD, "metal": METAL_BAD})
    assert all(isinstance(r, CheckResult) and r.ok in (False, None) for r in results)
    assert all("undefined_name" in r.log for r in results if r.ok is False)


def test_check_all_rejects_unknown_targets():
    with pytest.raises(ValueError, match="vulkan"):
        check_all({"vulkan": ""})


def test_a_compiler_that_cannot_build_for_this_cpu_is_unavailable_not_a_failure():
    """PoCL built with an LLVM that does not know the CPU fails every build: that is a
    missing tool, said in one sentence, not a rejected program or a ringc bug."""
    from types import SimpleNamespace

    platform = SimpleNamespace(name="Portable Computing Language",
                               version="OpenCL 3.0 PoCL 3.0-rc2  Linux, Release")
    device = SimpleNamespace(platform=platform)
    why = opencl.unusable_compiler("error: unknown target CPU 'generic'", device)
    assert why.startswith("PoCL 3.0-rc2 cannot compile for this processor")
    assert opencl.unusable_compiler("error: use of undeclared identifier 'x'", device) is None


@pytest.mark.parametrize("value,on", [("", True), ("on", True), ("1", True), ("YES", True),
                                      ("off", False), ("0", False), ("False", False),
                                      (" no ", False)])
def test_ringc_cache_turns_the_caches_on_and_off(monkeypatch, value, on):
    monkeypatch.setenv("RINGC_CACHE", value)
    assert toolchain.caching() is on


def test_an_unknown_ringc_cache_value_warns_once_and_keeps_the_caches(monkeypatch):
    monkeypatch.setenv("RINGC_CACHE", "Sometimes")
    monkeypatch.setattr(toolchain, "_warned", set())
    with pytest.warns(UserWarning, match="RINGC_CACHE='Sometimes' is neither on nor off"):
        assert toolchain.caching()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert toolchain.caching()                  # said once is enough


def test_compile_cubin_with_the_caches_off_writes_nothing(tmp_path, monkeypatch):
    need_cuda("nvrtc")
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path))
    first = cuda.compile_cubin(CUDA_OK, "sm_80")           # cached
    monkeypatch.setenv("RINGC_CACHE", "off")
    (entry,) = (tmp_path / "cuda").iterdir()
    entry.write_bytes(b"garbage")                          # not read, not repaired
    assert cuda.compile_cubin_with_origin(CUDA_OK, "sm_80") == (first, False)
    assert entry.read_bytes() == b"garbage"
