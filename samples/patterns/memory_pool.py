"""Memory pool: rent fixed buffers from a free list, give them back when done.

A device kernel cannot allocate, so `Assembler` owns POOL buffers in state (a nested array)
and a free list of the slot numbers not in use (`free[0:free_count]`, used as a stack).
`on_start` fills the free list once, before the first message, as the guide's pool
pre-allocates its objects.

A job rents a buffer with `Open` (the reply names the slot: the job's handle), fills it
with `Append` messages and ends with `Close`, which summarises the buffer and gives it back.
The summary runs in `try` with the give-back in `finally`, so a job that faults (an empty
one: `empty_job`) still returns its buffer. When no buffer is free, `Open` is dead-lettered
with reason `pool_exhausted` (the guide's pool would allocate a new object; here the pool
is all there is). A handle that is not rented is refused with `not_rented`, one outside the
pool with `index_out_of_range`.

    python samples/patterns/memory_pool.py [opencl|sim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import Array, bool_, f32, i32, u32

POOL = 8                 # buffers
BUFFER_LEN = 64          # values one buffer holds
CHUNK = 8                # values one Append carries


@rc.message
class Open:
    job: i32


@rc.message
class Opened:
    job: i32
    buffer: i32          # the handle: a slot of the pool


@rc.message
class Append:
    buffer: i32
    count: i32
    values: Array[f32, CHUNK]


@rc.message
class Close:
    buffer: i32


@rc.message
class Summary:
    job: i32
    count: i32
    mean: f32
    peak: f32


@rc.ring_kernel(capacity=256)
class Assembler:
    buffers: Array[Array[f32, BUFFER_LEN], POOL]
    filled: Array[i32, POOL]
    jobs: Array[i32, POOL]
    rented: Array[bool_, POOL]
    free: Array[i32, POOL]           # free[0:free_count]: slots not rented
    free_count: i32
    exhausted: u32                   # Opens refused for want of a buffer

    def on_start(self):
        for slot in range(POOL):
            self.free[slot] = slot
        self.free_count = POOL

    def rent(self) -> i32:
        if self.free_count == 0:
            self.exhausted += 1
            rc.fail("pool_exhausted")
        self.free_count -= 1
        slot = self.free[self.free_count]
        self.rented[slot] = True
        self.filled[slot] = 0
        return slot

    def give_back(self, slot: i32):
        self.rented[slot] = False
        self.free[self.free_count] = slot
        self.free_count += 1

    def check_rented(self, slot: i32):
        if not self.rented[slot]:
            rc.fail("not_rented")

    def summarise(self, slot: i32) -> Summary:
        n = self.filled[slot]
        if n == 0:
            rc.fail("empty_job")
        total = 0.0
        peak = self.buffers[slot][0]
        for i in range(n):
            total += self.buffers[slot][i]
            peak = max(peak, self.buffers[slot][i])
        return Summary(job=self.jobs[slot], count=n, mean=total / f32(n), peak=peak)

    def on_open(self, m: Open) -> Opened:
        slot = self.rent()
        self.jobs[slot] = m.job
        return Opened(job=m.job, buffer=slot)

    def on_append(self, m: Append):
        self.check_rented(m.buffer)
        for i in range(m.count):                    # a full buffer: index_out_of_range
            self.buffers[m.buffer][self.filled[m.buffer]] = m.values[i]
            self.filled[m.buffer] += 1

    def on_close(self, m: Close) -> Summary:
        self.check_rented(m.buffer)
        try:
            summary = self.summarise(m.buffer)
        finally:
            self.give_back(m.buffer)                # on every path, fault or not
        return summary


def append_all(rt, buffer: int, values: np.ndarray) -> None:
    for start in range(0, len(values), CHUNK):
        part = values[start:start + CHUNK]
        message = Append(buffer=buffer, count=len(part))
        message.values = np.pad(part, (0, CHUNK - len(part)))
        rt.send(Assembler, message)


def free_buffers(rt) -> int:
    return int(rt.checkpoint(Assembler)["free_count"])


def main(backend: str = "opencl") -> dict:
    """Three jobs through the pool; then every buffer rented and one Open too many; then an
    empty job's Close, which faults and still gives its buffer back. Returns the outcomes."""
    result = {}
    with rc.launch(Assembler, backend=backend) as rt:
        jobs = {1: 20, 2: 5, 3: 64}                          # job: values it collects
        handles = {job: rt.request(Assembler, Open(job=job), timeout=10.0).buffer
                   for job in jobs}                           # three jobs open at once
        for job, n in jobs.items():
            append_all(rt, handles[job], np.arange(n, dtype=np.float32) * job)
        for handle in handles.values():
            s = rt.request(Assembler, Close(buffer=handle), timeout=10.0)
            print(f"job {s.job}: {s.count:2} values in buffer {handle}, mean {s.mean:g}, "
                  f"peak {s.peak:g}")
        result["free_after_jobs"] = free_buffers(rt)

        open_handles = [rt.request(Assembler, Open(job=10 + j), timeout=10.0).buffer
                        for j in range(POOL)]
        try:
            rt.request(Assembler, Open(job=99), timeout=10.0)
        except rc.DeadLettered as exc:
            result["one_too_many"] = exc.dead_letter.reason
        print(f"{POOL} jobs open, {free_buffers(rt)} buffers free: one more Open was "
              f"dead-lettered ({result.get('one_too_many')})")

        try:
            rt.request(Assembler, Close(buffer=open_handles[0]), timeout=10.0)
        except rc.DeadLettered as exc:
            result["empty_close"] = exc.dead_letter.reason
        result["free_after_fault"] = free_buffers(rt)
        print(f"closing an empty job faulted ({result.get('empty_close')}), and finally gave "
              f"its buffer back: {result['free_after_fault']} free")

        for handle in open_handles[1:]:
            append_all(rt, handle, np.ones(3, np.float32))
            rt.request(Assembler, Close(buffer=handle), timeout=10.0)
        result["free_at_end"] = free_buffers(rt)
        print(f"all jobs closed: {result['free_at_end']} of {POOL} buffers free")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:2])
