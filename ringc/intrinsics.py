"""Device intrinsics: `rc.send`, `rc.send_after`, `rc.emit`, `rc.reply`, `rc.sender`,
`rc.fail`, `rc.now`, `rc.instance_id`, `rc.atomic_*`, `rc.zeros` and `rc.dot`; in
cooperative kernels `rc.lane`, `rc.group_size`, `rc.barrier`, `rc.group_sum`,
`rc.group_max`, `rc.group_min` and `rc.broadcast`.

Inside a handler compiled by ringc the frontend recognises these functions and lowers them;
they are never called there. Called as plain Python they raise, naming the call, because
outside a compiled handler they have no meaning (the simulator runs the IR, not them).
"""

from __future__ import annotations

from typing import NoReturn

from .errors import RingcError


def _outside_a_handler(name: str) -> NoReturn:
    raise RingcError(f"rc.{name}() can only run inside a handler of a launched ring kernel")


def send(kernel, msg, instance=0) -> None:
    """Send `msg` to `kernel`'s input queue (instance `instance`); a new conversation."""
    _outside_a_handler("send")


def emit(msg) -> None:
    """Put `msg` in the host output queue."""
    _outside_a_handler("emit")


def reply(address, msg) -> None:
    """Answer the conversation `address` (from `rc.sender()`) with `msg`."""
    _outside_a_handler("reply")


def sender():
    """The current message's return address."""
    _outside_a_handler("sender")


def fail(reason: str) -> None:
    """End the handler; the message goes to the dead-letter queue with `reason`."""
    _outside_a_handler("fail")


def now():
    """Nanoseconds since the launch, as an i64: one monotonic clock shared with the host's
    `rt.now()` (docs/language.md, "Time")."""
    _outside_a_handler("now")


def send_after(delay_ns, kernel, msg, instance=0) -> None:
    """Send `msg` to `kernel` (instance `instance`) no earlier than `delay_ns` nanoseconds
    from now; faults with `timers_full` when this instance has `timers` messages scheduled."""
    _outside_a_handler("send_after")


def clock():
    """Retired: `rc.now()` replaced it (the compiler says so where it is used)."""
    _outside_a_handler("clock")


def every(seconds):
    """`@rc.every(seconds)` on a kernel method without parameters: run it on every instance
    once per period, fixed-rate from launch, in order with the instance's messages."""
    def mark(fn):
        fn._ringc_every = seconds
        return fn
    return mark


def instance_id():
    """This kernel instance's number, 0..instances-1."""
    _outside_a_handler("instance_id")


def atomic_add(ref, value):
    """Add to a state variable (or element) atomically; returns the old value."""
    _outside_a_handler("atomic_add")


def atomic_max(ref, value):
    """Store max(old, value) atomically; returns the old value."""
    _outside_a_handler("atomic_max")


def atomic_min(ref, value):
    """Store min(old, value) atomically; returns the old value."""
    _outside_a_handler("atomic_min")


def atomic_cas(ref, expected, desired):
    """Store `desired` if the value equals `expected`; returns the old value."""
    _outside_a_handler("atomic_cas")


class Fault(Exception):
    """A device fault. In a handler, `raise rc.Fault("reason")` is `rc.fail("reason")`, and
    `except rc.Fault as f:` catches every fault of the `try` body (`division_by_zero`,
    `index_out_of_range`, `rc.fail` reasons...); `f.reason == "timeout"` tells them apart."""

    def __init__(self, reason: str = ""):
        super().__init__(reason)
        self.reason = reason


def zeros(t):
    """A zeroed array or record of type `t` (`Array[f32, 8]`, a message class): the whole
    value of an assignment, `buf = rc.zeros(Array[f32, 8])`. The same as declaring the
    local by annotation, except that it zeroes again each time the assignment runs."""
    _outside_a_handler("zeros")


def dot(a, b):
    """The dot product of two vectors of one type (`rc.f32x4`, ...): the lanes' products
    summed left to right, `((x + y) + z) + w`, each step one rounded operation (no fused
    multiply-add), the same bits on every target."""
    _outside_a_handler("dot")


def lane():
    """This lane's number in a cooperative kernel's work-group, 0..group_size-1 (an i32)."""
    _outside_a_handler("lane")


def group_size():
    """The lanes that handle each message of a cooperative kernel (its `group_size`)."""
    _outside_a_handler("group_size")


def barrier() -> None:
    """Wait until every lane of the work-group got here; stores before it (state, shared
    arrays) are seen by every lane after it. Cooperative kernels only."""
    _outside_a_handler("barrier")


def group_sum(x):
    """The sum of `x` over the lanes (a pairwise tree: the same bits for a given group size
    on every target), on every lane. Cooperative kernels only."""
    _outside_a_handler("group_sum")


def group_max(x):
    """The largest `x` of the lanes, on every lane. Cooperative kernels only."""
    _outside_a_handler("group_max")


def group_min(x):
    """The smallest `x` of the lanes, on every lane. Cooperative kernels only."""
    _outside_a_handler("group_min")


def broadcast(x, lane):
    """The value `x` has on lane `lane`, on every lane that asks. Cooperative kernels
    only."""
    _outside_a_handler("broadcast")


INTRINSIC_FUNCTIONS = {fn.__name__: fn for fn in (
    send, send_after, emit, reply, sender, fail, clock, now, instance_id,
    atomic_add, atomic_max, atomic_min, atomic_cas, zeros, dot,
    lane, group_size, barrier, group_sum, group_max, group_min, broadcast)}
