"""The reports of a running program (docs/runtime.md, "State, control and reports" and
"Health"): `status`, `metrics`, `health` and `dead_letters`, and the tallies the Prometheus
export reads (ringc/prometheus.py). `Reports` is the part of `Runtime` (its base class)
that answers them: it reads the runtime's counters, rings and books under the runtime's
lock, and changes nothing but the 64-bit totals of the counters and the stall watch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from .reports import DeadLetter, Health, LatencyHistogram, Metrics, Status

if TYPE_CHECKING:
    from typing import TypeAlias

    Kernel: TypeAlias = "type | str"     # a kernel: its class or its name

__all__ = ["Reports"]

log = logging.getLogger("ringc.runtime")


class Reports:
    """`Runtime`'s report methods (see the module doc); not used on its own."""

    @overload
    def status(self, kernel: None = None, instance: int | None = None) -> dict[str, Status]: ...
    @overload
    def status(self, kernel: Kernel, instance: int | None = None) -> Status: ...

    def status(self, kernel: Kernel | None = None,
               instance: int | None = None) -> Status | dict[str, Status]:
        """The kernel's state now (all instances summed unless `instance` is given), a
        `Status`; without a kernel, a dict of every kernel's by name."""
        if kernel is None:
            return self._of_every_kernel(self.status, instance)
        k = self._kernel(kernel)
        queues = self._queues(k, instance)
        with self._lock:
            if not self._closed:
                self._counters.update()
            c = self._counters
            return Status(
                kernel=k.name, instances=len(queues),
                active=bool(all(self._stats["active"][queues.start:queues.stop])),
                launched=not self._closed,
                terminating=self._closing,
                processed=c.sum("processed", queues), pending=self._pending(queues),
                dead_lettered=c.sum("dead_lettered", queues),
                sent=sum(self._host_puts[queues.start:queues.stop])
                + int(self._host_scheduled[queues.start:queues.stop].sum())
                + int(self._restored[queues.start:queues.stop].sum())
                + c.sum("received", queues),
                uptime=self._uptime(), dead_letters_lost=c.sum("dead_letters_lost", queues))

    @overload
    def metrics(self, kernel: None = None, instance: int | None = None) -> dict[str, Metrics]:
        ...
    @overload
    def metrics(self, kernel: Kernel, instance: int | None = None) -> Metrics: ...

    def metrics(self, kernel: Kernel | None = None,
                instance: int | None = None) -> Metrics | dict[str, Metrics]:
        """Throughput, reply latency, queue fill and dead letters of the kernel, a
        `Metrics`; without a kernel, a dict of every kernel's by name."""
        if kernel is None:
            return self._of_every_kernel(self.metrics, instance)
        return self._metrics(kernel, instance, self.status(kernel, instance))

    def _of_every_kernel(self, report: Callable[[str], Any], instance: int | None) -> dict:
        """`report` (status or metrics) of every kernel by name: the answer without a
        kernel, which takes no instance."""
        if instance is not None:
            name = report.__name__
            raise TypeError(f"{name}(instance=...) needs the kernel: {name}(K, instance=i)")
        return {k.name: report(k.name) for k in self._layout.kernels}

    def _metrics(self, kernel: Kernel, instance: int | None, s: Status) -> Metrics:
        """`metrics`, from the kernel's (instance's) status `s` taken just before."""
        k = self._kernel(kernel)
        queues = self._queues(k, instance)
        with self._lock:
            latency = self._latency.histogram(queues)
            recent = self._counters.recent_rate(queues)
            fill = self._input_fill(queues)
            timed, handler_s = self._timed_handlings(queues)
        return Metrics(kernel=k.name, throughput=s.processed / max(s.uptime, 1e-9),
                       throughput_recent=recent,
                       latency_mean=latency.sum / latency.count if latency.count else None,
                       latency_p50=latency.quantile(0.5), latency_p99=latency.quantile(0.99),
                       latency_max=latency.max,
                       handler_time_mean=handler_s / timed if timed else None,
                       input_utilisation=fill,
                       output_utilisation=self._inbox.output_fill(),
                       dead_letters=s.dead_lettered, processed=s.processed)

    def health(self) -> Health:
        """The program's health now (docs/runtime.md, "Health"): errors for a device error,
        lost dead letters and handlers stalled past `stall_after`; warnings for input
        rings over 90 % full and inactive kernels with messages waiting."""
        errors: list[str] = []
        warnings: list[str] = []
        kernels: dict[str, str] = {}
        if self._error is not None:
            errors.append(f"the {self.backend} program failed: {self._error}")
        elif self._closed or self._closing:
            errors.append("the program is shut down (or shutting down)")
        for name, s in self.status().items():
            k = self._kernel(name)
            found_errors, found_warnings = len(errors), len(warnings)
            with self._lock:
                fill = self._input_fill(k.queue_ids)
                stalled = [q - k.queue_base for q in k.queue_ids if self._stalls.stalled[q]]
            if s.dead_letters_lost:
                errors.append(f"{name} lost {s.dead_letters_lost} dead letter(s): the host "
                              "did not drain the dead-letter queue")
            if stalled:
                errors.append(f"{name}{stalled} has been inside one handler for more than "
                              f"{self._stalls.after:g} s")
            if fill > 0.9:
                warnings.append(f"{name}'s input is {fill:.0%} full")
            if not s.active and s.pending:
                warnings.append(f"{name} is inactive with {s.pending} message(s) waiting")
            kernels[name] = ("unhealthy" if len(errors) > found_errors else
                             "degraded" if len(warnings) > found_warnings else "healthy")
        status = "unhealthy" if errors else "degraded" if warnings else "healthy"
        return Health(status, tuple(warnings), tuple(errors), kernels)

    def _input_fill(self, queues: range) -> float:
        """The fullest input ring's fill among `queues` (the host's ingress ring and the
        device ring of each): 1.0 means the next message put in it waits. Caller holds the
        lock."""
        fill = 0.0
        for q in queues:
            ingress = self._ingress[q]
            fill = max(fill, self._device_ring_used(q) / self._layout.queue(q).capacity,
                       ingress.used() / ingress.capacity)
        return fill

    def _watch_stalls(self) -> None:
        """Log a handler stalled past `stall_after`, once a stall. Caller holds the lock,
        after the counters' update."""
        for q in self._stalls.update(self._counters.total, self._stats["busy"]):
            kernel, instance = self._inbox.queue_name(q)
            log.warning("%s[%d] has been inside one handler for more than %g s", kernel,
                        instance, self._stalls.after)

    def _timed_handlings(self, queues: range) -> tuple[int, float]:
        """(handlings the device timed, their seconds) of `queues` since launch. Caller
        holds the lock, after the counters' update."""
        return (self._counters.sum("handler_timed", queues),
                self._counters.sum("handler_ns", queues) / 1e9)

    def _handler_time(self, kernel, instance: int | None = None) -> tuple[int, float]:
        """(handlings timed on the device, their seconds) of the kernel (instance)."""
        queues = self._queues(self._kernel(kernel), instance)
        with self._lock:
            if not self._closed:
                self._counters.update()
            return self._timed_handlings(queues)

    def _latency_histogram(self, kernel, instance: int | None = None) -> LatencyHistogram:
        """Every reply latency the host measured for the kernel (instance) since launch."""
        queues = self._queues(self._kernel(kernel), instance)
        with self._lock:
            return self._latency.histogram(queues)

    def _dead_letter_counts(self) -> dict[tuple[str | None, int, str], int]:
        """Dead letters the host collected since launch by (kernel, instance, reason); the
        host output queue's are ("host", -1, reason)."""
        with self._lock:
            if not self._closed:
                self._pump()
            return dict(self._inbox.dead_counts)

    def dead_letters(self) -> list[DeadLetter]:
        """Every message dead-lettered since launch, oldest first."""
        with self._lock:
            if not self._closed:
                self._pump()
            return self._inbox.dead_letters()

    def _uptime(self) -> float:
        end = self._ended_at if self._ended_at is not None else time.monotonic()
        return end - self._started_at
