"""Several host threads stream far more messages than the queues hold through a
two-stage program; then every kernel conserves messages, nothing is duplicated or lost,
and each sender's messages arrive in the order sent."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import ringc as rc
from tests.backend_support import scale

from .kernels import Item, Stage, Tail

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

SENDERS = 4


def test_conservation_order_and_no_duplicates_under_stress(backend):
    per_sender = scale(backend, 500_000, 1_500, cuda=50_000)   # 2 M messages on PoCL
    chunk = 10_000
    with rc.launch(Stage, backend=backend, output_capacity=64) as rt:
        errors: list[Exception] = []

        def sender(k: int) -> None:
            try:
                for start in range(0, per_sender, chunk):
                    batch = np.zeros(min(chunk, per_sender - start), Item.dtype)
                    batch["sender"] = k
                    batch["seq"] = np.arange(start, start + len(batch))
                    rt.send(Stage, batch, instance=k % 2, timeout=60.0)
            except Exception as exc:                       # reported below
                errors.append(exc)

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(SENDERS)]
        for t in threads:
            t.start()
        failing = per_sender // 1000                        # seq % 1000 == 999
        expected = SENDERS * (per_sender - failing)
        got = rt.receive_many(expected, timeout=300.0)
        for t in threads:
            t.join()
        assert errors == []
        assert len(got) == expected
        for k in range(SENDERS):
            seqs = got["seq"][got["sender"] == k]
            assert (np.diff(seqs) > 0).all(), "a sender's messages arrived out of order"
            want = np.arange(per_sender)
            assert (seqs == want[want % 1000 != 999]).all(), "lost or duplicated messages"
        rt.shutdown(drain=True, timeout=30.0)
    for kernel, processed, dead in ((Stage, SENDERS * per_sender - SENDERS * failing,
                                     SENDERS * failing), (Tail, expected, 0)):
        s = rt.status(kernel)
        assert s.sent == s.processed + s.pending + s.dead_lettered
        assert (s.processed, s.pending, s.dead_lettered) == (processed, 0, dead)
    assert {d.reason for d in rt.dead_letters()} == {"unlucky"}
    assert len(rt.dead_letters()) == SENDERS * failing



def test_a_slow_host_backs_pressure_up_three_hops_without_loss(backend):
    """Clean -> Score -> Aggregate -> host with the host not reading: every queue fills,
    and the wait travels up the chain to `send` as backpressure, never as queue_full."""
    from ringc.frontend.files import import_file

    pipeline = import_file(SAMPLES / "pipeline.py")
    n = 8_000                                 # more than every queue and buffer together
    with rc.launch(pipeline.Clean, backend=backend, output_capacity=16, host_buffer=16) as rt:
        batch = np.zeros(n, pipeline.Reading.dtype)
        batch["sensor"] = np.arange(n) % pipeline.SENSORS
        batch["seq"] = np.arange(n)
        batch["samples"] = 1.0
        with pytest.raises(rc.QueueFull) as info:
            rt.send(pipeline.Clean, batch, timeout=1.0)
        assert rt.dead_letters() == []
        accepted = info.value.accepted
        got = rt.receive_many(accepted // 4, timeout=60.0)
        assert len(got) == accepted // 4 and rt.dead_letters() == []
