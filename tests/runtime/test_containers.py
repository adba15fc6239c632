"""State containers (docs/language.md, "Containers"): rc.Queue, rc.Stack, rc.Map and
rc.LRUMap, every method,
fault and iteration order, on every backend present, against a Python model, step by step
over random operation sequences; part of state for checkpoint/restore across backends."""

from __future__ import annotations

from collections import OrderedDict, deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ringc as rc

from .kernels import Boxes, Op, Seen, Tables


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


class TablesModel:
    """Tables in Python: a dict of [key, n] pairs (at most 5) and an OrderedDict in
    recency order (at most 4, the least recently used evicted)."""

    def __init__(self) -> None:
        self.m: dict[int, list[int]] = {}
        self.lru: OrderedDict[int, int] = OrderedDict()
        self.evictions = 0

    def lru_get(self, k: int):
        if k in self.lru:
            self.lru.move_to_end(k)
            return self.lru[k]
        return None

    def op(self, code: int, k: int):
        m, lru = self.m, self.lru
        if code == 0:
            if k not in lru and len(lru) == 4:
                lru.popitem(last=False)
                self.evictions += 1
            lru[k] = k * 1000
            lru.move_to_end(k)
            if k not in m and len(m) == 5:
                return "container_full"
            m[k] = [k, 1]
        elif code == 1:
            found = self.lru_get(k)
            return Seen(a=m.get(k, [-1, 0])[0], b=-5 if found is None else found,
                        c=int(k in m), n=int(k not in lru))
        elif code == 2:
            if k not in m:
                return "key_not_found"
            m[k][1] += 10
            found = self.lru_get(k)
            if found is None:
                return "key_not_found"
            return Seen(a=m[k][1], b=found, c=len(m), n=len(lru))
        elif code == 3:
            gone_m, gone_lru = m.pop(k, None) is not None, lru.pop(k, None) is not None
            return Seen(a=int(gone_m), b=int(gone_lru), c=len(m), n=len(lru))
        elif code == 4:
            return Seen(a=sum(m), b=sum(n for _, n in m.values()), c=sum(lru), n=0)
        elif code == 5:
            m.clear()
            lru.clear()
        return Seen(a=len(m), b=len(lru), c=int(len(m) == 5), n=self.evictions)


def _run(rt, code: int, arg: int, kernel=Boxes):
    try:
        return rt.request(kernel, Op(code=code, arg=arg), timeout=30.0)
    except rc.DeadLettered as exc:
        return exc.dead_letter.reason


OPS = st.lists(st.tuples(st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5]), st.integers(0, 4)),
               min_size=1, max_size=25)


@pytest.fixture(scope="module", params=["sim", "opencl"])
def running(request):
    """Boxes and Tables in one program per backend, for the random sequences (a device
    runs a few programs at once)."""
    from tests.backend_support import unavailable
    why = unavailable(request.param)
    if why:
        pytest.skip(f"{request.param}: {why}")
    with rc.launch([Boxes, Tables], backend=request.param) as rt:
        yield rt


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS)
def test_random_operations_match_python_step_by_step(running, ops):
    model = BoxesModel()
    assert _run(running, 4, 0) == model.op(4, 0)                 # start empty
    for code, arg in ops:
        assert _run(running, code, arg) == model.op(code, arg), (code, arg, ops)


MAP_OPS = st.lists(st.tuples(st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3, 4, 6]),
                             st.integers(-3, 9)), min_size=1, max_size=30)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=MAP_OPS)
def test_random_map_operations_match_python_step_by_step(running, ops):
    model = TablesModel()
    start = _run(running, 5, 0, Tables)                  # start empty (evictions go on)
    model.evictions = int(start.n)
    assert start == model.op(5, 0)
    for code, arg in ops:
        assert _run(running, code, arg, Tables) == model.op(code, arg), (code, arg, ops)


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


def test_maps_travel_in_checkpoints_between_backends(backend):
    """A table and a recency list filled on the simulator go on, on `backend`, exactly
    where they were: same slots, same least recently used key."""
    with rc.launch(Tables, backend="sim") as rt:
        for k in (3, 8, 1, 6, 2):                        # 3 is evicted from the LRU map
            _run(rt, 0, k, Tables)
        _run(rt, 1, 8, Tables)                           # 8 becomes the most recent
        snapshot = rt.checkpoint(Tables)
    assert snapshot["m"]["count"] == 5 and snapshot["lru"]["evictions"] == 1
    with rc.launch(Tables, backend=backend) as rt:
        rt.restore(Tables, snapshot)
        assert _run(rt, 4, 0, Tables) == Seen(a=3 + 8 + 1 + 6 + 2, b=5, c=8 + 1 + 6 + 2, n=0)
        _run(rt, 0, 7, Tables)                           # the map is full: container_full,
        assert _run(rt, 1, 1, Tables).n == 1             # but the LRU put evicted 1 first
        assert _run(rt, 1, 8, Tables).b == 8000
        assert rt.checkpoint(Tables)["lru"]["evictions"] == 2


def test_containers_build_for_every_target_and_round_trip_as_text():
    from ringc.compiler import compile
    from ringc.frontend import build_program
    from ringc.ir.parser import parse_program
    from ringc.ir.printer import print_program
    from ringc.targets import check_all

    program = build_program([Boxes, Tables])
    text = print_program(program)
    assert "state q: queue[Job, 3]" in text and "foreach j in" in text
    assert "state lru: lru[i32, i64, 4]" in text and "(container contains:bool" in text
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
    ("@rc.ring_kernel\nclass K:\n    m: rc.Map[i32, i32, 4]\n    def on_job(self, m: Job):\n"
     "        x = self.m.evictions\n", "Map has no attribute 'evictions'"),
    ("@rc.ring_kernel\nclass K:\n    q: rc.Queue[i32, 4]\n    def on_job(self, m: Job):\n"
     "        x = 3 in self.q\n", "comparison In is not supported"),
    ("@rc.ring_kernel\nclass K:\n    m: rc.Map[i32, i32, 4]\n    def on_job(self, m: Job):\n"
     "        self.m.put(1.5, 2)\n", "float"),
    ("@rc.ring_kernel\nclass K:\n    q: rc.Queue[i32, 4]\n    def on_job(self, m: Job):\n"
     "        x = self.q.push(1)\n", "returns nothing: there is no value to assign"),
    ("@rc.ring_kernel\nclass K:\n    m: rc.Map[i32, i32, 4]\n    def on_job(self, m: Job):\n"
     "        x = self.m.get(1)\n", "self.m.get(key, default)"),
    ("@rc.ring_kernel\nclass K:\n    m: rc.Map[i32, i32, 4]\n    def on_job(self, m: Job):\n"
     "        for k, v in self.m.items():\n            pass\n", "has no .items()"),
])
def test_container_misuse_is_one_located_error(user_module, source, message):
    header = "from tests.runtime.kernels import Job\n"
    with pytest.raises(rc.CompileError) as info:
        module = user_module(header + source)
        from ringc.frontend import build_program
        build_program(module.K)
    assert message in info.value.message and info.value.line > 0


def test_a_local_first_assigned_inside_a_for_each_loop(user_module, backend):
    module = user_module("""
@rc.message
class Rec:
    depth: i32

@rc.ring_kernel
class K:
    m: rc.Map[i32, Rec, 8]

    def on_rec(self, r: Rec) -> Rec:
        self.m[r.depth] = r
        total = 0
        for k in self.m:
            d = self.m[k].depth * 10
            total += d
        return Rec(depth=total)
""")
    with rc.launch(module.K, backend=backend) as rt:
        assert [rt.request(module.K, module.Rec(depth=n), timeout=10.0).depth
                for n in (1, 2, 3)] == [10, 30, 60]
