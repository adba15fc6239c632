"""Message objects on the one-message path: build, encode and decode, in ns per operation.

Two messages: `One` (one i32) and `Mixed` (three scalars and an `Array[f32, 6]`). Each
figure is the best of several timeit repeats, beside a baseline measured in the same run:
a plain class with the same slots built with `object.__new__` and one setattr per field
(what a message object costs at the least in Python). Building `Mixed` is timed with its
array given as a list and as a numpy array of the field's dtype.
"""

from __future__ import annotations

import sys
import timeit

import numpy as np

import ringc as rc
from ringc import Array, f32, f64, i32, i64
from ringc.runtime.codec import struct_decoder, struct_encoder


@rc.message
class One:
    id: i32


@rc.message
class Mixed:
    id: i32
    seq: i64
    gain: f64
    values: Array[f32, 6]


class _PlainOne:
    __slots__ = ("id",)


class _PlainMixed:
    __slots__ = ("id", "seq", "gain", "values")


def best_ns(fn, number: int) -> float:
    """The fastest of 7 timeit repeats of `fn`, in ns per call."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e9


def main() -> int:
    number = 20000 if "--quick" not in sys.argv else 2000
    new = object.__new__
    one_id = np.int32(1)
    mixed_fields = (np.int32(1), np.int64(2), np.float64(0.5), np.zeros(6, np.float32))

    def plain_one():
        o = new(_PlainOne)
        o.id = one_id

    def plain_mixed():
        o = new(_PlainMixed)
        o.id, o.seq, o.gain, o.values = mixed_fields

    values_list = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    values_array = np.arange(6, dtype=np.float32)
    one, mixed = One(id=1), Mixed(id=1, seq=2, gain=0.5, values=values_list)
    encode_one, encode_mixed = struct_encoder(One._ringc_message), struct_encoder(
        Mixed._ringc_message)
    decode_one, decode_mixed = struct_decoder(One, One.dtype), struct_decoder(Mixed, Mixed.dtype)
    one_bytes, mixed_bytes = encode_one(one), encode_mixed(mixed)
    cases = [
        ("One(id=1)", lambda: One(id=1), plain_one),
        ("One()", lambda: One(), plain_one),
        ("encode One", lambda: encode_one(one), plain_one),
        ("decode One", lambda: decode_one(one_bytes, 0), plain_one),
        ("Mixed(..., values=list)", lambda: Mixed(id=1, seq=2, gain=0.5, values=values_list),
         plain_mixed),
        ("Mixed(..., values=array)",
         lambda: Mixed(id=1, seq=2, gain=0.5, values=values_array), plain_mixed),
        ("Mixed()", lambda: Mixed(), plain_mixed),
        ("encode Mixed", lambda: encode_mixed(mixed), plain_mixed),
        ("decode Mixed", lambda: decode_mixed(mixed_bytes, 0), plain_mixed),
    ]
    baselines = {fn: best_ns(fn, number) for fn in (plain_one, plain_mixed)}
    print(f"baseline object.__new__ + setattr: 1 field {baselines[plain_one]:.0f} ns, "
          f"4 fields {baselines[plain_mixed]:.0f} ns")
    print(f"{'operation':<28}{'ns':>8}{'x baseline':>12}")
    for name, fn, baseline in cases:
        ns = best_ns(fn, number)
        print(f"{name:<28}{ns:>8.0f}{ns / baselines[baseline]:>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
