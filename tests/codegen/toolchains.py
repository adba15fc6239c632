"""Build emitted source with the real toolchains here: PoCL (pyopencl), NVRTC, g++ + shim."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SHIM = Path(__file__).resolve().parents[2] / "backends" / "metal" / "metal_shim.h"
CL_OPTIONS = ["-cl-std=CL3.0", "-cl-fp32-correctly-rounded-divide-sqrt"]


def opencl_context():
    cl = pytest.importorskip("pyopencl")
    try:
        platforms = cl.get_platforms()
    except cl.Error:
        pytest.skip("no OpenCL platform")
    for platform in platforms:
        devices = platform.get_devices()
        if devices:
            return cl.Context(devices[:1])
    pytest.skip("no OpenCL device")


def build_opencl(source: str, options=CL_OPTIONS, context=None):
    """The built pyopencl Program (raises with the build log on failure)."""
    import pyopencl as cl
    return cl.Program(context or opencl_context(), source).build(options=list(options))


def build_cuda(source: str, arch: str = "sm_80") -> bytes:
    """The cubin NVRTC makes of `source` (AssertionError with the log on failure)."""
    nvrtc = pytest.importorskip("cuda.bindings.nvrtc")
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), b"program.cu", 0, [], [])
    options = [f"--gpu-architecture={arch}".encode(), b"--fmad=false", b"-std=c++17"]
    (result,) = nvrtc.nvrtcCompileProgram(prog, len(options), options)
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)
    log = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, log)
    assert result == nvrtc.nvrtcResult.NVRTC_SUCCESS, log.decode(errors="replace")
    _, size = nvrtc.nvrtcGetCUBINSize(prog)
    cubin = b" " * size
    nvrtc.nvrtcGetCUBIN(prog, cubin)
    nvrtc.nvrtcDestroyProgram(prog)
    return cubin


def check_metal(source: str) -> None:
    """g++ -fsyntax-only with the Metal shim (AssertionError with the diagnostics)."""
    gxx = shutil.which("g++") or shutil.which("clang++")
    if gxx is None:
        pytest.skip("no C++ compiler for the Metal syntax check")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "program.metal")
        Path(path).write_text(source)
        run = subprocess.run([gxx, "-std=c++17", "-fsyntax-only", "-Wno-unknown-pragmas",
                              "-Wno-attributes", "-x", "c++", "-include", str(SHIM), path],
                             capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[:6000]


def every_target_source(tmp_path_factory, source: str, kernel: str) -> dict[str, str]:
    """`kernel`'s emitted program for OpenCL, CUDA and Metal, from `source` (a user file's
    text, after tests.conftest.PRELUDE) written to a temporary .py file."""
    import ringc as rc
    from ringc.frontend.files import import_file
    from tests.conftest import PRELUDE

    path = Path(tmp_path_factory.mktemp("sources")) / f"{kernel.lower()}_src.py"
    path.write_text(PRELUDE + source)
    compiled = getattr(import_file(path), kernel)
    return {t: rc.compile(compiled, t).source for t in ("opencl", "cuda", "metal")}
