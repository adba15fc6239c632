"""Device discovery: every backend appears, with devices or a one-sentence reason."""

from __future__ import annotations

import platform
import sys

import pytest

from ringc.backends import devices
from ringc.backends.devices import DeviceInfo
from ringc.backends.opencl import toolchain as opencl
from ringc.targets import all_targets, list_devices


def by_backend(infos: list[DeviceInfo], backend: str) -> list[DeviceInfo]:
    return [info for info in infos if info.backend == backend]


def test_every_backend_is_listed_in_order():
    infos = list_devices()
    seen = list(dict.fromkeys(info.backend for info in infos))
    assert seen == [t.name for t in all_targets()] == ["opencl", "cuda", "metal", "sim",
                                                       "cuda-shim", "metal-shim"]
    for info in infos:
        assert info.available or info.reason, info
        assert info.describe().startswith(info.backend)


def test_sim_is_always_available():
    (sim,) = by_backend(list_devices(), "sim")
    assert sim.available and sim.reason is None


def test_opencl_lists_a_device_here():
    why = opencl.available()
    if why is not None:
        pytest.skip(f"OpenCL unavailable: {why}")
    found = by_backend(list_devices(), "opencl")
    assert found and all(info.available for info in found)
    first = found[0].details
    assert int(first["compute units"]) >= 1
    assert {"type", "OpenCL", "SVM", "int64 atomics", "platform"} <= set(first)


def test_cuda_entry_has_devices_or_a_reason_and_lists_compilers():
    found = by_backend(list_devices(), "cuda")
    assert found
    for info in found:
        assert "compile tools" in info.details
        if info.available:
            assert info.details["arch"].startswith("sm_")
        else:
            assert info.reason and "\n" not in info.reason


def test_cuda_without_driver_says_so(monkeypatch):
    driver = pytest.importorskip("cuda.bindings.driver", reason="cuda-bindings is not installed")

    def no_libcuda(flags):      # what cuda.pathfinder raises when libcuda is absent
        raise RuntimeError('"cuda" is an NVIDIA driver library')

    monkeypatch.setattr(driver, "cuInit", no_libcuda)
    (info,) = by_backend(list_devices(), "cuda")
    assert not info.available
    assert info.reason == "there is no NVIDIA driver (libcuda) on this machine"


def test_opencl_without_pyopencl_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopencl", None)
    (info,) = by_backend(list_devices(), "opencl")
    assert not info.available and "pyopencl is not installed" in info.reason


@pytest.mark.skipif(platform.system() == "Darwin", reason="the message is for non-macOS hosts")
def test_metal_says_it_runs_only_on_macos():
    (info,) = by_backend(list_devices(), "metal")
    assert not info.available and info.reason.startswith("Metal runs only on macOS")


def test_describe_shows_reason_and_details():
    info = DeviceInfo("cuda", None, {"compile tools": "nvrtc 13.5"}, "no GPU here")
    assert info.describe().splitlines() == ["cuda       (no device)", "        no GPU here",
                                            "        compile tools: nvrtc 13.5"]
    assert devices.DeviceInfo("sim", "Python simulator").available
