"""Dead letters and transient retry: retry what may pass next time, dead-letter the rest.

`Ledger.apply` is the operation that may fail. Its faults are of two kinds:

- transient (`busy`): the handler catches it and tries again, at most MAX_ATTEMPTS times
  in all; a job still failing then is dead-lettered with `rc.fail("retries_exhausted")`;
- permanent (`invalid_amount`): retrying cannot help, so the bare `raise` sends the fault
  on at once and the job is dead-lettered with that reason.

Dead-lettered messages go to the runtime's dead-letter queue, not to a queue the kernel
keeps: `rt.dead_letters()` gives each one's kernel, reason and original message, which is
what the guide's kernel stores and forwards in batches. Nothing a failed attempt stored
is rolled back, so `apply` checks everything before it changes the balance.

The operation is a stand-in: a job's `flaky` field says how many attempts fail with `busy`
before one works, so the run is the same every time.

Limits: the guide waits between attempts (exponential backoff); a handler that waits keeps
its work-group from every other message, so retries here are immediate. Delayed retries
wait for timers (`rc.send_after`, not built yet).

    python samples/patterns/dead_letter_retry.py [opencl|sim]
"""

import sys
from collections import Counter

import ringc as rc
from ringc import i32, u32

MAX_ATTEMPTS = 3


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


@rc.ring_kernel(capacity=64)
class Ledger:
    balance: i32
    transient: u32        # transient failures seen (each retried while attempts remain)

    def apply(self, m: Job, attempt: i32) -> i32:
        """Add the job's amount; the new balance. Checks first: a fault changes nothing."""
        if m.amount <= 0:
            raise rc.Fault("invalid_amount")
        if attempt < m.flaky:
            raise rc.Fault("busy")
        self.balance += m.amount
        return self.balance

    def on_job(self, m: Job) -> Done:
        for attempt in range(MAX_ATTEMPTS):
            try:
                balance = self.apply(m, attempt)
            except rc.Fault as f:
                if f.reason != "busy":
                    raise                       # permanent: dead-letter it, no retry
                self.transient += 1
            else:
                return Done(id=m.id, balance=balance, attempts=attempt + 1)
        rc.fail("retries_exhausted")


def main(backend: str = "opencl") -> dict:
    """Six jobs: some pass at once, some after retries, one runs out of attempts, one is
    invalid. Returns each job's outcome, by id."""
    jobs = [Job(id=1, amount=10), Job(id=2, amount=20, flaky=1), Job(id=3, amount=30, flaky=2),
            Job(id=4, amount=40, flaky=MAX_ATTEMPTS), Job(id=5, amount=-5),
            Job(id=6, amount=50)]
    with rc.launch(Ledger, backend=backend) as rt:
        for job in jobs:
            rt.send(Ledger, job)
        rt.shutdown(drain=True, timeout=30.0)
        done = rt.receive_many(len(jobs), timeout=0)
        dead = rt.dead_letters()
        transient = int(rt.checkpoint(Ledger)["transient"])
    outcomes = {int(d["id"]): f"done after {int(d['attempts'])} attempt(s), balance "
                              f"{int(d['balance'])}" for d in done}
    outcomes |= {d.message.id: f"dead-lettered ({d.reason})" for d in dead}
    for job_id in sorted(outcomes):
        print(f"job {job_id}: {outcomes[job_id]}")
    reasons = Counter(d.reason for d in dead)
    print(f"{transient} transient failures (busy); dead letters: "
          + ", ".join(f"{reason} x{n}" for reason, n in reasons.items()))
    return outcomes


if __name__ == "__main__":
    main(*sys.argv[1:2])
