"""ringc.runtime.codec (the one-message latency path) against numpy records."""

from __future__ import annotations

import numpy as np

import ringc as rc
from ringc.runtime.codec import struct_decoder, struct_encoder

from .kernels import Addressed, Mixed


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
