"""Circuit breaker: stop calling a failing dependency, then try it again after a while.

Every `Lookup` goes through `call_backend`, the stand-in for a dependency behind the
kernel (a price service that times out while it is down; the host switches it with
`SetBackend`). The breaker has three states:

- closed: calls go through; FAILURE_THRESHOLD consecutive failures open the breaker;
- open: calls are answered `REJECTED` at once, without touching the backend, until
  OPEN_FOR_NS nanoseconds have passed since it opened;
- half-open: the next call is a trial; success closes the breaker, failure opens it again.

A failing call is a fault the handler catches (`try` / `except rc.Fault as f`); only the
backend's own fault (`f.reason == "backend_timeout"`) counts against it. Any other fault,
here an unknown item's `index_out_of_range`, is the caller's mistake: the bare `raise`
sends it on, so that message is dead-lettered and the breaker is left as it was.

Opening the breaker schedules its own way out: `rc.send_after(OPEN_FOR_NS, PriceService,
HalfOpen(...))` sends the kernel a `HalfOpen` message OPEN_FOR_NS nanoseconds later, which
moves it to half-open with no call needed, so a monitor reading the breaker's state sees
it leave `open` on time. The message carries the number of the opening it belongs to: one
from an opening since superseded (the trial failed and the breaker opened again) changes
nothing. A call keeps the guide's check too: the breaker's `opened_at` is `rc.now()`, the
launch's one clock, and a call arriving once OPEN_FOR_NS has passed goes through as the
trial even when the `HalfOpen` message is still on its way (a due message is sent between
two messages, so a call may come first).

The run waits for each half-open transition instead of sleeping: the host reads the
breaker's state (`rt.checkpoint`) until its timer has moved it.

Limits: the trial is the next caller's request, as in the guide; a breaker that probed
the dependency itself from the timer would spare that caller. A handler cannot wait, so
the backend's timeout is a fault the stand-in raises at once, not a deadline.

    python samples/patterns/circuit_breaker.py [opencl|sim]
"""

import sys
import time

import ringc as rc
from ringc import Array, bool_, f32, i32, i64, u32

CLOSED, OPEN, HALF_OPEN = 0, 1, 2            # the breaker's states
ANSWERED, FAILED, REJECTED = 0, 1, 2         # what happened to a call
FAILURE_THRESHOLD = 5                        # consecutive failures that open the breaker
OPEN_FOR_NS = 200_000_000                    # 0.2 s open before a half-open trial
ITEMS = 8
TIMERS = 4                                   # scheduled HalfOpen messages at most
STATE_NAMES = {CLOSED: "closed", OPEN: "open", HALF_OPEN: "half-open"}
OUTCOME_NAMES = {ANSWERED: "answered", FAILED: "failed", REJECTED: "rejected"}


@rc.message
class Lookup:
    item: i32


@rc.message
class Answer:
    item: i32
    price: f32
    outcome: i32          # ANSWERED, FAILED or REJECTED
    breaker: i32          # the breaker's state after the call


@rc.message
class SetBackend:
    up: bool_


@rc.message
class HalfOpen:           # the breaker to itself, OPEN_FOR_NS after it opened
    opening: u32          # which opening it ends (`openings` then)


@rc.ring_kernel(capacity=64, timers=TIMERS)
class PriceService:
    breaker: i32                      # CLOSED, OPEN or HALF_OPEN (starts CLOSED)
    failures: i32                     # consecutive backend failures
    opened_at: i64                    # rc.now() when the breaker last opened
    openings: u32                     # times it opened
    half_opened_at: i64               # rc.now() when its timer last made it half-open
    rejected: u32
    backend_up: bool_ = True
    prices: Array[f32, ITEMS] = [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]

    def on_set_backend(self, m: SetBackend):
        self.backend_up = m.up

    def on_half_open(self, m: HalfOpen):
        if self.breaker == OPEN and m.opening == self.openings:
            self.breaker = HALF_OPEN              # the next call is the trial
            self.half_opened_at = rc.now()

    def trip(self):
        self.breaker = OPEN
        self.opened_at = rc.now()
        self.openings += 1
        rc.send_after(OPEN_FOR_NS, PriceService, HalfOpen(opening=self.openings))

    def call_backend(self, item: i32) -> f32:
        """The dependency: times out while down; an unknown item is out of range."""
        if not self.backend_up:
            raise rc.Fault("backend_timeout")
        return self.prices[item]

    def on_lookup(self, m: Lookup) -> Answer:
        if self.breaker == OPEN:
            if rc.now() - self.opened_at >= OPEN_FOR_NS:
                self.breaker = HALF_OPEN          # before its HalfOpen: the trial anyway
            else:
                self.rejected += 1
                return Answer(item=m.item, outcome=REJECTED, breaker=OPEN)
        try:
            price = self.call_backend(m.item)
        except rc.Fault as f:
            if f.reason != "backend_timeout":
                raise                             # not the backend's fault: dead-letter it
            self.failures += 1
            if self.failures >= FAILURE_THRESHOLD or self.breaker == HALF_OPEN:
                self.trip()
            return Answer(item=m.item, outcome=FAILED, breaker=self.breaker)
        self.breaker = CLOSED
        self.failures = 0
        return Answer(item=m.item, price=price, outcome=ANSWERED, breaker=CLOSED)


def main(backend: str = "opencl") -> dict:
    """Drive the breaker through closed, open, half-open (failed trial), open again,
    half-open (good trial) and closed. Returns, per phase, the calls' outcomes and the
    breaker's state after them; the state each wait ended in (half-open, moved there by
    its timer, no earlier than OPEN_FOR_NS after opening?); the unknown item's dead-letter
    reason; the rejections and openings."""
    result: dict = {}

    def lookups(rt, phase: str, label: str, calls: int) -> None:
        answers = [rt.request(PriceService, Lookup(item=i % ITEMS), timeout=10.0)
                   for i in range(calls)]
        outcomes = [OUTCOME_NAMES[a.outcome] for a in answers]
        result[phase] = (outcomes, STATE_NAMES[answers[-1].breaker])
        counts = ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))
        print(f"{label:34} {counts:28} breaker {result[phase][1]}")

    def wait(rt, phase: str) -> None:
        """No call until the breaker's timer moved it out of `open` (5 s at most)."""
        deadline = time.monotonic() + 5.0
        state = rt.checkpoint(PriceService)
        while state["breaker"] == OPEN and time.monotonic() < deadline:
            time.sleep(0.005)
            state = rt.checkpoint(PriceService)
        waited = int(state["half_opened_at"]) - int(state["opened_at"])
        result[phase] = (STATE_NAMES[int(state["breaker"])], waited >= OPEN_FOR_NS)
        fired = "its timer fired" if state["breaker"] != OPEN else "no timer in 5 s"
        print(f"{'no calls:':34} {fired:28} breaker {result[phase][0]}"
              f"{', after 0.2 s open' if result[phase][1] else ', too early'}")

    with rc.launch(PriceService, backend=backend) as rt:
        lookups(rt, "up", "backend up:", 3)
        try:
            rt.request(PriceService, Lookup(item=99), timeout=10.0)
        except rc.DeadLettered as exc:
            result["unknown_item"] = exc.dead_letter.reason
            print(f"{'unknown item 99:':34} dead-lettered ({exc.dead_letter.reason}), "
                  f"breaker untouched")
        rt.send(PriceService, SetBackend(up=False))
        lookups(rt, "down", "backend down:", FAILURE_THRESHOLD + 3)
        wait(rt, "first_wait")
        lookups(rt, "still_down", "backend still down:", 2)
        rt.send(PriceService, SetBackend(up=True))
        wait(rt, "second_wait")
        lookups(rt, "back_up", "backend back up:", 3)
        state = rt.checkpoint(PriceService)
        result["rejected"] = int(state["rejected"])
        result["openings"] = int(state["openings"])
    print(f"{result['rejected']} calls rejected without touching the backend; "
          f"the breaker opened {result['openings']} times")
    return result


if __name__ == "__main__":
    main(*sys.argv[1:2])
