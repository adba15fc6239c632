"""Dead letters and transient retry with exponential backoff: retry later what may pass
next time, keep the rest in a bounded dead-letter queue of the kernel's own.

`Ledger.apply` is the operation that may fail. Its faults are of two kinds:

- transient (`busy`): the handler catches it and tries again later: after the n-th
  failed attempt (n = 0, 1, ...) it schedules a `Retry` to itself with
  `rc.send_after(base << n, ...)`, base·2ⁿ from now, at most MAX_ATTEMPTS attempts in all;
  a job still failing then is dead-lettered as `retries_exhausted`;
- permanent (`invalid_amount`): retrying cannot help, so the job is dead-lettered at once.

The guide's handler waits in a loop (`await Task.Delay`); a ringc handler that waited would
keep its work-group from every other message. Here the handler returns at once: the retry
waits in the kernel's timer table (kernel option `timers`) while the kernel handles other
jobs, and comes back as a message. The `Retry` carries the job, the attempt number, the
delay asked and when it was asked for, so each retry reports to the host (`Retried`) how
long it really waited: never less than asked.

The kernel keeps its dead letters itself, as the guide's kernel does: an
`rc.Queue[DeadLetter, DEAD_LETTERS]` in state, each entry the original job, the reason,
the attempts made and a sequence number. When the queue is full the oldest entry is
evicted (`pop`) to make room (`push`), and counted in `evicted`; every dead letter also
sends the host a `DeadLetterAlert` (`rc.emit`), evicted or not. The host reads the queue
in batches: each `CollectDeadLetters` request pops up to BATCH entries, oldest first,
and answers them in one `DeadLetterBatch`.

A fault the kernel does not know is raised on (a bare `raise`) and the runtime
dead-letters the message with its reason (`rt.dead_letters()`): the kernel's queue holds
only what it understands, since a caught fault's reason can be compared, not stored.
Nothing a failed attempt stored is rolled back, so `apply` checks everything before it
changes the balance.

The operation is a stand-in: a job's `flaky` field says how many attempts fail with `busy`
before one works, so the run is the same every time.

Limits: the guide's base delay is BASE_MS (100 ms: waits of 100 and 200 ms); `main()`
takes `base_ms`, 5 ms by default, to keep the run short. The guide's code waits
base·2^retries after counting the failure (200 ms first); here the first retry waits the
base. A retry is due no earlier than asked and is late by up to one pass of the device loop
(the host's wake-up while the program is parked). The guide processes dead letters
periodically; an `@rc.every` method could send them on, but here the host asks when it
wants them. More retries waiting at once than `timers` allows fault with `timers_full`,
which `on_job` does not catch: the runtime dead-letters that job.

    python samples/patterns/dead_letter_retry.py [opencl|sim] [base_ms]
"""

import sys

import ringc as rc
from ringc import Array, i32, i64, u32

MAX_ATTEMPTS = 3
BASE_MS = 100             # the guide's base delay: retry n (1, 2, ...) waits BASE_MS·2ⁿ⁻¹
DEAD_LETTERS = 4          # the dead letters the kernel keeps: the oldest goes first
BATCH = 3                 # dead letters one CollectDeadLetters answers at most

INVALID_AMOUNT = 1        # reasons, as the kernel stores them
RETRIES_EXHAUSTED = 2
REASONS = {INVALID_AMOUNT: "invalid_amount", RETRIES_EXHAUSTED: "retries_exhausted"}


@rc.message
class Job:
    id: i32
    amount: i32
    flaky: i32            # attempts that fail with "busy" before one works (the stand-in)


@rc.message
class Configure:
    base_ns: i64          # the first retry's delay


@rc.message
class Retry:              # a job's next attempt, scheduled by the kernel to itself
    job: Job
    attempt: i32          # 1, 2, ...: attempts made before this one
    delay_ns: i64         # the delay asked
    asked_at: i64         # rc.now() when it was asked


@rc.message
class Retried:            # to the host: how long a retry waited
    id: i32
    attempt: i32
    delay_ns: i64
    waited_ns: i64


@rc.message
class Done:
    id: i32
    balance: i32
    attempts: i32


@rc.message
class DeadLetter:         # a record: one entry of the kernel's dead-letter queue
    job: Job              # the original message
    reason: i32
    attempts: i32
    seq: u32              # the how-manieth dead letter: 1, 2, ...


@rc.message
class DeadLetterAlert:
    id: i32
    reason: i32


@rc.message
class CollectDeadLetters:
    max: i32              # at most this many (and at most BATCH)


@rc.message
class DeadLetterBatch:
    count: i32
    letters: Array[DeadLetter, BATCH]
    left: i32             # still in the queue after this batch
    evicted: u32          # evicted unread since launch


@rc.ring_kernel(capacity=64, timers=16)
class Ledger:
    balance: i32
    base_ns: i64 = BASE_MS * 1_000_000
    transient: u32        # transient failures seen (each retried while attempts remain)
    dead: rc.Queue[DeadLetter, DEAD_LETTERS]
    dead_lettered: u32
    evicted: u32

    def apply(self, m: Job, attempt: i32) -> i32:
        """Add the job's amount; the new balance. Checks first: a fault changes nothing."""
        if m.amount <= 0:
            raise rc.Fault("invalid_amount")
        if attempt < m.flaky:
            raise rc.Fault("busy")
        self.balance += m.amount
        return self.balance

    def dead_letter(self, m: Job, reason: i32, attempts: i32):
        if self.dead.full():
            self.dead.pop()                     # evict the oldest to make room
            self.evicted += 1
        self.dead_lettered += 1
        self.dead.push(DeadLetter(job=m, reason=reason, attempts=attempts,
                                  seq=self.dead_lettered))
        rc.emit(DeadLetterAlert(id=m.id, reason=reason))

    def attempt(self, m: Job, attempt: i32):
        """Attempt number `attempt` (0, 1, ...) of job m; on `busy`, schedule the next."""
        try:
            balance = self.apply(m, attempt)
        except rc.Fault as f:
            if f.reason == "busy":
                self.transient += 1
                if attempt + 1 < MAX_ATTEMPTS:          # transient: again, base·2ⁿ later
                    delay = self.base_ns << attempt
                    rc.send_after(delay, Ledger, Retry(job=m, attempt=attempt + 1,
                                                       delay_ns=delay, asked_at=rc.now()))
                else:
                    self.dead_letter(m, RETRIES_EXHAUSTED, MAX_ATTEMPTS)
            elif f.reason == "invalid_amount":
                self.dead_letter(m, INVALID_AMOUNT, attempt + 1)   # permanent: no retry
            else:
                raise                                   # unknown: the runtime dead-letters it
        else:
            rc.emit(Done(id=m.id, balance=balance, attempts=attempt + 1))

    def on_configure(self, m: Configure):
        self.base_ns = m.base_ns

    def on_job(self, m: Job):
        self.attempt(m, 0)

    def on_retry(self, m: Retry):
        rc.emit(Retried(id=m.job.id, attempt=m.attempt, delay_ns=m.delay_ns,
                        waited_ns=rc.now() - m.asked_at))
        self.attempt(m.job, m.attempt)

    def on_collect_dead_letters(self, m: CollectDeadLetters) -> DeadLetterBatch:
        batch = DeadLetterBatch(evicted=self.evicted)
        while batch.count < min(m.max, BATCH) and not self.dead.empty():
            batch.letters[batch.count] = self.dead.pop()
            batch.count += 1
        batch.left = len(self.dead)
        return batch


def main(backend: str = "opencl", base_ms: float = 5) -> dict:
    """Ten jobs: some pass at once, some after retries, two run out of attempts, three are
    invalid. Retries wait base_ms, then 2·base_ms. The kernel keeps the latest four of its
    five dead letters; the host collects them in batches of three once every job has an
    outcome. Returns each job's outcome by id, the delays asked, and what the host read."""
    base_ms = float(base_ms)
    jobs = [Job(id=1, amount=10), Job(id=2, amount=20, flaky=1), Job(id=3, amount=30, flaky=2),
            Job(id=4, amount=40, flaky=MAX_ATTEMPTS), Job(id=5, amount=-5),
            Job(id=6, amount=50), Job(id=7, amount=0), Job(id=8, amount=80, flaky=5),
            Job(id=9, amount=-1), Job(id=10, amount=100, flaky=1)]
    outcomes: dict = {}
    retried: dict = {}
    with rc.launch(Ledger, backend=backend) as rt:
        rt.send(Ledger, Configure(base_ns=round(base_ms * 1e6)))
        for job in jobs:
            rt.send(Ledger, job)
        while len(outcomes) < len(jobs):                # every job done or dead-lettered
            m = rt.receive(timeout=10.0)
            if isinstance(m, Done):
                outcomes[int(m.id)] = (f"done after {int(m.attempts)} attempt(s), balance "
                                       f"{int(m.balance)}")
            elif isinstance(m, DeadLetterAlert):
                outcomes[int(m.id)] = f"dead-lettered ({REASONS[int(m.reason)]})"
            else:
                retried.setdefault(int(m.id), []).append((int(m.delay_ns), int(m.waited_ns)))
        batches = []
        while True:
            batch = rt.request(Ledger, CollectDeadLetters(max=BATCH), timeout=10.0)
            batches.append([batch.letters[i] for i in range(batch.count)])
            if batch.left == 0:
                break
        evicted = int(batch.evicted)
        rt.shutdown(drain=True, timeout=30.0)
        runtime_dead = rt.dead_letters()
        transient = int(rt.checkpoint(Ledger)["transient"])
    outcomes = dict(sorted(outcomes.items()))
    for job_id in outcomes:
        waits = "".join(f"; retry {n} after {waited / 1e6:.1f} ms (asked {delay / 1e6:g})"
                        for n, (delay, waited) in enumerate(retried.get(job_id, []), 1))
        print(f"job {job_id}: {outcomes[job_id]}{waits}")
    delays_ok = all(waited >= delay for waits in retried.values() for delay, waited in waits)
    alerts = sum(o.startswith("dead-lettered") for o in outcomes.values())
    print(f"{transient} transient failures (busy); {sum(map(len, retried.values()))} retries, "
          f"each {base_ms:g} ms·2ⁿ after failed attempt n = 0, 1, ..., each waited at least "
          f"that: {'yes' if delays_ok else 'NO'}; {alerts} dead-letter alerts")
    print(f"the kernel's dead-letter queue keeps {DEAD_LETTERS}: {evicted} evicted "
          f"(the oldest), the rest collected in batches of at most {BATCH}:")
    for n, batch in enumerate(batches, 1):
        print(f"  batch {n}: " + "; ".join(
            f"#{int(d.seq)} job {d.job.id} ({REASONS[int(d.reason)]}, {d.attempts} "
            f"attempt(s))" for d in batch))
    print(f"dead-lettered by the runtime (faults the kernel does not know): {len(runtime_dead)}")
    collected = [[int(d.job.id) for d in batch] for batch in batches]
    asked = {job_id: [delay / 1e6 for delay, _ in waits]
             for job_id, waits in sorted(retried.items())}
    return {"outcomes": outcomes, "collected": collected, "evicted": evicted,
            "transient": transient, "backoff_ms": asked, "delays_ok": delays_ok,
            "runtime_dead_letters": len(runtime_dead)}


if __name__ == "__main__":
    args: list = [*sys.argv[1:2], *map(float, sys.argv[2:3])]
    main(*args)
