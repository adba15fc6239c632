"""Drive an emitted program over a numpy arena, as the runtime does: put messages in input
queues, run `rc_main(arena, local, DRAIN_LAUNCH)` on PoCL, read the host output and
dead-letter queues."""

from __future__ import annotations

import numpy as np

from ringc.arena import Layout
from ringc.protocol import CONTROL, DEAD_QUEUE, DRAIN_LAUNCH, HOST_QUEUE, STATS

from .toolchains import build_opencl, opencl_context


def u32(arena: np.ndarray, offset: int) -> np.ndarray:
    return arena[offset:offset + 4].view(np.uint32)


def push(arena: np.ndarray, layout: Layout, queue_id: int, message: str, record,
         source: int = HOST_QUEUE, correlation: int = 0, ring: str = "ingress",
         bell: bool = True) -> None:
    """Produce one message into an input queue as the host does: into its ingress ring,
    where the host is the only producer (`ring="device"`: the device ring, as a kernel's
    rc.send would, possible here only because nothing else runs meanwhile), then ring the
    queue's bell (`bell=False`: leave it, as a bell lost to a missing fence would be)."""
    q = layout.ingress_queue(queue_id) if ring == "ingress" else layout.queue(queue_id)
    tail = int(u32(arena, q.tail_offset)[0])
    start = q.slots_offset + (tail & (q.capacity - 1)) * q.slot_size
    slot = arena[start:start + q.slot_size].view(q.slot_dtype(layout.message(message).dtype))
    assert slot["seq"][0] == tail, "queue full"
    slot["type_id"] = layout.message(message).type_id
    slot["source"] = source
    slot["correlation"] = correlation
    slot["payload"] = record
    slot["seq"] = tail + 1
    u32(arena, q.tail_offset)[0] = tail + 1
    if bell:
        u32(arena, layout.stats_line(queue_id) + STATS.offset("bell"))[0] = 1


def drain(arena: np.ndarray, queue_id: int, layout: Layout) -> list[dict]:
    """Consume everything in the host output or dead-letter queue: one dict per slot
    (header fields plus `message` name and `payload` record)."""
    q = layout.queue(queue_id)
    out = []
    head = int(u32(arena, q.head_offset)[0])
    while True:
        start = q.slots_offset + (head & (q.capacity - 1)) * q.slot_size
        raw = arena[start:start + q.slot_size].view(q.slot_dtype())[0]
        if raw["seq"] != (head + 1) & 0xFFFFFFFF:
            break
        msg = layout.message_by_id(int(raw["type_id"]))
        entry = {name: raw[name].item() for name in raw.dtype.names if name != "payload"}
        payload = arena[start + q.payload_offset:start + q.payload_offset + msg.size]
        entry.update(message=msg.name, payload=payload.view(msg.dtype)[0].copy())
        out.append(entry)
        u32(arena, start)[0] = head + q.capacity
        head += 1
    u32(arena, q.head_offset)[0] = head
    return out


def stats(arena: np.ndarray, layout: Layout, queue_id: int) -> np.void:
    start = layout.stats_line(queue_id)
    return arena[start:start + STATS.size].view(STATS.dtype)[0]


class DrainRunner:
    """Builds a program once for PoCL and runs drain launches over numpy arenas."""

    def __init__(self, source: str, layout: Layout, local_size: int = 1):
        import pyopencl as cl
        self.cl = cl
        self.layout = layout
        self.ctx = opencl_context()
        self.queue = cl.CommandQueue(self.ctx)
        self.kernel = cl.Kernel(build_opencl(source, context=self.ctx), "rc_main")
        self.local_size = local_size

    def run(self, arena: np.ndarray, groups: int = 1, mode: int = DRAIN_LAUNCH) -> np.ndarray:
        """One drain launch over `arena` (the whole layout in one array): its host-facing
        part and its device-local part go to the kernel as the two buffers they are."""
        cl = self.cl
        mf = cl.mem_flags
        split = self.layout.local_offset
        parts = (arena[:split], arena[split:])
        bufs = [cl.Buffer(self.ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=part)
                for part in parts]
        size = self.local_size
        self.kernel.set_args(*bufs, np.uint32(mode))
        cl.enqueue_nd_range_kernel(self.queue, self.kernel, (size * groups,), (size,))
        for part, buf in zip(parts, bufs):
            cl.enqueue_copy(self.queue, part, buf)
        self.queue.finish()
        return arena

    def host(self, arena: np.ndarray) -> list[dict]:
        return drain(arena, HOST_QUEUE, self.layout)

    def dead(self, arena: np.ndarray) -> list[dict]:
        return drain(arena, DEAD_QUEUE, self.layout)


class ShimDrainRunner:
    """DrainRunner's launches on an executing shim (docs/shims.md): the emitted `target`
    ("cuda" or "metal") program built for this CPU, run over the same numpy arenas. CUDA's
    rc.now() reads %globaltimer: here it reads the control block's `host_clock`, as the
    other runners' programs do, through an anchor set for the launch and cleared after."""

    def __init__(self, source: str, layout: Layout, target: str, local_size: int = 1):
        import ctypes

        from ringc.backends.shim.loader import build
        self.layout = layout
        self.target = target
        self.local_size = local_size
        library = ctypes.CDLL(str(build(source, target)))
        self._entry = library.rcx_launch
        self._entry.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_uint] * 3
        self._entry.restype = ctypes.c_int
        self._clock_from = getattr(library, "rcx_clock_from", None)
        if self._clock_from is not None:
            self._clock_from.argtypes = [ctypes.c_void_p]

    def run(self, arena: np.ndarray, groups: int = 1, mode: int = DRAIN_LAUNCH) -> np.ndarray:
        assert arena.flags.c_contiguous and arena.dtype == np.uint8
        base = arena.ctypes.data
        control = self.layout.control_offset
        anchor = arena[control + CONTROL.offset("clock_ns"):][:16].view(np.uint64)
        if self._clock_from is not None:     # now = clock_ns + (timer - clock_ticks) = timer
            self._clock_from(base + control + CONTROL.offset("host_clock"))
            anchor[:] = 1
        status = self._entry(base, base + self.layout.local_offset,
                             base + control + CONTROL.offset("stop"), mode, groups,
                             self.local_size)
        if self._clock_from is not None:
            anchor[:] = 0
        assert status == 0, f"the {self.target}-shim launch failed with status {status}"
        return arena

    def host(self, arena: np.ndarray) -> list[dict]:
        return drain(arena, HOST_QUEUE, self.layout)

    def dead(self, arena: np.ndarray) -> list[dict]:
        return drain(arena, DEAD_QUEUE, self.layout)
