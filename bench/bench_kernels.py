"""The kernels `runtime_bench.py` measures (module level: the frontend reads their source)."""

import ringc as rc
from ringc import Array, f32, i32


@rc.message
class Msg:
    """32 bytes: the bulk message of the benchmarks."""
    id: i32
    seq: i32
    values: Array[f32, 6]


@rc.ring_kernel(capacity=1 << 16)
class Echo:
    def on_msg(self, m: Msg) -> Msg:
        m.seq += 1
        return m


@rc.ring_kernel(capacity=1 << 16)
class Count:
    seen: i32

    def on_msg(self, m: Msg):
        self.seen += 1


@rc.ring_kernel(capacity=1 << 14)
class First:
    def on_msg(self, m: Msg):
        m.seq += 1
        rc.send(Second, m)


@rc.ring_kernel(capacity=1 << 14)
class Second:
    def on_msg(self, m: Msg):
        m.seq += 1
        rc.send(Third, m)


@rc.ring_kernel(capacity=1 << 14)
class Third:
    total: i32

    def on_msg(self, m: Msg):
        self.total += m.seq


@rc.message
class Routed:
    """A request on its way from `Relay` to `Answer`, with the address its reply goes to."""
    back: rc.Address
    id: i32
    seq: i32


@rc.ring_kernel(capacity=1 << 10)
class Relay:
    """The first half of a request path with one kernel-to-kernel hop."""

    def on_msg(self, m: Msg):
        rc.send(Answer, Routed(back=rc.sender(), id=m.id, seq=m.seq + 1))


@rc.ring_kernel(capacity=1 << 10)
class Answer:
    """Replies to whoever sent the request to `Relay`."""

    def on_routed(self, m: Routed):
        rc.reply(m.back, Msg(id=m.id, seq=m.seq + 1))
