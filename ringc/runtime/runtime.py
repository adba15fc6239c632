"""`Runtime`: the host's side of a launched program (docs/runtime.md).

It talks to the device only through the arena (docs/device-program.md): it produces into
ingress rings, consumes the host output and dead-letter queues, reads the stats lines and
writes `active` and `stop`. A *device* object (backends/<target>/loader.py, or the
simulator) owns the memory and the launches; its interface is `Device` below. Messages are
encoded and decoded by a `MessageCodec` (codec.py); what the host takes out of the output
and dead-letter queues waits in an `Inbox` (inbox.py).

One lock guards every arena access; it is held briefly, never while waiting. Whoever waits
(a `send` for room, a `request` for its reply, `receive`) pumps the output queues itself
between polls, and a background thread pumps every few milliseconds, so one thread
may send more than every queue holds before it receives. No call blocks in a driver:
waits are polls with sleeps, so Ctrl-C always reaches the main thread.
"""

from __future__ import annotations

import ctypes
import heapq
import logging
import math
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol, overload

import numpy as np

from ..arena import KernelLayout, Layout
from ..errors import BackendUnavailable, Closed, DeadLettered, QueueFull, RingcError
from ..ir.nodes import FunctionDef, HelperCall, Intrinsic, Program
from ..ir.walk import all_stmts, stmt_exprs, walk
from ..protocol import (
    CONTROL,
    DRAIN_LAUNCH,
    HOOKS,
    HOST_QUEUE,
    NEVER,
    PARK_WHEN_IDLE,
    PHASE_NEW,
    PHASE_RUNNING,
    PHASE_STOPPED,
    SERVE_EVENT_DRIVEN,
    SERVE_PERSISTENT,
)
from .clock import Clock
from .codec import MessageCodec
from .control import Control
from .inbox import Inbox, RawReply
from .interrupts import Guarded
from .interrupts import install as install_interrupt_deferral
from .reporting import Reports
from .reports import (
    Counters,
    DeadLetter,
    LatencyBook,
    StallWatch,
    stats_view,
)
from .rings import IngressRing, full_fence, publish_fence, u32_at, u64_at

if TYPE_CHECKING:
    from typing import TypeAlias

    from ..backends.devices import DeviceFacts
    from ..prometheus import MetricsServer
    from .reporting import Kernel
    MessageClass: TypeAlias = type        # an @rc.message class

__all__ = ["Device", "Runtime"]

log = logging.getLogger("ringc.runtime")

_PUMP_INTERVAL = 0.002                 # background pump period while a launch runs (s)
_PARKED_CHECK = 0.25                   # ... and while the program is parked (s)
_SPIN_NS = 20_000                      # a waiter polls back to back this long,
_YIELD_NS = 1_000_000                  # then yielding the CPU between polls this long
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))
_EARLY_NS = 2_000_000                  # wake (and relaunch a parked program) this early
_DUE_POLL = 0.0002                     # then poll this often until it is due (s)
# a waiting caller's full pump period (ns): longer than _PUMP_INTERVAL, so while a launch
# runs the pump thread does the full pumps and a waiter only collects its output
_FULL_PUMP_NS = 5_000_000
_STORM, _STORM_WINDOW = 1000, 10.0      # this many launches in a window of this many s: logged


class Device(Protocol):
    """What a backend provides: the memory of one program and its launches."""
    description: str
    facts: DeviceFacts         # what the device can do: `rt.device`
    arena: np.ndarray          # the host-facing part [0, local_offset), zero-copy

    def read_local(self, offset: int, size: int) -> np.ndarray:
        """Bytes of the device-local part at layout offset `offset` (a copy or a view)."""

    def write_local(self, offset: int, data: np.ndarray) -> None: ...

    def launch(self, mode: int) -> None:
        """Start `rc_main(arena, local, mode)` without waiting for it."""

    def running(self) -> bool:
        """Whether a launch is in flight; raises RingcError if the last one failed."""

    def release(self) -> None:
        """Free what can be freed once no launch is in flight."""


_live: weakref.WeakSet = weakref.WeakSet()


def stop_all() -> None:
    """Stop every live runtime without draining (the `atexit` hook)."""
    for rt in list(_live):
        try:
            rt.shutdown(drain=False, timeout=2.0)
        except Exception:                    # a failed device: stop the others regardless
            _keep_forever(rt._device)


_FOREVER = 1e9                          # seconds (31 years): longer waits are None


def seconds(timeout) -> float | None:
    """A `timeout` argument checked: None (no limit) or a number of seconds >= 0; NaN, a
    negative number or anything but a number is an error, infinity or more than 1e9 s is
    no limit."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer,
                                                             np.floating)):
        raise TypeError(f"timeout must be a number of seconds or None, not "
                        f"{type(timeout).__name__} {timeout!r}")
    if timeout != timeout or timeout < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0 or None, not {timeout}")
    return None if timeout > _FOREVER else float(timeout)


def _silent_handlers(program: Program, layout: Layout) -> set[tuple[str, int]]:
    """(kernel, type id) of every handler that can never answer its message's sender: it
    returns no message, and neither it nor a helper it calls takes `rc.sender()` (the only
    way to answer later, from another handler or kernel, through `rc.reply`)."""
    silent = set()
    for kernel in program.kernels:
        helpers = {fn.name: fn for fn in kernel.helpers}
        for handler in kernel.handlers:
            if handler.returns is None and not _takes_sender(handler, helpers, set()):
                message = handler.params[0].type.name
                silent.add((kernel.name, layout.message(message).type_id))
    return silent


def _takes_sender(fn: FunctionDef, helpers: dict[str, FunctionDef], seen: set[str]) -> bool:
    seen.add(fn.name)
    for stmt in all_stmts(fn.body):
        for expr in stmt_exprs(stmt):
            for node in walk(expr):
                if isinstance(node, Intrinsic) and node.name == "sender":
                    return True
                if (isinstance(node, HelperCall) and node.function not in seen
                        and _takes_sender(helpers[node.function], helpers, seen)):
                    return True
    return False


def _keep_forever(device) -> None:
    """Never free `device` (and its memory): a kernel that may still run reads it."""
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(device))


class Runtime(Control, Reports):
    """A launched program. Create with `rc.launch`; see docs/runtime.md for the methods'
    contract.

    Kernels are named by their class or their name (`rt.send(Summer, ...)`,
    `rt.status("Summer")`); messages are `@rc.message` objects or numpy arrays of their
    `dtype`."""

    def __init__(self, program: Program, layout: Layout, reasons: tuple[str, ...],
                 messages: dict[str, type], kernels: dict[str, type], device: Device,
                 backend: str, host_buffer: int, park_after: float | None = 0.01,
                 stall_after: float = 5.0):
        self.backend = backend
        self._clock = Clock()
        if hasattr(device, "now"):      # the simulator and the shims read the host's clock
            device.now = self._clock.now
        self._device = device
        self._layout = layout
        self._kernel_classes = kernels
        self._lock = Guarded()          # also defers Ctrl-C while held (interrupts.py)
        install_interrupt_deferral()
        mem = device.arena
        self._stop_word = u32_at(mem, layout.control_offset + CONTROL.offset("stop"))
        self._stopping_word = u32_at(mem, layout.control_offset + CONTROL.offset("stopping"))
        self._entered = u32_at(mem, layout.control_offset + CONTROL.offset("running"))
        self._parking = u32_at(mem, layout.control_offset + CONTROL.offset("parking"))
        self._clock_word = u64_at(mem, layout.control_offset + CONTROL.offset("host_clock"))
        # a device on the heartbeat clock gets it fresh with each message the host puts in,
        # so a handler's rc.now() is never before its message's send; CUDA's globaltimer
        # reads no less than it, as its anchor trails by the launch (ringc/runtime/clock.py)
        self._beats = getattr(device, "clock", "heartbeat") in ("heartbeat", "globaltimer")
        self._calibration = [u64_at(mem, layout.control_offset + CONTROL.offset(name))
                             for name in ("clock_ns", "clock_ticks", "clock_scale")]
        u64_at(mem, layout.control_offset + CONTROL.offset("park_after"))[0] = (
            0 if park_after is None else max(1, round(park_after * 1e9)))
        # messages sent with `delay`: a heap of (due ns, order, queue, type id, payload)
        self._host_timers: list[tuple[int, int, int, int, bytes]] = []
        self._host_scheduled = np.zeros(layout.num_queues, dtype=np.int64)
        # scheduled messages per target that `restore` put in or took out of timer tables
        # (counted in `received` and `scheduled` by the host: the device never saw them)
        self._restored = np.zeros(layout.num_queues, dtype=np.int64)
        self._timer_order = 0
        self._timed = [k for k in layout.kernels if k.timed]
        self._tick_faults_reported = np.zeros(layout.num_queues, dtype=np.uint32)
        self._wake = threading.Event()          # a send or a shutdown wakes the pump thread
        self._device_due: int | None = None     # the next due timer or tick while parked
        self._stats = stats_view(mem, layout.stats_offset, layout.num_queues)
        self._bells = self._stats["bell"]
        self._counters = Counters(self._stats)
        self._lost_reported = self._counters.total["dead_letters_lost"].copy()
        self._stalls = StallWatch(layout.num_queues, stall_after)
        # the queues of instances with lifecycle hooks, per hook
        self._hooked = {hook: np.array([q for k in layout.kernels if hook in k.hooks
                                        for q in k.queue_ids], dtype=np.int64)
                        for hook in HOOKS}
        self._any_hooks = any(len(q) for q in self._hooked.values())
        self._hook_faults_reported = np.zeros(layout.num_queues, dtype=np.uint32)
        self._ingress = [IngressRing(mem, q) for q in layout.ingress]
        self._host_puts = [0] * layout.num_queues        # per queue (a list: += is cheap)
        self._latency = LatencyBook(layout.num_queues)
        self._next_correlation = 1
        self._codec = MessageCodec(layout, messages)
        self._inbox = Inbox(mem, layout, program, reasons, self._codec, self._latency,
                            host_buffer)
        self._kernels_by_name = {k.name: k for k in layout.kernels}
        self._silent = _silent_handlers(program, layout)
        self._targets: dict[tuple, tuple[KernelLayout, int]] = {}
        modes = {k.mode for k in layout.kernels}
        self._persistent = "persistent" in modes
        # a program that returns when idle: the host launches it again when work comes
        self._parks = park_after is not None or not self._persistent
        self._launches = 0
        self._storm_since, self._storm_launches = time.monotonic(), 0
        self._refused = False                    # the last relaunch was refused
        self._launch_progress: tuple | None = None
        self._wanted_active = np.ones(layout.num_queues, dtype=bool)
        self._holds = np.zeros(layout.num_queues, dtype=np.int64)
        self._last_full_pump = 0
        self._closing = False
        self._closed = False
        self._closed_inputs: set[int] = set()        # queues close_input closed
        self._exporter = None                         # serve_metrics' server
        self._ended_at: float | None = None
        self._error: BaseException | None = None
        self._started_at = time.monotonic()
        if self._persistent:          # one launch serves every kernel, event-driven ones too
            self._launch(self._persistent_mode)
            self._await_entry()
        self._pumper = threading.Thread(target=self._background, name="ringc-pump",
                                        daemon=True)
        self._pumper.start()
        _live.add(self)

    def _await_entry(self, limit: float = 30.0) -> None:
        """Return once the first launch runs its loop (or already parked): PoCL builds a
        kernel for its work-group size at the first launch, which would otherwise delay
        the first message by 50-200 ms. A device that never gets there is reported by the
        calls that follow, not here. `running()` is asked once more after the entry: a
        device may act on it (OpenCL records what PoCL cached for the program; a process
        that ends within the pump thread's first period would otherwise record nothing)."""
        deadline = time.monotonic() + limit
        while True:
            entered = bool(self._entered[0])
            try:
                if not self._device.running() or entered:
                    return
            except RingcError:
                return
            if time.monotonic() >= deadline:
                return
            time.sleep(0.0005)

    @property
    def _persistent_mode(self) -> int:
        return SERVE_PERSISTENT | SERVE_EVENT_DRIVEN | (PARK_WHEN_IDLE if self._parks else 0)

    def now(self) -> int:
        """ns since the launch: the clock of `rc.now()` on the device (docs/runtime.md)."""
        return self._clock.now()

    @property
    def device(self) -> DeviceFacts:
        """What the device this program runs on can do (docs/runtime.md, "The device")."""
        return self._device.facts

    # ---- kernels and instances -----------------------------------------------------------

    def kernels(self) -> list[Any]:
        """The program's kernels (classes where known, else names), in program order."""
        return [self._kernel_classes.get(k.name, k.name) for k in self._layout.kernels]

    def _kernel(self, kernel) -> KernelLayout:
        name = kernel if isinstance(kernel, str) else getattr(kernel, "__name__", None)
        found = self._kernels_by_name.get(name)
        if found is not None:
            return found
        known = ", ".join(k.name for k in self._layout.kernels)
        raise ValueError(f"{name or kernel!r} is not a kernel of this program (kernels: {known})")

    def _queues(self, k: KernelLayout, instance: int | None, allow_all: bool = True) -> range:
        if instance is None and allow_all:
            return k.queue_ids
        if isinstance(instance, bool) or not isinstance(instance, (int, np.integer)):
            raise TypeError(f"instance must be an int, not {type(instance).__name__}")
        if not 0 <= instance < k.instances:
            raise ValueError(f"{k.name} has {k.instances} instance(s); there is no instance "
                             f"{instance}")
        return range(k.queue_base + instance, k.queue_base + instance + 1)

    # ---- sending ---------------------------------------------------------------------------

    def send(self, kernel: Kernel, msg: Any, instance: int = 0,
             timeout: float | None = None, type: MessageClass | None = None,  # noqa: A002
             delay: float | None = None) -> int:
        """Put `msg` (a message, or a numpy array of one message dtype; `type` names the
        message where several share that dtype) in `kernel`'s input queue `instance`.
        Streams in as room frees; `timeout` bounds each wait for room (None: as long as the
        program runs), then `rc.QueueFull` says how many went in. Returns the count.
        With `delay` (seconds), the messages are kept by the host and put in no earlier
        than that: counted as sent and pending at once, as `rc.send_after` does."""
        timeout = seconds(timeout)
        k = self._kernel(kernel)
        queue = self._queues(k, instance, allow_all=False).start
        type_id, records = self._codec.encode(k, msg, type)
        if delay is not None:
            return self._schedule(queue, type_id, records, delay)
        if isinstance(records, bytes):
            self._put_one(queue, type_id, records, timeout)
            return 1
        return self._put(queue, type_id, records, timeout)

    def _schedule(self, queue: int, type_id: int, records, delay) -> int:
        """`send(delay=...)`: keep the messages until they are due (`_fire_host_timers`)."""
        if isinstance(delay, bool) or not isinstance(delay, (int, float, np.integer,
                                                             np.floating)):
            raise TypeError(f"delay must be a number of seconds, not {type(delay).__name__}")
        if not math.isfinite(delay) or delay < 0 or delay * 1e9 >= NEVER:
            raise ValueError(f"delay must be a finite number of seconds >= 0, not {delay}")
        payloads = [records] if isinstance(records, bytes) else [r.tobytes() for r in records]
        with self._lock:
            self._check_open(queue)
            due = self._clock.now() + round(delay * 1e9)
            for payload in payloads:
                heapq.heappush(self._host_timers, (due, self._timer_order, queue, type_id,
                                                   payload))
                self._timer_order += 1
            self._host_scheduled[queue] += len(payloads)
        self._wake.set()
        return len(payloads)

    def _fire_host_timers(self) -> None:
        """Put in the delayed host sends that are due, while their rings have room (the
        rest wait for the next pump). Caller holds the lock."""
        timers = self._host_timers
        now = self._clock.now()
        if self._beats and timers and timers[0][0] <= now:
            self._clock_word[0] = now
        full: set[int] = set()            # queues whose ring is full: their later ones wait
        waiting = []
        while timers and timers[0][0] <= now:
            timer = heapq.heappop(timers)
            _, _, queue, type_id, payload = timer
            corr = self._next_correlation
            if queue in full or not self._ingress[queue].produce_one(
                    type_id, payload, HOST_QUEUE, corr, time.monotonic_ns()):
                full.add(queue)
                waiting.append(timer)
                continue
            self._ring_bell(queue)
            self._next_correlation += 1
            self._latency.sent(corr, 1, time.monotonic_ns())
            self._host_puts[queue] += 1
            self._host_scheduled[queue] -= 1
        for timer in waiting:
            heapq.heappush(timers, timer)

    def _ring_bell(self, queue: int) -> None:
        """Tell the device loop that input queue `queue` holds new messages (its stats
        line's `bell`, after the ring's stores: docs/device-program.md, "Bells")."""
        publish_fence()
        self._bells[queue] = 1

    def _put(self, queue: int, type_id: int, records: np.ndarray,
             timeout: float | None) -> int:
        """Stream `records` into the queue's ingress ring as room frees; returns the count."""
        done, total = 0, len(records)
        ring = self._ingress[queue]
        while done < total:
            with self._lock:
                self._check_open(queue, f": {done} of {total} message(s) went in")
                # correlations for at most the slots not in use (`produce` finds how many
                # are free; a ring's worth each round cost more than the copy)
                n = min(total - done, ring.capacity - ring.used())
                first = self._next_correlation
                corrs = np.arange(first, first + n, dtype=np.uint64)
                now = time.monotonic_ns()
                if self._beats:
                    self._clock_word[0] = self._clock.now()
                put = ring.produce(type_id, records[done:done + n], HOST_QUEUE, corrs,
                                   now) if n else 0
                if put:
                    self._ring_bell(queue)
                    self._next_correlation += put
                    self._latency.sent(first, put, now)
                    self._host_puts[queue] += put
                    done += put
                    if self._parks:
                        self._relaunch_if_needed(sent=True)
                    # what the device sent back meanwhile leaves the output queue now, not
                    # at the pump thread's next turn: a device echoing a stream of sends
                    # would otherwise wait for room there
                    self._inbox.collect(now)
                    continue
            if not self._wait(lambda: ring.free(1) > 0 or self._closing, timeout):
                raise QueueFull(f"{ring.queue.name} stayed full for {timeout} s: {done} of "
                                f"{total} message(s) went in", accepted=done)
        return done

    def _put_one(self, queue: int, type_id: int, payload: bytes, timeout: float | None,
                 expect_reply: list | None = None) -> None:
        """`_put` of one message: struct stores, no numpy (the latency path), one lock
        hold when there is room. With `expect_reply`, the caller waits for the reply
        itself (Inbox.expect_reply): the list gets (correlation id, send time in ns) in
        the same lock hold, so an interrupt after it still finds them."""
        ring = self._ingress[queue]
        while True:
            with self._lock:
                self._check_open(queue)
                corr = self._next_correlation
                now = time.monotonic_ns()
                if self._beats:
                    self._clock_word[0] = self._clock.now()
                if ring.produce_one(type_id, payload, HOST_QUEUE, corr, now):
                    self._ring_bell(queue)
                    self._next_correlation += 1
                    if expect_reply is not None:
                        self._inbox.expect_reply(corr)
                        expect_reply += (corr, now)
                    else:
                        self._latency.sent(corr, 1, now)
                    self._host_puts[queue] += 1
                    if self._parks and self._entered[0] == 0:
                        self._relaunch_if_needed(sent=True)
                    return
            if not self._wait(lambda: ring.free(1) > 0 or self._closing, timeout):
                raise QueueFull(f"{ring.queue.name} stayed full for {timeout} s", accepted=0)

    def request(self, kernel: Kernel, msg: Any, timeout: float | None = None,
                instance: int = 0) -> Any:
        """Send one message and wait for the reply to it (matched by correlation id).
        Raises TimeoutError when none came in `timeout` seconds (a later reply then goes
        to the host output queue, like a reply to `send`), and `rc.DeadLettered` when the
        message was dead-lettered instead of answered.

        This is the latency path: struct stores and loads, one lock hold per poll."""
        timeout = seconds(timeout)
        k, queue = self._target(kernel, instance)
        type_id, payload = self._codec.encode(k, msg)
        if not isinstance(payload, bytes):
            if len(payload) != 1:
                raise TypeError("request takes one message (an object or one record); "
                                "send arrays with send() and collect the replies with "
                                "receive_many()")
            payload = payload.tobytes()
        if (k.name, type_id) in self._silent:
            handler = k.handler_for(type_id)
            raise TypeError(f"{k.name}.{handler.function} never replies (it returns no "
                            f"message and never takes rc.sender()), so a request would wait "
                            f"for nothing: use send()")
        sent: list[int] = []                # (correlation, send time) once it is in
        got: list = []                      # the reply (or its dead letter), once taken

        def take() -> bool:               # under the lock, in the same hold as the poll
            if self._inbox.reply(sent[0]) is None and not self._closed:
                return False
            got.append(self._inbox.forget_reply(sent[0]))
            if isinstance(got[0], RawReply):
                self._latency.record(queue, time.monotonic_ns() - sent[1])
            return True

        try:
            self._put_one(queue, type_id, payload, timeout, expect_reply=sent)
            left = None if timeout is None else max(0.0, sent[1] / 1e9 + timeout
                                                    - time.monotonic())
            if not self._wait(take, left, output_only=True):
                raise TimeoutError(f"no reply from {k.name} within {timeout} s")
            reply = got[0]
            if isinstance(reply, DeadLetter):
                raise DeadLettered(reply)
            if reply is None:
                raise RingcError("the program stopped before it replied")
            return self._codec.decode(reply.type_id, reply.data, reply.offset)
        except BaseException:
            # a timeout, Ctrl-C...: a reply that came, or comes later, stays receivable
            if sent:
                with self._lock:
                    reply = self._inbox.forget_reply(sent[0]) or (got[0] if got else None)
                    if isinstance(reply, RawReply):
                        self._inbox.put_back_reply(reply)
            raise

    def _target(self, kernel, instance) -> tuple[KernelLayout, int]:
        """(kernel layout, queue id) of one instance, cached for the latency path."""
        key = (kernel, instance, type(instance))       # 1, True and 1.0 hash alike
        try:
            return self._targets[key]
        except (KeyError, TypeError):              # TypeError: unhashable, checked below
            k = self._kernel(kernel)
            found = self._targets[key] = (k, self._queues(k, instance, allow_all=False).start)
            return found

    # ---- receiving -------------------------------------------------------------------------

    def receive(self, timeout: float | None = None) -> Any:
        """The next message in the host output queue (replies to `send`, `rc.emit`s, in
        arrival order); TimeoutError when none arrives in `timeout` seconds."""
        timeout = seconds(timeout)
        taken: list[tuple[int, np.void]] = []

        def take() -> bool:                     # runs under the lock, inside _wait
            found = self._inbox.take_one()
            if found is not None:
                taken.append(found)
                return True
            return self._closed

        try:
            if not self._wait(take, timeout):
                raise TimeoutError(f"no message arrived within {timeout} s")
            if not taken:
                raise TimeoutError("no message to receive: the program has stopped")
            type_id, record = taken[0]
            return self._codec.message(type_id, record)
        except BaseException:               # Ctrl-C: what was taken stays receivable
            with self._lock:
                self._inbox.put_back([(t, np.array([r], r.dtype)) for t, r in taken])
            raise

    @overload
    def receive_many(self, n: int, timeout: float | None = None, *,
                     type: MessageClass) -> np.ndarray: ...  # noqa: A002
    @overload
    def receive_many(self, n: int, timeout: float | None,
                     type: MessageClass) -> np.ndarray: ...  # noqa: A002
    @overload
    def receive_many(self, n: int, timeout: float | None = None,
                     type: None = None) -> Any: ...  # noqa: A002

    def receive_many(self, n: int, timeout: float | None = None,
                     type: MessageClass | None = None) -> Any:  # noqa: A002
        """Up to `n` messages, once `n` arrived or `timeout` passed: a numpy array of the
        message's dtype when `type` is given (other types stay queued) or when the program
        can send the host one type only; otherwise a dict keyed by message class."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"receive_many takes a count n >= 0, not {n!r}")
        timeout = seconds(timeout)
        type_id = None
        if type is not None:
            type_id = self._codec.type_id(type)
        deadline = None if timeout is None else time.monotonic() + timeout
        taken: list[tuple[int, np.ndarray]] = []
        left = n
        try:
            while True:
                with self._lock:
                    left = self._inbox.take(type_id, left, taken)
                if not left or self._closed:
                    break
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self._wait(lambda: self._inbox.count(type_id) > 0 or self._closed,
                                  wait):
                    break
            return self._inbox.as_arrays(taken, type_id)
        except BaseException:               # Ctrl-C: what was taken stays receivable
            with self._lock:
                self._inbox.put_back(taken)
            raise

    # ---- pumping ---------------------------------------------------------------------------

    def _pump(self, full: bool = True) -> None:
        """Move what the device put in the host output and dead-letter queues into host
        memory; `full` also refreshes the heartbeat and the 64-bit counters and relaunches
        an event-driven program that has work. Caller holds the lock."""
        now = time.monotonic_ns()
        self._inbox.collect(now)
        if full:
            self._inbox.collect_dead_letters()
            self._clock_word[0] = self._clock.now()
            self._counters.update()
            self._watch_stalls()
            self._report_lost()
            self._report_hook_faults()
            if self._host_timers:
                self._fire_host_timers()
            if self._parks and not self._closed:
                self._relaunch_if_needed()

    def _report_lost(self) -> None:
        """Log dead letters the device had to drop since the last report (the dead-letter
        queue stayed full while the host did not drain it). Caller holds the lock."""
        lost = self._counters.total["dead_letters_lost"]
        if lost.sum() == self._lost_reported.sum():
            return
        for k in self._layout.kernels:
            new = int(lost[k.queue_base:k.queue_base + k.instances].sum()
                      - self._lost_reported[k.queue_base:k.queue_base + k.instances].sum())
            if new:
                log.warning("%d dead letter(s) of kernel %s were lost: the dead-letter queue "
                            "stayed full while the host did not drain it", new, k.name)
        self._lost_reported = lost.copy()

    def _report_hook_faults(self) -> None:
        """Log a fault a lifecycle hook raised and did not catch (no message to dead-letter
        carries it), once per instance and hook. Caller holds the lock."""
        faults = self._stats["hook_fault"]
        for q in np.flatnonzero(faults != self._hook_faults_reported):
            code = int(faults[q])
            kernel, instance = self._inbox.queue_name(int(q))
            hook = "on_start" if self._stats["phase"][q] == PHASE_RUNNING else "on_stop"
            log.warning("%s of %s[%d] faulted (%s): the hook ended there", hook, kernel,
                        instance, self._inbox.reason_name(code))
            self._hook_faults_reported[q] = code
        faults = self._stats["tick_fault"]
        for q in np.flatnonzero(faults != self._tick_faults_reported):
            kernel, instance = self._inbox.queue_name(int(q))
            log.warning("a periodic method of %s[%d] faulted (%s): that tick ended there",
                        kernel, instance, self._inbox.reason_name(int(faults[q])))
            self._tick_faults_reported[q] = faults[q]

    def _hook_work(self) -> bool:
        """Does an active instance wait for a lifecycle hook (on_start not yet run, or
        on_stop asked for and not yet run)?"""
        if not self._any_hooks:
            return False
        phase, active = self._stats["phase"], self._stats["active"]
        start = self._hooked["on_start"]
        if ((phase[start] == PHASE_NEW) & (active[start] != 0)).any():
            return True
        stop = self._hooked["on_stop"]
        return bool(self._stopping_word[0]) and bool(
            ((phase[stop] == PHASE_RUNNING) & (active[stop] != 0)).any())

    def _stopped_hooks_ran(self) -> bool:
        """Has every active instance with an on_stop hook run it?"""
        stop = self._hooked["on_stop"]
        phase, active = self._stats["phase"][stop], self._stats["active"][stop]
        return bool(((phase == PHASE_STOPPED) | (active == 0)).all())

    def _wait(self, ready, timeout: float | None, output_only: bool = False) -> bool:
        """Pump until `ready()` or `timeout`: polls back to back for _SPIN_NS (a reply
        takes microseconds), then yields the CPU between polls (`os.sched_yield`: another
        process keeps its turn, where `time.sleep(0)` can cost tens of µs) up to
        _YIELD_NS, then sleeps, backing off to 1 ms. With `output_only` (what `ready`
        waits for comes through the host output queue, or a full pump: a dead letter, the
        end of the program) a poll takes the lock only when the queue holds something,
        another thread moved messages out of it or did a full pump since this one looked,
        or a full pump is due."""
        deadline = None if timeout is None else time.monotonic() + timeout
        start = time.monotonic_ns()
        polls = 0
        inbox, seen = self._inbox, None
        while True:
            last = self._last_full_pump
            if not output_only or seen != (inbox.collected, last) or inbox.output_ready() \
                    or time.monotonic_ns() - last > _FULL_PUMP_NS:
                with self._lock:
                    now = time.monotonic_ns()
                    full = now - self._last_full_pump > _FULL_PUMP_NS
                    if full:
                        self._last_full_pump = now
                        self._check_device()
                    if not self._closed:
                        self._pump(full)
                    if ready():
                        return True
                    seen = (inbox.collected, self._last_full_pump)
            if deadline is not None and time.monotonic() >= deadline:
                return False
            waited = time.monotonic_ns() - start
            if waited < _SPIN_NS:
                continue
            if waited < _YIELD_NS:
                _yield()
                continue
            polls += 1
            time.sleep(min(0.001, 1e-5 * polls))

    def _background(self) -> None:
        """Pump every 2 ms while a launch runs; while the program is parked (or between
        an event-driven program's launches) sleep until the next due timer or tick, a
        send, or 0.25 s."""
        while not self._closed:
            with self._lock:
                if self._closed:
                    break
                try:
                    self._check_device()
                    self._pump()
                    self._last_full_pump = time.monotonic_ns()
                except RingcError:
                    pass                     # recorded in self._error, raised to callers
                running = self._device_running()
                if self._stop_word[0] and not running:
                    self._finish_close()     # a shutdown that timed out, done at last
                    break
                pause = self._pause(running)
            self._wake.wait(pause)
            self._wake.clear()

    def _pause(self, running: bool) -> float:
        """Seconds the pump thread sleeps: _PUMP_INTERVAL while a launch runs, at most
        _PARKED_CHECK while parked, and up to _EARLY_NS before the next due host timer
        (or, parked, device timer or tick), then short polls until it: a sleeping thread
        wakes late (milliseconds on an idle virtual machine). Caller holds the lock."""
        due = self._host_timers[0][0] if self._host_timers else NEVER
        if not running:
            if self._device_due is None:
                self._device_due = self._next_device_due()
            due = min(due, self._device_due)
        left = due - self._clock.now()
        if left <= _EARLY_NS:
            return _DUE_POLL
        return min(_PUMP_INTERVAL if running else _PARKED_CHECK, (left - _EARLY_NS) / 1e9)

    def _next_device_due(self) -> int:
        """The earliest due time of an active instance's timers and periodic methods
        (read from state while no launch runs); NEVER when none."""
        soonest = NEVER
        for k in self._timed:
            for i in range(k.instances):
                if not self._stats["active"][k.queue_base + i]:
                    continue
                raw = self._device.read_local(k.state_offset + i * k.state_stride,
                                             k.state_dtype.itemsize)
                state = raw.view(k.state_dtype)[0]
                stopped = self._stats["phase"][k.queue_base + i] == PHASE_STOPPED
                if k.periods and not stopped:              # on_stop ran: no more ticks
                    soonest = min(soonest, int(state["rc_tick_due"].min()))
                if k.timers and state["rc_timer_count"]:
                    soonest = min(soonest, int(state["rc_timer_due"][state["rc_timer_heap"][0]]))
        return soonest

    def _check_device(self) -> None:
        if self._error is None and self._launches:
            try:
                self._device.running()
            except RingcError as exc:
                self._error = exc
        if self._error is not None:
            raise RingcError(f"the {self.backend} program failed: {self._error}")

    def _check_open(self, queue: int, said: str = "") -> None:
        """Closed (its message ending with `said`) when the runtime or the queue's input is
        closed to host sends."""
        if self._closing:
            raise Closed("this runtime is shut down (or shutting down): it takes no more "
                         f"messages{said}")
        if queue in self._closed_inputs:
            kernel, _ = self._inbox.queue_name(queue)
            raise Closed(f"the input of {kernel} is closed (close_input): it takes no more "
                         f"host sends{said}")

    def close_input(self, kernel: Kernel) -> None:
        """Refuse further host sends to `kernel` (every instance): they raise `rc.Closed`.
        It keeps handling what is queued, scheduled, and what kernels send it: the first
        step of a graceful shutdown (docs/runtime.md, "Shutdown and exit")."""
        k = self._kernel(kernel)
        with self._lock:
            self._closed_inputs.update(k.queue_ids)
        log.info("closed the input of %s to host sends", k.name)

    # ---- launches --------------------------------------------------------------------------

    def _launch(self, mode: int) -> None:
        """Launch, the device's clock set first (ringc/runtime/clock.py)."""
        clock = getattr(self._device, "clock", "heartbeat")
        self._clock_word[0] = self._clock.now()
        if clock == "tsc":
            for word, value in zip(self._calibration, self._clock.calibration()):
                word[0] = value
        elif clock == "globaltimer":
            self._calibration[0][0] = self._clock.now()
            self._calibration[1][0] = 0
        self._parking[0] = 0             # no work-group of this launch waits to park yet
        full_fence()
        self._device_due = None
        self._device.launch(mode)
        self._launches += 1
        self._wake.set()                 # the pump thread pumps often again
        now = time.monotonic()
        if now - self._storm_since >= _STORM_WINDOW:          # relaunches in each window:
            if self._launches - self._storm_launches >= _STORM:   # a storm is logged
                log.info("%s was launched %d times in %.0f s: it parks and wakes often "
                         "(park_after=None keeps it running)", self._program_name(),
                         self._launches - self._storm_launches, now - self._storm_since)
            self._storm_since, self._storm_launches = now, self._launches

    def _pending(self, queues: range | None = None, active_only: bool = False,
                 scheduled: bool = True) -> int:
        """Messages queued for `queues` (and, with `scheduled`, those scheduled for them by
        rc.send_after and send(delay=) that are not yet due)."""
        total = 0
        for q in queues if queues is not None else range(self._layout.num_queues):
            if active_only and not self._stats["active"][q]:
                continue
            if scheduled:
                total += ((int(self._stats["scheduled"][q]) + int(self._restored[q]))
                          % (1 << 32) + int(self._host_scheduled[q]))
            total += self._ingress[q].used() + self._device_ring_used(q)
        return total

    def _device_ring_used(self, queue: int) -> int:
        """Messages in the queue's device ring (in device memory) now. Caller holds the
        lock."""
        ring = self._layout.queue(queue)
        head, tail = (int(self._device.read_local(at, 4).view(np.uint32)[0])
                      for at in (ring.head_offset, ring.tail_offset))
        return (tail - head) % (1 << 32)

    def _relaunch_if_needed(self, sent: bool = False) -> None:
        """A program that is not running (parked, or event-driven between launches): launch
        whenever messages wait, a hook waits to run or a timer or tick is due, unless the
        last launch took nothing and nothing changed since (its messages wait for the host,
        or for an inactive queue). `sent`: the caller has just put a message in, which is
        news enough. Caller holds the lock."""
        if self._closed or self._stop_word[0] or self._device.running():
            return
        stats = self._stats
        progress = (sum(self._host_puts), int(stats["processed"].sum()),
                    int(stats["dead_lettered"].sum()), int(stats["received"].sum()),
                    int(stats["deferred"].sum()), self._inbox.collected)
        if self._device_due is None:
            self._device_due = self._next_device_due()
        if sent or (progress != self._launch_progress
                    and self._pending(active_only=True, scheduled=False)) \
                or self._hook_work() or self._device_due <= self._clock.now() + (
                    _EARLY_NS if self._persistent else 0):     # a drain launch would not wait
            try:
                self._launch(self._persistent_mode if self._persistent else DRAIN_LAUNCH)
            except BackendUnavailable as exc:   # the device's workers are busy: the pump
                if not self._refused:           # retries; said once until a launch goes
                    log.warning("a relaunch of %s was refused, retrying: %s",
                                self._program_name(), exc)
                self._refused = True
                return
            self._refused = False
            self._launch_progress = progress

    # ---- control ---------------------------------------------------------------------------

    def _device_running(self) -> bool:
        try:
            return self._device.running()
        except RingcError:
            return False

    # ---- shutdown --------------------------------------------------------------------------

    def shutdown(self, drain: bool = True, timeout: float | None = 5.0) -> bool:
        """Stop the program. With `drain`, first wait until active kernels have handled
        everything sent to them. `timeout` bounds the drain and the stop together (None:
        as long as it takes). Returns True when it drained (or was not asked to) and the
        device stopped; safe to call again.

        A launch that does not stop in time (a long or endless handler) cannot be
        cancelled: its stop flag stays set, the runtime stays `terminating`, a later
        `shutdown` waits again, and its memory is never freed while it may run; once the
        launch does end, the runtime finishes closing by itself."""
        timeout = seconds(timeout)
        try:
            return self._shutdown(drain, timeout)
        finally:                                # whoever finished the close, and however
            exporter, self._exporter = self._exporter, None
            if exporter is not None:
                exporter.close()

    def _shutdown(self, drain: bool, timeout: float | None) -> bool:
        with self._lock:
            if self._closed:
                return True
            self._closing = True
        deadline = None if timeout is None else time.monotonic() + timeout
        clean = True
        try:
            if drain:
                clean = self._wait(self._drained, timeout)
                if clean and len(self._hooked["on_stop"]):      # then the on_stop hooks,
                    with self._lock:                            # and what they sent; a
                        if not self._closed:                    # fault of an earlier hook
                            self._pump()                        # is reported before an
                        self._stopping_word[0] = 1              # on_stop fault can take
                        full_fence()                            # its word
                    left = None if deadline is None else max(0.0, deadline - time.monotonic())
                    clean = self._wait(lambda: self._stopped_hooks_ran() and self._drained(),
                                       left)
        finally:                                    # Ctrl-C in the drain still stops it
            with self._lock:
                self._stop_word[0] = 1
                full_fence()
        left = None if deadline is None else max(0.0, deadline - time.monotonic()) + 1.0
        try:
            stopped = self._wait(lambda: not self._device_running(), left)
        except RingcError:                          # the device failed: it runs no more
            stopped = True
        with self._lock:
            if self._closed:                        # another thread finished the close
                stopped = True
            elif stopped:
                self._finish_close()
            else:
                _keep_forever(self._device)
        if stopped:
            log.info("shut down %s after %.1f s: %s", self._program_name(), self._uptime(),
                     "drained" if drain and clean else "not drained" if drain
                     else "without draining")
        else:
            log.warning("%s did not stop within the timeout: a handler is still running, "
                        "and its memory is kept while it may", self._program_name())
        return clean and stopped

    def _program_name(self) -> str:
        return f"the {self.backend} program of {', '.join(k.name for k in self._layout.kernels)}"

    def serve_metrics(self, port: int, addr: str = "127.0.0.1") -> MetricsServer:
        """Serve Prometheus metrics of this program on http://addr:port/metrics until
        shutdown (docs/metrics.md; needs `pip install 'ringc[prometheus]'`). Returns the
        server: its `port` (port=0 picks a free one) and `close()`."""
        from ..prometheus import serve

        if self._closing:
            raise Closed("this runtime is shut down: its final numbers are in status() and "
                         "metrics(), or in a RingcCollector of your own registry")
        server = serve(self, port, addr)
        if self._exporter is not None:
            self._exporter.close()
        self._exporter = server
        return server

    def _finish_close(self) -> None:
        """Once the device has stopped (under the lock): move what is left to host memory
        and free the device. The pump thread does it when a shutdown timed out before the
        launch ended, so a kernel that finishes its message late still frees its device."""
        self._inbox.host_buffer = sys.maxsize
        self._pump()
        self._closed = True
        self._ended_at = time.monotonic()
        self._device.release()
        _live.discard(self)

    def _drained(self) -> bool:
        """Every message sent to an active queue was handled or dead-lettered (so none is
        queued or inside a handler). Two reads of the counters must agree: counters only
        grow, so equal reads are the values at one instant between them (reading pending
        counts one queue at a time can miss a message moving from queue to queue)."""
        fields = ("active", "processed", "dead_lettered", "received")
        first = {f: self._stats[f].copy() for f in fields}
        if any((self._stats[f] != first[f]).any() for f in fields):
            return False
        sent = (np.array(self._host_puts, dtype=np.int64) + self._host_scheduled
                + self._restored + first["received"].astype(np.int64)) % (1 << 32)
        done = (first["processed"].astype(np.int64) + first["dead_lettered"]) % (1 << 32)
        active = first["active"] != 0
        return bool((sent == done)[active].all())

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.shutdown(drain=exc_type is None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        kernels = ", ".join(k.name for k in self._layout.kernels)
        return f"<ringc.Runtime {self.backend} [{kernels}] {state} on {self._device.description}>"

