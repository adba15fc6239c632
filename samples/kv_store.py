"""A request-reply key-value store resident on the device.

Keys are hashed into a fixed open-addressing table with linear probing; a full table
evicts the oldest entry of the probe window (bounded eviction). Every request gets a reply
with the same correlation id, so `rt.request(Store, Get(key=7))` returns the answer.
"""

import ringc as rc
from ringc import Array, bool_, f32, i32, u32

SLOTS = 256          # table size (a power of two)
PROBES = 8           # probe window


@rc.message
class Put:
    key: i32
    value: f32


@rc.message
class Get:
    key: i32


@rc.message
class Delete:
    key: i32


@rc.message
class Reply:
    key: i32
    value: f32
    found: bool
    evicted: bool


@rc.device
def slot_of(key: i32, probe: i32) -> i32:
    h = u32(key) * u32(2654435761)
    return i32((h >> 8) + u32(probe)) % SLOTS


@rc.ring_kernel(capacity=512, domain="actor")
class Store:
    keys: Array[i32, SLOTS]
    values: Array[f32, SLOTS]
    used: Array[bool_, SLOTS]
    stamp: Array[u32, SLOTS]
    clock: u32
    size: i32
    evictions: u32

    def find(self, key: i32) -> i32:
        for p in range(PROBES):
            s = slot_of(key, p)
            if self.used[s] and self.keys[s] == key:
                return s
        return -1

    def on_put(self, m: Put) -> Reply:
        self.clock += 1
        s = self.find(m.key)
        evicted = False
        if s < 0:
            oldest = slot_of(m.key, 0)
            for p in range(PROBES):
                c = slot_of(m.key, p)
                if not self.used[c]:
                    oldest = c
                    break
                if self.stamp[c] < self.stamp[oldest]:
                    oldest = c
            s = oldest
            if self.used[s]:
                evicted = True
                self.evictions += 1
            else:
                self.size += 1
        self.keys[s] = m.key
        self.values[s] = m.value
        self.used[s] = True
        self.stamp[s] = self.clock
        return Reply(key=m.key, value=m.value, found=True, evicted=evicted)

    def on_get(self, m: Get) -> Reply:
        s = self.find(m.key)
        if s < 0:
            return Reply(key=m.key)
        return Reply(key=m.key, value=self.values[s], found=True)

    def on_delete(self, m: Delete) -> Reply:
        s = self.find(m.key)
        if s < 0:
            return Reply(key=m.key)
        self.used[s] = False
        self.size -= 1
        return Reply(key=m.key, value=self.values[s], found=True)
