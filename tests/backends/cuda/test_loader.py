"""The CUDA loader (backends/cuda/loader.py): what it says where CUDA cannot run, its own
logic over a simulated driver (everywhere), and what only a GPU shows (skipped without one).

The runtime's contract on a real GPU is tests/runtime and tests/test_samples_running.py
through the `backend` fixture's `cuda` parameter; `make gpu-check` runs them there."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

import ringc as rc
from ringc.backends.cuda import driver, loader, toolchain
from tests.backend_support import unavailable
from tests.runtime.kernels import Ask, Feeder, Squares, Sum, Summer, Work

from .simulated_driver import GPU, SimulatedDriver

NO_GPU = unavailable("cuda")
needs_gpu = pytest.mark.skipif(NO_GPU is not None, reason=f"cuda: {NO_GPU}")
needs_no_gpu = pytest.mark.skipif(NO_GPU is None, reason="a GPU is here: CUDA runs")


# ---- where CUDA cannot run -----------------------------------------------------------

@needs_no_gpu
def test_launch_without_a_gpu_says_why_in_one_sentence():
    with pytest.raises(rc.BackendUnavailable) as info:
        rc.launch(Summer, backend="cuda")
    message = str(info.value)
    assert message.startswith("CUDA programs cannot run here: ")
    assert "\n" not in message and "Traceback" not in message
    assert "rc.compile(..., 'cuda')" in message     # what still works here


@pytest.mark.skipif(importlib.util.find_spec("pycuda") is not None,
                    reason="pycuda is installed here")
def test_the_pycuda_driver_without_pycuda_says_so():
    with pytest.raises(rc.BackendUnavailable, match="^pycuda is not installed: pip install"):
        rc.launch(Summer, backend="cuda", driver="pycuda")


def test_unknown_driver_and_options_are_refused_before_anything_runs():
    with pytest.raises(ValueError, match="driver must be one of 'cuda-python', 'pycuda'"):
        rc.launch(Summer, backend="cuda", driver="cupy")
    with pytest.raises(TypeError, match="unknown option.*memory"):
        rc.launch(Summer, backend="cuda", memory="svm")


# ---- the loader's logic over a simulated driver ----------------------------------------

@pytest.fixture
def simulated(monkeypatch):
    """rc.launch(..., backend="cuda") on SimulatedDriver: returns the driver of the next
    launch of `kernel` once called as simulated(kernel)."""
    drivers = []

    def use(kernel, gpu=GPU, **driver_options):
        compiled = rc.compile(kernel, "cuda")
        monkeypatch.setattr(driver, "gpus", lambda name="cuda-python": [gpu])
        monkeypatch.setattr(loader, "open_driver", lambda name, gpu: drivers.append(
            SimulatedDriver(compiled, **driver_options)) or drivers[-1])
        return drivers
    return use


def test_simulated_gpu_runs_requests_and_keeps_state_in_device_memory(simulated):
    drivers = simulated(Summer)
    with rc.launch(Summer, backend="cuda") as rt:
        (driver,) = drivers
        assert driver.cubin and driver.cubin[:4] == b"\x7fELF"      # a real NVRTC cubin
        assert rt.request(Summer, Work(id=3, data=[1, 2, 3, 4]), timeout=10.0) == Sum(
            id=3, value=10.0)
        copies = driver.copies
        snapshot = rt.checkpoint(Summer)
        assert driver.copies > copies           # state is read by a copy from the device
        assert snapshot["processed"] == 1 and snapshot["last"] == 3
        snapshot["processed"] = 40
        rt.restore(Summer, snapshot)
        rt.request(Summer, Work(id=4, data=[0, 0, 0, 0]), timeout=10.0)
        assert rt.checkpoint(Summer)["processed"] == 41
        assert "Simulated GPU (sm_90, CUDA 13.0, simulated), 1 block(s) x 1" in repr(rt)
    assert driver.closed
    # after shutdown the device-local part is a host copy: checkpoint still answers
    assert rt.checkpoint(Summer)["processed"] == 41
    assert driver.launches == [(1, 1, 11, False)]       # one persistent launch, one block


def test_simulated_gpu_relaunches_event_driven_programs(simulated):
    drivers = simulated(Feeder)
    with rc.launch(Feeder, backend="cuda") as rt:
        rt.send(Feeder, Ask(n=3))                       # 1 + 2 + 4 + 8 messages
        assert rt.shutdown(drain=True, timeout=30.0)
    assert rt.status(Feeder).processed == 15
    modes = {mode for _, _, mode, _ in drivers[0].launches}
    assert modes == {6}                                 # drain launches only


def test_blocks_threads_and_cooperative_launch_follow_the_program(simulated):
    drivers = simulated(Squares)
    with rc.launch(Squares, backend="cuda", groups=1) as rt:      # parallel, 2 instances
        assert rt.request(Squares, Work(id=1, data=[3, 0, 0, 0]), timeout=10.0).value == 9
    with rc.launch(Squares, backend="cuda"):   # the default: every block the GPU holds,
        pass                                   # no more than the program's 2 queues
    assert [launch[:2] + launch[3:] for d in drivers for launch in d.launches] == [
        (1, loader.MAX_PARALLEL_WIDTH, False), (2, loader.MAX_PARALLEL_WIDTH, True)]


def test_the_default_groups_fit_what_the_gpu_holds(simulated):
    simulated(Summer, resident_blocks=1)            # one block at a time: the default is 1
    with rc.launch(Summer, backend="cuda") as rt:
        assert rt._device.groups == 1


def test_more_groups_than_the_gpu_holds_is_refused(simulated):
    simulated(Squares, resident_blocks=3)
    with pytest.raises(rc.BackendUnavailable, match="holds 3 resident block.*needs all of "
                                                    "its 4 at once"):
        rc.launch(Squares, backend="cuda", groups=4)
    with pytest.raises(ValueError, match="groups must be at least 1"):
        rc.launch(Squares, backend="cuda", groups=0)


def test_one_program_per_gpu_and_every_failure_gives_the_gpu_back(simulated, monkeypatch):
    simulated(Summer)
    with rc.launch(Summer, backend="cuda"):
        with pytest.raises(rc.BackendUnavailable, match="runs another ringc program in this "
                                                        r"process \(Summer\)"):
            rc.launch(Summer, backend="cuda")
    with rc.launch(Summer, backend="cuda") as rt:           # given back at shutdown
        assert rt.request(Summer, Work(id=1), timeout=10.0).id == 1

    drivers = simulated(Summer, resident_blocks=8)
    with pytest.raises(rc.BackendUnavailable, match="needs all of its 9 at once"):
        rc.launch(Summer, backend="cuda", groups=9)
    assert drivers[-1].closed                               # a refused set-up frees all

    def refuse(self, *args):
        raise rc.RingcError("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES")

    original = SimulatedDriver.launch
    monkeypatch.setattr(SimulatedDriver, "launch", refuse)
    with pytest.raises(rc.RingcError, match="LAUNCH_OUT_OF_RESOURCES"):
        rc.launch(Summer, backend="cuda")
    assert drivers[-1].closed                               # a refused launch too
    monkeypatch.setattr(SimulatedDriver, "launch", original)
    with rc.launch(Summer, backend="cuda") as rt:
        assert rt.request(Summer, Work(id=2), timeout=10.0).id == 2


def test_a_gpu_with_a_display_watchdog_runs_event_driven_programs_only(simulated):
    watched = dataclasses.replace(GPU, watchdog=True)
    simulated(Summer, gpu=watched)
    with pytest.raises(rc.BackendUnavailable, match="display watchdog"):
        rc.launch(Summer, backend="cuda")
    simulated(Feeder, gpu=watched)
    with rc.launch(Feeder, backend="cuda") as rt:
        rt.send(Feeder, Ask(n=1))
        assert rt.shutdown(drain=True, timeout=30.0)


def test_a_gpu_is_picked_by_index_or_name():
    assert loader.find_gpu(0, [GPU]) is GPU and loader.find_gpu("simulated", [GPU]) is GPU
    assert loader.find_gpu(np.int64(0), [GPU]) is GPU
    for wrong in ("A100", 1, True):
        with pytest.raises(rc.BackendUnavailable, match=r"no GPU matches .* \(GPUs here: "
                                                        r"0: Simulated GPU\)"):
            loader.find_gpu(wrong, [GPU])


def test_an_architecture_nvrtc_cannot_build_for_is_refused_before_compiling(simulated):
    if toolchain.available_tools()["nvrtc"] is not None:
        pytest.skip("NVRTC is not here")
    simulated(Summer, gpu=dataclasses.replace(GPU, arch="sm_30"))
    with pytest.raises(rc.BackendUnavailable, match="cannot compile for sm_30"):
        rc.launch(Summer, backend="cuda")


# ---- on a GPU ----------------------------------------------------------------------------

@needs_gpu
def test_gpu_description_and_second_launch_uses_the_cubin_cache(monkeypatch):
    with rc.launch(Summer, backend="cuda") as rt:
        assert rt.request(Summer, Work(id=1, data=[1, 1, 1, 1]), timeout=10.0).value == 4
        assert "sm_" in rt._device.description and "cuda-python" in rt._device.description

    def must_not_compile(*args):
        raise AssertionError("the cubin should come from the disk cache")

    monkeypatch.setattr(toolchain, "_compile", must_not_compile)
    with rc.launch(Summer, backend="cuda") as rt:
        assert rt.request(Summer, Work(id=2, data=[2, 2, 2, 2]), timeout=10.0).value == 8


@needs_gpu
def test_gpu_second_program_waits_for_the_first_to_shut_down():
    with rc.launch(Summer, backend="cuda") as first:
        with pytest.raises(rc.BackendUnavailable, match="runs another ringc program"):
            rc.launch(Squares, backend="cuda")
        assert first.request(Summer, Work(id=1), timeout=10.0).id == 1
    with rc.launch(Squares, backend="cuda") as second:
        assert second.request(Squares, Work(id=2, data=[2, 0, 0, 0]), timeout=10.0).value == 4


@needs_gpu
def test_gpu_bulk_stream_and_state_survive_shutdown():
    n = 100_000
    batch = np.zeros(n, dtype=Work.dtype)
    batch["id"] = np.arange(n)
    with rc.launch(Summer, backend="cuda") as rt:
        rt.send(Summer, batch)
        assert len(rt.receive_many(n, timeout=60.0)) == n
    assert rt.checkpoint(Summer)["processed"] == n


@needs_gpu
@pytest.mark.skipif(importlib.util.find_spec("pycuda") is None,
                    reason="pycuda is not installed")
def test_gpu_pycuda_driver_runs_a_program():
    with rc.launch(Squares, backend="cuda", driver="pycuda") as rt:
        assert "pycuda" in rt._device.description and not rt._device.cooperative
        assert rt.request(Squares, Work(id=1, data=[5, 0, 0, 0]), timeout=10.0).value == 25
