"""The arena layout: region and queue offsets, slot sizes, dtypes, room needs, new_arena."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ringc.arena import RoomNeed
from ringc.codegen import generate
from ringc.codegen.layout import _NeedCounter, compute_layout, room_needs
from ringc.compiler import compile
from ringc.errors import CompileError
from ringc.ir.nodes import STMT_KINDS, Program
from ringc.ir.types import MessageType, struct_dtype
from ringc.protocol import CONTROL, DEAD_QUEUE, DEAD_SLOT, HOST_QUEUE, LINE, SLOT, STATS

from .irbuild import (
    F32,
    I32,
    I64,
    U8,
    arr,
    assign,
    bin_,
    c,
    emit,
    expr_stmt,
    for_,
    function,
    handler,
    hcall,
    if_,
    kernel,
    lv,
    mem,
    message,
    new,
    ret,
    send,
    st,
    while_,
)
from .programs import coverage_program, semantics_program


def small_program():
    a = message("A", 1, x=I32, y=arr(F32, 3), flag=U8)      # 4 + 12 + 1 -> 17 -> 32
    b = message("B", 2, big=arr(I64, 9))                    # 72 -> 80
    m = lv("m", MessageType("A"))
    on_a = handler("on_a", "m", "A", [ret(new("A", x=mem(m, "x", I32)))],
                   returns=MessageType("A"))
    k1 = kernel("K1", state=[("n", I64, 5), ("v", arr(F32, 3), (1.0, 2.0, 3.0))],
                handlers=[on_a], instances=2, capacity=8)
    k2 = kernel("K2", handlers=[], capacity=4)
    return Program((a, b), (k1, k2), ())


def test_regions_are_ordered_and_line_aligned():
    layout = compute_layout(small_program(), output_capacity=16, dead_letter_capacity=8)
    assert layout.stats_offset == CONTROL.size and layout.num_queues == 3
    k1, k2 = layout.kernels
    assert (k1.queue_base, k2.queue_base) == (0, 2)
    assert k1.payload_size == 32 and k1.slot_size == SLOT.size + 32
    assert k2.payload_size == 16            # no handlers: the minimum payload
    # host-facing part: control, stats, ingress rings, host output, dead letters
    i0, i1, i2 = layout.ingress
    assert i0.offset == CONTROL.size + 3 * LINE and i1.offset == i0.offset + i0.size
    assert i0.size == 128 + 8 * 64 and i2.offset == i1.offset + i1.size
    assert (k1.ingress_offset, k2.ingress_offset) == (i0.offset, i2.offset)
    assert layout.ingress_queue(1) is i1
    host, dead = layout.host_queue, layout.dead_letter_queue
    assert host.offset == i2.offset + i2.size and host.slot_size == SLOT.size + 80
    assert dead.offset == host.offset + host.size and dead.slot_size == DEAD_SLOT.size + 80
    # device-local part, on a page of its own: state, then the device rings
    assert layout.local_offset % 4096 == 0 and layout.local_offset >= dead.offset + dead.size
    assert layout.state_offset == layout.local_offset == k1.state_offset
    assert k1.state_dtype.itemsize == 24 and k1.state_stride == 64
    assert k2.state_offset == k1.state_offset + 2 * 64
    q0, q1, q2 = layout.queues
    assert q0.offset == k2.state_offset + 64 and q1.offset == q0.offset + q0.size
    assert q2.offset == q1.offset + q1.size and layout.arena_size == q2.offset + q2.size
    assert [(i.id, i.capacity, i.slot_size) for i in layout.ingress] == [
        (q.id, q.capacity, q.slot_size) for q in layout.queues]
    for q in (*layout.queues, *layout.ingress, host, dead):
        assert q.offset % LINE == 0 and q.slot_size % 16 == 0
    assert layout.queue(HOST_QUEUE) is host and layout.queue(DEAD_QUEUE) is dead
    assert layout.message_by_id(2).name == "B"


def test_message_dtypes_are_the_ir_layout():
    layout = compute_layout(small_program())
    a = layout.message("A")
    assert a.dtype == struct_dtype([("x", I32), ("y", arr(F32, 3)), ("flag", U8)], pad_to=16)
    assert a.size == 32 and a.dtype.fields["flag"][1] == 16
    assert layout.message("B").size == 80


def test_emitted_asserts_repeat_every_offset():
    generated = generate(semantics_program(), "opencl")
    for m in generated.layout.messages:
        c_name = f"rc_msg_{m.name}"
        assert f"(sizeof({c_name}) == {m.size})" in generated.source
        for name, (_, offset) in m.dtype.fields.items():
            field = {"switch": "switch_", "device": "device_", "kernel": "kernel_",
                     "float4": "float4_", "rc_x": "rc_x_", "int": "int_", "thread": "thread_",
                     "private": "private_", "half": "half_"}.get(name, name)
            assert f"(__builtin_offsetof({c_name}, {field}) == {offset})" in generated.source


def test_new_arena_is_ready_to_run():
    layout = compute_layout(small_program(), output_capacity=16, dead_letter_capacity=8)
    arena = layout.new_arena()
    for q in (*layout.queues, layout.host_queue, layout.dead_letter_queue):
        slots = arena[q.slots_offset:q.slots_offset + q.capacity * q.slot_size]
        seqs = slots.view(np.uint32).reshape(q.capacity, -1)[:, 0]
        assert list(seqs) == list(range(q.capacity))
    stats = arena[CONTROL.size:CONTROL.size + 3 * LINE].view(STATS.dtype)
    assert list(stats["active"]) == [1, 1, 1] and stats["processed"].sum() == 0
    k1 = layout.kernel("K1")
    for i in range(2):
        start = k1.state_offset + i * k1.state_stride
        rec = arena[start:start + k1.state_dtype.itemsize].view(k1.state_dtype)[0]
        assert rec["n"] == 5 and list(rec["v"]) == [1.0, 2.0, 3.0]


def test_slot_dtype_views_a_slot():
    layout = compute_layout(small_program())
    q = layout.queues[0]
    dtype = q.slot_dtype(layout.message("A").dtype)
    assert dtype.itemsize == q.slot_size and dtype.fields["payload"][1] == SLOT.size
    dead = layout.dead_letter_queue.slot_dtype()
    assert dead.fields["reason"][1] == 36 and dead.fields["payload"][1] == DEAD_SLOT.size


def test_capacities_must_be_powers_of_two():
    with pytest.raises(CompileError, match="power of two"):
        compute_layout(small_program(), output_capacity=100)
    program = small_program()
    from dataclasses import replace
    k = program.kernels[1]
    bad = replace(program, kernels=(program.kernels[0], replace(k, options=replace(
        k.options, capacity=12))))
    with pytest.raises(CompileError, match="capacity of kernel 'K2'") as err:
        compute_layout(bad)
    assert err.value.loc == k.loc


def test_room_needs_bound_what_one_handling_sends():
    msg = new("A", x=c(1))
    h = handler("on_a", "m", "A", [
        for_("i", c(0), c(10), 3, [                         # 4 iterations
            send("K2", msg),
            if_(c(True, U8), [emit(msg)], [emit(msg), emit(msg)])]),
        while_(c(False, U8), [send("K2", msg, instance=lv("i", I32))]),   # at least one
        send("K1", msg, instance=c(1)),
        ret(msg)], returns=MessageType("A"), i=I32)
    k1 = kernel("K1", handlers=[h])
    program = Program((message("A", 1, x=I32),), (k1, kernel("K2")), ())
    assert set(room_needs(program, k1, h)) == {
        RoomNeed("kernel", 4, "K2", 0), RoomNeed("host", 8), RoomNeed("kernel", 1, "K2", None),
        RoomNeed("kernel", 1, "K1", 1), RoomNeed("reply", 1)}


def test_calls_add_their_sends_and_recursion_is_an_error():
    msg = new("A", x=c(1))
    twice = function("twice", {}, None, [emit(msg), emit(msg)])
    h = handler("on_a", "m", "A", [
        for_("i", c(0), c(3), 1, [expr_stmt(hcall("twice", [], None))]),
        assign(st("s", I32), c(0))], i=I32)
    k = kernel("K", state=[("s", I32, None)], handlers=[h], helpers=[twice])
    program = Program((message("A", 1, x=I32),), (k,), ())
    assert room_needs(program, k, h) == (RoomNeed("host", 6),)
    loop = function("loop", {}, I32, [ret(bin_("add", hcall("loop", [], I32), c(1)))])
    k2 = kernel("K", state=[("s", I32, None)], handlers=[h], helpers=[twice, loop])
    with pytest.raises(CompileError, match="recursion is not supported: loop -> loop"):
        compile(Program(program.messages, (k2,), ()), "opencl")   # the verifier finds it


def test_room_needs_count_every_statement_kind():
    assert _NeedCounter.statement.kinds == set(STMT_KINDS)


def test_coverage_program_layout_is_consistent():
    layout = generate(coverage_program(), "cuda").layout
    ids = [q.id for q in layout.queues]
    assert ids == list(range(len(ids)))
    server = layout.kernel("Server")
    assert server.instances == 3 and server.capacity == 64 and server.max_batch == 8
    assert [q.instance for q in layout.queues if q.kernel == "Server"] == [0, 1, 2]
    par = layout.kernel("Par")
    assert par.concurrency == "parallel" and par.mode == "event_driven"
    assert layout.kernel("Calc").handler_for(1).function == "on_ints"


@pytest.mark.parametrize("target", ["opencl", "cuda", "metal"])
def test_a_wrong_layout_fails_the_real_build(target):
    """The layout asserts are checked by the compilers: a program whose struct offsets
    disagree with the numpy layout does not build (so a passing build proves they agree)."""
    from ringc.targets import check_all

    source = generate(semantics_program(metal=target == "metal"), target).source
    wrong = re.sub(r"(__builtin_offsetof\(rc_msg_\w+, \w+\) == )(\d+)",
                   lambda m: m.group(1) + str(int(m.group(2)) + 4), source, count=1)
    assert wrong != source
    results = check_all({target: source}) + check_all({target: wrong})
    if any(r.ok is None for r in results):
        pytest.skip(f"no {target} toolchain here: {results[0].log}")
    half = len(results) // 2
    assert all(r.ok for r in results[:half])
    assert not any(r.ok for r in results[half:])
