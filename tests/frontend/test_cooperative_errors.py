"""Cooperative kernels' mistakes: each one CompileError at file:line:col with a caret and a
hint, and nothing of the frontend's own stack in its text."""

from __future__ import annotations

import textwrap

import pytest

from ringc.errors import CompileError
from ringc.frontend import build_program
from tests.conftest import PRELUDE_LINES
from tests.frontend.test_errors import assert_well_formed

MSGS = """
@rc.message
class In:
    a: i32
    x: f32
    v: Array[f32, 4]
"""
HEAD = MSGS.count("\n") + 1 + PRELUDE_LINES      # the line the kernel source starts after


def error(user_kernels, source: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        build_program(user_kernels(MSGS + textwrap.dedent(source)))
    assert_well_formed(info.value)
    assert info.value.hint
    return info.value


def coop(body: str, helpers: str = "", options: str = 'concurrency="cooperative"') -> str:
    lines = textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8)
    return f"""
@rc.ring_kernel({options})
class K:
    n: i32
{textwrap.indent(textwrap.dedent(helpers), " " * 4)}
    def on_in(self, m: In):
{lines}
"""


def at(err: CompileError, source: str, text: str) -> None:
    """The error is at the first line of `source` holding `text`, at `text`'s column."""
    lines = textwrap.dedent(source).split("\n")
    row = next(i for i, line in enumerate(lines) if text in line)
    assert (err.line - HEAD, err.col) == (row, lines[row].index(text) + 1), str(err)


@pytest.mark.parametrize("call", ["rc.lane()", "rc.group_size()", "rc.group_sum(m.x)",
                                  "rc.broadcast(m.x, 0)"])
def test_lane_intrinsics_outside_a_cooperative_kernel(user_kernels, call):
    source = coop(f"y = {call}", options="")
    err = error(user_kernels, source)
    assert "only for a cooperative kernel" in err.message
    assert "concurrency='cooperative'" in err.hint
    at(err, source, call)


def test_barrier_outside_a_cooperative_kernel(user_kernels):
    source = coop("rc.barrier()", options='concurrency="parallel"')
    err = error(user_kernels, source)
    assert "rc.barrier() is only for a cooperative kernel" in err.message
    at(err, source, "rc.barrier()")


def test_lane_in_a_device_function(user_kernels):
    source = """
@rc.device
def which() -> i32:
    return rc.lane()

@rc.ring_kernel(concurrency="cooperative")
class K:
    def on_in(self, m: In):
        x = which()
"""
    err = error(user_kernels, source)
    assert "not an @rc.device function" in err.message
    at(err, source, "rc.lane()")


@pytest.mark.parametrize("body, point, why", [
    ("if rc.lane() < 4:\n    rc.barrier()", "rc.barrier()", "the if at line"),
    ("y = rc.lane() * 2\nz = y + 1\nwhile z > 3:\n    s = rc.group_sum(m.x)\n    z -= 1",
     "s = rc.group_sum", "the while at line"),
    ("for i in range(rc.lane()):\n    b = rc.broadcast(m.x, 0)", "b = rc.broadcast",
     "the for at line"),
    ("if rc.lane() == 0:\n    return\nrc.barrier()", "rc.barrier()", "the return at line"),
    ("for i in range(4):\n    if rc.lane() == i:\n        break\n    rc.barrier()",
     "rc.barrier()", "the break at line"),
    ("t = rc.now()\nif t > 5:\n    rc.barrier()", "rc.barrier()", "the if at line"),
    ("old = rc.atomic_add(self.n, 1)\nif old == 0:\n    rc.barrier()", "rc.barrier()",
     "the if at line"),
    ("flag = rc.lane() == 0\nx = 1 if flag else 2\nif x == 1:\n    rc.barrier()",
     "rc.barrier()", "the if at line"),
])
def test_a_synchronisation_point_under_lane_dependent_control(user_kernels, body, point, why):
    source = coop(body)
    err = error(user_kernels, source)
    assert "synchronises the lanes, but not every lane gets here" in err.message
    assert why in err.message
    at(err, source, point)


def test_lane_dependent_arguments_reach_a_helpers_barrier(user_kernels):
    helpers = """
def steps(self, k: i32):
    for i in range(k):
        rc.barrier()
"""
    source = coop("self.steps(m.a)\nself.steps(rc.lane())", helpers)
    err = error(user_kernels, source)
    assert "the for at line" in err.message
    assert "self.steps() called at line" in err.message
    at(err, source, "rc.barrier()")


def test_uniform_control_and_lane_dependent_work_are_fine(user_kernels):
    source = coop("""
tile: rc.Shared[Array[f32, 128]]
tile[rc.lane()] = m.x
rc.barrier()
stride = rc.group_size() // 2
while stride > 0:
    if rc.lane() < stride:
        tile[rc.lane()] += tile[rc.lane() + stride]
    rc.barrier()
    stride //= 2
s = rc.group_sum(tile[0])
if m.a > 0:
    t = rc.broadcast(s, m.a % rc.group_size())
""")
    build_program(user_kernels(MSGS + source))


def test_a_synchronisation_point_in_a_try(user_kernels):
    source = coop("try:\n    rc.barrier()\nexcept rc.Fault:\n    pass")
    err = error(user_kernels, source)
    assert "cannot be inside a try statement" in err.message
    at(err, source, "rc.barrier()")


def test_a_reduction_is_the_whole_value_of_an_assignment(user_kernels):
    source = coop("y = rc.group_sum(m.x) + 1.0")
    err = error(user_kernels, source)
    assert "must be the whole value of an assignment to a local" in err.message
    at(err, source, "rc.group_sum")


def test_a_reduction_of_a_small_type(user_kernels):
    source = coop("y = rc.group_max(i16(m.a))")
    err = error(user_kernels, source)
    assert "32- or 64-bit number" in err.message
    at(err, source, "i16(m.a)")


def test_a_shared_array_in_state(user_kernels):
    source = """
@rc.ring_kernel(concurrency="cooperative")
class K:
    tile: rc.Shared[Array[f32, 8]]

    def on_in(self, m: In):
        pass
"""
    err = error(user_kernels, source)
    assert "state 'tile' is a shared array" in err.message
    at(err, source, "rc.Shared")


def test_a_shared_array_in_a_message(user_module):
    source = """
@rc.message
class Bad:
    tile: rc.Shared[Array[f32, 8]]
"""
    with pytest.raises(CompileError) as info:
        user_module(source)
    err = info.value
    assert_well_formed(err)
    assert "is a shared array" in err.message and err.hint
    assert err.line == PRELUDE_LINES + 4


def test_a_shared_array_outside_a_cooperative_kernel(user_kernels):
    source = coop("tile: rc.Shared[Array[f32, 8]]\ntile[0] = m.x", options="")
    err = error(user_kernels, source)
    assert "only for a cooperative kernel" in err.message
    at(err, source, "rc.Shared")


@pytest.mark.parametrize("options, message", [
    ('concurrency="cooperative", group_size=100', "a power of two from 1 to 1024"),
    ('concurrency="cooperative", group_size=2048', "a power of two from 1 to 1024"),
    ('concurrency="cooperative", group_size=0', "a power of two from 1 to 1024"),
    ("group_size=64", "needs concurrency='cooperative'"),
    ('concurrency="parallel", group_size=64', "needs concurrency='cooperative'"),
])
def test_bad_group_sizes(user_kernels, options, message):
    source = coop("pass", options=options)
    err = error(user_kernels, source)
    assert message in err.message + (err.hint or "")
    at(err, source, "group_size")


def test_cooperative_kernels_have_no_containers_hooks_or_timers(user_kernels):
    source = """
@rc.ring_kernel(concurrency="cooperative")
class K:
    q: rc.Queue[i32, 4]

    def on_in(self, m: In):
        pass
"""
    err = error(user_kernels, source)
    assert "concurrency='cooperative'" in err.message and "container" in err.message
