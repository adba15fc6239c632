"""Containers inside a handler: rc.LRUMap beside Python's OrderedDict, and rc.Map lookups
over fill levels (they should cost the same at every level: O(1)).

- LRU: `LruCache` handles one message that runs N look-aside operations (get; put on a
  miss, evicting the least recently used key) in one handler, on the backend
  (`--backend opencl`, the default: PoCL's CPU device here); the baseline is the same
  operations on `collections.OrderedDict` in this Python process. Reported: operations
  per second of each and the ratio (ringc / OrderedDict), and that both saw the same
  hits (the same algorithm).
- Map: `Lookups` fills an `rc.Map[i32, i32, 4096]` to 25%, 50%, 75% and 90% of its
  capacity (its table has 8192 slots, so the table's load is half that), then times N
  lookups of present keys at each level. Reported: lookups per second per level and the
  ratio of the slowest to the fastest level (1.0: no slowdown as the map fills).
One handling's time is a request's round trip less that of an empty one. `--quick`: small
counts (a dry run). A backend that cannot run prints `<backend>: skipped: <why>`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import OrderedDict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_kernels import KEYSPACE, LRU_CAPACITY, MAP_CAPACITY, Burst, Lookups, LruCache  # noqa: E402

import ringc as rc  # noqa: E402

_M32 = (1 << 32) - 1


def _signed(x: int) -> int:
    x &= _M32
    return x - (1 << 32) if x >> 31 else x


def ordered_dict_lru(ops: int, seed: int) -> tuple[int, float]:
    """(hits, seconds) of the same look-aside operations on an OrderedDict."""
    cache: OrderedDict[int, int] = OrderedDict()
    x, hits = seed, 0
    start = time.perf_counter()
    for i in range(ops):
        x = _signed(x * 1103515245 + 12345)
        k = (x >> 16) & (KEYSPACE - 1)
        if k in cache:
            cache.move_to_end(k)
            hits += 1
        else:
            if len(cache) == LRU_CAPACITY:
                cache.popitem(last=False)
            cache[k] = i
    return hits, time.perf_counter() - start


def handling_seconds(rt, kernel, message: Burst, repeat: int = 3):
    """(reply, seconds) of one handling: the best round trip, less an empty one's."""
    empty = Burst(ops=0, seed=1, count=0)
    best, reply = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        rt.request(kernel, empty, timeout=600.0)
        t1 = time.perf_counter()
        reply = rt.request(kernel, message, timeout=600.0)
        t2 = time.perf_counter()
        best = min(best, (t2 - t1) - (t1 - t0))
    return reply, max(best, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="opencl")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    ops = 20_000 if args.quick else 2_000_000
    lookups = 20_000 if args.quick else 2_000_000
    try:
        rt = rc.launch([LruCache, Lookups], backend=args.backend)
    except rc.BackendUnavailable as exc:
        print(f"{args.backend}: skipped: {exc}")
        return 0
    with rt:
        reply, seconds = handling_seconds(rt, LruCache, Burst(ops=ops, seed=7, count=0), 1)
        hits, py_seconds = ordered_dict_lru(ops, 7)
        print(f"LRU ({ops} get/put, {LRU_CAPACITY} of {KEYSPACE} keys) on {args.backend}: "
              f"{ops / seconds:,.0f} ops/s; OrderedDict: {ops / py_seconds:,.0f} ops/s; "
              f"ratio {py_seconds / seconds:.1f}x; hits {reply.hits} vs {hits}")
        rates = {}
        for fill in (0.25, 0.5, 0.75, 0.9):
            count = int(MAP_CAPACITY * fill)
            rt.request(Lookups, Burst(ops=0, seed=0, count=count), timeout=600.0)
            reply, seconds = handling_seconds(rt, Lookups, Burst(ops=lookups, seed=3,
                                                                  count=0))
            rates[fill] = lookups / seconds
            assert reply.hits == lookups, "a present key was not found"
            print(f"Map lookups at {fill:.0%} full (table load {count / 8192:.2f}): "
                  f"{rates[fill]:,.0f} /s")
        print(f"Map: slowest level / fastest: {min(rates.values()) / max(rates.values()):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
