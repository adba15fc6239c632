"""A program with timers and periodic methods, for the simulator-vs-PoCL comparison of
test_timers_differential.py (module level: the frontend reads its source)."""

import ringc as rc
from ringc import Array, i32, i64


@rc.message
class Go:
    delay: i64
    inst: i32
    tag: i32
    catch: i32


@rc.message
class Due:
    tag: i32
    src: i32


@rc.message
class Big:
    a: i64
    b: i64
    c: i64
    tag: i32


@rc.ring_kernel(capacity=2, instances=2, max_batch=2)
class Sink:
    got: i32
    seen: Array[i32, 64]
    last_now: i64

    def on_due(self, m: Due):
        if self.got < 64:
            self.seen[self.got] = m.tag
        self.got += 1
        self.last_now = rc.now()

    def on_big(self, m: Big):
        if self.got < 64:
            self.seen[self.got] = m.tag + 100000
        self.got += 1


@rc.ring_kernel(instances=2, timers=5, max_batch=3)
class Sched:
    ticks: i32
    caught: i32

    @rc.every(0.001)
    def beat(self):
        self.ticks += 1
        if self.ticks % 1000 == 2:
            rc.fail("tick_boom")
        if self.ticks % 3 == 0:
            rc.send_after(0, Sink, Big(a=1, b=2, c=3, tag=self.ticks), instance=1)

    @rc.every(0.0025)
    def slow(self):
        self.ticks += 1000

    def on_go(self, m: Go):
        if m.catch != 0:
            try:
                rc.send_after(m.delay, Sink, Due(tag=m.tag, src=rc.instance_id()),
                              instance=m.inst)
            except rc.Fault:
                self.caught += 1
        else:
            rc.send_after(m.delay, Sink, Due(tag=m.tag, src=rc.instance_id()), instance=m.inst)
