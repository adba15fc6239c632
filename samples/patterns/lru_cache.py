"""Bounded state with eviction: a least-recently-used cache of fixed size.

`LRUCache` holds at most CAPACITY entries in state arrays (key, value, last use). Every
`Get` that hits and every `Put` stamps the entry with a counter that only grows, so the
entry with the smallest stamp is the least recently used; a `Put` of a new key into a full
cache evicts it, and the reply says which key went.

Limits: finding a key and finding the oldest entry scan the table (CAPACITY comparisons),
which suits a small cache; a hashed map with an O(1) recency list, `rc.LRUMap`, is not
built yet. The stamp is a u32: after 2**32 uses it wraps and the order is wrong.
samples/kv_store.py shows a larger table, hashed, that evicts within a probe window.

    python samples/patterns/lru_cache.py [opencl|sim]
"""

import sys

import ringc as rc
from ringc import Array, bool_, f32, i32, u32

CAPACITY = 8


@rc.message
class Get:
    key: i32


@rc.message
class Put:
    key: i32
    value: f32


@rc.message
class CacheResponse:
    key: i32
    found: bool_
    value: f32
    evicted: bool_
    evicted_key: i32


@rc.ring_kernel(capacity=64)
class LRUCache:
    keys: Array[i32, CAPACITY]
    values: Array[f32, CAPACITY]
    last_use: Array[u32, CAPACITY]        # 0: the slot is empty
    uses: u32                             # the stamp of the latest use
    size: i32
    hits: u32
    misses: u32
    evictions: u32

    def find(self, key: i32) -> i32:
        for slot in range(CAPACITY):
            if self.last_use[slot] != 0 and self.keys[slot] == key:
                return slot
        return -1

    def least_recent(self) -> i32:
        oldest = 0
        for slot in range(1, CAPACITY):
            if self.last_use[slot] < self.last_use[oldest]:
                oldest = slot
        return oldest

    def touch(self, slot: i32):
        self.uses += 1
        self.last_use[slot] = self.uses

    def on_get(self, m: Get) -> CacheResponse:
        slot = self.find(m.key)
        if slot < 0:
            self.misses += 1
            return CacheResponse(key=m.key)
        self.hits += 1
        self.touch(slot)
        return CacheResponse(key=m.key, found=True, value=self.values[slot])

    def on_put(self, m: Put) -> CacheResponse:
        reply = CacheResponse(key=m.key, found=True, value=m.value)
        slot = self.find(m.key)
        if slot < 0:
            if self.size < CAPACITY:
                slot = self.size
                self.size += 1
            else:
                slot = self.least_recent()
                reply.evicted = True
                reply.evicted_key = self.keys[slot]
                self.evictions += 1
            self.keys[slot] = m.key
        self.values[slot] = m.value
        self.touch(slot)
        return reply


def main(backend: str = "opencl") -> dict:
    """Fill the cache, read three of the oldest keys, put three new ones: the three least
    recently used go, not the three read. Returns the evicted keys and the counters."""
    with rc.launch(LRUCache, backend=backend) as rt:
        def ask(message):
            return rt.request(LRUCache, message, timeout=10.0)

        for key in range(CAPACITY):
            ask(Put(key=key, value=key * 1.5))
        read = [0, 1, 2]
        for key in read:
            ask(Get(key=key))
        evicted = [int(ask(Put(key=key, value=key * 1.5)).evicted_key)
                   for key in range(CAPACITY, CAPACITY + 3)]
        hit, miss = ask(Get(key=read[1])), ask(Get(key=evicted[0]))
        counters = {name: int(rt.checkpoint(LRUCache)[name])
                    for name in ("hits", "misses", "evictions")}
    print(f"filled the cache with keys 0-{CAPACITY - 1}, then read keys {read}")
    print(f"put keys {CAPACITY}-{CAPACITY + 2}: evicted {evicted} (least recently used)")
    print(f"get {hit.key}: {'hit ' + format(hit.value, 'g') if hit.found else 'miss'}; "
          f"get {miss.key}: {'hit' if miss.found else 'miss'}")
    print(", ".join(f"{name} {n}" for name, n in counters.items()))
    return {"evicted": evicted, "hit": hit.found, "miss": not miss.found, **counters}


if __name__ == "__main__":
    main(*sys.argv[1:2])
