"""Misuse of the runtime's API meets one clear error at the boundary, never a hang, a raw
numpy or Python exception from inside, or a silently changed value."""

from __future__ import annotations

import numpy as np
import pytest

import ringc as rc

from .kernels import Summer, Work


@pytest.fixture(scope="module")
def rt():
    with rc.launch(Summer, backend="sim") as runtime:
        yield runtime


@pytest.mark.parametrize(("timeout", "error", "text"), [
    (float("nan"), ValueError, "timeout must be a number of seconds >= 0 or None, not nan"),
    (-1, ValueError, "not -1"),
    ("1", TypeError, "timeout must be a number of seconds or None, not str '1'"),
    (True, TypeError, "not bool"),
])
def test_bad_timeouts_are_refused_by_every_call(rt, timeout, error, text):
    calls = [lambda: rt.receive(timeout=timeout),
             lambda: rt.receive_many(1, timeout=timeout),
             lambda: rt.send(Summer, Work(id=1), timeout=timeout),
             lambda: rt.send(Summer, np.zeros(2, Work.dtype), timeout=timeout),
             lambda: rt.request(Summer, Work(id=1), timeout=timeout),
             lambda: rt.shutdown(timeout=timeout)]
    for call in calls:
        with pytest.raises(error, match=text):
            call()


def test_huge_and_infinite_timeouts_mean_no_limit(rt):
    assert rt.request(Summer, Work(id=3), timeout=10**400).id == 3
    assert rt.request(Summer, Work(id=4), timeout=float("inf")).id == 4


@pytest.mark.parametrize(("option", "value", "error"), [
    ("host_buffer", 0, ValueError), ("host_buffer", -5, ValueError),
    ("host_buffer", "big", TypeError), ("output_capacity", 2.0, TypeError),
    ("output_capacity", 2**40, ValueError), ("dead_letter_capacity", 0, ValueError),
    ("debug", 1, TypeError)])
def test_bad_common_launch_options_are_refused(option, value, error):
    with pytest.raises(error, match=f"rc.launch option {option} must be"):
        rc.launch(Summer, backend="sim", **{option: value})


def test_arrays_are_converted_as_messages_are_never_wrapped(rt):
    wide = np.zeros(3, [("id", "<i8"), ("data", "<f4", (4,)), ("ts", "<i8")])
    wide["id"] = [1, 2, 2**40]
    with pytest.raises(ValueError, match=r"field 'id' .* holds 1099511627776, outside int32"):
        rt.send(Summer, wide, type=Work)
    floats = np.zeros(2, [("id", "<f8"), ("data", "<f4", (4,)), ("ts", "<i8")])
    floats["id"] = [3e9, np.nan]
    with pytest.raises(TypeError, match=r"field 'id' .* is float64, which int32 cannot hold"):
        rt.send(Summer, floats, type=Work)
    wide["id"] = [1, 2, 3]                                  # fits: converted, sent
    assert rt.send(Summer, wide, type=Work) == 3
    assert sorted(rt.receive_many(3, timeout=5.0)["id"]) == [1, 2, 3]


def test_restore_refuses_what_the_state_cannot_hold(rt):
    snapshot = rt.checkpoint(Summer)
    nan_state = np.zeros((), [("processed", "<f8"), ("last", "<i4")])
    nan_state["processed"] = np.nan
    with pytest.raises(TypeError, match="field 'processed' of the snapshot of Summer is "
                                        "float64"):
        rt.restore(Summer, nan_state)
    short = np.zeros((), [("processed", "<i8", (1,)), ("last", "<i4")])
    with pytest.raises(TypeError, match=r"has shape \(1,\), not \(\)"):
        rt.restore(Summer, short)
    rt.restore(Summer, snapshot)
    assert rt.checkpoint(Summer) == snapshot


@pytest.mark.parametrize("what", [None, 42, "nothere.py"])
def test_launching_what_is_not_a_kernel_says_so(what):
    with pytest.raises(rc.CompileError, match="is not a @rc.ring_kernel class|no such file"):
        rc.launch(what, backend="sim")


def test_an_arena_beyond_the_machine_is_a_clear_memory_error(user_module):
    """16 PiB of queues: refused when the arena is allocated, saying how big it is."""
    mod = user_module("""
@rc.message
class Huge:
    data: Array[f32, 1 << 28]

@rc.ring_kernel(capacity=1 << 24)
class Hoarder:
    def on_huge(self, m: Huge):
        pass
""")
    with pytest.raises(MemoryError, match=r"the program's arena needs \d+ bytes .* lower "
                                          "queue capacities"):
        rc.launch(mod.Hoarder, backend="sim", output_capacity=2, dead_letter_capacity=2)
