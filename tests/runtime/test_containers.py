"""State containers (docs/language.md, "Containers"): rc.Queue and rc.Stack, every method,
fault and iteration order, on every backend present, against a Python model, step by step
over random operation sequences; part of state for checkpoint/restore across backends."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ringc as rc

from .kernels import Boxes, Op, Seen


class BoxesModel:
    """Boxes in Python: a deque of [seq, index] pairs and a list."""

    def __init__(self) -> None:
        self.q: deque[list[int]] = deque()
        self.s: list[int] = []

    def op(self, code: int, arg: int):
        if code == 0:
            if len(self.q) == 3:
                return "container_full"
            self.q.append([arg, 0])
            if len(self.s) == 4:
                return "container_full"          # the queue's push stays done
            self.s.append(arg)
        elif code == 1:
            if not self.q or not self.s:
                if self.q:
                    self.q.popleft()              # the queue's pop stays done
                return "container_empty"
            j, t = self.q.popleft(), self.s.pop()
            return Seen(a=j[0], b=t, c=len(self.q), n=len(self.s))
        elif code == 2:
            if not 0 <= arg < len(self.q):
                return "index_out_of_range"
            self.q[arg][1] += 1
            if not 0 <= arg < len(self.s):
                return "index_out_of_range"
            return Seen(a=self.q[arg][0], b=self.q[arg][1], c=self.s[-1 - arg], n=self.s[-1])
        elif code == 3:
            total = sum(seq * 10 + index for seq, index in self.q)
            order = int("".join(str(seq) for seq, _ in self.q) or 0)
            top = int("".join(str(v) for v in reversed(self.s)) or 0)
            return Seen(a=total, b=order, c=top, n=int(len(self.q) == 3) + 2 * int(not self.s))
        elif code == 4:
            self.q.clear()
            self.s.clear()
        elif code == 5 and len(self.q) == 3:
            return Seen(a=-7)
        elif code == 5:
            self.q.append([9, 0])
        return Seen(a=len(self.q), b=len(self.s), c=int(not self.q), n=int(len(self.s) == 4))


def _run(rt, code: int, arg: int):
    try:
        return rt.request(Boxes, Op(code=code, arg=arg), timeout=30.0)
    except rc.DeadLettered as exc:
        return exc.dead_letter.reason


OPS = st.lists(st.tuples(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5]), st.integers(0, 4)),
               min_size=1, max_size=25)


@pytest.fixture(scope="module", params=["sim", "opencl"])
def boxes(request):
    from tests.backend_support import unavailable
    why = unavailable(request.param)
    if why:
        pytest.skip(f"{request.param}: {why}")
    with rc.launch(Boxes, backend=request.param) as rt:
        yield rt


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS)
def test_random_operations_match_python_step_by_step(boxes, ops):
    model = BoxesModel()
    assert _run(boxes, 4, 0) == model.op(4, 0)                   # start empty
    for code, arg in ops:
        assert _run(boxes, code, arg) == model.op(code, arg), (code, arg, ops)


def test_every_method_and_fault_on_a_fixed_sequence(backend):
    ops = [(0, 1), (0, 2), (0, 3), (2, 1), (3, 0), (5, 0), (0, 4), (1, 0), (0, 5), (3, 0),
           (1, 0), (1, 0), (1, 0), (1, 0), (0, 6), (2, 5), (4, 0), (3, 0)]
    model = BoxesModel()
    with rc.launch(Boxes, backend=backend) as rt:
        got = [_run(rt, code, arg) for code, arg in ops]
    assert got == [model.op(code, arg) for code, arg in ops]
    assert {"container_full", "container_empty", "index_out_of_range"} <= {
        g for g in got if isinstance(g, str)}


def test_containers_travel_in_checkpoints_between_backends(backend):
    with rc.launch(Boxes, backend="sim") as rt:
        for seq in (4, 5, 6):
            _run(rt, 0, seq)
        _run(rt, 1, 0)                                   # the queue's head moves: 5, 6
        snapshot = rt.checkpoint(Boxes)
    assert snapshot["q"]["count"] == 2 and snapshot["s"]["count"] == 2
    with rc.launch(Boxes, backend=backend) as rt:
        rt.restore(Boxes, snapshot)
        assert _run(rt, 3, 0) == Seen(a=50 + 60, b=56, c=54, n=0)
        assert _run(rt, 1, 0) == Seen(a=5, b=5, c=1, n=1)


def test_containers_build_for_every_target_and_round_trip_as_text():
    from ringc.compiler import compile
    from ringc.frontend import build_program
    from ringc.ir.parser import parse_program
    from ringc.ir.printer import print_program
    from ringc.targets import check_all

    program = build_program(Boxes)
    text = print_program(program)
    assert "state q: queue[Job, 3]" in text and "foreach j in" in text
    assert parse_program(text) == program and print_program(parse_program(text)) == text
    sources = {t: compile(program, t).source for t in ("opencl", "cuda", "metal")}
    built = [r for r in check_all(sources) if r.ok is not None]
    assert built
    for result in built:
        assert result.ok, f"{result.target} ({result.tool}):\n{result.log}"


@pytest.mark.parametrize("source, message", [
    ("@rc.message\nclass M:\n    q: rc.Queue[i32, 4]\n", "is a container (queue[i32, 4]), which "
     "a message cannot hold"),
    ("@rc.ring_kernel(concurrency='parallel')\nclass K:\n    q: rc.Stack[i32, 4]\n"
     "    def on_job(self, m: Job):\n        pass\n", "cannot be a container"),
    ("@rc.ring_kernel\nclass K:\n    q: rc.Stack[i32, 4]\n    def on_job(self, m: Job):\n"
     "        self.q.append(1)\n", "Stack has no method 'append'"),
    ("@rc.ring_kernel\nclass K:\n    q: rc.Stack[i32, 4]\n    def on_job(self, m: Job):\n"
     "        x = self.q.pop() + self.q.pop()\n", "must be the whole expression"),
])
def test_container_misuse_is_one_located_error(user_module, source, message):
    header = "from tests.runtime.kernels import Job\n"
    with pytest.raises(rc.CompileError) as info:
        module = user_module(header + source)
        from ringc.frontend import build_program
        build_program(module.K)
    assert message in info.value.message and info.value.line > 0
