"""Device intrinsics: `rc.send`, `rc.send_after`, `rc.emit`, `rc.reply`, `rc.sender`,
`rc.fail`, `rc.now`, `rc.instance_id`, `rc.atomic_*`, `rc.zeros` and `rc.dot`; in
cooperative kernels `rc.lane`, `rc.group_size`, `rc.barrier`, `rc.group_sum`,
`rc.group_max`, `rc.group_min` and `rc.broadcast`.

Inside a handler compiled by ringc the frontend recognises these functions and lowers them;
they are never called there. Called as plain Python they raise, naming the call, because
outside a compiled handler they have no meaning (the simulator runs the IR, not them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from .errors import RingcError
from .types import Address

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])


def _outside_a_handler(name: str) -> NoReturn:
    raise RingcError(f"rc.{name}() can only run inside a handler of a launched ring kernel")


def send(kernel: type | str, msg: object, instance: int = 0) -> None:
    """Send `msg` to `kernel`'s input queue (instance `instance`); a new conversation."""
    _outside_a_handler("send")


def emit(msg: object) -> None:
    """Put `msg` in the host output queue."""
    _outside_a_handler("emit")


def reply(address: Address, msg: object) -> None:
    """Answer the conversation `address` (from `rc.sender()`) with `msg`."""
    _outside_a_handler("reply")


def sender() -> Address:
    """The current message's return address."""
    _outside_a_handler("sender")


def fail(reason: str) -> NoReturn:
    """End the handler; the message goes to the dead-letter queue with `reason`."""
    _outside_a_handler("fail")


def now() -> int:
    """Nanoseconds since the launch, as an i64: one monotonic clock shared with the host's
    `rt.now()` (docs/language.md, "Time")."""
    _outside_a_handler("now")


def send_after(delay_ns: int, kernel: type | str, msg: object, instance: int = 0) -> None:
    """Send `msg` to `kernel` (instance `instance`) no earlier than `delay_ns` nanoseconds
    from now; faults with `timers_full` when this instance has `timers` messages scheduled."""
    _outside_a_handler("send_after")


def clock() -> int:
    """Retired: `rc.now()` replaced it (the compiler says so where it is used)."""
    _outside_a_handler("clock")


def every(seconds: float) -> Callable[[_F], _F]:
    """`@rc.every(seconds)` on a kernel method without parameters: run it on every instance
    once per period, fixed-rate from launch, in order with the instance's messages."""
    def mark(fn: _F) -> _F:
        fn._ringc_every = seconds
        return fn
    return mark


def instance_id() -> int:
    """This kernel instance's number, 0..instances-1."""
    _outside_a_handler("instance_id")


def atomic_add(ref: _T, value: _T) -> _T:
    """Add to a state variable (or element) atomically; returns the old value."""
    _outside_a_handler("atomic_add")


def atomic_max(ref: _T, value: _T) -> _T:
    """Store max(old, value) atomically; returns the old value."""
    _outside_a_handler("atomic_max")


def atomic_min(ref: _T, value: _T) -> _T:
    """Store min(old, value) atomically; returns the old value."""
    _outside_a_handler("atomic_min")


def atomic_cas(ref: _T, expected: _T, desired: _T) -> _T:
    """Store `desired` if the value equals `expected`; returns the old value."""
    _outside_a_handler("atomic_cas")


class Fault(Exception):
    """A device fault. In a handler, `raise rc.Fault("reason")` is `rc.fail("reason")`, and
    `except rc.Fault as f:` catches every fault of the `try` body (`division_by_zero`,
    `index_out_of_range`, `rc.fail` reasons...); `f.reason == "timeout"` tells them apart."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


def zeros(t: Any) -> Any:
    """A zeroed array or record of type `t` (`Array[f32, 8]`, a message class): the whole
    value of an assignment, `buf = rc.zeros(Array[f32, 8])`. The same as declaring the
    local by annotation, except that it zeroes again each time the assignment runs."""
    _outside_a_handler("zeros")


def dot(a: Any, b: Any) -> Any:
    """The dot product of two vectors of one type (`rc.f32x4`, ...): the lanes' products
    summed left to right, `((x + y) + z) + w`, each step one rounded operation (no fused
    multiply-add), the same bits on every target."""
    _outside_a_handler("dot")


def lane() -> int:
    """This lane's number in a cooperative kernel's work-group, 0..group_size-1 (an i32)."""
    _outside_a_handler("lane")


def group_size() -> int:
    """The lanes that handle each message of a cooperative kernel (its `group_size`)."""
    _outside_a_handler("group_size")


def barrier() -> None:
    """Wait until every lane of the work-group got here; stores before it (state, shared
    arrays) are seen by every lane after it. Cooperative kernels only."""
    _outside_a_handler("barrier")


def group_sum(x: _T) -> _T:
    """The sum of `x` over the lanes (a pairwise tree: the same bits for a given group size
    on every target), on every lane. Cooperative kernels only."""
    _outside_a_handler("group_sum")


def group_max(x: _T) -> _T:
    """The largest `x` of the lanes, on every lane. Cooperative kernels only."""
    _outside_a_handler("group_max")


def group_min(x: _T) -> _T:
    """The smallest `x` of the lanes, on every lane. Cooperative kernels only."""
    _outside_a_handler("group_min")


def broadcast(x: _T, lane: int) -> _T:
    """The value `x` has on lane `lane`, on every lane that asks. Cooperative kernels
    only."""
    _outside_a_handler("broadcast")


INTRINSIC_FUNCTIONS = {fn.__name__: fn for fn in (
    send, send_after, emit, reply, sender, fail, clock, now, instance_id,
    atomic_add, atomic_max, atomic_min, atomic_cas, zeros, dot,
    lane, group_size, barrier, group_sum, group_max, group_min, broadcast)}
