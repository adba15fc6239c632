"""Operations (docs/runtime.md, "State, control and reports" and "Health"): status and
metrics of the whole program, latency from a bounded histogram, the recent rate,
`rt.health()` caused by programs built to trip each check, and `close_input`."""

from __future__ import annotations

import time

import numpy as np
import pytest

import ringc as rc
from ringc.runtime.reports import BOUNDS_NS, LatencyBook
from tests.backend_support import scale, spin_rounds

from .kernels import Slow, Spin, Summer, Work, Worker


def test_status_and_metrics_without_a_kernel_cover_every_kernel(backend):
    with rc.launch([Summer, Worker], backend=backend) as rt:
        for i in range(20):
            rt.request(Summer, Work(id=i, data=[1, 2, 3, 4]), timeout=10.0)
        statuses, metrics = rt.status(), rt.metrics()
        assert set(statuses) == set(metrics) == {"Summer", "Worker"}
        assert statuses["Summer"].processed == rt.status(Summer).processed == 20
        m = metrics["Summer"]
        assert m.processed == 20 and m.kernel == "Summer"
        assert 0 < m.latency_p50 <= m.latency_p99 <= m.latency_max
        assert m.latency_mean <= m.latency_max
        assert metrics["Worker"].latency_p50 is None          # never replied to the host
        with pytest.raises(TypeError, match="needs the kernel"):
            rt.status(instance=1)
        assert m.throughput_recent > 0


def test_the_recent_rate_falls_when_traffic_stops_and_the_lifetime_rate_lingers():
    with rc.launch(Summer, backend="sim") as rt:
        batch = np.zeros(300, Work.dtype)
        rt.send(Summer, batch)
        rt.receive_many(300, timeout=30.0)
        busy = rt.metrics(Summer)
        time.sleep(1.3)
        idle = rt.metrics(Summer)
    assert busy.throughput_recent > 0
    assert idle.throughput_recent == 0 and idle.throughput > 0


def test_handler_time_is_measured_on_the_device_every_16th_handling(backend):
    rounds = spin_rounds(backend, 3_000_000, 3_000)
    start = time.monotonic()
    with rc.launch(Slow, backend=backend) as rt:
        rt.send(Slow, np.array([(rounds,)] * 33, Spin.dtype))
        assert rt.shutdown(drain=True, timeout=60.0)
    elapsed = time.monotonic() - start
    timed, seconds = rt._handler_time(Slow)
    assert timed == 3                                        # ring positions 0, 16 and 32
    mean = rt.metrics(Slow).handler_time_mean
    assert mean == pytest.approx(seconds / 3) and seconds < elapsed
    # a heartbeat clock (the host's, refreshed every few ms) may not move inside a handler
    assert mean > 0 or getattr(rt._device, "clock", "heartbeat") == "heartbeat"


def test_latency_histogram_is_bounded_and_its_quantiles_are_within_a_bucket():
    book = LatencyBook(2)
    values = np.random.default_rng(5).lognormal(mean=11, sigma=1.0, size=50_000)
    for v in values.astype(np.int64):
        book.record(1, int(v))
    histogram = book.histogram(range(1, 2))
    assert book.counts.shape == (2, len(BOUNDS_NS) + 1)         # whatever the traffic
    assert histogram.count == 50_000 and histogram.max == values.astype(np.int64).max() / 1e9
    assert histogram.sum == pytest.approx(values.astype(np.int64).sum() / 1e9)
    for q in (0.5, 0.99):
        exact = np.quantile(values, q) / 1e9
        assert exact <= histogram.quantile(q) <= exact * 1.19 + 1e-9
    assert book.histogram(range(0, 1)).quantile(0.5) is None


def test_a_healthy_program_is_healthy(backend):
    with rc.launch(Summer, backend=backend) as rt:
        rt.request(Summer, Work(id=1, data=[1, 2, 3, 4]), timeout=10.0)
        health = rt.health()
    assert health == rc.Health("healthy", (), (), {"Summer": "healthy"})
    after = rt.health()
    assert after.status == "unhealthy" and "shut down" in after.errors[0]


def test_a_full_queue_and_an_inactive_kernel_with_messages_degrade_it(backend):
    with rc.launch(Summer, backend=backend) as rt:
        rt.deactivate(Summer)
        rt.send(Summer, np.zeros(61, Work.dtype))           # 61 of 64 ingress slots
        health = rt.health()
        assert health.status == "degraded" and health.kernels == {"Summer": "degraded"}
        assert "Summer's input is 95% full" in health.warnings
        assert "Summer is inactive with 61 message(s) waiting" in health.warnings
        assert rt.metrics(Summer).input_utilisation == pytest.approx(61 / 64)
        rt.activate(Summer)
        rt.receive_many(61, timeout=30.0)
        assert rt.health().status == "healthy"


def test_a_handler_inside_one_message_past_stall_after_is_an_error(backend, caplog):
    rounds = spin_rounds(backend, 2_000_000_000, 2_000_000)     # ~0.7 s (Spin is an i32)
    with rc.launch(Slow, backend=backend, stall_after=0.2) as rt, \
            caplog.at_level("WARNING", logger="ringc"):
        rt.send(Slow, Spin(rounds=rounds))
        deadline = time.monotonic() + 5.0
        while rt.health().status != "unhealthy" and time.monotonic() < deadline:
            time.sleep(0.02)
        health = rt.health()
        assert health.kernels == {"Slow": "unhealthy"}
        assert health.errors == ("Slow[0] has been inside one handler for more than 0.2 s",)
        rt.shutdown(drain=True, timeout=60.0)
    assert "Slow[0] has been inside one handler for more than 0.2 s" in caplog.text


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "5", True])
def test_stall_after_must_be_a_positive_number(bad):
    with pytest.raises(ValueError, match="stall_after must be a number of seconds > 0"):
        rc.launch(Summer, backend="sim", stall_after=bad)


def test_close_input_refuses_host_sends_and_keeps_serving_what_is_queued(backend):
    n = scale(backend, 40, 40)
    with rc.launch(Summer, backend=backend) as rt:
        rt.deactivate(Summer)
        rt.send(Summer, np.zeros(n, Work.dtype))
        rt.close_input(Summer)
        for send in (lambda: rt.send(Summer, Work(id=1)),
                     lambda: rt.send(Summer, np.zeros(2, Work.dtype)),
                     lambda: rt.request(Summer, Work(id=1), timeout=1.0),
                     lambda: rt.send(Summer, Work(id=1), delay=0.1)):
            with pytest.raises(rc.Closed, match="the input of Summer is closed"):
                send()
        rt.activate(Summer)
        assert len(rt.receive_many(n, timeout=30.0)) == n       # what was queued is served
        assert rt.status(Summer).processed == n
    with pytest.raises(ValueError, match="is not a kernel of this program"):
        rt.close_input("Nope")
    with pytest.raises(rc.Closed, match="shut down"):
        rt.send(Summer, Work(id=2))
