"""Kernels the runtime tests launch (module level: the frontend reads their source)."""

import ringc as rc
from ringc import Array, f32, i32, i64, u32


@rc.message
class Work:
    id: i32
    data: Array[f32, 4]
    ts: i64


@rc.message
class Sum:
    id: i32
    value: f32


@rc.ring_kernel(capacity=64)
class Summer:
    processed: i64
    last: i32

    def on_work(self, m: Work) -> Sum:
        self.processed += 1
        self.last = m.id
        s = 0.0
        for i in range(4):
            s += m.data[i]
        return Sum(id=m.id, value=s)


@rc.message
class Job:
    sender: i32
    seq: i32
    divisor: i32
    index: i32


@rc.message
class Done:
    sender: i32
    seq: i32
    quotient: i32


@rc.message
class Note:
    seq: i32


@rc.ring_kernel(capacity=16, instances=2)
class Worker:
    """Replies `seq // divisor`; faults on divisor 0 (division_by_zero), index outside
    0..3 (index_out_of_range), seq < 0 (rc.fail "negative"); emits a Note every 4th."""

    table: Array[i32, 4]
    handled: u32

    def on_job(self, m: Job) -> Done:
        if m.seq < 0:
            rc.fail("negative")
        self.table[m.index] += 1
        self.handled += 1
        if m.seq % 4 == 3:
            rc.emit(Note(seq=m.seq))
        return Done(sender=m.sender, seq=m.seq, quotient=m.seq // m.divisor)


@rc.message
class Spin:
    rounds: i32


@rc.ring_kernel(capacity=8)
class Slow:
    """Busy for `rounds` iterations per message: a handler that takes its time."""

    acc: i64

    def on_spin(self, m: Spin):
        i = 0
        while i < m.rounds:
            self.acc += i % 7
            i += 1


@rc.message
class Ask:
    n: i32


@rc.ring_kernel(capacity=8)
class Holder:
    """Keeps the sender's address and never answers: a request to it can only time out."""

    waiting: rc.Address

    def on_ask(self, m: Ask):
        self.waiting = rc.sender()


@rc.ring_kernel(capacity=32, mode="event_driven")
class Forwarder:
    """Event-driven: forwards to an instance of Worker that may not exist, and passes
    Worker's replies on to the host."""

    def on_ask(self, m: Ask):
        rc.send(Worker, Job(sender=-1, seq=m.n, divisor=1, index=0), instance=m.n)

    def on_done(self, m: Done):
        rc.emit(m)


@rc.message
class Item:
    sender: i32
    seq: i32


@rc.ring_kernel(capacity=64, instances=2)
class Stage:
    """Forwards every item to Tail; items whose seq ends in 999 fail."""

    forwarded: i64

    def on_item(self, m: Item):
        if m.seq % 1000 == 999:
            rc.fail("unlucky")
        self.forwarded += 1
        rc.send(Tail, m)


@rc.ring_kernel(capacity=32)
class Tail:
    def on_item(self, m: Item):
        rc.emit(m)


@rc.ring_kernel(capacity=4)
class Sink:
    got: i32

    def on_note(self, m: Note):
        self.got += 1


@rc.ring_kernel(capacity=8, backpressure="reject")
class Spray:
    """Sends `n` notes to Sink in a loop the room check cannot bound: what finds Sink's
    queue full is dead-lettered at once (backpressure="reject")."""

    def on_ask(self, m: Ask):
        i = 0
        while i < m.n:
            rc.send(Sink, Note(seq=i))
            i += 1


@rc.message
class Mixed:
    """Every scalar type, arrays and padding: the host's struct codec must match numpy."""
    flag: rc.bool_
    small: rc.i8
    tiny: rc.u8
    short: rc.i16
    ushort: rc.u16
    word: rc.u32
    big: rc.i64
    ubig: rc.u64
    x: f32
    y: rc.f64
    xs: Array[f32, 3]
    ids: Array[i64, 2]


@rc.message
class Addressed:
    back: rc.Address
    n: i32


@rc.ring_kernel(capacity=16, mode="event_driven")
class Feeder:
    """Event-driven and feeding itself: each message sends two more until n reaches 0, so
    its own queue overflows (patience, then queue_full) and launches must go on."""

    def on_ask(self, m: Ask):
        if m.n > 0:
            rc.send(Feeder, Ask(n=m.n - 1))
            rc.send(Feeder, Ask(n=m.n - 1))


@rc.ring_kernel(capacity=256, instances=2, concurrency="parallel")
class Squares:
    """Parallel: a work-group handles several messages at once (one per work-item)."""

    handled: u32

    def on_work(self, m: Work) -> Sum:
        rc.atomic_add(self.handled, 1)
        return Sum(id=m.id, value=m.data[0] * m.data[0])


ROWS, COLS = 3, 4


@rc.message
class Reading:
    sensor: i32
    value: f32


@rc.message
class Frame:
    """A message holding a record and a nested array."""
    first: Reading
    grid: Array[Array[f32, COLS], ROWS]


@rc.message
class Report:
    count: i64
    total: f32
    last: Reading
    corner: f32
    window: Array[Reading, 4]


@rc.ring_kernel(capacity=8)
class Keeper:
    """Records and nested arrays in state, a zeroed local array, sizes from constants:
    keeps the last four readings in a ring and a ROWS x COLS grid."""

    ring: Array[Reading, 4]
    last: Reading
    grid: Array[Array[f32, COLS], ROWS]
    flat: Array[f32, ROWS * COLS]
    count: i64

    def on_reading(self, m: Reading) -> Report:
        self.ring[self.count % 4] = m
        self.last = m
        self.ring[self.count % 4].value += 1.0       # in place, through the full path
        self.count += 1
        buf: Array[f32, 4]                            # declared alone: zeroed
        for i in range(4):
            buf[i] = self.ring[i].value               # noqa: F821 (declared above)
        total = 0.0
        for i in range(4):
            total += buf[i]                           # noqa: F821
        copy = self.ring[0]                           # a copy: changing it leaves state
        copy.sensor = -1
        self.grid[m.sensor % ROWS][m.sensor % COLS] = m.value
        self.flat[m.sensor % (ROWS * COLS)] += m.value
        report = Report(count=self.count, total=total, last=self.last,
                        corner=self.grid[ROWS - 1][COLS - 1])
        report.window = self.ring                     # an array of records, copied
        return report

    def on_frame(self, m: Frame) -> Report:
        if m.first.sensor < 0:                        # a reset
            self.grid = rc.zeros(Array[Array[f32, COLS], ROWS])
            self.last = rc.zeros(Reading)
            for i in range(4):
                self.ring[i] = rc.zeros(Reading)
            return Report(count=self.count)
        self.grid = m.grid
        row = self.grid[1]
        self.last = m.first
        return Report(count=self.count, total=row[2], last=self.last, corner=m.grid[2][3])


@rc.message
class Call:
    n: i32
    d: i32


@rc.message
class Outcome:
    value: i32
    how: i32
    tries: i32


@rc.ring_kernel(capacity=8)
class Breaker:
    """Faults as exceptions: a retry loop around a helper that faults (division_by_zero,
    rc.Fault "negative") and a state store that faults (index_out_of_range), told apart by
    f.reason; continue, break, a bare raise, else and finally."""

    failures: i32
    open: bool
    table: Array[i32, 4]
    log: i64

    def risky(self, n: i32, d: i32) -> i32:
        if n < 0:
            raise rc.Fault("negative")
        return n // d

    def on_call(self, m: Call) -> Outcome:
        how = 0
        value = -1
        tries = 0
        for attempt in range(3):
            tries += 1
            try:
                value = self.risky(m.n, m.d - attempt)
                self.table[m.n % 8] += 1              # index_out_of_range when n % 8 >= 4
                how = 1
                break
            except rc.Fault as f:
                if f.reason == "division_by_zero":
                    how = 2
                    continue
                elif f.reason == "index_out_of_range":
                    how = 3
                    self.failures += 1
                    break
                elif f.reason != "negative":
                    how = 9
                raise
            finally:
                self.log += 1
        if how == 3 and self.failures >= 2:
            self.open = True
        try:
            if m.n == 99:
                rc.fail("boom")
        except rc.Fault:
            how += 100
        else:
            how += 10
        return Outcome(value=value, how=how, tries=tries)

    def on_outcome(self, m: Outcome) -> Outcome:
        """What the body stored before the fault stays; what it would store after does not."""
        value = m.value
        try:
            value = self.risky(m.how, m.tries)        # faults before value changes
            value = value + 1000
        except rc.Fault as f:
            if f.reason == "boom":                    # a reason only compared, never raised
                value = -2
            return Outcome(value=value, how=-1, tries=m.tries)
        return Outcome(value=value, how=0, tries=m.tries)


@rc.message
class Flush:
    started: i32
    total: i64
    count: i32


@rc.ring_kernel(capacity=8, instances=2)
class Batcher:
    """Lifecycle hooks: on_start announces the instance, batches of three are flushed as
    they fill, and on_stop flushes what is left at shutdown."""

    total: i64
    count: i32
    started: i32

    def on_start(self):
        self.started = 100 + rc.instance_id()
        rc.emit(Flush(started=self.started, total=-1))

    def on_note(self, m: Note):
        self.total += m.seq
        self.count += 1
        if self.count == 3:
            self.flush()

    def flush(self):
        rc.emit(Flush(started=self.started, total=self.total, count=self.count))
        self.total = 0
        self.count = 0

    def on_stop(self):
        self.flush()


@rc.ring_kernel(capacity=8, mode="event_driven")
class Starter:
    """Event-driven, with hooks that fault: on_start stores, then divides by zero."""

    ready: i32
    zero: i32

    def on_start(self):
        self.ready = 1
        self.ready = 10 // self.zero

    def on_ask(self, m: Ask) -> Done:
        return Done(sender=self.ready, seq=m.n, quotient=0)

    def on_stop(self):
        rc.fail("stop_hook")


@rc.message
class Op:
    code: i32
    arg: i32


@rc.message
class Seen:
    a: i32
    b: i32
    c: i32
    n: i32


@rc.ring_kernel(capacity=8)
class Boxes:
    """A queue of records and a stack of ints, every method: 0 push, 1 pop, 2 index (and
    update in place), 3 iterate, 4 clear, 5 push with the fault caught."""

    q: rc.Queue[Job, 3]
    s: rc.Stack[i32, 4]

    def on_op(self, m: Op) -> Seen:
        if m.code == 0:
            self.q.push(Job(seq=m.arg))
            self.s.push(m.arg)
        elif m.code == 1:
            j = self.q.pop()
            t = self.s.pop()
            return Seen(a=j.seq, b=t, c=len(self.q), n=len(self.s))
        elif m.code == 2:
            self.q[m.arg].index += 1
            return Seen(a=self.q[m.arg].seq, b=self.q[m.arg].index, c=self.s[m.arg],
                        n=self.s.peek())
        elif m.code == 3:
            total = 0
            order = 0
            for j in self.q:
                total += j.seq * 10 + j.index
                order = order * 10 + j.seq
            top = 0
            for v in self.s:
                top = top * 10 + v
            return Seen(a=total, b=order, c=top, n=i32(self.q.full()) + 2 * i32(self.s.empty()))
        elif m.code == 4:
            self.q.clear()
            self.s.clear()
        elif m.code == 5:
            try:
                self.q.push(Job(seq=9))
            except rc.Fault as f:
                if f.reason == "container_full":
                    return Seen(a=-7)
                raise
        return Seen(a=len(self.q), b=len(self.s), c=i32(self.q.empty()), n=i32(self.s.full()))


@rc.message
class Entry:
    key: i32
    n: i32


@rc.ring_kernel(capacity=8)
class Tables:
    """A map of records and an LRU map of ints, every method: 0 put, 1 get and `in`, 2
    m[k] (and a field changed in place), 3 remove, 4 iterate, 5 clear, 6 sizes."""

    m: rc.Map[i32, Entry, 5]
    lru: rc.LRUMap[i32, i64, 4]

    def on_op(self, o: Op) -> Seen:
        k = o.arg
        if o.code == 0:
            self.lru.put(k, i64(k) * 1000)
            self.m[k] = Entry(key=k, n=1)
        elif o.code == 1:
            return Seen(a=self.m.get(k, Entry(key=-1)).key, b=i32(self.lru.get(k, -5)),
                        c=i32(k in self.m), n=i32(k not in self.lru))
        elif o.code == 2:
            self.m[k].n += 10
            return Seen(a=self.m[k].n, b=i32(self.lru[k]), c=len(self.m), n=len(self.lru))
        elif o.code == 3:
            gone = self.m.remove(k)
            evicted = self.lru.remove(k)
            return Seen(a=i32(gone), b=i32(evicted), c=len(self.m), n=len(self.lru))
        elif o.code == 4:
            keys = 0
            values = 0
            for key in self.m:
                keys += key
                values += self.m[key].n
            lru = 0
            for key in self.lru:
                lru += key
            return Seen(a=keys, b=values, c=lru, n=0)
        elif o.code == 5:
            self.m.clear()
            self.lru.clear()
        return Seen(a=len(self.m), b=len(self.lru), c=i32(self.m.full()),
                    n=i32(self.lru.evictions))


# ---- time (tests/runtime/test_time.py) -------------------------------------------------

@rc.message
class Later:
    tag: i32
    delay_ms: i32


@rc.message
class Arrived:
    tag: i32
    at: i64


@rc.ring_kernel(timers=4)
class Scheduler:
    """Schedules what it is told to, to itself; reports arrivals in order."""
    faults: i32

    def on_later(self, m: Later):
        try:
            if m.delay_ms >= 0:
                rc.send_after(i64(m.delay_ms) * 1_000_000, Scheduler, Arrived(tag=m.tag))
            elif m.delay_ms == -2:                  # past the end of the clock
                rc.send_after(9_223_372_036_854_775_807, Scheduler, Arrived(tag=m.tag))
            else:
                rc.send_after(i64(m.delay_ms), Scheduler, Arrived(tag=m.tag))
        except rc.Fault as f:
            self.faults += 1
            if f.reason == "timers_full":
                rc.emit(Arrived(tag=-1))
            elif f.reason == "delay_out_of_range":
                rc.emit(Arrived(tag=-2))

    def on_arrived(self, m: Arrived):
        rc.emit(Arrived(tag=m.tag, at=rc.now()))


@rc.ring_kernel
class Metronome:
    ticks: i32
    first: i64
    last: i64

    @rc.every(1 / 200)
    def tick(self):
        if self.ticks == 0:
            self.first = rc.now()
        self.ticks += 1
        self.last = rc.now()

    def on_later(self, m: Later):
        rc.emit(Arrived(tag=self.ticks, at=rc.now()))


@rc.ring_kernel(mode="event_driven")
class LazyMetronome:
    """Event-driven: no launch runs between messages, so the host launches it for ticks."""
    ticks: i32

    @rc.every(0.01)
    def tick(self):
        self.ticks += 1

    def on_later(self, m: Later):
        rc.emit(Arrived(tag=self.ticks, at=rc.now()))


@rc.ring_kernel(instances=2, capacity=64)
class Twins:
    """Two instances that hand back what they are sent."""

    def on_arrived(self, m: Arrived):
        rc.emit(Arrived(tag=m.tag, at=rc.now()))


@rc.message
class Chain:
    n: i32


@rc.ring_kernel(instances=2)
class Spinner:
    """Instance 1 can be kept busy (a chain of self-sends) while instance 0 answers."""
    links: i32

    def on_chain(self, m: Chain):
        self.links += 1
        if m.n > 0:
            rc.send(Spinner, Chain(n=m.n - 1), instance=rc.instance_id())

    def on_arrived(self, m: Arrived):
        rc.emit(Arrived(tag=m.tag, at=rc.now()))
