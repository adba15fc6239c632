"""Bounded state with eviction: a least-recently-used cache of fixed size.

`LRUCache` keeps its entries in an `rc.LRUMap[i32, f32, CAPACITY]`, a hashed table with a
recency list, as the guide's kernel keeps a dictionary and a linked list. `Get` reads an
entry (`cache.get`), which makes its key the most recently used; `Put` stores one
(`cache.put`), and a put of a new key into a full cache evicts the least recently used
key: the map does it, never faulting, and counts it in `cache.evictions`. The reply to a
`Put` says whether it evicted something. `Contains` asks `key in cache`, which is not a
use, so the host can see what is left without changing the order.

The sample fills the cache with keys 0-7, reads 0, 1 and 2, then puts 8, 9 and 10: the
three evicted are 3, 4 and 5, the least recently used, not the older but recently read
0, 1 and 2.

Limits: the map does not say which key a put evicted (the host finds out with `Contains`
here), and `for key in cache` walks the table, not the recency order. The guide's cache
holds 1000 string values; an `rc.LRUMap` holds scalars or records, so strings would be
fixed arrays of bytes.

    python samples/patterns/lru_cache.py [opencl|sim]
"""

import sys

import ringc as rc
from ringc import bool_, f32, i32, u32

CAPACITY = 8


@rc.message
class Get:
    key: i32


@rc.message
class Put:
    key: i32
    value: f32


@rc.message
class Contains:
    key: i32


@rc.message
class CacheResponse:
    key: i32
    found: bool_
    value: f32
    evicted: bool_        # a Put: whether a least recently used key made room for it


@rc.ring_kernel(capacity=64)
class LRUCache:
    cache: rc.LRUMap[i32, f32, CAPACITY]
    hits: u32
    misses: u32

    def on_get(self, m: Get) -> CacheResponse:
        if m.key not in self.cache:          # `in` is not a use: the order stays
            self.misses += 1
            return CacheResponse(key=m.key)
        self.hits += 1
        return CacheResponse(key=m.key, found=True, value=self.cache[m.key])

    def on_put(self, m: Put) -> CacheResponse:
        before = self.cache.evictions
        self.cache.put(m.key, m.value)       # a new key into a full cache evicts the LRU one
        return CacheResponse(key=m.key, found=True, value=m.value,
                             evicted=self.cache.evictions != before)

    def on_contains(self, m: Contains) -> CacheResponse:
        return CacheResponse(key=m.key, found=m.key in self.cache)


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
        new = list(range(CAPACITY, CAPACITY + 3))
        made_room = [bool(ask(Put(key=key, value=key * 1.5)).evicted) for key in new]
        evicted = [key for key in range(CAPACITY + 3) if not ask(Contains(key=key)).found]
        hit, miss = ask(Get(key=read[1])), ask(Get(key=evicted[0]))
        state = rt.checkpoint(LRUCache)
        counters = {"hits": int(state["hits"]), "misses": int(state["misses"]),
                    "evictions": int(state["cache"]["evictions"])}
        held = int(state["cache"]["count"])
    print(f"filled the cache with keys 0-{CAPACITY - 1}, then read keys {read}")
    print(f"put keys {new[0]}-{new[-1]}, each making room: {'yes' if all(made_room) else 'NO'}; "
          f"evicted {evicted} (least recently used)")
    print(f"get {hit.key}: {'hit ' + format(hit.value, 'g') if hit.found else 'miss'}; "
          f"get {miss.key}: {'hit' if miss.found else 'miss'}")
    print(f"{held} of {CAPACITY} entries held; "
          + ", ".join(f"{name} {n}" for name, n in counters.items()))
    return {"evicted": evicted, "hit": hit.found, "miss": not miss.found, **counters}


if __name__ == "__main__":
    main(*sys.argv[1:2])
