"""Prometheus export (docs/metrics.md): `RingcCollector` and `rt.serve_metrics`."""

from __future__ import annotations

import errno
import socket
import time
import urllib.request
from types import SimpleNamespace

import pytest

prometheus_client = pytest.importorskip(
    "prometheus_client", reason="the Prometheus export needs pip install 'ringc[prometheus]'")

from prometheus_client import CollectorRegistry  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import ringc as rc  # noqa: E402
from ringc import prometheus as rp  # noqa: E402
from ringc.errors import RingcError  # noqa: E402
from ringc.runtime.reports import LatencyHistogram  # noqa: E402

from .kernels import Done, Job, Summer, Work, Worker  # noqa: E402

FAMILIES = {                         # family name (as the parser names it) -> type
    "ringc_messages_processed": "counter",
    "ringc_messages_sent": "counter",
    "ringc_dead_letters": "counter",
    "ringc_queue_pending": "gauge",
    "ringc_queue_utilisation": "gauge",
    "ringc_request_latency_seconds": "histogram",
    "ringc_handler_seconds": "summary",
}
REQUESTS = 5
FAULTY = [Job(sender=0, seq=-1, divisor=1, index=0),       # rc.fail("negative")
          Job(sender=0, seq=-3, divisor=1, index=0),       # rc.fail("negative")
          Job(sender=0, seq=5, divisor=0, index=0)]        # division_by_zero


def _traffic(rt) -> None:
    """REQUESTS requests to Summer, one good Job to Worker[0] and FAULTY to Worker[1];
    returns once every reply and dead letter reached the host."""
    for i in range(REQUESTS):
        assert rt.request(Summer, Work(id=i, data=[1, 2, 3, 4], ts=0), timeout=10.0).id == i
    rt.send(Worker, Job(sender=0, seq=2, divisor=1, index=0), instance=0)
    for job in FAULTY:
        rt.send(Worker, job, instance=1)
    assert rt.receive(timeout=10.0) == Done(sender=0, seq=2, quotient=2)
    deadline = time.monotonic() + 10.0
    while len(rt.dead_letters()) < len(FAULTY):
        assert time.monotonic() < deadline, "the dead letters never arrived"
        time.sleep(0.01)


def _samples(text: str) -> tuple[dict, dict]:
    """(family name -> type, (sample name, sorted label items) -> value) of an exposition."""
    types, values = {}, {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            values[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return types, values


def _at(kernel: str, instance: int, **more) -> tuple:
    return tuple(sorted({"kernel": kernel, "instance": str(instance), **more}.items()))


def _check_against_runtime(rt, types: dict, values: dict) -> None:
    assert types == FAMILIES
    for kernel, instances in ((Summer, 1), (Worker, 2)):
        for i in range(instances):
            s = rt.status(kernel, instance=i)
            at = _at(kernel.__name__, i)
            assert values[("ringc_messages_processed_total", at)] == s.processed
            assert values[("ringc_messages_sent_total", at)] == s.sent
            assert values[("ringc_queue_pending", at)] == s.pending == 0
            assert 0 <= values[("ringc_queue_utilisation", at)] <= 1
    assert values[("ringc_messages_processed_total", _at("Summer", 0))] == REQUESTS
    assert values[("ringc_messages_sent_total", _at("Worker", 1))] == len(FAULTY)
    dead = {labels: v for (name, labels), v in values.items()
            if name == "ringc_dead_letters_total"}
    assert dead == {_at("Worker", 1, reason="negative"): 2,
                    _at("Worker", 1, reason="division_by_zero"): 1}
    # the latency histogram: one measurement a reply, cumulative buckets, +Inf last
    for kernel, instance, replies in (("Summer", 0, REQUESTS), ("Worker", 0, 1),
                                      ("Worker", 1, 0)):
        at = _at(kernel, instance)
        buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in values.items()
                         if name == "ringc_request_latency_seconds_bucket"
                         and tuple(x for x in labels if x[0] != "le") == at)
        counts = [v for _, v in buckets]
        assert buckets[-1][0] == float("inf") and counts[-1] == replies
        assert counts == sorted(counts)
        assert values[("ringc_request_latency_seconds_count", at)] == replies
        total = values[("ringc_request_latency_seconds_sum", at)]
        assert (total > 0) == (replies > 0)
        h = rt._latency_histogram(kernel, instance)
        assert h.count == replies and total == pytest.approx(h.sum)


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10.0) as reply:
        assert reply.status == 200
        return reply.read().decode()


def test_scrape_over_http(backend):
    with rc.launch([Summer, Worker], backend=backend) as rt:
        _traffic(rt)
        server = rt.serve_metrics(0)
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}/metrics"
        first = _scrape(server.url)
        _check_against_runtime(rt, *_samples(first))
        with pytest.raises(RingcError, match=rf"127\.0\.0\.1:{server.port}: the port is in "
                                             r"use") as caught:
            rt.serve_metrics(server.port)
        assert isinstance(caught.value, OSError) and caught.value.errno == errno.EADDRINUSE
        rt.request(Summer, Work(id=99, data=[0, 0, 0, 0], ts=0), timeout=10.0)
        _, later = _samples(_scrape(server.url))      # the first server still serves
        key = ("ringc_messages_processed_total", _at("Summer", 0))
        assert later[key] == REQUESTS + 1 > _samples(first)[1][key]
        count = ("ringc_request_latency_seconds_count", _at("Summer", 0))
        assert later[count] == REQUESTS + 1
    # shutdown closed the server: the port refuses connections
    assert server.closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2.0).close()
    # a collector of the shut-down runtime answers with the final numbers
    registry = CollectorRegistry()
    registry.register(rp.RingcCollector(rt))
    assert registry.get_sample_value("ringc_messages_processed_total",
                                     {"kernel": "Summer", "instance": "0"}) == REQUESTS + 1
    assert registry.get_sample_value("ringc_dead_letters_total", {
        "kernel": "Worker", "instance": "1", "reason": "negative"}) == 2


def test_collector_in_a_registry_of_ones_own():
    with rc.launch([Summer, Worker], backend="sim") as rt:
        _traffic(rt)
        registry = CollectorRegistry()
        collector = rp.RingcCollector(rt)
        registry.register(collector)
        with pytest.raises(ValueError, match="Duplicated timeseries"):
            registry.register(rp.RingcCollector(rt))          # names are checked, no scrape
        text = prometheus_client.generate_latest(registry).decode()
        _check_against_runtime(rt, *_samples(text))
        for i in range(2):                                     # measured on the device
            count, seconds = rt._handler_time(Worker, i)
            assert get_handler(text, "Worker", i) == (count, pytest.approx(seconds))


def get_handler(text: str, kernel: str, instance: int) -> tuple[float, float]:
    """(count, sum) of ringc_handler_seconds for one instance, from an exposition."""
    found = {name: s.value for family in text_string_to_metric_families(text)
             for s in family.samples for name in [s.name]
             if s.labels == {"kernel": kernel, "instance": str(instance)}}
    return found["ringc_handler_seconds_count"], found["ringc_handler_seconds_sum"]


def test_latency_buckets_keep_each_doubling_exactly():
    bounds = tuple(b / 1e9 for b in (1000, 1189, 1414, 1682, 2000, 2378, 4000, 4757))
    counts = (1, 2, 0, 0, 3, 0, 4, 5, 6)               # non-cumulative, the last above all
    h = LatencyHistogram(bounds, counts, sum=1.5, count=sum(counts), max=9.0)
    assert rp._cumulative(h) == [("1e-06", 1), ("2e-06", 6), ("4e-06", 10),
                                 ("4.757e-06", 15), ("+Inf", 21)]
    with pytest.raises(RingcError, match="2 bounds has 2 counts, not 3"):
        rp._cumulative(LatencyHistogram((1.0, 2.0), (1, 1), 1.0, 2, 1.0))


class _FakeRuntime:
    """What the collector reads of a runtime, with dead letters at the host output queue."""

    def kernels(self):
        return ["K"]

    def _kernel(self, kernel):
        return SimpleNamespace(queue_ids=range(1))

    def status(self, kernel, instance=None):
        return SimpleNamespace(kernel="K", instances=1, processed=7, sent=9, pending=2)

    def _metrics(self, kernel, instance, status):
        return SimpleNamespace(input_utilisation=0.25)

    def _latency_histogram(self, kernel, instance=None):
        return LatencyHistogram((0.001, 0.002), (0, 0, 0), 0.0, 0, None)

    def _handler_time(self, kernel, instance=None):
        return 3, 0.5

    def _dead_letter_counts(self):
        return {(None, -1, "queue_full"): 2, ("host", -1, "queue_full"): 1,
                ("K", 0, "no_handler"): 4}


def test_host_queue_dead_letters_have_empty_kernel_and_instance():
    registry = CollectorRegistry()
    registry.register(rp.RingcCollector(_FakeRuntime()))
    get = registry.get_sample_value
    assert get("ringc_dead_letters_total", {"kernel": "", "instance": "",
                                            "reason": "queue_full"}) == 3
    assert get("ringc_dead_letters_total", {"kernel": "K", "instance": "0",
                                            "reason": "no_handler"}) == 4
    assert get("ringc_queue_utilisation", {"kernel": "K", "instance": "0"}) == 0.25
    assert get("ringc_request_latency_seconds_count", {"kernel": "K", "instance": "0"}) == 0


def test_close_is_idempotent_and_frees_the_port():
    server = rp.serve(_FakeRuntime(), 0)
    port = server.port
    assert "ringc_messages_sent_total" in _scrape(server.url)
    server.close()
    server.close()
    assert server.closed
    with rp.serve(_FakeRuntime(), port) as again:          # the port is free again
        assert again.port == port
    assert again.closed


def test_bad_arguments_and_a_missing_prometheus_client(monkeypatch):
    with pytest.raises(TypeError, match="port must be an int"):
        rp.serve(_FakeRuntime(), "9464")
    with pytest.raises(ValueError, match="port must be in 0..65535"):
        rp.serve(_FakeRuntime(), 70000)
    with pytest.raises(RingcError, match="cannot serve metrics on 203.0.113.1:0") as caught:
        rp.serve(_FakeRuntime(), 0, addr="203.0.113.1")      # not an address of this host
    assert isinstance(caught.value, OSError)
    monkeypatch.setattr(rp, "_MISSING", ImportError("No module named 'prometheus_client'"))
    for make in (lambda: rp.RingcCollector(_FakeRuntime()), lambda: rp.serve(_FakeRuntime(), 0)):
        with pytest.raises(ImportError, match=r"pip install 'ringc\[prometheus\]'"):
            make()
