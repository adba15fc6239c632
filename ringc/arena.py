"""The arena of one program: where every region, queue and state struct lives.

`Layout` is what codegen computes for a program (`ringc.codegen.layout.compute_layout`) and
what the simulator and the host runtime drive it by: offsets, capacities, message and state
dtypes and per-handler room needs. The words inside each header are the protocol's
(`ringc.protocol`); docs/device-program.md describes the whole arena.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .protocol import DEAD_QUEUE, DEAD_SLOT, HOST_QUEUE, LINE, QUEUE, SLOT, STATS

__all__ = ["RoomNeed", "HandlerLayout", "MessageLayout", "QueueLayout", "KernelLayout",
           "Layout", "round_up"]


def round_up(value: int, align: int) -> int:
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

    @property
    def dead_letters(self) -> int:
        """Dead letters one handling can make at most (as far as `needs` bounds its sends):
        one per message it sends, and its own message if it faults."""
        return sum(n.count for n in self.needs) + 1


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

    @functools.cached_property
    def size(self) -> int:
        return round_up(QUEUE.size + self.capacity * self.slot_size, LINE)

    @functools.cached_property
    def head_offset(self) -> int:
        return self.offset + QUEUE.offset("head")

    @functools.cached_property
    def tail_offset(self) -> int:
        return self.offset + QUEUE.offset("tail")

    @functools.cached_property
    def slots_offset(self) -> int:
        return self.offset + QUEUE.size

    def slot_dtype(self, message: np.dtype | None = None) -> np.dtype:
        """A slot as a numpy record: the header fields, then `payload` (a message's dtype,
        or raw bytes), padded to `slot_size`."""
        header = (DEAD_SLOT if self.payload_offset == DEAD_SLOT.size else SLOT).dtype
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
    hooks: tuple[str, ...] = ()  # the lifecycle hooks it defines (`protocol.HOOKS`)
    periods: tuple[int, ...] = ()  # ns between runs of each periodic method (@rc.every)
    timers: int = 0              # slots of its timer table (0: it never calls send_after)
    group_size: int = 1          # lanes handling each message (a cooperative kernel's)

    @property
    def timed(self) -> bool:
        """Does its state hold a timer table (codegen/layout.py, `timer_fields`)?"""
        return bool(self.periods or self.timers)

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

    @property
    def group_size(self) -> int:
        """The work-items a work-group of this program needs for its cooperative kernels:
        their largest `group_size` (1 without one)."""
        return max((k.group_size for k in self.kernels if k.concurrency == "cooperative"),
                   default=1)

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
        return self.stats_offset + queue_id * STATS.size

    def new_arena(self) -> np.ndarray:
        """A fresh arena (uint8): zero, every slot's `seq` = its index, every instance
        active, state at its defaults."""
        try:
            arena = np.zeros(self.arena_size, dtype=np.uint8)
        except MemoryError:
            raise MemoryError(
                f"the program's arena needs {self.arena_size} bytes ({self.local_offset} "
                f"host-facing, {self.arena_size - self.local_offset} device-local), more than "
                f"this machine gives: lower queue capacities, instances or message "
                f"sizes ('ringc inspect' shows the layout)") from None
        for q in (*self.queues, *self.ingress, self.host_queue, self.dead_letter_queue):
            seqs = arena[q.slots_offset:q.slots_offset + q.capacity * q.slot_size]
            seqs.view(np.uint32).reshape(q.capacity, q.slot_size // 4)[
                :, SLOT.word("seq")] = np.arange(
                q.capacity, dtype=np.uint32)
        stats = arena[self.stats_offset:self.stats_offset + self.num_queues * STATS.size]
        stats.view(STATS.dtype)["active"] = 1
        for k in self.kernels:
            for i in range(k.instances):
                start = k.state_offset + i * k.state_stride
                record = arena[start:start + k.state_dtype.itemsize].view(k.state_dtype)
                for name, value in k.state_init:
                    record[name] = value
        return arena


