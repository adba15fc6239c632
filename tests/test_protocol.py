"""The device protocol has one source (ringc/protocol.py): its tables agree with C's layout
of the headers, and a wrong offset in them fails every backend, each in its own way."""

from __future__ import annotations

import pytest

from ringc import protocol
from ringc.backends.sim.machine import SimMachine
from ringc.codegen import fail_reasons, generate
from ringc.codegen.layout import compute_layout

from .codegen.programs import coverage_program
from .codegen.toolchains import build_cuda, build_opencl, check_metal


def test_headers_follow_cs_struct_layout():
    protocol.check()
    assert protocol.STATS.offset("active") == 0            # the word the host writes
    assert protocol.QUEUE.offset("tail") == protocol.LINE  # head and tail: a line each
    assert protocol.SLOT.size == protocol.DEAD_SLOT.offset("queue")
    assert protocol.DEAD_SLOT.dtype.itemsize == protocol.DEAD_SLOT.size
    names = [name for name, _, _ in protocol.c_defines()]
    assert len(names) == len(set(names))


def test_every_header_field_has_a_static_assert():
    source = generate(coverage_program(), "opencl").source
    for record in protocol.RECORDS:
        for name in record.names:
            assert f"__builtin_offsetof({record.c_name}, {name}) == {record.define(name)}" \
                in source


@pytest.fixture
def wrong_offset(monkeypatch):
    """The offset of stats.processed changed in the protocol's table alone (8 is where
    dead_lettered lives): what a hand-edited constant would do."""
    monkeypatch.setitem(protocol.STATS.offsets, "processed", 8)


def _program(target: str):
    return coverage_program(metal=target == "metal")


@pytest.mark.usefixtures("wrong_offset")
@pytest.mark.parametrize("target", ["opencl", "cuda", "metal"])
def test_a_wrong_offset_fails_each_device_build(target):
    source = generate(_program(target), target).source
    assert "#define RC_STAT_PROCESSED 8u" in source
    build = {"opencl": build_opencl, "cuda": build_cuda, "metal": check_metal}[target]
    with pytest.raises(Exception, match="rc_layout_check"):
        build(source)


@pytest.mark.usefixtures("wrong_offset")
def test_a_wrong_offset_stops_the_simulator():
    program = _program("sim")
    with pytest.raises(protocol.ProtocolError, match="rc_stats.processed is at byte 4"):
        SimMachine(program, compute_layout(program), fail_reasons(program))
