"""`Inbox` and `MessageCodec` without a device: an `IngressRing` over the host output queue
produces into it as the device does (the same slot protocol)."""

from __future__ import annotations

import numpy as np
import pytest

from ringc.codegen.layout import compute_layout
from ringc.compiler import to_program
from ringc.frontend import build_program_with_classes
from ringc.runtime.codec import MessageCodec
from ringc.runtime.inbox import Inbox
from ringc.runtime.reports import LatencyBook
from ringc.runtime.rings import IngressRing

from .kernels import Sum, Summer, Work


@pytest.fixture
def summer():
    """(layout, program, message classes) of `Summer`, with an 8-slot host output queue."""
    built, classes, _ = build_program_with_classes(Summer)
    program = to_program(built)
    return compute_layout(program, output_capacity=8, dead_letter_capacity=8), program, classes


def _inbox(summer, host_buffer: int) -> tuple[Inbox, IngressRing, MessageCodec]:
    layout, program, classes = summer
    memory = layout.new_arena()
    codec = MessageCodec(layout, classes)
    inbox = Inbox(memory, layout, program, (), codec, LatencyBook(layout.num_queues),
                  host_buffer)
    return inbox, IngressRing(memory, layout.host_queue), codec


def _reply(device: IngressRing, codec: MessageCodec, *correlations: int) -> None:
    """`Sum(id=c, value=c / 2)` from Summer[0] for each correlation c, as one batch."""
    records = np.zeros(len(correlations), Sum.dtype)
    records["id"] = correlations
    records["value"] = np.array(correlations) / 2
    assert device.produce(codec.type_id(Sum), records, 0,
                          np.array(correlations, dtype=np.uint64), 0) == len(correlations)


def test_a_waited_for_reply_goes_to_its_request_and_the_rest_is_buffered_in_order(summer):
    inbox, device, codec = _inbox(summer, host_buffer=100)
    inbox.expect_reply(2)
    inbox.expect_reply(5)
    _reply(device, codec, 1, 2, 3)                     # a batch: the numpy path
    inbox.collect(now=0)
    _reply(device, codec, 4)                           # one slot each: the struct path
    inbox.collect(now=0)
    _reply(device, codec, 5)
    inbox.collect(now=0)
    assert _decoded(codec, inbox.reply(2)) == Sum(id=2, value=1.0)
    assert _decoded(codec, inbox.reply(5)) == Sum(id=5, value=2.5)
    assert inbox.collected == 5 and inbox.count() == 3 and inbox.count(codec.type_id(Sum)) == 3
    type_id, record = inbox.take_one()
    assert codec.message(type_id, record) == Sum(id=1, value=0.5)
    taken: list = []
    assert inbox.take(None, 5, taken) == 3             # two of the five wanted were there
    assert list(inbox.as_arrays(taken, None)["id"]) == [3, 4]
    assert inbox.take_one() is None and inbox.count() == 0
    inbox.forget_reply(5)
    _reply(device, codec, 5)                           # after the request gave up: buffered
    inbox.collect(now=0)
    assert inbox.count() == 1


def test_what_was_taken_and_not_received_goes_back_in_order(summer):
    """Ctrl-C inside receive_many or request: the runtime puts back what it took."""
    inbox, device, codec = _inbox(summer, host_buffer=100)
    _reply(device, codec, 1, 2, 3, 4)
    inbox.expect_reply(4)
    inbox.collect(now=0)
    taken: list = []
    assert inbox.take(None, 2, taken) == 0
    inbox.put_back_reply(inbox.forget_reply(4))
    inbox.put_back(taken)
    again: list = []
    inbox.take(None, 10, again)
    assert list(inbox.as_arrays(again, None)["id"]) == [1, 2, 4, 3]


def _decoded(codec, reply):
    return codec.decode(reply.type_id, reply.data, reply.offset)


def test_host_buffer_leaves_messages_queued_unless_a_request_waits(summer):
    inbox, device, codec = _inbox(summer, host_buffer=2)
    _reply(device, codec, 1, 2, 3, 4, 5)
    inbox.collect(now=0)
    inbox.collect(now=0)
    assert inbox.count() == 2 and inbox.output_fill() == 3 / 8
    inbox.expect_reply(5)                              # its reply is behind a full buffer
    inbox.collect(now=0)
    assert _decoded(codec, inbox.reply(5)) == Sum(id=5, value=2.5) and inbox.count() == 4
    assert inbox.output_fill() == 0


def test_codec_encodes_for_a_kernel_and_names_what_it_cannot(summer):
    layout, _, classes = summer
    codec = MessageCodec(layout, classes)
    kernel = layout.kernel("Summer")
    work = Work(id=7, data=[1, 2, 3, 4], ts=9)
    type_id, payload = codec.encode(kernel, work)
    assert type_id == codec.type_id(Work) == codec.type_id("Work")
    assert payload == work.to_record().tobytes()
    assert codec.decode(type_id, b"\0" * 8 + payload, 8) == work
    assert codec.message_class(type_id) is Work
    array_type, records = codec.encode(kernel, np.zeros(3, Work.dtype))
    assert array_type == type_id and len(records) == 3
    with pytest.raises(TypeError, match="Summer has no handler for Sum"):
        codec.encode(kernel, Sum(id=1, value=0.0))
    with pytest.raises(TypeError, match="'Nope' is not a message of this program"):
        codec.type_id("Nope")
