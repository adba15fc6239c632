"""A cooperative kernel's lanes in the simulator: one handling run on `group_size` lanes.

Each lane is a host thread running the compiled handler, but only one runs at a time, as
PoCL (and the executing shims) run a work-group's work-items: every lane runs until it
reaches its next synchronisation point (`rc.barrier()`, a group reduction, a broadcast) or
the end of the handler, then the next lane runs, in lane order; once every lane is there,
they all go on. So a missing barrier, or a race on a shared array, changes what the
simulator computes exactly as it changes what PoCL computes, and the differential tests
see it.

At a synchronisation point the group computes what the lanes asked for: a reduction is a
pairwise tree over the lanes' values (lane i with lane i + n/2, then i + n/4, ...: the
order the device program uses, so float sums agree bit for bit), a broadcast gives each
lane the value of the lane it named (`index_out_of_range` for a lane outside
0..n-1). A fault ends its lane at once (the device's lane runs on without effects); at the
next synchronisation point, or at the end, the handling ends for every lane, and the
message is dead-lettered with the reason of the lowest-numbered lane that faulted.

Lanes that reach different synchronisation points (the frontend refuses programs that
could) raise `LaneDivergence`: it would hang or corrupt a device.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ringc.ir.types import ScalarType

from .values import INDEX_OUT_OF_RANGE, Fault, wrapper

__all__ = ["run_lanes", "LaneDivergence", "tree_reduce"]


class LaneDivergence(RuntimeError):
    """The lanes of one cooperative handling reached different synchronisation points."""


class _Stop(BaseException):
    """Unwinds a lane the group stopped (neither a Fault nor an Exception, so no handler
    code of the user's catches it)."""


def tree_reduce(op: str, t: ScalarType, values: list) -> object:
    """`op` (sum, max, min) of `values` (a power of two of them) as the device combines
    them: at width w = n/2, n/4, ..., 1, lane i < w takes lane i + w's partial."""
    vals = list(values)
    if op == "sum":
        if t.is_float:
            combine = lambda a, b: a + b            # noqa: E731  (numpy: one IEEE op)
        else:
            wrap = wrapper(t)
            combine = lambda a, b: wrap(a + b)      # noqa: E731
    elif op == "max":
        combine = lambda a, b: b if b > a else a    # noqa: E731
    else:
        combine = lambda a, b: b if b < a else a    # noqa: E731
    w = len(vals) // 2
    while w >= 1:
        for i in range(w):
            vals[i] = combine(vals[i], vals[i + w])
        w //= 2
    return vals[0]


class _LaneEffects:
    """The `Effects` of one lane: the handling's context, plus the lane group."""

    __slots__ = ("ctx", "_lanes", "index")

    def __init__(self, ctx, lanes: _Group, index: int):
        self.ctx, self._lanes, self.index = ctx, lanes, index

    def send(self, *args) -> None:
        self.ctx.send(*args)

    def emit(self, *args) -> None:
        self.ctx.emit(*args)

    def reply(self, *args) -> None:
        self.ctx.reply(*args)

    def send_after(self, *args) -> None:
        self.ctx.send_after(*args)

    def sender(self):
        return self.ctx.sender()

    def now(self) -> int:
        return self.ctx.now()

    def lane(self) -> int:
        return self.index

    def barrier(self) -> None:
        self._lanes.arrive(self.index, ("barrier", None, None))

    def group(self, op: str, t: ScalarType, value):
        return self._lanes.arrive(self.index, (op, t, value))

    def broadcast(self, value, lane: int):
        return self._lanes.arrive(self.index, ("broadcast", None, (value, lane)))

    def shared(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        arrays = self._lanes.shared
        if key not in arrays:
            arrays[key] = make()
        return arrays[key]


class _Solo:
    """A group of one lane: every synchronisation point answers at once, in the lane's
    own thread."""

    def __init__(self) -> None:
        self.shared: dict[tuple, np.ndarray] = {}

    def arrive(self, lane: int, what: tuple):
        kind, t, payload = what
        if kind == "barrier":
            return None
        if kind == "broadcast":
            value, src = payload
            if src != 0:
                raise Fault(INDEX_OUT_OF_RANGE)
            return value
        return payload


class _Group:
    """The lanes of one handling and their turns."""

    def __init__(self, n: int):
        self.n = n
        self.go = [threading.Semaphore(0) for _ in range(n)]
        self.back = threading.Semaphore(0)
        self.asked: dict[int, tuple] = {}        # lane -> what it asked at the point
        self.answers: dict[int, object] = {}
        self.stopping = False
        self.shared: dict[tuple, np.ndarray] = {}

    def arrive(self, lane: int, what: tuple):
        """In lane `lane`'s thread: wait at a synchronisation point; what it gives."""
        self.asked[lane] = what
        self.back.release()
        self.go[lane].acquire()
        if self.stopping:
            raise _Stop
        answer = self.answers.pop(lane)
        if isinstance(answer, Fault):
            raise answer
        return answer


def run_lanes(n: int, ctx, body: Callable[[int, object], object],
              finished: Callable[[int, object], None]) -> dict[int, int]:
    """Run `body(lane, effects)` on lanes 0..n-1 (see the module doc); `finished(lane,
    result)` runs in a lane's turn when its body returns. The faults: {lane: reason}."""
    if n == 1:
        try:
            finished(0, body(0, _LaneEffects(ctx, _Solo(), 0)))
        except Fault as fault:
            return {0: fault.reason}
        return {}
    group = _Group(n)
    faults: dict[int, int] = {}
    errors: list[BaseException] = []
    done = [False] * n

    def lane_main(i: int) -> None:
        group.go[i].acquire()
        try:
            if group.stopping:
                return
            with np.errstate(all="ignore"):
                result = body(i, _LaneEffects(ctx, group, i))
                finished(i, result)
        except Fault as fault:
            faults[i] = fault.reason
        except _Stop:
            pass
        except BaseException as exc:            # a bug: stop the group, raise it after
            errors.append(exc)
        finally:
            done[i] = True
            group.back.release()

    threads = [threading.Thread(target=lane_main, args=(i,), daemon=True,
                                name=f"ringc-sim-lane-{i}") for i in range(n)]
    for t in threads:
        t.start()
    waiting = list(range(n))
    try:
        while waiting:
            for i in waiting:                   # one turn each, in lane order
                group.go[i].release()
                group.back.acquire()
            at_point = [i for i in waiting if not done[i]]
            if faults or errors or not at_point:
                break
            if len(at_point) != len(waiting) or len(at_point) != n:
                raise LaneDivergence(
                    f"lanes {sorted(set(range(n)) - set(at_point))} ended the handler while "
                    f"lanes {at_point[:4]}... wait at a synchronisation point")
            asked = [group.asked.pop(i) for i in at_point]
            kinds = {(a[0], a[1]) for a in asked}
            if len(kinds) != 1:
                raise LaneDivergence(f"the lanes reached different synchronisation points: "
                                     f"{sorted(k[0] for k in kinds)}")
            kind, t = asked[0][0], asked[0][1]
            if kind == "barrier":
                answers = dict.fromkeys(at_point)
            elif kind == "broadcast":
                values = [a[2][0] for a in asked]
                answers = {i: values[src] if 0 <= src < n else Fault(INDEX_OUT_OF_RANGE)
                           for i, (_, _, (_, src)) in zip(at_point, asked)}
            else:
                result = tree_reduce(kind, t, [a[2] for a in asked])
                answers = dict.fromkeys(at_point, result)
            group.answers.update(answers)
            waiting = at_point
    finally:
        group.stopping = True                   # release every lane still waiting
        for i in range(n):
            if not done[i]:
                group.go[i].release()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return faults
