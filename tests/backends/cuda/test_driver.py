"""`CudaPython` (backends/cuda/driver.py) making its real cuda-bindings calls against a
stand-in driver module (fake_bindings.py): argument kinds are checked by cuda-bindings
itself, the calls' effects are imitated and the kernel is the simulator. What a GPU does
with them is tests/runtime on the `cuda` backend, on a GPU."""

from __future__ import annotations

import pytest

import ringc as rc
from tests.runtime.kernels import Ask, Feeder, Squares, Summer, Work

real = pytest.importorskip("cuda.bindings.driver", reason="cuda-bindings is not installed")
from ringc.backends.cuda import driver  # noqa: E402

from .fake_bindings import FakeDriverModule  # noqa: E402


def _libcuda_here() -> bool:
    try:
        real.cuInit(0)
    except RuntimeError:                # DynamicLibNotFoundError
        return False
    return True


pytestmark = pytest.mark.skipif(_libcuda_here(), reason="libcuda is here: the fake module "
                                "would make real driver calls; tests/runtime runs the GPU")


@pytest.fixture
def fake(monkeypatch):
    """Route driver.py's cuda-bindings calls for programs of `kernel` to a fake module."""
    def install(kernel) -> FakeDriverModule:
        module = FakeDriverModule(rc.compile(kernel, "cuda"))
        monkeypatch.setattr(driver, "_bindings", lambda: module)
        monkeypatch.setattr(driver, "_MAPPED", driver._MappedPool())
        return module
    return install


def test_gpus_are_read_through_the_driver(fake):
    fake(Summer)
    (gpu,) = driver.gpus()
    assert (gpu.name, gpu.arch, gpu.multiprocessors, gpu.driver_version) == (
        "Fake H100", "sm_90", 4, "13.0")
    assert gpu.maps_host_memory and gpu.cooperative and not gpu.watchdog


def test_a_program_runs_through_every_driver_call(fake):
    module = fake(Summer)
    with rc.launch(Summer, backend="cuda") as rt:
        assert rt.request(Summer, Work(id=5, data=[1, 2, 3, 4]), timeout=10.0).value == 10
        state = rt.checkpoint(Summer)
        state["processed"] = 7
        rt.restore(Summer, state)
        assert rt.checkpoint(Summer)["processed"] == 7
        assert rt.status(Summer).processed == 1
    assert rt.checkpoint(Summer)["processed"] == 7           # from the copy made at release
    assert module.launches == [(1, 1, 11, False)]
    for call in ("cuFuncLoad", "cuMemHostAlloc", "cuMemHostGetDevicePointer", "cuMemAlloc",
                 "cuMemcpyHtoDAsync", "cuMemcpyDtoHAsync", "cuStreamQuery", "cuMemFree",
                 "cuModuleUnload", "cuStreamDestroy"):
        assert call in module.calls, call
    assert "cuMemFreeHost" not in module.calls                 # pinned memory is pooled
    assert module.current == []          # every context pushed on this thread was popped


def test_several_blocks_get_a_cooperative_launch_of_full_blocks(fake):
    module = fake(Squares)
    with rc.launch(Squares, backend="cuda", groups=1) as rt:
        assert rt.request(Squares, Work(id=1, data=[4, 0, 0, 0]), timeout=10.0).value == 16
    with rc.launch(Squares, backend="cuda") as rt:     # by default one block per queue here
        assert rt.request(Squares, Work(id=2, data=[5, 0, 0, 0]), timeout=10.0).value == 25
    assert module.launches == [(1, 128, 11, False), (2, 128, 11, True)]


def test_event_driven_programs_are_relaunched(fake):
    module = fake(Feeder)
    with rc.launch(Feeder, backend="cuda") as rt:
        rt.send(Feeder, Ask(n=2))
        assert rt.shutdown(drain=True, timeout=30.0)
    assert rt.status(Feeder).processed == 7
    assert {mode for _, _, mode, _ in module.launches} == {6}


def test_a_failed_launch_says_the_gpu_is_lost_and_gives_it_back(fake):
    module = fake(Summer)
    module.fail_next_launch("CUDA_ERROR_ILLEGAL_ADDRESS")
    with pytest.raises(rc.RingcError, match="CUDA_ERROR_ILLEGAL_ADDRESS .*unusable until the "
                                            "process restarts"):
        rc.launch(Summer, backend="cuda")
    with rc.launch(Summer, backend="cuda") as rt:
        assert rt.request(Summer, Work(id=1), timeout=10.0).id == 1


def test_pinned_memory_is_reused_by_the_next_program(fake):
    module = fake(Summer)
    for _ in range(2):
        with rc.launch(Summer, backend="cuda") as rt:
            rt.request(Summer, Work(id=1), timeout=10.0)
        del rt
    assert module.calls.count("cuMemHostAlloc") == 1
