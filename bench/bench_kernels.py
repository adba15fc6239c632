"""The kernels `runtime_bench.py` measures (module level: the frontend reads their source)."""

import ringc as rc
from ringc import Array, f32, i32, i64


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


KEYSPACE = 1 << 12            # keys the LRU benchmark draws from
LRU_CAPACITY = 1 << 10        # the LRU map holds a quarter of them
MAP_CAPACITY = 1 << 12        # the plain map, filled to a fraction of this


@rc.message
class Burst:
    """`ops` operations in one handling, keys from a linear congruential sequence."""
    ops: i32
    seed: i32
    count: i32


@rc.message
class Tally:
    hits: i32
    misses: i32


@rc.ring_kernel(capacity=16)
class LruCache:
    """A look-aside cache: get, and put on a miss, as the guide's LRU example does."""

    cache: rc.LRUMap[i32, i32, LRU_CAPACITY]

    def on_burst(self, m: Burst) -> Tally:
        x = m.seed
        hits = 0
        misses = 0
        for i in range(m.ops):
            x = x * 1103515245 + 12345
            k = (x >> 16) & (KEYSPACE - 1)
            v = self.cache.get(k, -1)
            if v < 0:
                misses += 1
                self.cache.put(k, i)
            else:
                hits += 1
        return Tally(hits=hits, misses=misses)


@rc.ring_kernel(capacity=16)
class Lookups:
    """A plain map filled with `count` scattered keys, then `ops` lookups of present keys."""

    table: rc.Map[i32, i32, MAP_CAPACITY]

    def on_burst(self, m: Burst) -> Tally:
        if m.count > 0:
            self.table.clear()
            for i in range(m.count):
                self.table[i * 7919] = i
            return Tally(hits=len(self.table))
        x = m.seed
        hits = 0
        n = len(self.table)
        for _ in range(m.ops):
            x = x * 1103515245 + 12345
            k = ((x >> 16) & 0x7FFF) % n
            if self.table.get(k * 7919, -1) >= 0:
                hits += 1
        return Tally(hits=hits, misses=m.ops - hits)


@rc.message
class Due:
    """A timer's message: when it was meant to arrive (`rc.now()` ns) and when it did."""
    due: i64
    at: i64


@rc.message
class Schedule:
    delay_ns: i64


@rc.ring_kernel(capacity=1 << 10)
class Alarm:
    """Schedules a `Due` to itself `delay_ns` from now; reports it when it arrives."""

    def on_schedule(self, m: Schedule):
        rc.send_after(m.delay_ns, Alarm, Due(due=rc.now() + m.delay_ns))

    def on_due(self, m: Due):
        rc.emit(Due(due=m.due, at=rc.now()))
