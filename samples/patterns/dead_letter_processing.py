"""Dead letters processed periodically: a kernel keeps what failed in a queue of its own,
and a timer retries what may pass later, drops the rest and reports both to the host.

`Orders.apply` is the operation that may fail, in two ways:

- transient (`busy`): worth trying again later;
- permanent (`invalid_amount`): trying again cannot help.

A handler does not retry: an order that fails becomes a `DeadLetter` record (the
original order, a reason code, `rc.now()` when it failed) in the kernel's own
`rc.Queue[DeadLetter, DEAD_LETTERS]`; a full queue evicts its oldest entry. Every
PROCESS_S a periodic method, `@rc.every(PROCESS_S)`, processes up to BATCH of them, as
the guide's `ProcessDeadLetters` does:

- a busy order with attempts left, and that failed at least RETRY_AFTER_NS ago, is
  retried: sent to the kernel again (`rc.send`), one attempt further on, through the same
  handler as a new order; a busy order failed more recently waits for the next round;
- a busy order out of attempts (MAX_ATTEMPTS) and an invalid one are dropped and counted;
- the batch, each letter with what was done with it, goes to the host as one
  `DeadLetterReport` (`rc.emit`).

The handler never waits, so orders behind a failing one are not held up: the retries
happen between messages, on the timer. The stand-in is deterministic: an order's `flaky`
field says how many attempts fail with `busy` before one works, so every order ends the
same way on every run, whichever round processes its letters.

The run (about 0.4 s): eight orders; three pass at once, two pass on a retry, one on the
second retry, one runs out of attempts, two are invalid. The host prints each order's
story from the reports, and checks that every retry came at least RETRY_AFTER_NS after
the failure it retries.

Limits: a caught fault's reason can be compared, not stored, so the kernel stores a code.
The retry delay is fixed (a backoff growing per attempt would compare `rc.now()` with a
delay that depends on `attempt`); a letter waits up to RETRY_AFTER_NS plus one period.
The processing runs inside the kernel's own loop, between two of its messages, so BATCH
bounds how long a round holds them up. A fault the kernel does not know is raised on (a
bare `raise`) and the runtime dead-letters the message (`rt.dead_letters()`).

    python samples/patterns/dead_letter_processing.py [opencl|sim]
"""

import sys
import time

import ringc as rc
from ringc import Array, i32, i64, u32

MAX_ATTEMPTS = 3               # attempts an order gets in all
DEAD_LETTERS = 16              # dead letters the kernel keeps: the oldest goes first
BATCH = 8                      # dead letters one round processes at most
PROCESS_S = 0.1                # seconds between two rounds of processing
RETRY_AFTER_NS = 50_000_000    # 50 ms: a busy order is retried no sooner after failing

BUSY, INVALID_AMOUNT = 1, 2    # reasons, as the kernel stores them
RETRIED, DROPPED = 1, 2        # what a round did with a dead letter
REASONS = {BUSY: "busy", INVALID_AMOUNT: "invalid_amount"}


@rc.message
class Order:
    id: i32
    amount: i32
    flaky: i32                 # attempts that fail with "busy" before one works
    attempt: i32               # 0 first, then 1, 2, ... when retried


@rc.message
class Done:
    id: i32
    attempt: i32
    total: i32


@rc.message
class DeadLetter:              # a record: one entry of the kernel's dead-letter queue
    order: Order               # the original message
    reason: i32                # BUSY or INVALID_AMOUNT
    at: i64                    # rc.now() when it failed


@rc.message
class DeadLetterReport:        # one round's batch, to the host
    at: i64                    # rc.now() when the round ran
    count: i32
    letters: Array[DeadLetter, BATCH]
    actions: Array[i32, BATCH]           # RETRIED or DROPPED, one per letter
    left: i32                  # still queued after the round
    evicted: u32               # evicted unprocessed since launch


@rc.ring_kernel(capacity=64)
class Orders:
    total: i32
    dead: rc.Queue[DeadLetter, DEAD_LETTERS]
    evicted: u32
    retried: u32
    dropped: u32

    def apply(self, m: Order) -> i32:
        """Add the order's amount; the new total. Checks first: a fault changes nothing."""
        if m.amount <= 0:
            raise rc.Fault("invalid_amount")
        if m.attempt < m.flaky:
            raise rc.Fault("busy")
        self.total += m.amount
        return self.total

    def on_order(self, m: Order):
        try:
            total = self.apply(m)
        except rc.Fault as f:
            if f.reason == "busy":
                self.dead_letter(m, BUSY)
            elif f.reason == "invalid_amount":
                self.dead_letter(m, INVALID_AMOUNT)
            else:
                raise                         # unknown: the runtime dead-letters it
        else:
            rc.emit(Done(id=m.id, attempt=m.attempt, total=total))

    def dead_letter(self, m: Order, reason: i32):
        if self.dead.full():
            self.dead.pop()                   # evict the oldest to make room
            self.evicted += 1
        self.dead.push(DeadLetter(order=m, reason=reason, at=rc.now()))

    @rc.every(PROCESS_S)
    def process_dead_letters(self):
        report = DeadLetterReport(at=rc.now(), evicted=self.evicted)
        for _ in range(len(self.dead)):       # each letter queued now, once at most
            if report.count == BATCH:
                break
            letter = self.dead.pop()
            if letter.reason == BUSY and report.at - letter.at < RETRY_AFTER_NS:
                self.dead.push(letter)        # failed too recently: next round
                continue
            if letter.reason == BUSY and letter.order.attempt + 1 < MAX_ATTEMPTS:
                retry = letter.order
                retry.attempt += 1
                rc.send(Orders, retry)
                self.retried += 1
                report.actions[report.count] = RETRIED
            else:
                self.dropped += 1
                report.actions[report.count] = DROPPED
            report.letters[report.count] = letter
            report.count += 1
        report.left = len(self.dead)
        if report.count > 0:
            rc.emit(report)


def main(backend: str = "opencl") -> dict:
    """Eight orders, then the host follows the periodic reports until every order is done
    or dropped. Returns each order's story, the totals and whether every retry waited."""
    orders = [Order(id=1, amount=10), Order(id=2, amount=20, flaky=1),
              Order(id=3, amount=30, flaky=2), Order(id=4, amount=-5),
              Order(id=5, amount=50, flaky=MAX_ATTEMPTS), Order(id=6, amount=60),
              Order(id=7, amount=0), Order(id=8, amount=80, flaky=1)]
    story: dict[int, list] = {int(o.id): [] for o in orders}
    ended: set = set()
    waited = True
    with rc.launch(Orders, backend=backend) as rt:
        for order in orders:
            rt.send(Orders, order)
        deadline = time.monotonic() + 10.0
        while len(ended) < len(orders) and time.monotonic() < deadline:
            msg = rt.receive(timeout=deadline - time.monotonic())
            if isinstance(msg, Done):
                story[int(msg.id)].append(f"done on attempt {msg.attempt + 1}")
                ended.add(int(msg.id))
                continue
            for i in range(msg.count):
                letter, action = msg.letters[i], int(msg.actions[i])
                reason = REASONS[int(letter.reason)]
                if action == RETRIED:
                    story[int(letter.order.id)].append(f"{reason}, retried")
                    waited &= int(msg.at) - int(letter.at) >= RETRY_AFTER_NS
                else:
                    tries = int(letter.order.attempt) + 1
                    story[int(letter.order.id)].append(
                        f"{reason}, dropped" + (f" after {tries} attempts"
                                                if letter.reason == BUSY else ""))
                    ended.add(int(letter.order.id))
        rt.shutdown(drain=True, timeout=10.0)
        state = rt.checkpoint(Orders)
        runtime_dead = len(rt.dead_letters())
    for order_id, steps in story.items():
        print(f"order {order_id}: " + " -> ".join(steps))
    totals = {"retried": int(state["retried"]), "dropped": int(state["dropped"]),
              "left": int(state["dead"]["count"]), "evicted": int(state["evicted"]),
              "total": int(state["total"])}
    print(f"the periodic processing retried {totals['retried']} and dropped "
          f"{totals['dropped']} dead letters; {totals['left']} left, {totals['evicted']} "
          f"evicted; total of the orders applied: {totals['total']}")
    print(f"every retry came at least {RETRY_AFTER_NS // 1_000_000} ms after its failure: "
          f"{'yes' if waited else 'NO'}")
    print(f"dead-lettered by the runtime (faults the kernel does not know): {runtime_dead}")
    return {"stories": story, **totals, "retries_waited": waited,
            "runtime_dead_letters": runtime_dead}


if __name__ == "__main__":
    main(*sys.argv[1:2])
