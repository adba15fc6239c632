"""Lock-free stack: a Treiber stack over state arrays, changed only by rc.atomic_cas.

The guide's lock-free stack links heap nodes and swings its head with compare-and-swap.
Here the nodes are slots of two state arrays (`values`, `links`) and a "pointer" is a slot
number plus one (0 is "none"). The kernel is `concurrency="parallel"`: its messages are
handled at once, one per work-item (and, with `groups=` > 1, in several work-groups), in no
order, so every change to state goes through `rc.atomic_*`. Each push or pop reads a head
(a plain read), prepares the new head and retries when `rc.atomic_cas` finds that the head
changed meanwhile.

Two stacks share the node arrays: the work stack (what `Push` puts and `Pop` takes) and
the free stack (nodes `Pop` gave back, reused by later pushes). A node never used yet comes
from a bump counter, `fresh`.

Limits:
- A head packs a 16-bit tag above the 16-bit slot number, so a stale head (the ABA
  problem: a node popped and pushed back between a reader's load and its CAS) fails the
  CAS unless the head changed a multiple of 65,536 times meanwhile. NODES is at most
  65,535.
- ringc has no atomic store or exchange: a slot the handler owns is written with a CAS
  loop (`store_value`, `store_link`), and atomics take flat state arrays, not fields of
  records, hence two arrays rather than an array of nodes.
- A push finding no free node dead-letters its message with reason `stack_full`.
- Every value is 32-bit, so the sample builds for Metal too, which lacks 64-bit atomics.
- On PoCL the work-items of one work-group run one after another: handlers truly overlap
  only with `groups=2` or more (the second argument below).

    python samples/patterns/lock_free_stack.py [opencl|sim] [groups]
"""

import sys
import time

import numpy as np

import ringc as rc
from ringc import Array, bool_, i32, u32

NODES = 4096             # slots shared by both stacks (at most 65,535)
SLOT_BITS = 0xFFFF       # a head's low half: slot + 1, or 0 when the stack is empty
TAG_BITS = 0xFFFF0000    # a head's high half: bumped by every successful CAS
TAG_STEP = 0x10000
WORK = 0                 # heads[WORK]: the stack Push and Pop use
FREE = 1                 # heads[FREE]: nodes given back, reused before fresh ones


@rc.message
class Push:
    value: i32


@rc.message
class Pop:
    ticket: i32          # the host's number for this pop, echoed in the reply


@rc.message
class Popped:
    ticket: i32
    found: bool_
    value: i32


@rc.ring_kernel(capacity=4096, concurrency="parallel")
class LockFreeStack:
    heads: Array[u32, 2]            # WORK and FREE: tag << 16 | (slot + 1)
    values: Array[i32, NODES]
    links: Array[u32, NODES]        # the slot below, plus one (0: the bottom)
    fresh: u32                      # slots never used yet start here
    retries: u32                    # CAS attempts that lost a race (a contention gauge)

    def store_value(self, slot: i32, value: i32):
        while True:
            seen = self.values[slot]
            old = rc.atomic_cas(self.values[slot], seen, value)
            if old == seen:
                return

    def store_link(self, slot: i32, link: u32):
        while True:
            seen = self.links[slot]
            old = rc.atomic_cas(self.links[slot], seen, link)
            if old == seen:
                return

    def push_slot(self, stack: i32, slot: i32):
        while True:
            head = self.heads[stack]
            self.store_link(slot, head & SLOT_BITS)
            new_head = ((head & TAG_BITS) + TAG_STEP) | u32(slot + 1)
            old = rc.atomic_cas(self.heads[stack], head, new_head)
            if old == head:
                return
            rc.atomic_add(self.retries, 1)

    def pop_slot(self, stack: i32) -> i32:
        """The slot taken from the top of `stack`, or -1 when it is empty."""
        top = -1
        taken = False
        while not taken:
            head = self.heads[stack]
            top = i32(head & SLOT_BITS) - 1
            if top < 0:
                break
            below = self.links[top] & SLOT_BITS
            old = rc.atomic_cas(self.heads[stack], head, ((head & TAG_BITS) + TAG_STEP) | below)
            taken = old == head
            if not taken:
                rc.atomic_add(self.retries, 1)
        return top

    def on_push(self, m: Push):
        slot = self.pop_slot(FREE)
        if slot < 0:
            fresh = rc.atomic_add(self.fresh, 1)
            if fresh >= NODES:
                rc.fail("stack_full")
            slot = i32(fresh)
        self.store_value(slot, m.value)
        self.push_slot(WORK, slot)

    def on_pop(self, m: Pop) -> Popped:
        slot = self.pop_slot(WORK)
        if slot < 0:
            return Popped(ticket=m.ticket, found=False)
        value = self.values[slot]
        self.push_slot(FREE, slot)
        return Popped(ticket=m.ticket, found=True, value=value)


def wait_until_idle(rt, kernel, timeout: float = 30.0) -> None:
    """Poll until every message sent to `kernel` was handled or dead-lettered."""
    deadline = time.monotonic() + timeout
    while True:
        status = rt.status(kernel)
        if status.processed + status.dead_lettered == status.sent:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kernel.__name__} still busy after {timeout} s: {status}")
        time.sleep(0.001)


def pops(first_ticket: int, n: int) -> np.ndarray:
    batch = np.zeros(n, Pop.dtype)
    batch["ticket"] = np.arange(first_ticket, first_ticket + n)
    return batch


def main(backend: str = "opencl", groups: int | None = None) -> dict:
    """Queue rounds of pops, pushes and pops while the kernel is inactive, let them race,
    then pop what is left. Every pushed value must come back exactly once. `groups`
    (OpenCL, CUDA): work-groups running handlers at once. Returns what it printed."""
    rounds, per_round = 10, 200
    pushes, racing_pops = rounds * per_round, rounds * per_round // 2
    options = {} if groups is None else {"groups": groups}
    with rc.launch(LockFreeStack, backend=backend, **options) as rt:
        rt.deactivate(LockFreeStack)              # queue everything, then let it race
        for r in range(rounds):
            quarter = per_round // 4
            rt.send(LockFreeStack, pops(r * 2 * quarter, quarter))
            values = np.zeros(per_round, Push.dtype)
            values["value"] = np.arange(r * per_round, (r + 1) * per_round)
            rt.send(LockFreeStack, values)
            rt.send(LockFreeStack, pops((r * 2 + 1) * quarter, quarter))
        rt.activate(LockFreeStack)
        raced = rt.receive_many(racing_pops, timeout=30.0)
        wait_until_idle(rt, LockFreeStack)
        rt.send(LockFreeStack, pops(racing_pops, pushes))     # more pops than values left
        drained = rt.receive_many(pushes, timeout=30.0)
        retries = int(rt.checkpoint(LockFreeStack)["retries"])
    popped = np.concatenate([raced["value"][raced["found"]], drained["value"][drained["found"]]])
    result = {
        "raced_found": int(raced["found"].sum()),
        "raced_empty": int((~raced["found"]).sum()),
        "drained": int(drained["found"].sum()),
        "exactly_once": sorted(popped.tolist()) == list(range(pushes)),
        "retries": retries,
    }
    print(f"{pushes} pushes raced {racing_pops} pops: {result['raced_found']} pops took a "
          f"value, {result['raced_empty']} found the stack empty")
    print(f"popped the {result['drained']} values left; every value came back exactly once: "
          f"{'yes' if result['exactly_once'] else 'NO'}")
    print(f"CAS attempts that lost a race and retried: {retries}")
    return result


if __name__ == "__main__":
    args: list = [*sys.argv[1:2], *(int(g) for g in sys.argv[2:3])]
    main(*args)
