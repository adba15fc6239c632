"""ringc.runtime.codec (the one-message latency path) against numpy records."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ringc as rc
from ringc import Array
from ringc.runtime.codec import struct_decoder, struct_encoder

from .kernels import Addressed, Mixed


@rc.message
class Flags:
    """Bools, scalar and in an array, between other fields."""
    counts: Array[rc.u16, 3]
    flag: rc.bool_
    flags: Array[rc.bool_, 5]
    x: rc.f64


@rc.message
class Tick:
    pass


def _ints(dtype) -> st.SearchStrategy[int]:
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


_MIXED = st.builds(
    Mixed, flag=st.booleans(), small=_ints(np.int8), tiny=_ints(np.uint8),
    short=_ints(np.int16), ushort=_ints(np.uint16), word=_ints(np.uint32),
    big=_ints(np.int64), ubig=_ints(np.uint64), x=st.floats(width=32), y=st.floats(),
    xs=st.lists(st.floats(width=32), min_size=3, max_size=3),
    ids=st.lists(_ints(np.int64), min_size=2, max_size=2))
_FLAGS = st.builds(
    Flags, counts=st.lists(_ints(np.uint16), min_size=3, max_size=3), flag=st.booleans(),
    flags=st.lists(st.booleans(), min_size=5, max_size=5), x=st.floats())


def test_struct_codec_matches_numpy_records_for_every_field_type():
    msg = Mixed(flag=True, small=-128, tiny=255, short=-2, ushort=65535, word=2**32 - 1,
                big=-2**63, ubig=2**64 - 1, x=np.float32(1.1), y=-0.0, xs=[1.5, np.nan, -3],
                ids=[2**62, -1])
    encoded = struct_encoder(Mixed._ringc_message)(msg)
    assert encoded == msg.to_record().tobytes()
    decoded = struct_decoder(Mixed, Mixed.dtype)(b"\xff" * 8 + encoded, 8)
    assert type(decoded) is Mixed
    assert decoded.to_record().tobytes() == encoded
    assert decoded.xs.dtype == np.float32 and type(decoded.big) is np.int64


def test_messages_holding_addresses_fall_back_to_numpy():
    assert struct_encoder(Addressed._ringc_message) is None
    assert struct_decoder(Addressed, Addressed.dtype) is None
    assert Addressed(back=rc.Address(3, 9), n=1).to_record()["back"]["correlation"] == 9


def _same_fields(a, b) -> bool:
    for name, _ in type(a)._ringc_message.fields:
        x, y = getattr(a, name), getattr(b, name)
        if type(x) is not type(y) or getattr(x, "dtype", None) != getattr(y, "dtype", None):
            return False
    return a == b


@settings(max_examples=300, deadline=None)
@given(st.one_of(_MIXED, _FLAGS, st.builds(Tick)), st.integers(0, 24))
def test_decode_of_encode_is_the_message_and_its_record_bytes(msg, offset):
    cls = type(msg)
    encoded = struct_encoder(cls._ringc_message)(msg)
    assert encoded == msg.to_record().tobytes()
    decoded = struct_decoder(cls, cls.dtype)(b"\xab" * offset + encoded + b"\xcd", offset)
    assert type(decoded) is cls and _same_fields(decoded, msg)
    assert decoded.to_record().tobytes() == encoded


def test_decoded_bools_are_true_for_any_nonzero_byte_and_arrays_are_writable():
    raw = bytearray(Flags(flags=[True, False, True, False, False]).to_record().tobytes())
    raw[Flags.dtype.fields["flags"][1]] = 2
    raw[Flags.dtype.fields["flag"][1]] = 7
    decoded = struct_decoder(Flags, Flags.dtype)(bytes(raw), 0)
    assert decoded.flag is np.True_ and decoded.flags.tolist() == [True, False, True, False,
                                                                   False]
    assert decoded.flags.view(np.uint8).tolist() == [1, 0, 1, 0, 0]
    decoded.counts[0] = 5
    assert decoded.counts.flags.writeable and decoded.counts.flags.owndata
