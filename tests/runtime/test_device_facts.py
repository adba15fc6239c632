"""`rt.device` and `rc.device_facts` (docs/runtime.md, "The device"): the same facts
before and after a launch, on every backend present, and what each backend reports."""

from __future__ import annotations

import pytest

import ringc as rc
from tests.runtime.kernels import Summer, Work


def test_the_facts_of_a_running_program_are_those_found_before_it(backend):
    before = rc.device_facts(backend)
    with rc.launch(Summer, backend=backend) as rt:
        facts = rt.device
        assert rt.request(Summer, Work(id=3, data=[1, 2, 3, 4]), timeout=30).value == 10
    assert facts == before
    assert isinstance(facts, rc.DeviceFacts) and facts.backend == backend
    assert facts.name and facts.compute_units >= 1 and facts.max_group_size >= 1
    assert isinstance(facts.fp64, bool) and isinstance(facts.int64_atomics, bool)
    assert facts.name in str(facts)


def test_opencl_reports_what_the_device_says():
    try:
        facts = rc.device_facts("opencl")
    except rc.BackendUnavailable as exc:
        pytest.skip(f"opencl: {exc}")
    from ringc.backends.opencl.loader import find_device

    device = find_device(None)
    assert facts.name == device.name.strip()
    assert facts.compute_units == device.max_compute_units
    assert facts.max_group_size == device.max_work_group_size
    assert facts.fp64 == ("cl_khr_fp64" in device.extensions)
    assert facts.int64_atomics == ("cl_khr_int64_base_atomics" in device.extensions)


def test_each_shim_reports_its_target_not_the_host():
    from ringc.backends.shim.loader import facts_of

    cuda, metal = facts_of("cuda"), facts_of("metal")
    assert (cuda.fp64, cuda.int64_atomics) == (True, True)
    assert (metal.fp64, metal.int64_atomics) == (False, False)   # Metal has neither
    assert cuda.max_group_size == metal.max_group_size == 1024


def test_the_simulator_reports_one_compute_unit_and_every_type():
    facts = rc.device_facts("sim")
    assert (facts.compute_units, facts.max_group_size, facts.fp64,
            facts.int64_atomics) == (1, 1024, True, True)


@pytest.mark.parametrize("call, error, words", [
    (lambda: rc.device_facts("vulkan"), ValueError, "unknown backend 'vulkan'"),
    (lambda: rc.device_facts("metal"), rc.BackendUnavailable, "metal-shim"),
    (lambda: rc.device_facts("sim", device=1), ValueError, "one device"),
    (lambda: rc.device_facts("sim", colour="red"), TypeError, "unknown option"),
    (lambda: rc.device_facts("opencl", device="no such device"), rc.BackendUnavailable,
     "no OpenCL device matches"),
])
def test_a_question_that_has_no_device_says_why(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_devices_lists_from_python_what_ringc_devices_prints():
    from ringc.targets import list_devices

    assert [(d.backend, d.device) for d in rc.devices()] == [
        (d.backend, d.device) for d in list_devices()]
    (sim,) = rc.devices("sim")
    assert sim.available and sim.device == "Python simulator"
    with pytest.raises(ValueError, match="unknown backend 'vulkan'"):
        rc.devices("vulkan")
