"""The simulator's containers over the numpy record of a state field, step for step the
functions `rc_box_*` of templates/common.j2, so both leave identical bytes: `SequenceOps`
for `rc.Queue` and `rc.Stack`, `MapOps` for `rc.Map` and `rc.LRUMap` (the same table,
probe sequence, backward-shift deletion and recency list).

The record's fields are `ringc.ir.types.ContainerType.fields`: `count`, `keys`, `used`,
`items` and, for an LRU map, `head`, `tail`, `prev`, `next` (slot + 1; 0: none) and
`evictions`. Faults raise `Fault` with the reason's code, as the C functions set it.
"""

from __future__ import annotations

import numpy as np

from ringc.ir.types import ContainerType
from ringc.protocol import HASH_MULTIPLIER, REASONS

_CODES = {name: code for code, name in REASONS.items()}
_M64 = (1 << 64) - 1


class MapOps:
    """The methods of one map type; `fault(code)` raises the simulator's fault."""

    def __init__(self, t: ContainerType, fault):
        self.t, self.fault = t, fault
        self.slots, self.mask = t.slots, t.slots - 1
        self.shift = 64 - (t.slots.bit_length() - 1)
        self.lru = t.kind == "lru"

    def home(self, k: int) -> int:
        return (((int(k) & _M64) * HASH_MULTIPLIER) & _M64) >> self.shift

    def find(self, b: np.ndarray, k: int) -> int:
        """The slot holding k, or `slots`."""
        used, keys = b["used"][0], b["keys"][0]
        s = self.home(k)
        while used[s]:
            if int(keys[s]) == int(k):
                return s
            s = (s + 1) & self.mask
        return self.slots

    # -- recency (LRU maps) ---------------------------------------------------------------

    def unlink(self, b: np.ndarray, s: int) -> None:
        prev, nxt = b["prev"][0], b["next"][0]
        p, n = int(prev[s]), int(nxt[s])
        if p:
            nxt[p - 1] = n
        else:
            b["head"] = n
        if n:
            prev[n - 1] = p
        else:
            b["tail"] = p

    def front(self, b: np.ndarray, s: int) -> None:
        prev, nxt = b["prev"][0], b["next"][0]
        head = int(b["head"][0])
        prev[s], nxt[s] = 0, head
        if head:
            prev[head - 1] = s + 1
        else:
            b["tail"] = s + 1
        b["head"] = s + 1

    def touch(self, b: np.ndarray, s: int) -> None:
        if int(b["head"][0]) != s + 1:
            self.unlink(b, s)
            self.front(b, s)

    # -- the table ------------------------------------------------------------------------

    def drop(self, b: np.ndarray, s: int) -> None:
        """Empty slot s, moving back entries whose probe run crosses the hole."""
        if self.lru:
            self.unlink(b, s)
        used, keys, items = b["used"][0], b["keys"][0], b["items"][0]
        used[s] = 0
        b["count"] = int(b["count"][0]) - 1
        j = s
        while True:
            j = (j + 1) & self.mask
            if not used[j]:
                return
            h = self.home(keys[j])
            if (s < h <= j) if s <= j else (s < h or h <= j):
                continue
            keys[s] = keys[j]
            items[s:s + 1].view(np.uint8)[...] = items[j:j + 1].view(np.uint8)
            used[s], used[j] = 1, 0
            if self.lru:
                prev, nxt = b["prev"][0], b["next"][0]
                prev[s], nxt[s] = prev[j], nxt[j]
                if prev[s]:
                    nxt[int(prev[s]) - 1] = s + 1
                else:
                    b["head"] = s + 1
                if nxt[s]:
                    prev[int(nxt[s]) - 1] = s + 1
                else:
                    b["tail"] = s + 1
            s = j

    def at(self, b: np.ndarray, k: int) -> int:
        """The slot of key k (m[k]), or key_not_found; an LRU map's refreshes."""
        s = self.find(b, k)
        if s == self.slots:
            self.fault(_CODES["key_not_found"])
        if self.lru:
            self.touch(b, s)
        return s

    def get(self, b: np.ndarray, k: int):
        """The slot of key k (refreshed), or None."""
        s = self.find(b, k)
        if s == self.slots:
            return None
        if self.lru:
            self.touch(b, s)
        return s

    def put(self, b: np.ndarray, k: int) -> int:
        """The slot key k's value goes to: found (refreshed), or new (the least recently
        used evicted when full; a plain map's container_full)."""
        s = self.find(b, k)
        if s != self.slots:
            if self.lru:
                self.touch(b, s)
            return s
        if int(b["count"][0]) >= self.t.capacity:
            if not self.lru:
                self.fault(_CODES["container_full"])
            self.drop(b, int(b["tail"][0]) - 1)
            b["evictions"] = int(b["evictions"][0]) + 1
        used = b["used"][0]
        s = self.home(k)
        while used[s]:
            s = (s + 1) & self.mask
        b["keys"][0][s] = k
        used[s] = 1
        b["count"] = int(b["count"][0]) + 1
        if self.lru:
            self.front(b, s)
        return s

    def remove(self, b: np.ndarray, k: int) -> bool:
        s = self.find(b, k)
        if s == self.slots:
            return False
        self.drop(b, s)
        return True

    def clear(self, b: np.ndarray) -> None:
        b["used"][0][...] = 0
        b["count"] = 0
        if self.lru:
            b["head"] = 0
            b["tail"] = 0

    def iterated(self, b: np.ndarray, k: int):
        """The next used slot from slot k on (a for loop takes keys in table order), or
        None past the table."""
        used = b["used"][0]
        while k < self.slots and not used[k]:
            k += 1
        return k if k < self.slots else None


class SequenceOps:
    """`rc.Queue` (a ring: `head`, `count`, `items`) and `rc.Stack` (`count`, `items`, the
    top at `count - 1`): the slots the methods use, as `rc_box_*` of the template."""

    def __init__(self, t: ContainerType, fault):
        self.t, self.fault, self.queue = t, fault, t.kind == "queue"

    def at(self, b: np.ndarray, i: int) -> int:
        """The slot of the i-th item from the front / top, or index_out_of_range."""
        count = int(b["count"][0])
        if not 0 <= i < count:
            self.fault(_CODES["index_out_of_range"])
        return (int(b["head"][0]) + i) % self.t.capacity if self.queue else count - 1 - i

    def push(self, b: np.ndarray) -> int:
        """The slot a new item goes to (counted), or container_full."""
        count = int(b["count"][0])
        if count >= self.t.capacity:
            self.fault(_CODES["container_full"])
        b["count"] = count + 1
        return (int(b["head"][0]) + count) % self.t.capacity if self.queue else count

    def take(self, b: np.ndarray, remove: bool) -> int:
        """The slot of the front / top item (pop: removed), or container_empty."""
        count = int(b["count"][0])
        if count == 0:
            self.fault(_CODES["container_empty"])
        slot = int(b["head"][0]) if self.queue else count - 1
        if remove:
            b["count"] = count - 1
            if self.queue:
                b["head"] = (slot + 1) % self.t.capacity
        return slot

    def clear(self, b: np.ndarray) -> None:
        b["count"] = 0
        if self.queue:
            b["head"] = 0

    def iterated(self, b: np.ndarray, k: int):
        """The slot of the k-th item a for loop takes, or None past the last."""
        count = int(b["count"][0])
        if k >= count:
            return None
        return (int(b["head"][0]) + k) % self.t.capacity if self.queue else count - 1 - k
