"""The host's side of the arena's rings (docs/device-program.md, "Queues").

The host is the only producer of the ingress rings and the only consumer of the host output
and dead-letter queues, so it uses plain stores throughout: a batch is written whole,
then published by its sequence words and one store of the counter. It never writes a slot's
`seq` word while writing records, and it never performs an atomic operation on the arena.
`publish_fence()` keeps the order of the host's stores (payload before `seq` before the
counter) and of its loads; `full_fence()` also orders stores before later loads, where the
protocol needs that (quiescing an instance for a checkpoint).

Two implementations of the same protocol: `PyIngressRing` and `PyOutputRing` (numpy and
struct, the readable reference) and `CIngressRing` and `COutputRing`, which run the hot loops
in the C extension `ringc.runtime._rings` (built by the package's own build, optional: an
install without a compiler has only the reference). `IngressRing` and `OutputRing` are the
compiled classes when the extension imports and the environment variable
`RINGC_PURE_PYTHON` is unset, empty or "0", else the reference; `IMPLEMENTATION` says which
("c" or "python"). Both write byte-identical arenas and return equal values
(tests/runtime/test_rings.py); the compiled methods hand anything but the common case (odd
argument types, out-of-range words, dtypes whose copy numpy transforms) to the reference.
The compiled code's fences are C11 fences (acquire after reading `seq` words, release
before publishing), where the reference uses `publish_fence`; on x86 both compile to
nothing but keep the compiler from reordering the stores.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import struct
import threading
from collections import namedtuple

import numpy as np

from ..arena import QueueLayout
from ..protocol import DEAD_SLOT, SLOT

__all__ = ["SlotHeader", "read_header", "read_header_words", "full_fence", "publish_fence",
           "IngressRing", "OutputRing",
           "PyIngressRing", "PyOutputRing", "CIngressRing", "COutputRing", "IMPLEMENTATION",
           "u32_at", "u64_at"]

_U32_WRAP = 1 << 32
_U32 = struct.Struct("<I")
_SEQ = SLOT.offset("seq")


def _header_struct() -> tuple[struct.Struct, int, tuple[str, ...]]:
    """The slot header's words other than `seq`, as one struct: (struct, offset of its first
    field in the slot, field names in order)."""
    fields = sorted((SLOT.offset(f.name), f) for f in SLOT.fields if f.name != "seq")
    first = at = fields[0][0]
    fmt = "<"
    for offset, f in fields:
        fmt += "x" * (offset - at) + {"u32": "I", "u64": "Q"}[f.type]
        at = offset + struct.calcsize("<" + fmt[-1])
    return struct.Struct(fmt), first, tuple(f.name for _, f in fields)


_HEADER, _HEADER_AT, _HEADER_NAMES = _header_struct()
SlotHeader = namedtuple("SlotHeader", _HEADER_NAMES)


def read_header(row: bytes) -> SlotHeader:
    """The header of a slot copied out as bytes (`OutputRing.consume_one`)."""
    return SlotHeader._make(read_header_words(row))


def read_header_words(row: bytes) -> tuple[int, ...]:
    """`read_header` as a plain tuple, in `SlotHeader`'s order (the latency path: a
    named tuple costs four times as much)."""
    return _HEADER.unpack_from(row, _HEADER_AT)


def _fence_function():
    """libatomic's `atomic_thread_fence` (seq_cst) where it exists; otherwise a lock's
    acquire and release, which on x86 and ARM are full barriers too."""
    name = ctypes.util.find_library("atomic")
    if name:
        try:
            fn = ctypes.CDLL(name).atomic_thread_fence
            fn.argtypes, fn.restype = [ctypes.c_int], None
            return lambda: fn(5)           # memory_order_seq_cst
        except (OSError, AttributeError):
            pass
    lock = threading.Lock()

    def locked() -> None:
        with lock:
            pass
    return locked


full_fence = _fence_function()
# Between the host's stores to one ring (payload, then seq, then the counter) and between its
# loads (seq, then the payload) only the CPU's order matters, and x86's memory model (TSO)
# keeps stores in program order and loads in program order; other CPUs get a full fence.
publish_fence = (lambda: None) if platform.machine().lower() in (
    "x86_64", "amd64", "i386", "i686") else full_fence


def u32_at(memory: np.ndarray, offset: int) -> np.ndarray:
    """A one-element uint32 view of the arena at `offset`."""
    return memory[offset:offset + 4].view(np.uint32)


def u64_at(memory: np.ndarray, offset: int) -> np.ndarray:
    return memory[offset:offset + 8].view(np.uint64)


class _Ring:
    def __init__(self, memory: np.ndarray, queue: QueueLayout):
        self.queue = queue
        self.capacity = queue.capacity
        self.mask = queue.capacity - 1
        self.head = u32_at(memory, queue.head_offset)
        self.tail = u32_at(memory, queue.tail_offset)
        region = memory[queue.slots_offset:queue.slots_offset + queue.capacity * queue.slot_size]
        self.rows = region.reshape(queue.capacity, queue.slot_size)
        self.seq = region.view(np.uint32).reshape(queue.capacity, queue.slot_size // 4)[
            :, SLOT.word("seq")]
        self.region = region
        self.mv = memoryview(memory)          # struct access: the one-message fast paths
        self.slot_size = queue.slot_size
        self.slots_offset = queue.slots_offset

    def used(self) -> int:
        """Messages in the ring now (`tail - head`); a snapshot while the device runs."""
        return (int(self.tail[0]) - int(self.head[0])) % _U32_WRAP

    def _spans(self, first: int, n: int):
        """(ring index, batch index, count) pieces of `n` slots from position `first`."""
        start = first & self.mask
        head_part = min(n, self.capacity - start)
        yield start, 0, head_part
        if head_part < n:
            yield 0, head_part, n - head_part


class PyIngressRing(_Ring):
    """Input queue `q`'s ingress ring, produced into by the host alone (the reference)."""

    def __init__(self, memory: np.ndarray, queue: QueueLayout):
        super().__init__(memory, queue)
        self._typed: dict[np.dtype, np.ndarray] = {}

    def free(self, limit: int) -> int:
        """Slots free from `tail` on, up to `limit`, judged by their sequence words (a slot
        the device has taken but not yet released is not free)."""
        tail = int(self.tail[0])
        limit = min(limit, self.capacity)
        if limit == 1:
            return int(self.seq[tail & self.mask] == tail)
        positions = (tail + np.arange(limit, dtype=np.uint64)) % _U32_WRAP
        ready = self.seq[(positions & self.mask).astype(np.intp)] == positions.astype(np.uint32)
        return limit if ready.all() else int(np.argmin(ready))

    def _slots(self, dtype: np.dtype) -> np.ndarray:
        slots = self._typed.get(dtype)
        if slots is None:
            slots = self._typed[dtype] = self.region.view(self.queue.slot_dtype(dtype))
        return slots

    def produce_one(self, type_id: int, payload: bytes, source: int, correlation: int,
                    timestamp: int) -> bool:
        """One message (its payload's bytes): the same protocol as `produce` with struct
        stores, for latency. False when the slot at `tail` is not free."""
        mv, tail = self.mv, _U32.unpack_from(self.mv, self.queue.tail_offset)[0]
        slot = self.slots_offset + (tail & self.mask) * self.slot_size
        if _U32.unpack_from(mv, slot + _SEQ)[0] != tail:
            return False
        _HEADER.pack_into(mv, slot + _HEADER_AT, *SlotHeader(
            type_id=type_id, source=source, flags=0, correlation=correlation,
            timestamp=timestamp))
        start = slot + self.queue.payload_offset
        mv[start:start + len(payload)] = payload
        publish_fence()
        _U32.pack_into(mv, slot + _SEQ, (tail + 1) % _U32_WRAP)
        publish_fence()
        _U32.pack_into(mv, self.queue.tail_offset, (tail + 1) % _U32_WRAP)
        return True

    def produce(self, type_id: int, records: np.ndarray, source: int,
                correlations: np.ndarray, timestamp: int) -> int:
        """Write as many of `records` (a 1-d array of one message dtype) as fit, then
        publish them; returns how many went in."""
        n = self.free(len(records))
        if n == 0:
            return 0
        tail = int(self.tail[0])
        slots = self._slots(records.dtype)
        for ring_at, batch_at, count in self._spans(tail, n):
            part = slots[ring_at:ring_at + count]
            part["type_id"] = type_id
            part["source"] = source
            part["flags"] = 0
            part["correlation"] = correlations[batch_at:batch_at + count]
            part["timestamp"] = timestamp
            part["payload"] = records[batch_at:batch_at + count]
        publish_fence()
        for ring_at, batch_at, count in self._spans(tail, n):
            self.seq[ring_at:ring_at + count] = (
                (tail + batch_at + np.arange(1, count + 1, dtype=np.uint64)) % _U32_WRAP)
        publish_fence()
        self.tail[0] = (tail + n) % _U32_WRAP
        return n


class PyOutputRing(_Ring):
    """The host output queue or the dead-letter queue, consumed by the host alone (the
    reference)."""

    def ready(self) -> int:
        """How many messages are ready from `head`, counting 0, 1 or 2 ("more than one"):
        two loads, cheap enough to poll."""
        mv, head = self.mv, _U32.unpack_from(self.mv, self.queue.head_offset)[0]
        for k in (0, 1):
            slot = self.slots_offset + ((head + k) & self.mask) * self.slot_size
            if _U32.unpack_from(mv, slot + _SEQ)[0] != (head + k + 1) % _U32_WRAP:
                return k
        return 2

    def consume_one(self) -> bytes:
        """The slot at `head` (which `ready` said holds a message) as bytes, released."""
        mv, head = self.mv, _U32.unpack_from(self.mv, self.queue.head_offset)[0]
        slot = self.slots_offset + (head & self.mask) * self.slot_size
        publish_fence()
        row = mv[slot:slot + self.slot_size].tobytes()
        _U32.pack_into(mv, self.queue.head_offset, (head + 1) % _U32_WRAP)
        publish_fence()
        _U32.pack_into(mv, slot + _SEQ, (head + self.capacity) % _U32_WRAP)
        return row

    def consume(self, limit: int) -> np.ndarray:
        """Up to `limit` ready slots as a copied (n, slot_size) uint8 array, released to the
        device (head first, then each slot's `seq`)."""
        head = int(self.head[0])
        want = min(limit, self.capacity)
        if want <= 0:
            return self.rows[:0].copy()
        positions = (head + np.arange(want, dtype=np.uint64)) % _U32_WRAP
        index = (positions & self.mask).astype(np.intp)
        ready = self.seq[index] == ((positions + 1) % _U32_WRAP).astype(np.uint32)
        n = want if ready.all() else int(np.argmin(ready))
        if n == 0:
            return self.rows[:0].copy()
        publish_fence()                        # the payloads are read after their seq words
        rows = self.rows[index[:n]]         # fancy indexing copies
        self.head[0] = (head + n) % _U32_WRAP
        publish_fence()
        self.seq[index[:n]] = ((positions[:n] + self.capacity) % _U32_WRAP).astype(np.uint32)
        return rows


# ---- the compiled loops ------------------------------------------------------------------

# The slot header's words the C code writes (and `seq`), in the order `_rings.Ring` takes
# their offsets, with the types it writes them as.
_C_HEADER = {"seq": "u32", "type_id": "u32", "source": "u32", "flags": "u32",
             "correlation": "u64", "timestamp": "u64"}


def _load_extension():
    """`ringc.runtime._rings`, or None where it is not built, or where the slot header is
    no longer the six words its code writes (then only the reference runs)."""
    try:
        from . import _rings
    except ImportError:
        return None
    if ({f.name: f.type for f in SLOT.fields} != _C_HEADER
            or any(DEAD_SLOT.offset(name) != SLOT.offset(name) for name in _C_HEADER)):
        return None
    return _rings


_rings = _load_extension()


def copy_plan(queue: QueueLayout, dtype: np.dtype) -> bytes | None:
    """What `PyIngressRing.produce`'s `part["payload"] = records` writes of each record of
    `dtype`, as native uint32 (offset, length) pairs for the compiled `produce`: numpy
    assigns structured records field by field, so the padding between fields keeps whatever
    the slot held before. Measured with probe records on the numpy installed, not derived
    from the dtype, so it is what numpy does. None where numpy refuses the dtype or changes
    a byte it copies (a plain copy could not match it; the reference then writes the batch).
    Probes cannot prove a value-dependent change never happens; numpy copies records of the
    same dtype bytewise, and the differential tests check the plans against the reference."""
    if dtype.hasobject or dtype.itemsize == 0 or dtype.subdtype is not None:
        return None
    try:
        slot = queue.slot_dtype(dtype)
    except (TypeError, ValueError):
        return None
    size, at, count = dtype.itemsize, queue.payload_offset, 3
    random = np.random.default_rng(0)
    probes = [(np.zeros(count * size, np.uint8), np.full(count * size, 255, np.uint8)),
              (np.full(count * size, 255, np.uint8), np.zeros(count * size, np.uint8))]
    probes += [tuple(random.integers(0, 256, count * size, dtype=np.uint8) for _ in "sd")
               for _ in range(4)]
    copied = kept = np.ones(size, bool)
    for source, before in probes:
        slots = np.zeros(count, slot)
        payload = slots.view(np.uint8).reshape(count, -1)[:, at:at + size]
        payload[...] = before.reshape(count, size)
        try:
            slots["payload"] = source.view(dtype)
        except (TypeError, ValueError):
            return None
        copied = copied & (payload == source.reshape(count, size)).all(axis=0)
        kept = kept & (payload == before.reshape(count, size)).all(axis=0)
    if not (copied | kept).all():
        return None
    edges = np.flatnonzero(np.diff(np.concatenate(([0], copied.view(np.int8), [0]))))
    starts, stops = edges[0::2], edges[1::2]
    return np.column_stack((starts, stops - starts)).astype(np.uint32).tobytes()


class _Declined:
    """Stands in for the compiled ring where the arena does not suit it (not a writable,
    C-contiguous, 4-byte aligned buffer): every method declines, so the reference runs."""

    def __getattr__(self, name: str):
        return lambda *args: NotImplemented


def _compiled_ring(memory: np.ndarray, queue: QueueLayout):
    try:
        return _rings.Ring(memory, queue.head_offset, queue.tail_offset, queue.slots_offset,
                           queue.capacity, queue.slot_size, queue.payload_offset,
                           *(SLOT.offset(name) for name in _C_HEADER))
    except (TypeError, ValueError, BufferError):
        return _Declined()


class CIngressRing(PyIngressRing):
    """`PyIngressRing` with its loops in C: the same protocol, byte for byte. A call the C
    code declines (NotImplemented: see ringc/runtime/_rings.c) runs the reference."""

    def __init__(self, memory: np.ndarray, queue: QueueLayout):
        super().__init__(memory, queue)
        self._c = _compiled_ring(memory, queue)
        self._plans: dict[np.dtype | None, bytes | None] = {None: None}
        self._plan_for, self._plan = None, None       # the last dtype's, without a lookup

    def free(self, limit: int) -> int:
        n = self._c.free(limit)
        return super().free(limit) if n is NotImplemented else n

    def produce_one(self, type_id: int, payload: bytes, source: int, correlation: int,
                    timestamp: int) -> bool:
        done = self._c.produce_one(type_id, payload, source, correlation, timestamp)
        if done is NotImplemented:
            return super().produce_one(type_id, payload, source, correlation, timestamp)
        return done

    def produce(self, type_id: int, records: np.ndarray, source: int,
                correlations: np.ndarray, timestamp: int) -> int:
        dtype = getattr(records, "dtype", None)
        if dtype is not self._plan_for:
            plan = self._plans.get(dtype, False)
            if plan is False:
                plan = self._plans[dtype] = copy_plan(self.queue, dtype)
            self._plan_for, self._plan = dtype, plan
        n = NotImplemented if self._plan is None else self._c.produce(
            type_id, records, source, correlations, timestamp, self._plan)
        if n is NotImplemented:
            return super().produce(type_id, records, source, correlations, timestamp)
        return n


class COutputRing(PyOutputRing):
    """`PyOutputRing` with its loops in C: the same protocol, byte for byte."""

    def __init__(self, memory: np.ndarray, queue: QueueLayout):
        super().__init__(memory, queue)
        self._c = _compiled_ring(memory, queue)

    def ready(self) -> int:
        k = self._c.ready()
        return super().ready() if k is NotImplemented else k

    def consume_one(self) -> bytes:
        row = self._c.consume_one()
        return super().consume_one() if row is NotImplemented else row

    def consume(self, limit: int) -> np.ndarray:
        n = self._c.consume_count(limit)
        if n is NotImplemented:
            return super().consume(limit)
        rows = np.empty((n, self.slot_size), np.uint8)
        if n:
            self._c.consume_into(rows)
        return rows


if _rings is None:
    CIngressRing = COutputRing = None   # noqa: F811 (not built: only the reference exists)

IMPLEMENTATION = ("c" if _rings is not None
                  and os.environ.get("RINGC_PURE_PYTHON", "") in ("", "0") else "python")
IngressRing = CIngressRing if IMPLEMENTATION == "c" else PyIngressRing
OutputRing = COutputRing if IMPLEMENTATION == "c" else PyOutputRing
