"""The OpenCL loader: device choice, memory kinds, build caching, work-group count."""

from __future__ import annotations

import time

import numpy as np
import pytest

import ringc as rc
from tests.backend_support import unavailable
from tests.runtime.kernels import Item, Stage, Sum, Summer, Work

pytestmark = pytest.mark.skipif(unavailable("opencl") is not None,
                                reason=f"opencl: {unavailable('opencl')}")


@pytest.mark.parametrize("memory", ["svm", "host_ptr"])
def test_both_memory_kinds_exchange_messages_with_a_running_kernel(memory):
    import pyopencl as cl

    from ringc.backends.opencl.loader import find_device

    fine = cl.device_svm_capabilities.FINE_GRAIN_BUFFER
    if memory == "svm" and not find_device().svm_capabilities & fine:
        pytest.skip("this OpenCL device has no fine-grain SVM")
    with rc.launch(Summer, backend="opencl", memory=memory) as rt:
        assert f"{memory} memory" in rt._device.description
        for i in range(50):
            assert rt.request(Summer, Work(id=i, data=[i, 1, 0, 0]), 5.0) == Sum(id=i,
                                                                                 value=i + 1)
        assert rt.checkpoint(Summer)["processed"] == 50


def test_a_second_launch_does_not_rebuild():
    from ringc.backends.opencl import loader

    with rc.launch(Summer, backend="opencl"):
        pass
    before = loader._built.cache_info()
    with rc.launch(Summer, backend="opencl"):
        pass
    after = loader._built.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


def test_device_choice_by_name_index_and_errors():
    from ringc.backends.opencl.loader import find_device

    first = find_device()
    assert find_device(0) == first
    assert find_device(first.name.strip()[:6]) == first
    with pytest.raises(rc.BackendUnavailable, match="no OpenCL device matches 'no-such-gpu'"):
        rc.launch(Summer, backend="opencl", device="no-such-gpu")
    with pytest.raises(rc.BackendUnavailable, match="no OpenCL device matches 99"):
        rc.launch(Summer, backend="opencl", device=99)
    with pytest.raises(ValueError, match="memory must be"):
        rc.launch(Summer, backend="opencl", memory="managed")


def test_default_groups_follow_the_device_and_the_queues():
    from ringc.backends.opencl.loader import default_groups

    assert [default_groups(units, True, 3) for units in (1, 2, 3, 16)] == [1, 1, 2, 3]
    assert [default_groups(units, False, 200) for units in (1, 132)] == [1, 132]
    assert default_groups(132, False, 5) == 5


def test_work_groups_by_default_and_on_request():
    import pyopencl as cl

    from ringc.backends.opencl.loader import default_groups, find_device

    device = find_device()
    is_cpu = bool(device.type & cl.device_type.CPU)
    with rc.launch(Stage, backend="opencl") as rt:         # Stage[0], Stage[1], Tail: 3 queues
        assert rt._device.groups == default_groups(device.max_compute_units, is_cpu, 3)
    with pytest.raises(ValueError, match="groups must be at least 1"):
        rc.launch(Stage, backend="opencl", groups=0)
    with rc.launch(Stage, backend="opencl", groups=2) as rt:   # two groups share the queues
        assert rt._device.groups == 2
        batch = np.zeros(2000, Item.dtype)
        batch["seq"] = np.arange(2000)
        rt.send(Stage, batch, instance=1)
        got = rt.receive_many(2000 - 2, timeout=20.0)          # seq 999 and 1999 fail
        assert (np.diff(got["seq"]) > 0).all() and len(got) == 1998


@pytest.fixture
def every_worker_busy():
    """One polling program per worker thread of the CPU device (shut down afterwards); a
    program that parks gives its worker back while parked, so these never park."""
    import pyopencl as cl

    from ringc.backends.opencl.loader import find_device

    device = find_device()
    if not device.type & cl.device_type.CPU or device.max_compute_units > 8:
        pytest.skip("checked on CPU devices with few compute units")
    busy = [rc.launch(Summer, backend="opencl", groups=1, park_after=None)
            for _ in range(device.max_compute_units)]
    yield busy
    for rt in busy:
        rt.shutdown(drain=False)


def test_a_launch_beyond_the_cpu_devices_worker_threads_is_refused(every_worker_busy):
    with pytest.raises(rc.BackendUnavailable, match="runs .* work-group.* at once"):
        rc.launch(Summer, backend="opencl", groups=1)
    for rt in every_worker_busy:
        rt.shutdown(drain=False)
    with rc.launch(Summer, backend="opencl") as rt:          # the threads are free again
        assert rt.request(Summer, Work(id=2), timeout=5.0) == Sum(id=2, value=0.0)


def test_an_event_driven_program_waits_for_free_workers_then_runs(every_worker_busy, caplog):
    from tests.runtime.kernels import Ask, Feeder

    with rc.launch(Feeder, backend="opencl") as rt:           # event-driven: no launch yet
        with caplog.at_level("WARNING", logger="ringc.runtime"):
            assert rt.send(Feeder, Ask(n=1)) == 1                  # accepted, not launched
            assert rt.status(Feeder).pending == 1
            time.sleep(0.05)                                       # the pump retries
        refusals = [r for r in caplog.records if "relaunch" in r.getMessage()]
        assert len(refusals) == 1 and "was refused, retrying" in refusals[0].getMessage()
        every_worker_busy.pop().shutdown(drain=False)              # a worker frees up
        assert rt.shutdown(drain=True, timeout=10.0)
        assert rt.status(Feeder).processed == 3                    # Ask(1), then 2 x Ask(0)
