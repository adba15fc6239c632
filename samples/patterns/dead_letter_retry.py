"""Dead letters and transient retry: retry what may pass next time, keep the rest in a
bounded dead-letter queue of the kernel's own.

`Ledger.apply` is the operation that may fail. Its faults are of two kinds:

- transient (`busy`): the handler catches it and tries again, at most MAX_ATTEMPTS times
  in all; a job still failing then is dead-lettered as `retries_exhausted`;
- permanent (`invalid_amount`): retrying cannot help, so the job is dead-lettered at once.

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

Limits: the guide waits between attempts (exponential backoff) and processes dead letters
periodically; a handler that waits keeps its work-group from every other message, so
retries here are immediate and the host asks for the dead letters. Delayed retries and
periodic processing wait for timers (`rc.send_after`, `@rc.every`, not built yet).

    python samples/patterns/dead_letter_retry.py [opencl|sim]
"""

import sys

import ringc as rc
from ringc import Array, i32, u32

MAX_ATTEMPTS = 3
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


@rc.ring_kernel(capacity=64)
class Ledger:
    balance: i32
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

    def on_job(self, m: Job):
        for attempt in range(MAX_ATTEMPTS):
            try:
                balance = self.apply(m, attempt)
            except rc.Fault as f:
                if f.reason == "busy":
                    self.transient += 1         # transient: try again
                    continue
                if f.reason != "invalid_amount":
                    raise                       # unknown: the runtime dead-letters it
                self.dead_letter(m, INVALID_AMOUNT, attempt + 1)
                return                          # permanent: no retry
            else:
                rc.emit(Done(id=m.id, balance=balance, attempts=attempt + 1))
                return
        self.dead_letter(m, RETRIES_EXHAUSTED, MAX_ATTEMPTS)

    def on_collect_dead_letters(self, m: CollectDeadLetters) -> DeadLetterBatch:
        batch = DeadLetterBatch(evicted=self.evicted)
        while batch.count < min(m.max, BATCH) and not self.dead.empty():
            batch.letters[batch.count] = self.dead.pop()
            batch.count += 1
        batch.left = len(self.dead)
        return batch


def main(backend: str = "opencl") -> dict:
    """Ten jobs: some pass at once, some after retries, two run out of attempts, three are
    invalid. The kernel keeps the latest four of its five dead letters; the host collects
    them in batches of three. Returns each job's outcome by id, and what the host read."""
    jobs = [Job(id=1, amount=10), Job(id=2, amount=20, flaky=1), Job(id=3, amount=30, flaky=2),
            Job(id=4, amount=40, flaky=MAX_ATTEMPTS), Job(id=5, amount=-5),
            Job(id=6, amount=50), Job(id=7, amount=0), Job(id=8, amount=80, flaky=5),
            Job(id=9, amount=-1), Job(id=10, amount=100, flaky=1)]
    with rc.launch(Ledger, backend=backend) as rt:
        for job in jobs:
            rt.send(Ledger, job)
        batches = []
        while True:                             # handled after the jobs: one queue, in order
            batch = rt.request(Ledger, CollectDeadLetters(max=BATCH), timeout=10.0)
            batches.append([batch.letters[i] for i in range(batch.count)])
            if batch.left == 0:
                break
        evicted = int(batch.evicted)
        rt.shutdown(drain=True, timeout=30.0)
        out = rt.receive_many(2 * len(jobs), timeout=0)
        runtime_dead = rt.dead_letters()
        transient = int(rt.checkpoint(Ledger)["transient"])
    outcomes = {int(d["id"]): f"done after {int(d['attempts'])} attempt(s), balance "
                              f"{int(d['balance'])}" for d in out.get(Done, [])}
    outcomes |= {int(a["id"]): f"dead-lettered ({REASONS[int(a['reason'])]})"
                 for a in out.get(DeadLetterAlert, [])}
    for job_id in sorted(outcomes):
        print(f"job {job_id}: {outcomes[job_id]}")
    print(f"{transient} transient failures (busy), retried; "
          f"{len(out.get(DeadLetterAlert, []))} dead-letter alerts")
    print(f"the kernel's dead-letter queue keeps {DEAD_LETTERS}: {evicted} evicted "
          f"(the oldest), the rest collected in batches of at most {BATCH}:")
    for n, batch in enumerate(batches, 1):
        print(f"  batch {n}: " + "; ".join(
            f"#{int(d.seq)} job {d.job.id} ({REASONS[int(d.reason)]}, {d.attempts} "
            f"attempt(s))" for d in batch))
    print(f"dead-lettered by the runtime (faults the kernel does not know): {len(runtime_dead)}")
    collected = [[int(d.job.id) for d in batch] for batch in batches]
    return {"outcomes": outcomes, "collected": collected, "evicted": evicted,
            "transient": transient, "runtime_dead_letters": len(runtime_dead)}


if __name__ == "__main__":
    main(*sys.argv[1:2])
