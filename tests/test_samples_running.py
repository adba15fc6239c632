"""Every sample runs on every backend present, and the simulator and the device agree.

Differential tests: random message streams (hypothesis) go through each sample on the
simulator and on each device backend present (OpenCL, CUDA); everything observable must be
identical: what reaches the host, the dead letters, every kernel's final state and
counters."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ringc as rc
from ringc.frontend.files import import_file
from tests.backend_support import unavailable

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
pipeline = import_file(SAMPLES / "pipeline.py")
kv_store = import_file(SAMPLES / "kv_store.py")
scatter = import_file(SAMPLES / "scatter_gather.py")


def test_kv_store_answers_requests(backend):
    with rc.launch(kv_store.Store, backend=backend) as rt:
        for key in range(40):
            reply = rt.request(kv_store.Store, kv_store.Put(key=key, value=key * 0.5), 10.0)
            assert reply.found and reply.key == key
        got = rt.request(kv_store.Store, kv_store.Get(key=7), timeout=10.0)
        assert got == kv_store.Reply(key=7, value=3.5, found=True, evicted=False)
        assert rt.request(kv_store.Store, kv_store.Delete(key=7), timeout=10.0).found
        assert not rt.request(kv_store.Store, kv_store.Get(key=7), timeout=10.0).found
        assert rt.checkpoint(kv_store.Store)["size"] == 39


def test_scatter_gather_replies_to_the_original_sender(backend):
    with rc.launch(scatter.Coordinator, backend=backend) as rt:
        values = np.arange(32, dtype=np.float32)
        result = rt.request(scatter.Coordinator, scatter.Query(id=5, values=values), 10.0)
        assert result == scatter.Result(id=5, total=float(values.sum()), peak=31.0, parts=4)
        assert [rt.status(scatter.Worker, instance=i).processed for i in range(4)] == [1] * 4


def test_make_run_streams_through_the_pipeline(backend, capsys):
    sys.path.insert(0, str(SAMPLES))
    try:
        from run_pipeline import main
    finally:
        sys.path.remove(str(SAMPLES))
    readings = 20_000 if backend != "sim" else 2_000
    assert main(["--backend", backend, "--readings", str(readings)]) == 0
    out = capsys.readouterr().out
    assert f"pushed {readings:,} readings" in out and "conserved its messages: yes" in out


# ---- the simulator is the oracle -----------------------------------------------------

def fields(records) -> bytes:
    """The bytes of every field (not the padding between them, which a device leaves as
    it finds it), NaNs made one NaN: IEEE-754 leaves the sign and payload of a NaN result
    to the hardware (x86 keeps an operand's, a GPU gives its canonical NaN)."""
    parts = []
    for name in records.dtype.names:
        value = np.array(records[name], copy=True)
        if value.dtype.kind == "f":
            value[np.isnan(value)] = np.nan
        parts.append(value.tobytes())
    return b"".join(parts)


def run_everywhere(entry, sends, kernels, device):
    """Deactivate the entry kernel, queue `sends` [(message, instance)], activate, drain,
    stop; what the simulator and `device` show afterwards, for comparison."""
    results = {}
    for name in ("sim", device):
        with rc.launch(entry, backend=name, output_capacity=1024) as rt:
            rt.deactivate(entry)
            for msg in sends:
                rt.send(entry, msg, timeout=30.0)
            rt.activate(entry)
            assert rt.shutdown(drain=True, timeout=60.0)
            out = rt.receive_many(10**6, timeout=0)
            out = {k: fields(v) for k, v in out.items()} if isinstance(out, dict) else \
                fields(out)
            dead = [(d.kernel, d.instance, d.reason, d.source, d.correlation, d.detail,
                     fields(d.message.to_record())) for d in rt.dead_letters()]
            states = [fields(rt.checkpoint(k, i)) for k in kernels
                      for i in range(rt.status(k).instances)]
            counts = [(s.processed, s.pending, s.dead_lettered, s.sent)
                      for s in (rt.status(k) for k in kernels)]
            results[name] = (out, dead, states, counts)
    assert results["sim"][0] == results[device][0], "host outputs differ"
    assert results["sim"][1] == results[device][1], "dead letters differ"
    assert results["sim"][2] == results[device][2], "final states differ"
    assert results["sim"][3] == results[device][3], "counters differ"


on_devices = pytest.mark.parametrize("device", [
    pytest.param(name, marks=pytest.mark.skipif(unavailable(name) is not None,
                                                reason=f"{name}: {unavailable(name)}"))
    for name in ("opencl", "cuda")])
DIFFERENTIAL = settings(max_examples=8, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow])
f32s = st.floats(width=32, allow_nan=True, allow_infinity=True)


@on_devices
@DIFFERENTIAL
@given(st.lists(st.tuples(st.integers(-1, 9), st.lists(
    st.one_of(f32s, st.floats(-50, 50, width=32)), min_size=4, max_size=4)),
    min_size=1, max_size=60))
def test_pipeline_agrees_with_the_simulator(device, stream):
    sends = [pipeline.Reading(sensor=s, seq=i, samples=v) for i, (s, v) in enumerate(stream)]
    run_everywhere(pipeline.Clean, sends, [pipeline.Clean, pipeline.Score, pipeline.Aggregate],
                   device)


@on_devices
@DIFFERENTIAL
@given(st.lists(st.tuples(st.sampled_from(["put", "get", "delete"]), st.integers(-20, 300),
                          f32s), min_size=1, max_size=80))
def test_kv_store_agrees_with_the_simulator(device, ops):
    cls = {"put": kv_store.Put, "get": kv_store.Get, "delete": kv_store.Delete}
    sends = [cls[op](key=k, value=v) if op == "put" else cls[op](key=k) for op, k, v in ops]
    run_everywhere(kv_store.Store, sends, [kv_store.Store], device)


@on_devices
@DIFFERENTIAL
@given(st.lists(st.tuples(st.integers(0, 40), st.lists(f32s, min_size=32, max_size=32)),
                min_size=1, max_size=24))
def test_scatter_gather_agrees_with_the_simulator(device, queries):
    sends = [scatter.Query(id=i, values=v) for i, v in queries]
    run_everywhere(scatter.Coordinator, sends, [scatter.Coordinator, scatter.Worker], device)
