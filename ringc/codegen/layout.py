"""The arena layout of a program: every byte offset the device code and the host share.

`compute_layout(program)` places, in this order and each on a 64-byte boundary: the control
block, one stats line per input queue, one state struct per kernel instance, the input queues
(kernel order, then instance order), the host output queue and the dead-letter queue. The
numbers follow docs/device-program.md; the emitted source repeats them as literals and
checks every struct offset with static asserts, so a build by a real compiler verifies them.

`Layout` also carries what the runtime needs to drive the program from numpy: message and
state dtypes, the slot header dtypes, per-handler room needs, and `new_arena()`, a zeroed
arena with every queue's sequence words, the active flags and state defaults in place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import CompileError
from ..ir.nodes import (
    Call,
    Const,
    Emit,
    For,
    FunctionDef,
    If,
    KernelDef,
    Loc,
    Program,
    Reply,
    Return,
    Send,
    While,
)
from ..ir.types import MESSAGE_ALIGN, struct_dtype
from ..ir.walk import stmt_exprs, walk

__all__ = ["HOST_QUEUE", "DEAD_QUEUE", "INGRESS", "SERVE_PERSISTENT", "SERVE_EVENT_DRIVEN",
           "RETURN_WHEN_IDLE", "PERSISTENT_LAUNCH", "DRAIN_LAUNCH", "LINE", "SLOT_HEADER",
           "DEAD_HEADER",
           "SLOT_HEADER_DTYPE", "DEAD_HEADER_DTYPE", "CONTROL_DTYPE", "STATS_DTYPE",
           "REASONS", "RoomNeed", "HandlerLayout", "MessageLayout", "QueueLayout",
           "KernelLayout", "Layout", "compute_layout", "room_needs"]

HOST_QUEUE = 0xFFFF_FFFF   # the host as a sender or reply address; also the host output queue
DEAD_QUEUE = 0xFFFF_FFFE   # the dead-letter queue's id inside device code
LINE = 64                  # every region, counter and queue starts on its own line
PAGE = 4096                # the device-local part starts on a page of its own
QUEUE_HEADER = 128         # head line + tail line, then the slots
SLOT_HEADER = 32           # seq, type_id, source, flags, correlation, timestamp
DEAD_HEADER = 48           # SLOT_HEADER + queue, reason, detail, reserved

# Built-in dead-letter reasons; `rc.fail` strings get 16 and up.
REASONS = {1: "queue_full", 2: "division_by_zero", 3: "index_out_of_range",
           4: "no_such_instance", 5: "no_handler", 6: "bad_address"}
FIRST_USER_REASON = 16

CONTROL_DTYPE = np.dtype({
    "names": ["stop", "running", "host_clock", "next_correlation", "dead_letter_overflow"],
    "formats": ["<u4", "<u4", "<u8", "<u4", "<u4"],
    "offsets": [0, 4, 8, 16, 20], "itemsize": LINE})
STATS_DTYPE = np.dtype({
    "names": ["active", "processed", "dead_lettered", "sent", "received", "busy", "deferred",
              "waits_host"],
    "formats": ["<u4"] * 8, "offsets": [0, 4, 8, 12, 16, 20, 24, 28], "itemsize": LINE})
INGRESS = 0x8000_0000      # device code's ring id of queue q's host ingress ring: q | INGRESS
# rc_main's `mode` bits
SERVE_PERSISTENT = 1       # serve mode="persistent" kernels
SERVE_EVENT_DRIVEN = 2     # serve mode="event_driven" kernels
RETURN_WHEN_IDLE = 4       # return when a pass takes nothing (or after RC_DRAIN_PASSES passes)
PERSISTENT_LAUNCH = SERVE_PERSISTENT
DRAIN_LAUNCH = SERVE_EVENT_DRIVEN | RETURN_WHEN_IDLE
SLOT_HEADER_DTYPE = np.dtype({
    "names": ["seq", "type_id", "source", "flags", "correlation", "timestamp"],
    "formats": ["<u4", "<u4", "<u4", "<u4", "<u8", "<u8"],
    "offsets": [0, 4, 8, 12, 16, 24], "itemsize": SLOT_HEADER})
DEAD_HEADER_DTYPE = np.dtype({
    "names": list(SLOT_HEADER_DTYPE.names) + ["queue", "reason", "detail"],
    "formats": [SLOT_HEADER_DTYPE.fields[n][0] for n in SLOT_HEADER_DTYPE.names]
    + ["<u4", "<u4", "<u4"],
    "offsets": [SLOT_HEADER_DTYPE.fields[n][1] for n in SLOT_HEADER_DTYPE.names]
    + [32, 36, 40], "itemsize": DEAD_HEADER})


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


@dataclass(frozen=True)
class RoomNeed:
    """Slots one handling may fill in one queue group. `target` is "host" (the host output
    queue), "reply" (the queue of the message's sender, known when it is taken) or "kernel"
    (`kernel`'s queue `instance`, or all its queues when `instance` is None)."""
    target: str
    count: int
    kernel: str | None = None
    instance: int | None = None


@dataclass(frozen=True)
class HandlerLayout:
    type_id: int
    message: str
    function: str
    needs: tuple[RoomNeed, ...]


@dataclass(frozen=True)
class MessageLayout:
    name: str
    type_id: int
    dtype: np.dtype
    size: int


@dataclass(frozen=True)
class QueueLayout:
    """One ring: `id` is its queue id (input queues 0.., HOST_QUEUE, DEAD_QUEUE)."""
    id: int
    name: str
    offset: int
    capacity: int
    slot_size: int
    payload_offset: int
    payload_size: int
    kernel: str | None = None
    instance: int = 0

    @property
    def size(self) -> int:
        return _round_up(QUEUE_HEADER + self.capacity * self.slot_size, LINE)

    @property
    def head_offset(self) -> int:
        return self.offset

    @property
    def tail_offset(self) -> int:
        return self.offset + LINE

    @property
    def slots_offset(self) -> int:
        return self.offset + QUEUE_HEADER

    def slot_dtype(self, message: np.dtype | None = None) -> np.dtype:
        """A slot as a numpy record: the header fields, then `payload` (a message's dtype,
        or raw bytes), padded to `slot_size`."""
        header = DEAD_HEADER_DTYPE if self.payload_offset == DEAD_HEADER else SLOT_HEADER_DTYPE
        payload = message if message is not None else np.dtype((np.uint8, self.payload_size))
        names = list(header.names) + ["payload"]
        return np.dtype({"names": names,
                         "formats": [header.fields[n][0] for n in header.names] + [payload],
                         "offsets": [header.fields[n][1] for n in header.names]
                         + [self.payload_offset],
                         "itemsize": self.slot_size})


@dataclass(frozen=True)
class KernelLayout:
    name: str
    index: int
    mode: str
    concurrency: str
    backpressure: str
    max_batch: int
    instances: int
    queue_base: int
    capacity: int
    slot_size: int
    payload_size: int
    queue_offset: int        # instance i's queue starts at queue_offset + i * queue_size
    queue_size: int
    ingress_offset: int      # instance i's host ingress ring: ingress_offset + i * queue_size
    state_offset: int        # instance i's state starts at state_offset + i * state_stride
    state_stride: int
    state_dtype: np.dtype
    state_init: tuple[tuple[str, object], ...]
    handlers: tuple[HandlerLayout, ...]

    @property
    def queue_ids(self) -> range:
        return range(self.queue_base, self.queue_base + self.instances)

    def handler_for(self, type_id: int) -> HandlerLayout | None:
        return next((h for h in self.handlers if h.type_id == type_id), None)


@dataclass(frozen=True)
class Layout:
    """Where everything lives (see docs/device-program.md). Offsets are in one numbering:
    `[0, local_offset)` is the host-facing arena (control block, stats, ingress rings, host
    output and dead-letter queues), `[local_offset, arena_size)` the device-local part
    (state and device rings). The kernel takes the two as separate buffers (`rc_main(arena,
    local, mode)`); a runtime may also allocate one buffer and pass `arena + local_offset`
    as the second."""
    arena_size: int
    stats_offset: int
    state_offset: int
    local_offset: int
    messages: tuple[MessageLayout, ...]
    kernels: tuple[KernelLayout, ...]
    queues: tuple[QueueLayout, ...]      # the input queues' device rings, by queue id
    ingress: tuple[QueueLayout, ...]     # the input queues' host ingress rings, by queue id
    host_queue: QueueLayout
    dead_letter_queue: QueueLayout
    control_offset: int = 0

    @property
    def num_queues(self) -> int:
        return len(self.queues)

    def kernel(self, name: str) -> KernelLayout:
        return next(k for k in self.kernels if k.name == name)

    def message(self, name: str) -> MessageLayout:
        return next(m for m in self.messages if m.name == name)

    def message_by_id(self, type_id: int) -> MessageLayout:
        return self.messages[type_id - 1]

    def queue(self, queue_id: int) -> QueueLayout:
        if queue_id == HOST_QUEUE:
            return self.host_queue
        if queue_id == DEAD_QUEUE:
            return self.dead_letter_queue
        return self.queues[queue_id]

    def ingress_queue(self, queue_id: int) -> QueueLayout:
        """The ring the host produces into for input queue `queue_id` (it alone writes it,
        with plain stores; the device consumes it beside the device ring)."""
        return self.ingress[queue_id]

    def stats_line(self, queue_id: int) -> int:
        return self.stats_offset + queue_id * LINE

    def new_arena(self) -> np.ndarray:
        """A fresh arena (uint8): zero, every slot's `seq` = its index, every instance
        active, state at its defaults."""
        arena = np.zeros(self.arena_size, dtype=np.uint8)
        for q in (*self.queues, *self.ingress, self.host_queue, self.dead_letter_queue):
            seqs = arena[q.slots_offset:q.slots_offset + q.capacity * q.slot_size]
            seqs.view(np.uint32).reshape(q.capacity, q.slot_size // 4)[:, 0] = np.arange(
                q.capacity, dtype=np.uint32)
        stats = arena[self.stats_offset:self.stats_offset + self.num_queues * LINE]
        stats.view(STATS_DTYPE)["active"] = 1
        for k in self.kernels:
            for i in range(k.instances):
                start = k.state_offset + i * k.state_stride
                record = arena[start:start + k.state_dtype.itemsize].view(k.state_dtype)
                for name, value in k.state_init:
                    record[name] = value
        return arena


# ---------------------------------------------------------------------------------------
# Room needs: how many messages one handling can put in each queue group
# ---------------------------------------------------------------------------------------

def _trip_count(stmt: For) -> int:
    """The number of iterations of a constant-range For, else 1 ("at least one")."""
    if isinstance(stmt.start, Const) and isinstance(stmt.stop, Const):
        return len(range(int(stmt.start.value), int(stmt.stop.value), stmt.step))
    return 1


def _calls(expr) -> list[Call]:
    return [e for e in walk(expr) if isinstance(e, Call)]


class _NeedCounter:
    """Sums sends per queue group over a function body (If: the larger branch; constant
    loops multiply; other loops count once). Detects recursion, which GPUs cannot run."""

    def __init__(self, kernel: KernelDef | None, program: Program):
        self.kernel = kernel
        self.program = program
        self.memo: dict[str, dict[tuple, int]] = {}
        self.active: list[str] = []

    def function(self, name: str) -> FunctionDef:
        if name.startswith("self."):
            return next(f for f in self.kernel.helpers if f.name == name[5:])
        return next(f for f in self.program.functions if f.name == name)

    def call(self, name: str, loc: Loc) -> dict[tuple, int]:
        if name in self.active:
            raise CompileError(f"'{name}' calls itself (directly or through other functions)",
                               loc, hint="GPU targets cannot run recursion: use a loop")
        if name not in self.memo:
            self.active.append(name)
            self.memo[name] = self.body(self.function(name).body, handler=False)
            self.active.pop()
        return self.memo[name]

    def body(self, stmts, handler: bool) -> dict[tuple, int]:
        total: dict[tuple, int] = {}

        def add(counts: dict[tuple, int], times: int = 1) -> None:
            for key, n in counts.items():
                total[key] = total.get(key, 0) + n * times

        for stmt in stmts:
            for expr in stmt_exprs(stmt):
                for call in _calls(expr):
                    add(self.call(call.function, stmt.loc))
            if isinstance(stmt, If):
                then = self.body(stmt.then, handler)
                orelse = self.body(stmt.orelse, handler)
                add({k: max(then.get(k, 0), orelse.get(k, 0)) for k in {*then, *orelse}})
            elif isinstance(stmt, While):
                add(self.body(stmt.body, handler))
            elif isinstance(stmt, For):
                add(self.body(stmt.body, handler), _trip_count(stmt))
            elif isinstance(stmt, (Emit, Reply)):
                add({("host", None, None): 1})
            elif isinstance(stmt, Return) and handler and stmt.value is not None:
                add({("reply", None, None): 1})
            elif isinstance(stmt, Send):
                inst = stmt.instance.value if isinstance(stmt.instance, Const) else None
                add({("kernel", stmt.kernel, inst): 1})
        return total


def room_needs(program: Program, kernel: KernelDef, handler: FunctionDef) -> tuple[RoomNeed, ...]:
    """The room one handling of `handler` needs, per queue group (see the module doc)."""
    counts = _NeedCounter(kernel, program).body(handler.body, handler=True)
    return tuple(RoomNeed(target, n, k, i) for (target, k, i), n in sorted(
        counts.items(), key=lambda item: tuple(str(x) for x in item[0])) if n > 0)


def check_recursion(program: Program) -> None:
    """Raise CompileError for a device function that (indirectly) calls itself."""
    counter = _NeedCounter(None, program)
    for fn in program.functions:
        counter.call(fn.name, fn.loc)
    for kernel in program.kernels:
        counter = _NeedCounter(kernel, program)
        for fn in kernel.helpers:
            counter.call("self." + fn.name, fn.loc)


# ---------------------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------------------

def _power_of_two(value: int, what: str, loc: Loc | None) -> int:
    if value < 1 or value & (value - 1):
        raise CompileError(f"{what} must be a power of two, not {value}", loc)
    return value


def compute_layout(program: Program, output_capacity: int = 4096,
                   dead_letter_capacity: int = 1024) -> Layout:
    """The arena layout of `program` with the given host-queue capacities."""
    messages = tuple(MessageLayout(m.name, m.type_id, dtype, dtype.itemsize) for m in
                     program.messages
                     for dtype in [struct_dtype([(f.name, f.type) for f in m.fields],
                                                pad_to=MESSAGE_ALIGN)])
    by_name = {m.name: m for m in messages}
    largest = max((m.size for m in messages), default=MESSAGE_ALIGN)
    num_queues = sum(k.options.instances for k in program.kernels)
    stats_offset = LINE
    kernels: list[KernelLayout] = []
    base = 0
    for index, k in enumerate(program.kernels):
        _power_of_two(k.options.capacity, f"capacity of kernel '{k.name}'", k.loc)
        state_dtype = struct_dtype([(s.name, s.type) for s in k.state])
        handlers = []
        for h in k.handlers:
            msg = h.params[0].type.name
            handlers.append(HandlerLayout(by_name[msg].type_id, msg, h.name,
                                          room_needs(program, k, h)))
        payload = max((by_name[h.message].size for h in handlers), default=MESSAGE_ALIGN)
        slot_size = SLOT_HEADER + payload
        kernels.append(KernelLayout(
            name=k.name, index=index, mode=k.options.mode, concurrency=k.options.concurrency,
            backpressure=k.options.backpressure, max_batch=k.options.max_batch,
            instances=k.options.instances, queue_base=base, capacity=k.options.capacity,
            slot_size=slot_size, payload_size=payload, queue_offset=0,
            queue_size=QueueLayout(base, k.name, 0, k.options.capacity, slot_size,
                                   SLOT_HEADER, payload).size,
            ingress_offset=0, state_offset=0,
            state_stride=_round_up(state_dtype.itemsize, LINE), state_dtype=state_dtype,
            state_init=tuple((s.name, s.init) for s in k.state if s.init is not None),
            handlers=tuple(handlers)))
        base += k.options.instances

    def rings(offset: int, field: str, suffix: str) -> tuple[int, list[QueueLayout]]:
        placed = []
        for i, k in enumerate(kernels):
            kernels[i] = k = replace(k, **{field: offset})
            for inst in range(k.instances):
                placed.append(QueueLayout(k.queue_base + inst, f"{k.name}[{inst}]{suffix}",
                                          offset, k.capacity, k.slot_size, SLOT_HEADER,
                                          k.payload_size, k.name, inst))
                offset += k.queue_size
        return offset, placed

    # host-facing memory: control block, stats, ingress rings, host output, dead letters
    offset, ingress = rings(stats_offset + num_queues * LINE, "ingress_offset", " ingress")
    host = QueueLayout(HOST_QUEUE, "host", offset,
                       _power_of_two(output_capacity, "output_capacity", None),
                       SLOT_HEADER + largest, SLOT_HEADER, largest)
    offset += host.size
    dead = QueueLayout(DEAD_QUEUE, "dead_letters", offset,
                       _power_of_two(dead_letter_capacity, "dead_letter_capacity", None),
                       DEAD_HEADER + largest, DEAD_HEADER, largest)
    offset += dead.size
    # device memory: state, then the device rings
    local_offset = state_offset = offset = _round_up(offset, PAGE)
    for i, k in enumerate(kernels):
        kernels[i] = replace(k, state_offset=offset)
        offset += k.state_stride * k.instances
    offset, queues = rings(offset, "queue_offset", "")
    return Layout(arena_size=offset, stats_offset=stats_offset, state_offset=state_offset,
                  local_offset=local_offset, messages=messages, kernels=tuple(kernels),
                  queues=tuple(queues), ingress=tuple(ingress), host_queue=host,
                  dead_letter_queue=dead)
