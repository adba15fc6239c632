"""Prometheus export of a running program's reports (docs/metrics.md).

`RingcCollector(rt)` is a `prometheus_client` collector: register it in a registry of your
own, or call `rt.serve_metrics(port)`, which serves one on prometheus_client's standard
exporter (`serve` below). prometheus_client is an optional dependency (the
`ringc[prometheus]` extra): this module imports without it, and a collector or a server
asked for without it raises an ImportError that says what to install.

A scrape reads the runtime through its public reports (`status`, `metrics`) and its
monotonic dead-letter and latency tallies; each of those calls takes the runtime's lock
for its own brief hold, so a scrape never holds the lock across calls and never blocks
the runtime longer than one hold. Numbers of different kernels and instances are therefore
read at slightly different moments: a scrape is not one atomic snapshot.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from importlib import metadata
from typing import TYPE_CHECKING, Any

from .errors import RingcError

if TYPE_CHECKING:
    from .runtime.runtime import Runtime

try:
    from prometheus_client.registry import Collector as _CollectorBase
except ImportError as exc:          # the optional extra is not installed
    _CollectorBase = object         # type: ignore[assignment,misc]
    _MISSING: ImportError | None = exc
else:
    _MISSING = None

__all__ = ["RingcCollector", "MetricsServer", "MetricsServerError", "serve", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'ringc[prometheus]'"
_MIN_VERSION = (0, 20)              # start_http_server returns (server, thread) from 0.20


def _require() -> None:
    """Raise a clear ImportError when prometheus_client is missing."""
    if _MISSING is not None:
        raise ImportError(f"ringc's Prometheus export needs prometheus_client>=0.20, which "
                          f"is not installed: {INSTALL_HINT}") from _MISSING


class MetricsServerError(RingcError, OSError):
    """The metrics server could not start (the port is in use, the address cannot be
    bound, ...). Both a `RingcError` and an `OSError`; `errno` is the bind's error number
    (`errno.EADDRINUSE` for a port in use) where there was one."""


class RingcCollector(_CollectorBase):
    """A prometheus_client collector of one runtime's reports (names, types and labels:
    docs/metrics.md). It holds the runtime, not a copy: every `collect` reads it afresh,
    and after `rt.shutdown()` it answers with the final numbers.

    One registry can hold one RingcCollector: two would export the same metric names (serve
    each runtime on its own port, or in its own registry)."""

    def __init__(self, rt: Runtime):
        _require()
        self.rt = rt

    def describe(self) -> list:
        """The metric families without samples: lets a registry check names at
        `register` without scraping the runtime."""
        return list(_families().values())

    def collect(self) -> Iterator:
        """The metric families with one sample set per kernel instance (and per dead-letter
        reason). Each runtime call takes the runtime's lock briefly; none is held across
        calls. An error of the runtime propagates (the exporter answers HTTP 500)."""
        rt = self.rt
        fam = _families()
        for kernel in rt.kernels():
            for i in range(len(rt._kernel(kernel).queue_ids)):
                s = rt.status(kernel, instance=i)
                labels = [s.kernel, str(i)]
                fam["processed"].add_metric(labels, s.processed)
                fam["sent"].add_metric(labels, s.sent)
                fam["pending"].add_metric(labels, s.pending)
                m = rt._metrics(kernel, i, s)
                fam["utilisation"].add_metric(labels, m.input_utilisation)
                h = rt._latency_histogram(kernel, i)
                fam["latency"].add_metric(labels, _cumulative(h), float(h.sum))
                timed, seconds = rt._handler_time(kernel, i)
                fam["handler"].add_metric(labels, timed, seconds)
        dead: dict[tuple[str, str, str], int] = {}
        for (name, instance, reason), count in rt._dead_letter_counts().items():
            # not at a kernel's queue (the host output queue: kernel None or "host",
            # instance -1): both labels empty
            at_kernel = name is not None and instance is not None and instance >= 0
            key = (name, str(instance), str(reason)) if at_kernel else ("", "", str(reason))
            dead[key] = dead.get(key, 0) + int(count)
        for labels, count in sorted(dead.items()):
            fam["dead"].add_metric(list(labels), count)
        yield from fam.values()


def _families() -> dict[str, Any]:
    """Fresh, empty metric families (prometheus_client fills one per collection)."""
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        SummaryMetricFamily,
    )
    at = ["kernel", "instance"]
    return {
        "processed": CounterMetricFamily(
            "ringc_messages_processed_total",
            "Messages whose handler completed, per kernel instance, since launch.",
            labels=at),
        "sent": CounterMetricFamily(
            "ringc_messages_sent_total",
            "Messages sent to the kernel instance by the host and by device code (those "
            "dead-lettered on the way included), since launch.", labels=at),
        "dead": CounterMetricFamily(
            "ringc_dead_letters_total",
            "Dead letters the host has collected, by where they were dead-lettered (kernel "
            "and instance empty: the host output queue) and reason, since launch.",
            labels=[*at, "reason"]),
        "pending": GaugeMetricFamily(
            "ringc_queue_pending",
            "Messages queued at the kernel instance and not yet taken (both rings).",
            labels=at),
        "utilisation": GaugeMetricFamily(
            "ringc_queue_utilisation",
            "Fill of the kernel instance's fullest input ring (0..1; 1 means the next "
            "message put in it waits).",
            labels=at),
        "latency": HistogramMetricFamily(
            "ringc_request_latency_seconds",
            "Round trip the host measured from send/request to the reply in host memory, "
            "per replying kernel instance, since launch.", labels=at, unit="seconds"),
        "handler": SummaryMetricFamily(
            "ringc_handler_seconds",
            "Time inside the handler measured on the device, over the handlings it timed "
            "(every 16th of an ordered or parallel kernel, every cooperative one).",
            labels=at, unit="seconds"),
    }


def _cumulative(histogram) -> list[tuple[str, float]]:
    """The runtime's non-cumulative bucket counts as Prometheus buckets: cumulative, each
    labelled by its upper bound, `+Inf` last (the total). Only the runtime's bounds at
    least twice the one kept before are kept (and the last): with its buckets four a
    doubling, that is each doubling from 1 us to 67 s, 28 series an instance instead of
    106. Dropping a bound of a cumulative histogram loses resolution, never exactness."""
    from prometheus_client.utils import floatToGoString

    bounds, counts = tuple(histogram.bounds), tuple(histogram.counts)
    if len(counts) != len(bounds) + 1:
        raise RingcError(f"a latency histogram with {len(bounds)} bounds has "
                         f"{len(counts)} counts, not {len(bounds) + 1}")
    buckets, total, kept = [], 0, None
    for i, (bound, count) in enumerate(zip(bounds, counts)):
        total += int(count)
        if kept is None or bound >= 2 * kept * (1 - 1e-9) or i == len(bounds) - 1:
            buckets.append((floatToGoString(bound), total))
            kept = bound
    buckets.append(("+Inf", total + int(counts[-1])))
    return buckets


class MetricsServer:
    """prometheus_client's HTTP exporter serving one runtime's metrics, on a daemon thread.
    `port` is the port bound (the one picked when 0 was asked for); `close()` stops it and
    frees the port (idempotent; it waits up to about half a second for the serving loop)."""

    def __init__(self, server, thread: threading.Thread, addr: str, port: int):
        self._server = server
        self._thread = thread
        self._lock = threading.Lock()
        self._closed = False
        self.addr = addr
        self.port = port

    @property
    def url(self) -> str:
        """The metrics endpoint, e.g. `http://127.0.0.1:9464/metrics`."""
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop serving and release the port; safe to call again and from any thread but
        a request handler of this server."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._server.shutdown()            # ends serve_forever (polls every 0.5 s)
            self._server.server_close()        # frees the port
        self._thread.join(timeout=5.0)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ringc.MetricsServer {self.url}{' closed' if self._closed else ''}>"


def serve(rt: Runtime, port: int, addr: str = "127.0.0.1") -> MetricsServer:
    """Serve `rt`'s metrics at `http://addr:port/metrics` with prometheus_client's
    standard exporter, in a fresh registry holding one `RingcCollector(rt)` (what
    `rt.serve_metrics` calls). `port=0` picks a free port (read it from `.port`). `addr`
    defaults to the loopback interface: pass "0.0.0.0" (or "::") to serve beyond it.

    Raises `MetricsServerError` (a RingcError and an OSError) naming `addr:port` and the
    reason when the server cannot bind (a port in use, say), ImportError when
    prometheus_client (>= 0.20) is missing, TypeError/ValueError for a bad port."""
    _require()
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in 0..65535, not {port}")
    if not isinstance(addr, str):
        raise TypeError(f"addr must be a str, not {type(addr).__name__}")
    _check_version()
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import start_http_server

    registry = CollectorRegistry()
    registry.register(RingcCollector(rt))
    try:
        started = start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:              # socket.gaierror is one too
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = f"the port is in use ({reason})"
        error = MetricsServerError(f"cannot serve metrics on {addr}:{port}: {reason}")
        error.errno = exc.errno
        raise error from None           # the errno and the reason are in it
    server, thread = started
    return MetricsServer(server, thread, addr, int(server.server_address[1]))


def _check_version() -> None:
    """Older prometheus_client starts a server it gives no handle to (cannot be closed)."""
    try:
        version = metadata.version("prometheus_client")
    except metadata.PackageNotFoundError:      # vendored or renamed: trust it
        return
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    if tuple(parts) < _MIN_VERSION:
        raise ImportError(f"ringc's metrics server needs prometheus_client>=0.20 (found "
                          f"{version}): {INSTALL_HINT}")
