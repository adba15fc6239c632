"""`rc_main` in Python: the device loop of templates/common.j2 over the same arena.

`SimMachine(program, layout, reasons).run(arena, mode)` does what one launch of the emitted
program does with work-groups of one work-item: the same control words (`stop`, `running`,
`next_correlation`, `dead_letter_overflow`, `stopping`, `park_after`), the same per-queue
stats (`active`, `processed`, `dead_lettered`, `sent`, `received`, `busy`, `deferred`,
`waits_host`, `dead_letters_lost`, `phase`, `hook_fault`, `scheduled`, `tick_fault`), the
same ring protocol on sequence words and head/tail counters, the same slot and dead-letter
headers, routing (`no_handler`, `no_such_instance`, `bad_address`, `queue_full`), room checks
with credit and patience, `max_batch`, alternation of ingress and device rings, lifecycle
hooks, timer tables (`rc.send_after`: `timers_full`, `delay_out_of_range`; the same heap in
the same state bytes) and periodic methods, and the `mode` bits (PARK_WHEN_IDLE included). A
host thread reading and writing the same arena with numpy cannot tell it from a device.

Deliberate simplifications, each with the device's outcome:
- Parallel kernels: one pass claims up to `width` messages (the local size of a work-group,
  default 1, at most MAX_LOCAL), handles them in claim order, then releases them, as PoCL
  runs the work-items of one group one after another.
- Cooperative kernels: served as ordered queues are; each message runs on `group_size`
  lanes that take turns between synchronisation points (lanes.py), as PoCL runs a
  work-group's items; lanes beyond a kernel's `group_size` (which the device's work-group
  may have) do nothing visible there, so they are not simulated.
- `groups` work-groups are interleaved pass by pass in one thread, so a run is
  deterministic (a device runs them concurrently). So the room a handling reserves in a
  device ring (its `reserved` word) is never seen by another group before the handling
  gives it back: the simulator checks room without reserving, with the same outcome.
- A send that finds a device ring full dead-letters at once: while the one simulated
  work-group is inside a handler nobody else can consume that ring, so the device's
  retries (RC_BLOCK_SPINS) would end the same way. A send that finds the host output queue
  full waits up to `host_wait` seconds of wall time for a host thread to drain it (not
  with `backpressure="reject"`, not once `stop` is set), then dead-letters `queue_full`; a
  dead letter that finds the dead-letter queue full waits the same way, then is lost
  (counted in `dead_letters_lost`).
- `rc.now()`, slot timestamps, due times and PARK_WHEN_IDLE's idle time come from the
  `clock` callable given to `run` (ns since the launch: the runtime's `rt.now()`), else
  `time.monotonic_ns()` less the time of this machine's first `run`.
One `run` at a time per machine. Without RETURN_WHEN_IDLE a pass that takes nothing sleeps
(20 µs, doubling up to 1 ms; up to 200 µs with PARK_WHEN_IDLE, so wake-ups stay quick) so
that a host thread of the same process gets the GIL.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np

from ringc.arena import KernelLayout, Layout, QueueLayout
from ringc.ir.nodes import Program
from ringc.protocol import (
    CONTROL,
    DEAD_QUEUE,
    DEAD_SLOT,
    DEVICE_CONVERSATION,
    DRAIN_PASSES,
    HOST_PATIENCE_NS,
    HOST_QUEUE,
    INGRESS,
    MAX_LOCAL,
    MAX_ROOM_NEED,
    NEVER,
    PARK_WHEN_IDLE,
    PHASE_NEW,
    PHASE_RUNNING,
    PHASE_STOPPED,
    REASONS,
    RETURN_WHEN_IDLE,
    ROOM_DEVICE,
    ROOM_HOST,
    ROOM_OK,
    ROOM_PATIENCE,
    SERVE_EVENT_DRIVEN,
    SERVE_PERSISTENT,
    SLOT,
    STATS,
    SWEEP_PASSES,
    TIME_EVERY,
    check,
)

from .interpreter import Interpreter
from .lanes import run_lanes
from .values import Address, Fault, Record

__all__ = ["SimMachine"]

_M32, _M64 = 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF
# the protocol's words as u32 indices: control words (the control block is at offset 0),
# stats fields (inside a queue's line), slot header fields (inside a slot)
_STOP, _RUNNING, _NEXT_CORRELATION, _DEAD_OVERFLOW, _STOPPING, _PARKING = (
    CONTROL.word(n) for n in (
        "stop", "running", "next_correlation", "dead_letter_overflow", "stopping", "parking"))
_PARK_AFTER = CONTROL.offset("park_after") >> 3          # a u64 index
(_ACTIVE, _PROCESSED, _DEAD, _SENT, _RECEIVED, _BUSY, _DEFERRED, _WAITS_HOST, _LOST,
 _PHASE, _HOOK_FAULT, _SCHEDULED, _TICK_FAULT, _HANDLER_NS, _HANDLER_TIMED, _BELL) = (
    STATS.word(n) for n in (
        "active", "processed", "dead_lettered", "sent", "received", "busy", "deferred",
        "waits_host", "dead_letters_lost", "phase", "hook_fault", "scheduled", "tick_fault",
        "handler_ns", "handler_timed", "bell"))
_STATS_WORDS = STATS.size >> 2
_SEQ, _TYPE_ID, _SOURCE, _FLAGS = (SLOT.word(n) for n in ("seq", "type_id", "source", "flags"))
_CORRELATION, _TIMESTAMP = SLOT.offset("correlation"), SLOT.offset("timestamp")
_DEAD_WORDS = DEAD_SLOT.word("queue")       # queue, reason, detail, reserved follow in order
_CODE = {reason: code for code, reason in REASONS.items()}
_QUEUE_FULL, _NO_SUCH_INSTANCE, _NO_HANDLER, _BAD_ADDRESS, _TIMERS_FULL, _DELAY_OUT = (
    _CODE[r] for r in ("queue_full", "no_such_instance", "no_handler", "bad_address",
                       "timers_full", "delay_out_of_range"))
_OK, _WAIT_DEVICE, _WAIT_HOST = ROOM_OK, ROOM_DEVICE, ROOM_HOST
_NUMPY_FREE_CHECK = 16          # room checks of more slots compare seq words with numpy
_IDLE_SLEEP, _IDLE_SLEEP_MAX, _PARK_SLEEP_MAX = 20e-6, 1e-3, 200e-6


def _i64(v: int) -> int:
    """`v` wrapped to a C long."""
    return ((v + (1 << 63)) & _M64) - (1 << 63)


def _c_div(a: int, b: int) -> int:
    """C's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


class _Timers:
    """Views of one instance's timer table in its state (codegen/layout.py, `timer_fields`);
    `up`, `down`, `insert` and `pop` are the C code's `t.up`, `t.down`, the insert of
    `a.function` and the pop of `t.fire`, step for step, so the state bytes agree."""

    __slots__ = ("count", "seq", "heap", "due", "order", "queue", "type", "corr", "payload",
                 "tick_due")

    def __init__(self, state: Record, n: int, ticks: int):
        self.count, self.seq = state["rc_timer_count"], state["rc_timer_seq"]   # (1,) views
        self.tick_due = state["rc_tick_due"][0] if ticks else None
        if n:
            (self.heap, self.due, self.order, self.queue, self.type, self.corr,
             self.payload) = (state[name][0] for name in (
                 "rc_timer_heap", "rc_timer_due", "rc_timer_order", "rc_timer_queue",
                 "rc_timer_type", "rc_timer_corr", "rc_timer_payload"))

    def before(self, a: int, b: int) -> bool:
        """Does slot a fire before slot b? (due time, then schedule order, wrap-safe)"""
        da, db = int(self.due[a]), int(self.due[b])
        if da != db:
            return da < db
        return ((int(self.order[a]) - int(self.order[b])) & _M32) >= 1 << 31

    def up(self, i: int) -> None:
        heap = self.heap
        while i > 0:
            p = (i - 1) // 2
            a, b = int(heap[i]), int(heap[p])
            if not self.before(a, b):
                break
            heap[i], heap[p] = b, a
            i = p

    def down(self) -> None:
        heap, i, n = self.heap, 0, int(self.count[0])
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n and self.before(int(heap[c + 1]), int(heap[c])):
                c += 1
            a, b = int(heap[c]), int(heap[i])
            if not self.before(a, b):
                break
            heap[i], heap[c] = a, b
            i = c

    def insert(self, due: int, queue: int, type_id: int, corr: int, payload: np.ndarray):
        count = int(self.count[0])
        slot = int(self.heap[count])
        self.due[slot] = due
        self.order[slot] = self.seq[0]
        self.seq[0] = (int(self.seq[0]) + 1) & _M32
        self.queue[slot], self.type[slot], self.corr[slot] = queue, type_id, corr
        self.payload[slot].view(np.uint8)[:payload.size] = payload
        self.count[0] = count + 1
        self.up(count)

    def pop(self, slot: int) -> None:
        """Remove the root (`slot`): the last entry to the root, its slot freed after them."""
        count = int(self.count[0]) - 1
        self.count[0] = count
        self.heap[0] = self.heap[count]
        self.heap[count] = slot
        self.down()


class _Ring:
    """One ring's word indices in the arena."""

    __slots__ = ("head", "tail", "slots", "cap", "mask", "stride", "payload")

    def __init__(self, q: QueueLayout):
        self.head, self.tail = q.head_offset >> 2, q.tail_offset >> 2
        self.slots, self.cap, self.mask = q.slots_offset, q.capacity, q.capacity - 1
        self.stride, self.payload = q.slot_size, q.payload_offset

    def slot(self, pos: int) -> int:
        """The byte offset of the slot of position `pos`."""
        return self.slots + (pos & self.mask) * self.stride


class _Context:
    """The `Effects` of one handling: the handling queue, its message's source and
    correlation, and how long its sends wait for room."""

    __slots__ = ("machine", "queue", "source", "correlation", "spins")

    def __init__(self, machine: SimMachine, queue: int, source: int, correlation: int,
                 spins: bool):
        self.machine, self.queue, self.source = machine, queue, source
        self.correlation, self.spins = correlation, spins

    def send(self, kernel: str, instance: int, message: str, record: Record) -> None:
        self.machine.send(self, kernel, instance, message, record)

    def emit(self, message: str, record: Record) -> None:
        self.machine.put(self, HOST_QUEUE, 0, message, record)

    def reply(self, address: Address, message: str, record: Record) -> None:
        self.machine.put(self, address[0], address[2], message, record)

    def send_after(self, state: Record, delay: int, kernel: str, instance: int,
                   message: str, record: Record) -> None:
        self.machine.send_after(self, state, delay, kernel, instance, message, record)

    def sender(self) -> Address:
        return (self.source, 0, self.correlation)

    def now(self) -> int:
        return self.machine.now()


class SimMachine:
    """Runs `program` (laid out as `layout`; `reasons` its `rc.fail` strings) over numpy
    arenas. `width`: messages a pass claims from parallel queues (a work-group's local
    size); `host_wait`: seconds a send or a dead letter waits for room in a full host
    output or dead-letter queue (the device waits as long on the host's clock)."""

    def __init__(self, program: Program, layout: Layout, reasons: tuple[str, ...], *,
                 width: int = 1, host_wait: float = HOST_PATIENCE_NS / 1e9):
        check()                 # what the static asserts of a device build check
        self.layout = layout
        self.interpreter = Interpreter(program, reasons)
        self.width = max(1, min(width, MAX_LOCAL))
        self.host_wait = host_wait
        self.nq = layout.num_queues
        self.rings: dict[int, _Ring] = {HOST_QUEUE: _Ring(layout.host_queue),
                                        DEAD_QUEUE: _Ring(layout.dead_letter_queue)}
        for q in range(self.nq):
            self.rings[q] = _Ring(layout.queues[q])
            self.rings[q | INGRESS] = _Ring(layout.ingress[q])
        self.messages = {m.name: m.type_id for m in layout.messages}
        self.handlers: list[dict[int, tuple[np.dtype, Callable]]] = []
        self.accepts: list[frozenset[int]] = []
        self.needs: list[dict[int, list[tuple[int, tuple[int, ...] | None]]]] = []
        self.dead_needs: list[dict[int, int]] = []     # dead letters a handling can make
        for k in layout.kernels:
            self.handlers.append({h.type_id: (layout.message(h.message).dtype,
                                              self.interpreter.handler(k.name, h.type_id))
                                  for h in k.handlers})
            self.accepts += [frozenset(h.type_id for h in k.handlers)] * k.instances
            self.needs.append({h.type_id: self._room_terms(h.needs) for h in k.handlers})
            self.dead_needs.append({h.type_id: min(h.dead_letters, MAX_ROOM_NEED)
                                    for h in k.handlers})
        self.kernel_of = [k for k in layout.kernels for _ in range(k.instances)]
        self.words = {m.type_id: m.size // 8 for m in layout.messages}   # payload u64 words
        # each kernel's periodic methods: (compiled helper, period ns), KernelDef order
        self.ticks = [[(self.interpreter.function(k.name, p.method), p.period)
                       for p in program.kernel(k.name).periodic] for k in layout.kernels]
        self.w32 = self.w64 = self.arena = None
        self.states: list[Record] = []
        self.timers: list[_Timers | None] = []
        self._epoch: int | None = None
        self.clock: Callable[[], int] = self._since_first_run

    def _room_terms(self, needs) -> list[tuple[int, tuple[int, ...] | None]]:
        """(count, queues) per room need; queues None: the message's sender."""
        terms = []
        for n in needs:
            count = min(n.count, MAX_ROOM_NEED)
            if n.target == "host":
                terms.append((count, (HOST_QUEUE,)))
            elif n.target == "reply":
                terms.append((count, None))
            else:
                to = self.layout.kernel(n.kernel)
                if n.instance is None:
                    terms.append((count, tuple(to.queue_ids)))
                elif 0 <= n.instance < to.instances:
                    terms.append((count, (to.queue_base + n.instance,)))
        return terms

    # -- the loop ----------------------------------------------------------------------------

    def run(self, arena: np.ndarray, mode: int, clock: Callable[[], int] | None = None, *,
            groups: int = 1) -> None:
        """One launch of `rc_main(arena, mode)` with `groups` work-groups over `arena`, a
        uint8 array of the whole layout (host-facing and device-local parts)."""
        layout = self.layout
        if arena.dtype != np.uint8 or arena.shape != (layout.arena_size,):
            raise ValueError(f"the arena must be {layout.arena_size} bytes of uint8")
        self.arena, self.w32, self.w64 = arena, arena.view(np.uint32), arena.view(np.uint64)
        if self._epoch is None:
            self._epoch = time.monotonic_ns()
        self.clock = clock or self._since_first_run
        self.states = [arena[start:start + k.state_dtype.itemsize].view(k.state_dtype)
                       for k in layout.kernels for i in range(k.instances)
                       for start in [k.state_offset + i * k.state_stride]]
        self.timers = [_Timers(self.states[q], k.timers, len(k.periods)) if k.timed else None
                       for q, k in enumerate(self.kernel_of)]
        w32 = self.w32
        idle_max = _PARK_SLEEP_MAX if mode & PARK_WHEN_IDLE else _IDLE_SLEEP_MAX
        loops = [self._passes(g, groups, mode) for g in range(groups)]
        w32[_RUNNING] = (int(w32[_RUNNING]) + groups) & _M32
        delay = _IDLE_SLEEP
        try:
            with np.errstate(all="ignore"):
                while loops:
                    took = 0
                    for loop in list(loops):
                        try:
                            took += next(loop)
                        except StopIteration:
                            loops.remove(loop)
                            w32[_RUNNING] = (int(w32[_RUNNING]) - 1) & _M32
                    if took:
                        delay = _IDLE_SLEEP
                    elif loops and not mode & RETURN_WHEN_IDLE:
                        time.sleep(delay)
                        delay = min(delay * 2, idle_max)
        finally:
            w32[_RUNNING] = (int(w32[_RUNNING]) - len(loops)) & _M32

    def _passes(self, group: int, groups: int, mode: int):
        """Work-group `group`'s passes; yields how many messages each pass took."""
        w32, stats = self.w32, self.layout.stats_offset >> 2
        idle_since = -1         # when this group's passes started taking nothing
        parking = False         # whether this group counts itself in `parking`
        for pass_ in itertools.count():
            go = w32[_STOP] == 0
            sweep = pass_ % SWEEP_PASSES == 0     # every queue's rings looked at, bell or not
            took = 0
            claimed: list[tuple[KernelLayout, int, _Ring, int]] = []
            for k in self.layout.kernels if go else ():
                if not mode & (SERVE_PERSISTENT if k.mode == "persistent"
                               else SERVE_EVENT_DRIVEN):
                    continue
                if k.concurrency != "parallel":     # ordered, cooperative: one group's
                    for q in k.queue_ids:
                        line = stats + q * _STATS_WORDS
                        if q % groups != group:
                            continue
                        belled = not (k.hooks or k.timed)
                        if belled and (not sweep and w32[line + _BELL] == 0
                                       or not self._ready(q)):
                            continue            # nothing to take: counters untouched
                        if w32[line + _ACTIVE] == 0:
                            continue
                        self._add(line + _BUSY, 1)
                        if belled:
                            w32[line + _BELL] = 0
                        if k.hooks:
                            took += self._lifecycle(k, q)
                        if k.timed:
                            took += self._fire(k, q)
                        took += self._serve(k, q, pass_)
                        if belled and self._ready(q):
                            w32[line + _BELL] = 1       # more to take
                        self._add(line + _BUSY, _M32)
                    continue
                for i in range(k.instances):
                    q = k.queue_base + (pass_ + group + i) % k.instances
                    line = stats + q * _STATS_WORDS
                    if not sweep and w32[line + _BELL] == 0 or not self._ready(q):
                        continue                # nothing to claim
                    w32[line + _BELL] = 0
                    mine = 0
                    while len(claimed) < self.width and mine < k.max_batch:
                        self._add(line + _BUSY, 1)     # released with the slot
                        got = None if w32[line + _ACTIVE] == 0 else self._take(
                            k, q, len(claimed) + 1, pass_)
                        if got is None:
                            self._add(line + _BUSY, _M32)
                            break
                        claimed.append((k, q, *got))
                        mine += 1
                    if self._ready(q):
                        w32[line + _BELL] = 1           # more to claim
            n = len(claimed)
            park = False        # PARK_WHEN_IDLE: return once all groups idled park_after ns
            if took + n > 0:
                idle_since = -1
                if parking:
                    self._add(_PARKING, _M32)
                parking = False
            elif mode & PARK_WHEN_IDLE:
                t = self.now()
                if idle_since < 0:
                    idle_since = t
                elif not parking and (t - idle_since) & _M64 >= int(self.w64[_PARK_AFTER]):
                    self._add(_PARKING, 1)
                    parking = True
                park = parking and int(w32[_PARKING]) >= groups
            more = go and not park and (not mode & RETURN_WHEN_IDLE
                                        or (took + n > 0 and pass_ + 1 < DRAIN_PASSES))
            for k, q, ring, pos in claimed:
                self._dispatch(k, q, ring, pos, ordered=False)
            for _k, q, ring, pos in claimed:
                self._release(ring, pos, ordered=False)
                self._add(stats + q * _STATS_WORDS + _BUSY, _M32)
            yield took + n
            if not more:
                return

    def _ready(self, q: int) -> bool:
        """Does queue q hold a message in its device or ingress ring (rc_ready_*)?"""
        w32 = self.w32
        for r in (q, q | INGRESS):
            ring = self.rings[r]
            pos = int(w32[ring.head])
            if w32[(ring.slot(pos) >> 2) + _SEQ] == (pos + 1) & _M32:
                return True
        return False

    def _lifecycle(self, k: KernelLayout, q: int) -> int:
        """The lifecycle hooks of ordered queue q (rc_lifecycle_*): on_start before its
        first message, on_stop once the host sets `stopping`; 1 when one ran."""
        w32, line = self.w32, self._line(q)
        phase = int(w32[line + _PHASE])
        if phase == PHASE_RUNNING and w32[_STOPPING] != 0:
            after, hook = PHASE_STOPPED, "on_stop"
        elif phase == PHASE_NEW:
            after, hook = PHASE_RUNNING, "on_start"
        else:
            return 0
        if hook in k.hooks:
            ctx = _Context(self, q, q, 0, k.backpressure == "block")
            try:
                self.interpreter.function(k.name, hook)(self.states[q], ctx,
                                                        q - k.queue_base, ())
            except Fault as fault:
                w32[line + _HOOK_FAULT] = fault.reason
        w32[line + _PHASE] = after
        return 1

    def _fire(self, k: KernelLayout, q: int) -> int:
        """Instance q's due timers, sent on while their queues have room (at most max_batch
        a pass), then its due periodic methods (rc_timers_*); how many of both ran."""
        timers, t, did = self.timers[q], self.now(), 0
        if k.timers:
            while did < k.max_batch and timers.count[0] > 0:
                slot = int(timers.heap[0])
                if int(timers.due[slot]) > t:
                    break
                to = int(timers.queue[slot])
                pos = self._claim(to, False)
                if pos is None:         # its queue is full: due still, sent on a later pass
                    break
                type_id = int(timers.type[slot])
                ring = self.rings[to]
                start = ring.slot(pos) + ring.payload
                size = 8 * self.words.get(type_id, 0)
                self.arena[start:start + size] = timers.payload[slot].view(np.uint8)[:size]
                self._publish(ring, pos, type_id, q, int(timers.corr[slot]))
                self.w32[self._line(to) + _BELL] = 1
                self._add(self._line(to) + _SCHEDULED, _M32)
                timers.pop(slot)
                did += 1
        # an instance whose on_stop ran is done: no more ticks
        ticking = self.w32[self._line(q) + _PHASE] != PHASE_STOPPED
        for i, (tick, period) in enumerate(self.ticks[k.index]):
            if ticking and int(timers.tick_due[i]) <= t:
                ctx = _Context(self, q, q, 0, k.backpressure == "block")
                try:
                    tick(self.states[q], ctx, q - k.queue_base, ())
                except Fault as fault:
                    self.w32[self._line(q) + _TICK_FAULT] = fault.reason
                timers.tick_due[i] = _i64((_c_div(t, period) + 1) * period)
                did += 1
        return did

    def _serve(self, k: KernelLayout, q: int, turn: int) -> int:
        """Take and handle up to max_batch messages of ordered queue q (rc_serve_*)."""
        w32 = self.w32
        line = self._line(q)
        took = 0
        while took < k.max_batch:
            if w32[line + _ACTIVE] == 0 or w32[_STOP] != 0:
                break
            patient = w32[line + _DEFERRED] < ROOM_PATIENCE
            taken, pos, wait = None, 0, _OK
            for i in (0, 1):
                r = q if (turn + took + i) & 1 else q | INGRESS
                ring = self.rings[r]
                pos = int(w32[ring.head])
                word = ring.slot(pos) >> 2
                if w32[word + _SEQ] != (pos + 1) & _M32:
                    continue
                why = self._room(k, q, int(w32[word + _TYPE_ID]), int(w32[word + _SOURCE]),
                                 1 if r == q else 0, 1, patient)
                if why == _OK:
                    taken = ring
                    break
                if wait != _WAIT_HOST:
                    wait = why
            if taken is not None or wait != _OK:
                self._note_wait(line, _OK if taken is not None else wait)
            if taken is None:
                break
            self._dispatch(k, q, taken, pos, ordered=True)
            took += 1
        return took

    def _take(self, k: KernelLayout, q: int, mult: int,
              turn: int) -> tuple[_Ring, int] | None:
        """Claim one message of parallel queue q (rc_take_*): (ring, position) or None."""
        w32 = self.w32
        line = self._line(q)
        patient = w32[line + _DEFERRED] < ROOM_PATIENCE
        wait = _OK
        for i in (0, 1):
            ring = self.rings[q if (turn + mult + i) & 1 else q | INGRESS]
            pos = int(w32[ring.head])
            word = ring.slot(pos) >> 2
            if w32[word + _SEQ] != (pos + 1) & _M32:
                continue
            why = self._room(k, q, int(w32[word + _TYPE_ID]), int(w32[word + _SOURCE]), 0, mult,
                             patient)
            if why != _OK:
                if wait != _WAIT_HOST:
                    wait = why
                continue
            w32[ring.head] = (pos + 1) & _M32
            self._note_wait(line, _OK)
            return ring, pos
        if wait != _OK:
            self._note_wait(line, wait)
        return None

    # -- room ------------------------------------------------------------------------------

    def _room(self, k: KernelLayout, q: int, type_id: int, source: int, credit: int,
              mult: int, patient: bool) -> int:
        for count, queues in self.needs[k.index].get(type_id, ()):
            for to in (source,) if queues is None else queues:
                why = self._has_room(to, count * mult, q, credit, patient)
                if why != _OK:
                    return why
        dead = self.dead_needs[k.index].get(type_id, 1)   # no handler: one dead letter
        return self._has_room(DEAD_QUEUE, dead * mult, q, credit, patient)

    def _has_room(self, to: int, need: int, self_q: int, credit: int, patient: bool) -> int:
        for_host = to in (HOST_QUEUE, DEAD_QUEUE)          # the host drains it
        if not for_host:
            if to >= self.nq:
                return _OK
            if not patient and (to == self_q
                                or self.w32[self._line(to) + _DEFERRED] >= ROOM_PATIENCE):
                return _OK
        ring = self.rings[to]
        n = min(need, ring.cap)
        if to == self_q:
            n = n - credit if n > credit else 0
        if self._free(ring, n):
            return _OK
        # a device ring whose own head waits for the host waits for the host too
        if for_host or self.w32[self._line(to) + _WAITS_HOST] != 0:
            return _WAIT_HOST
        return _WAIT_DEVICE

    def _free(self, ring: _Ring, n: int) -> bool:
        """Are the n slots from tail free, by their sequence words?"""
        w32 = self.w32
        tail = int(w32[ring.tail])
        if n > _NUMPY_FREE_CHECK:
            pos = (tail + np.arange(n, dtype=np.uint64)) & _M32
            words = ((ring.slots + (pos & ring.mask) * ring.stride) >> 2) + _SEQ
            return bool(np.array_equal(w32[words.astype(np.intp)], pos.astype(np.uint32)))
        for i in range(n):
            if w32[(ring.slot(tail + i) >> 2) + _SEQ] != (tail + i) & _M32:
                return False
        return True

    def _note_wait(self, line: int, why: int) -> None:
        w32, host = self.w32, 1 if why == _WAIT_HOST else 0
        if why == _WAIT_DEVICE:
            self._add(line + _DEFERRED, 1)
        elif w32[line + _DEFERRED] != 0:
            w32[line + _DEFERRED] = 0
        if w32[line + _WAITS_HOST] != host:
            w32[line + _WAITS_HOST] = host

    # -- handling ----------------------------------------------------------------------------

    def _dispatch(self, k: KernelLayout, q: int, ring: _Ring, pos: int, ordered: bool) -> None:
        """Handle the message at `pos` of `ring` (rc_dispatch_*)."""
        w32 = self.w32
        start = ring.slot(pos)
        word = start >> 2
        type_id, source = int(w32[word + _TYPE_ID]), int(w32[word + _SOURCE])
        ctx = _Context(self, q, source, int(self.w64[(start + _CORRELATION) >> 3]),
                       k.backpressure == "block")
        entry = self.handlers[k.index].get(type_id)
        if entry is None:
            raw = self.arena[start + ring.payload:start + ring.payload + k.payload_size]
            self._dead(ctx, q, _NO_HANDLER, 0, source, ctx.correlation, type_id, raw)
            if ordered:
                self._release(ring, pos, ordered=True)
            return
        dtype, handler = entry
        begin = start + ring.payload
        message = self.arena[begin:begin + dtype.itemsize].copy().view(dtype)
        if ordered:
            self._release(ring, pos, ordered=True)
        if k.concurrency == "cooperative":
            t0 = self.now()
            self._cooperate(k, q, ctx, handler, message, type_id)
            self._timed(q, t0)
            return
        t0 = self.now() if pos % TIME_EVERY == 0 else None
        try:
            reply = handler(self.states[q], message, q - k.queue_base, ctx)
        except Fault as fault:
            self._dead(ctx, q, fault.reason, 0, source, ctx.correlation, type_id,
                       message.view(np.uint8))
            return
        finally:
            if t0 is not None:
                self._timed(q, t0)
        if reply is not None:
            self.put(ctx, source, ctx.correlation, *reply)
        self._add(self._line(q) + _PROCESSED, 1)

    def _cooperate(self, k: KernelLayout, q: int, ctx: _Context, handler, message: Record,
                   type_id: int) -> None:
        """A cooperative kernel's handling: its `group_size` lanes run the handler in turns
        between synchronisation points (lanes.py); lane 0's return is the reply, put when
        it returns; a fault on any lane dead-letters the message (the lowest lane's)."""
        state, instance = self.states[q], q - k.queue_base

        def body(lane: int, effects) -> object:
            return handler(state, message, instance, effects)

        def finished(lane: int, reply) -> None:
            if lane == 0 and reply is not None:
                self.put(ctx, ctx.source, ctx.correlation, *reply)

        faults = run_lanes(k.group_size, ctx, body, finished)
        if faults:
            self._dead(ctx, q, faults[min(faults)], 0, ctx.source, ctx.correlation, type_id,
                       message.view(np.uint8))
            return
        self._add(self._line(q) + _PROCESSED, 1)

    def _timed(self, q: int, t0: int) -> None:
        """rc_timed: a handling's ns since `t0` (at most 2^32-1), and one more timed."""
        line = self._line(q)
        self._add(line + _HANDLER_NS, min(max(self.now() - t0, 0), _M32))
        self._add(line + _HANDLER_TIMED, 1)

    def _release(self, ring: _Ring, pos: int, ordered: bool) -> None:
        if ordered:
            self.w32[ring.head] = (pos + 1) & _M32
        self.w32[(ring.slot(pos) >> 2) + _SEQ] = (pos + ring.cap) & _M32

    def send(self, ctx: _Context, kernel: str, instance: int, message: str,
             record: Record) -> None:
        """rc.send: a new conversation with instance `instance` of `kernel`."""
        to = self.layout.kernel(kernel)
        corr = DEVICE_CONVERSATION | int(self.w32[_NEXT_CORRELATION])
        self._add(_NEXT_CORRELATION, 1)
        instance &= _M64
        if instance >= to.instances:
            self._count(ctx.queue, _SENT)
            self._count(to.queue_base, _RECEIVED)
            self._dead(ctx, to.queue_base, _NO_SUCH_INSTANCE, instance & _M32, ctx.queue,
                       corr, self.messages[message], record.view(np.uint8))
            return
        self.put(ctx, to.queue_base + instance, corr, message, record)

    def send_after(self, ctx: _Context, state: Record, delay: int, kernel: str, instance: int,
                   message: str, record: Record) -> None:
        """rc.send_after (rc_after_*): into a free slot of the caller's timer table, counted
        as sent and received now, and as scheduled at its queue until it is sent on."""
        timers = self.timers[ctx.queue]
        t = self.now()
        if delay < 0 or delay > _i64(NEVER - t):
            raise Fault(_DELAY_OUT)
        if int(timers.count[0]) >= self.kernel_of[ctx.queue].timers:
            raise Fault(_TIMERS_FULL)
        to = self.layout.kernel(kernel)
        corr = DEVICE_CONVERSATION | int(self.w32[_NEXT_CORRELATION])
        self._add(_NEXT_CORRELATION, 1)
        self._count(ctx.queue, _SENT)
        type_id, payload = self.messages[message], record.view(np.uint8)
        instance &= _M64
        if instance >= to.instances:
            self._count(to.queue_base, _RECEIVED)
            self._dead(ctx, to.queue_base, _NO_SUCH_INSTANCE, instance & _M32, ctx.queue,
                       corr, type_id, payload)
            return
        q = to.queue_base + instance
        self._count(q, _RECEIVED)
        self._count(q, _SCHEDULED)
        timers.insert(_i64(t + delay), q, type_id, corr, payload)

    def put(self, ctx: _Context, to: int, corr: int, message: str, record: Record) -> None:
        """Into input queue `to`'s device ring or the host output queue (rc_put_*)."""
        type_id = self.messages[message]
        payload = record.view(np.uint8)
        self._count(ctx.queue, _SENT)
        reason = 0
        if to != HOST_QUEUE:
            if to >= self.nq:
                reason = _BAD_ADDRESS
            else:
                self._count(to, _RECEIVED)
                reason = 0 if type_id in self.accepts[to] else _NO_HANDLER
        pos = None if reason else self._claim(to, ctx.spins)
        if pos is None:
            self._dead(ctx, to, reason or _QUEUE_FULL,
                       ctx.queue if reason == _BAD_ADDRESS else 0, ctx.queue, corr, type_id,
                       payload)
            return
        ring = self.rings[to]
        start = ring.slot(pos) + ring.payload
        self.arena[start:start + payload.size] = payload
        self._publish(ring, pos, type_id, ctx.queue, corr)
        if to != HOST_QUEUE:
            self.w32[self._line(to) + _BELL] = 1

    def _dead(self, ctx: _Context, at: int, reason: int, detail: int, source: int, corr: int,
              type_id: int, payload: np.ndarray) -> None:
        """A dead letter counted at queue `at` (rc_dlq_slot and rc_dead_*)."""
        self._count(at, _DEAD)
        pos = self._claim(DEAD_QUEUE, True)
        if pos is None:                          # the host did not drain it in time: lost
            self._add(_DEAD_OVERFLOW, 1)
            self._count(at if at < self.nq else ctx.queue, _LOST)
            return
        ring = self.rings[DEAD_QUEUE]
        start = ring.slot(pos)
        word = start >> 2
        self.w32[word + _DEAD_WORDS:word + _DEAD_WORDS + 4] = (at, reason, detail, 0)
        self.arena[start + ring.payload:start + ring.payload + payload.size] = payload
        self._publish(ring, pos, type_id, source, corr)

    def _claim(self, r: int, wait: bool) -> int | None:
        """Claim the slot at ring r's tail; None when it stays full (see the module doc)."""
        w32, ring = self.w32, self.rings[r]
        pos = int(w32[ring.tail])
        word = ring.slot(pos) >> 2
        if w32[word + _SEQ] != pos and not (wait and r in (HOST_QUEUE, DEAD_QUEUE)
                                            and self._wait_host(word, pos)):
            return None
        w32[ring.tail] = (pos + 1) & _M32
        return pos

    def _wait_host(self, word: int, pos: int) -> bool:
        """Wait for a host thread to free the host output or dead-letter slot at `word`."""
        deadline = time.monotonic() + self.host_wait
        delay = _IDLE_SLEEP
        while self.w32[_STOP] == 0 and time.monotonic() < deadline:
            time.sleep(delay)
            delay = min(delay * 2, _IDLE_SLEEP_MAX)
            if self.w32[word + _SEQ] == pos:
                return True
        return False

    def _publish(self, ring: _Ring, pos: int, type_id: int, source: int, corr: int) -> None:
        start = ring.slot(pos)
        word = start >> 2
        w32, w64 = self.w32, self.w64
        w32[word + _TYPE_ID], w32[word + _SOURCE], w32[word + _FLAGS] = type_id, source, 0
        w64[(start + _CORRELATION) >> 3] = corr
        w64[(start + _TIMESTAMP) >> 3] = self.now() & _M64
        w32[word + _SEQ] = (pos + 1) & _M32

    def now(self) -> int:
        """rc_now: ns since the launch, a C long."""
        return _i64(self.clock())

    def _since_first_run(self) -> int:
        """The default clock: `time.monotonic_ns()` less the time of the first `run`."""
        return time.monotonic_ns() - (self._epoch or 0)

    def _line(self, q: int) -> int:
        """The u32 index of queue q's stats line."""
        return (self.layout.stats_offset >> 2) + q * _STATS_WORDS

    def _count(self, q: int, field: int) -> None:
        if q < self.nq:
            self._add(self._line(q) + field, 1)

    def _add(self, word: int, value: int) -> None:
        self.w32[word] = (int(self.w32[word]) + value) & _M32
