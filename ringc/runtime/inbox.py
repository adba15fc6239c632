"""`Inbox`: the host's end of the host output and dead-letter queues (docs/runtime.md,
"Sending and receiving").

The runtime's pump calls `collect` to move what the device put in the host output queue
into host memory, and `collect_dead_letters` for the dead-letter queue. A reply that a
`request` waits for goes to that request, decoded; every other message is buffered as numpy
records, by type and in arrival order, for `receive` and `receive_many`. Dead letters are
kept for `dead_letters`, and one that ends a waiting request's conversation goes to it too.
"""

from __future__ import annotations

import collections
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..arena import Layout
from ..ir.nodes import Emit, Program, Reply, Return
from ..ir.walk import all_stmts
from ..protocol import DEAD_QUEUE, FIRST_USER_REASON, HOST_QUEUE, REASONS
from .codec import MessageCodec
from .reports import DeadLetter, LatencyBook
from .rings import OutputRing, read_header_words

__all__ = ["Inbox"]


class RawReply(NamedTuple):
    """A reply as it came: its type and the slot's bytes (decoded by whoever takes it). A
    tuple: one is made per reply on the latency path."""
    type_id: int
    data: bytes
    offset: int


@dataclass
class _Chunk:
    """Messages of one type moved out of the host output queue, in arrival order."""
    type_id: int
    records: np.ndarray
    taken: int = 0

    def __len__(self) -> int:
        return len(self.records) - self.taken


class Inbox:
    """What the host took out of the host output and dead-letter queues of one program, and
    the consuming end of those two rings in the arena `memory`.

    It keeps up to `host_buffer` messages before it leaves them in the output queue, where
    the device sees backpressure; while a request waits it takes up to a queue's worth
    regardless, since the reply may be behind a full buffer. Replies to host-sent messages
    are recorded in `latency` as they arrive.

    Locking: an Inbox takes no lock of its own. The runtime's one lock guards it: whoever
    calls a method (or sets `host_buffer`) holds that lock, briefly, never while waiting.
    Three methods touch none of its buffers and need no lock: `output_ready` and
    `output_fill` (snapshots of the ring) and `as_arrays`."""

    def __init__(self, memory: np.ndarray, layout: Layout, program: Program,
                 reasons: tuple[str, ...], codec: MessageCodec, latency: LatencyBook,
                 host_buffer: int):
        self.host_buffer = host_buffer      # messages kept before the device sees backpressure
        self.collected = 0                  # messages moved out of the output queue so far
        self._layout = layout
        self._codec = codec
        self._latency = latency
        self._output = OutputRing(memory, layout.host_queue)
        self._dead = OutputRing(memory, layout.dead_letter_queue)
        self._payload_offset = layout.host_queue.payload_offset
        self._reasons = {**REASONS, **{FIRST_USER_REASON + i: r
                                       for i, r in enumerate(reasons)}}
        self._host_types = _host_types(program, layout)
        self._chunks: deque[_Chunk] = deque()
        self._buffered = 0
        self._buffered_by_type: dict[int, int] = {}
        self._replies: dict[int, object] = {}       # request correlation -> reply (or None)
        self._dead_letters: list[DeadLetter] = []
        # dead letters collected since launch by (kernel, instance, reason)
        self.dead_counts: collections.Counter = collections.Counter()

    # ---- collecting (the runtime's pump) ---------------------------------------------------

    def collect(self, now: int) -> None:
        """Move the messages ready in the host output queue into host memory, as many as
        `host_buffer` leaves room for (at least a queue's worth while a request waits).
        `now` is their arrival time (ns) for latency."""
        room = self.host_buffer - self._buffered
        if self._replies:                  # a requester's reply may be behind a full buffer
            room = max(room, self._output.capacity)
        ready = self._output.ready() if room > 0 else 0
        if ready == 1:
            self._accept_one(self._output.consume_one(), now)
            self.collected += 1
        elif ready:
            rows = self._output.consume(room)
            self._accept_output(rows, now)
            self.collected += len(rows)

    def collect_dead_letters(self) -> None:
        """Move every dead letter ready in the dead-letter queue into host memory."""
        if self._dead.ready():
            self._accept_dead(self._dead.consume(self._dead.capacity))

    def output_ready(self) -> bool:
        """Does the host output queue hold a message now? Two loads of the ring, no lock:
        a snapshot, for a waiter to decide whether taking the lock is worth it."""
        return self._output.ready() > 0

    def output_fill(self) -> float:
        """The host output queue's fill now (0..1), a snapshot while the device runs."""
        return self._output.used() / self._output.capacity

    def _accept_one(self, row: bytes, now: int) -> None:
        """`_accept_output` of one slot, without numpy's per-call overheads."""
        type_id, source, _, corr, _ = read_header_words(row)
        if self._replies.get(corr, 0) is None:
            self._replies[corr] = RawReply(type_id, row, self._payload_offset)
            return
        self._latency.replied_one(source, corr, now)
        msg = self._layout.message_by_id(type_id)
        self._chunks.append(_Chunk(type_id, np.frombuffer(row, msg.dtype, count=1,
                                                          offset=self._payload_offset).copy()))
        self._buffered += 1
        self._buffered_by_type[type_id] = self._buffered_by_type.get(type_id, 0) + 1

    def _accept_output(self, rows: np.ndarray, now: int) -> None:
        slots = rows.reshape(-1).view(self._layout.host_queue.slot_dtype())
        types, corrs, sources = slots["type_id"], slots["correlation"], slots["source"]
        self._latency.replied(sources, corrs, now)
        if self._replies:
            for i in np.flatnonzero(np.isin(corrs, list(self._replies))):
                corr = int(corrs[i])
                if self._replies[corr] is None:
                    self._replies[corr] = RawReply(int(types[i]), rows[i].tobytes(),
                                                   self._payload_offset)
                    types[i] = 0                    # consumed by its requester
        starts = np.flatnonzero(np.diff(types.astype(np.int64), prepend=-1) != 0)
        for start, stop in zip(starts, [*starts[1:], len(types)]):
            type_id = int(types[start])
            if type_id == 0:
                continue
            msg = self._layout.message_by_id(type_id)
            records = np.ascontiguousarray(slots["payload"][start:stop, :msg.size]).view(
                msg.dtype).reshape(-1)
            self._chunks.append(_Chunk(type_id, records))
            self._buffered += len(records)
            self._buffered_by_type[type_id] = self._buffered_by_type.get(type_id, 0) + len(
                records)

    def _accept_dead(self, rows: np.ndarray) -> None:
        slots = rows.reshape(-1).view(self._layout.dead_letter_queue.slot_dtype())
        for slot in slots:
            msg = self._layout.message_by_id(int(slot["type_id"]))
            record = slot["payload"][:msg.size].copy().view(msg.dtype)[0]
            kernel, instance = self.queue_name(int(slot["queue"]))
            src_kernel, src_instance = self.queue_name(int(slot["source"]))
            source = src_kernel if src_instance < 0 else f"{src_kernel}[{src_instance}]"
            entry = DeadLetter(
                kernel, instance, self._reasons.get(int(slot["reason"]),
                                                    f"reason {int(slot['reason'])}"),
                self._codec.message(int(slot["type_id"]), record), source or "host",
                int(slot["correlation"]), int(slot["detail"]))
            self._dead_letters.append(entry)
            self.dead_counts[(entry.kernel, entry.instance, entry.reason)] += 1
            if self._replies.get(entry.correlation, 0) is None:   # a request's conversation
                self._replies[entry.correlation] = entry

    def reason_name(self, code: int) -> str:
        """The reason string of a fault code."""
        return self._reasons.get(code, f"reason {code}")

    def queue_name(self, queue: int) -> tuple[str | None, int]:
        """(kernel name, instance) of an input queue; ("host" or None, -1) for the others."""
        if queue in (HOST_QUEUE, DEAD_QUEUE) or queue >= self._layout.num_queues:
            return (None if queue != HOST_QUEUE else "host"), -1
        k = next(k for k in self._layout.kernels if queue in k.queue_ids)
        return k.name, queue - k.queue_base

    # ---- replies to requests ---------------------------------------------------------------

    def expect_reply(self, correlation: int) -> None:
        """Route the reply in conversation `correlation`, or its dead letter, to `reply`
        instead of the buffer, until `forget_reply`."""
        self._replies[correlation] = None

    def reply(self, correlation: int) -> RawReply | DeadLetter | None:
        """The expected reply, its `DeadLetter`, or None until it comes."""
        return self._replies[correlation]

    def forget_reply(self, correlation: int) -> RawReply | DeadLetter | None:
        """Stop expecting it, returning what came (a reply arriving later is buffered like
        any other message)."""
        return self._replies.pop(correlation, None)

    def put_back_reply(self, reply: RawReply) -> None:
        """Buffer a reply its requester did not take (Ctrl-C), at the front."""
        dtype = self._layout.message_by_id(reply.type_id).dtype
        record = np.frombuffer(reply.data, dtype, count=1, offset=reply.offset).copy()
        self.put_back([(reply.type_id, record)])

    # ---- taking what is buffered -----------------------------------------------------------

    def count(self, type_id: int | None = None) -> int:
        """How many messages are buffered (of `type_id`, or of any type)."""
        if type_id is None:
            return self._buffered
        return self._buffered_by_type.get(type_id, 0)

    def take_one(self) -> tuple[int, np.void] | None:
        """(type id, record) of the oldest buffered message, removed from the buffer; None
        when the buffer is empty."""
        if not self._buffered:
            return None
        chunk = self._chunks[0]
        record = chunk.records[chunk.taken]
        chunk.taken += 1
        self._buffered -= 1
        self._buffered_by_type[chunk.type_id] -= 1
        if not len(chunk):
            self._chunks.popleft()
        return chunk.type_id, record

    def take(self, type_id: int | None, left: int,
             taken: list[tuple[int, np.ndarray]]) -> int:
        """Move up to `left` buffered messages (of `type_id`, or any) into `taken`, as
        (type id, array) in arrival order; returns how many are still wanted."""
        keep: deque[_Chunk] = deque()
        for chunk in self._chunks:
            if left and (type_id is None or chunk.type_id == type_id):
                part = chunk.records[chunk.taken:chunk.taken + left]
                chunk.taken += len(part)
                left -= len(part)
                self._buffered -= len(part)
                self._buffered_by_type[chunk.type_id] -= len(part)
                taken.append((chunk.type_id, part))
            if len(chunk):
                keep.append(chunk)
        self._chunks = keep
        return left

    def put_back(self, taken: list[tuple[int, np.ndarray]]) -> None:
        """Return what `take` or `take_one` took (and nobody received) to the front of the
        buffer, in its order."""
        for type_id, records in reversed(taken):
            if len(records):
                self._chunks.appendleft(_Chunk(type_id, records))
                self._buffered += len(records)
                self._buffered_by_type[type_id] = self._buffered_by_type.get(
                    type_id, 0) + len(records)

    def as_arrays(self, taken: list[tuple[int, np.ndarray]], type_id: int | None):
        """What `receive_many` returns for `taken` (filled by `take`): one array of the
        message's dtype when `type_id` is given or the program can send the host one type
        only; otherwise a dict keyed by message class (name where the host has none), with
        an empty array for each type the program can send the host that none came of."""
        by_type: dict[int, list[np.ndarray]] = {}
        for t, part in taken:
            by_type.setdefault(t, []).append(part)
        types = [type_id] if type_id is not None else self._host_types
        arrays = {t: _joined(by_type.get(t, []), self._layout.message_by_id(t).dtype)
                  for t in {*types, *by_type}}
        if len(arrays) == 1:
            return next(iter(arrays.values()))
        return {self._codec.message_class(t): a for t, a in sorted(arrays.items())}

    def dead_letters(self) -> list[DeadLetter]:
        """Every dead letter collected so far, oldest first (a new list)."""
        return list(self._dead_letters)


def _joined(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """One array of `dtype` (padding kept, unlike np.concatenate) holding `parts`."""
    out = np.empty(sum(len(p) for p in parts), dtype)
    at = 0
    for part in parts:
        out[at:at + len(part)] = part
        at += len(part)
    return out


def _host_types(program: Program, layout: Layout) -> list[int]:
    """Type ids of the messages the program can send the host: replies, emits, rc.reply."""
    names = set()
    for kernel in program.kernels:
        for fn in (*kernel.handlers, *kernel.helpers):
            for stmt in all_stmts(fn.body):
                if isinstance(stmt, (Emit, Reply)):
                    names.add(stmt.message.type.name)
                elif isinstance(stmt, Return) and stmt.value is not None and fn in \
                        kernel.handlers:
                    names.add(stmt.value.type.name)
    for fn in program.functions:
        for stmt in all_stmts(fn.body):
            if isinstance(stmt, (Emit, Reply)):
                names.add(stmt.message.type.name)
    return sorted(layout.message(n).type_id for n in names)
