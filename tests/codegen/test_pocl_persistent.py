"""A persistent launch on PoCL: the host produces and consumes through a shared arena while
`rc_main(arena, local, PERSISTENT_LAUNCH)` runs, then stops it with the stop flag."""

from __future__ import annotations

import time

import numpy as np

from ringc.codegen import generate
from ringc.ir.nodes import Program
from ringc.ir.types import MessageType
from ringc.protocol import PERSISTENT_LAUNCH

from .arena import drain, push, stats, u32
from .irbuild import (
    F32,
    I32,
    I64,
    arr,
    assign,
    bin_,
    c,
    for_,
    handler,
    idx,
    kernel,
    lv,
    mem,
    message,
    new,
    ret,
    st,
)
from .toolchains import build_opencl, opencl_context


def summer() -> Program:
    m = lv("m", MessageType("Work"))
    s = lv("s", F32)
    on_work = handler("on_work", "m", "Work", [
        assign(st("processed", I64), bin_("add", st("processed", I64), c(1, I64))),
        assign(s, c(0.0, F32)),
        for_("i", c(0), c(4), 1, [assign(s, bin_("add", s, idx(mem(m, "data", arr(F32, 4)),
                                                                 lv("i", I32))))]),
        ret(new("Sum", id=mem(m, "id", I32), value=s))],
        returns=MessageType("Sum"), s=F32, i=I32)
    return Program((message("Work", 1, id=I32, data=arr(F32, 4)),
                    message("Sum", 2, id=I32, value=F32)),
                   (kernel("Summer", state=[("processed", I64, None)], handlers=[on_work],
                           capacity=64),), ())


def aligned_zeros(size: int) -> np.ndarray:
    raw = np.zeros(size + 4096, np.uint8)
    start = -raw.ctypes.data % 4096
    return raw[start:start + size]


def test_persistent_loop_serves_a_live_host_then_stops():
    import pyopencl as cl
    generated = generate(summer(), "opencl", output_capacity=32)
    layout = generated.layout
    ctx = opencl_context()
    kernel_ = cl.Kernel(build_opencl(generated.source, context=ctx), "rc_main")
    queue = cl.CommandQueue(ctx)
    arena = aligned_zeros(layout.arena_size)
    arena[:] = layout.new_arena()
    split = layout.local_offset                  # page-aligned: both parts stay aligned
    bufs = [cl.Buffer(ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR, hostbuf=part)
            for part in (arena[:split], arena[split:])]
    kernel_.set_args(*bufs, np.uint32(PERSISTENT_LAUNCH))
    event = cl.enqueue_nd_range_kernel(queue, kernel_, (1,), (1,))
    work = np.zeros((), layout.message("Work").dtype)
    q = layout.ingress_queue(0)                                 # the host's ring of queue 0
    total, received, deadline = 2000, {}, time.monotonic() + 30
    sent = 0
    try:
        while len(received) < total and time.monotonic() < deadline:
            used = int(u32(arena, q.tail_offset)[0]) - int(u32(arena, q.head_offset)[0])
            free = q.capacity - used
            for _ in range(min(free, total - sent)):
                work["id"], work["data"] = sent, [sent, 1.0, 2.0, 0.5]
                push(arena, layout, 0, "Work", work, correlation=sent + 1)
                sent += 1
            for entry in drain(arena, 0xFFFFFFFF, layout):
                received[entry["correlation"]] = entry["payload"]
    finally:
        u32(arena, 0)[0] = 1                                    # stop
        while event.command_execution_status != cl.command_execution_status.COMPLETE:
            assert time.monotonic() < deadline + 10, "kernel did not stop"
            time.sleep(0.01)
    assert len(received) == total
    for corr, payload in received.items():
        assert payload["id"] == corr - 1 and payload["value"] == np.float32(corr - 1 + 3.5)
    s = stats(arena, layout, 0)
    assert s["processed"] == total and s["dead_lettered"] == 0 and u32(arena, 4)[0] == 0
    assert s["busy"] == 0
