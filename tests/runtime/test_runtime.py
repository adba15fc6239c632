"""The Runtime's contract (docs/runtime.md), on every backend present."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import ringc as rc
from tests.backend_support import scale, spin_rounds

from .kernels import (
    Ask,
    Done,
    Forwarder,
    Holder,
    Job,
    Note,
    Sink,
    Slow,
    Spin,
    Spray,
    Squares,
    Sum,
    Summer,
    Work,
    Worker,
)


def test_send_receive_request_and_bulk(backend):
    with rc.launch(Summer, backend=backend) as rt:
        rt.send(Summer, Work(id=1, data=[1, 2, 3, 4], ts=0))
        assert rt.receive(timeout=5.0) == Sum(id=1, value=10.0)
        assert rt.request(Summer, Work(id=2, data=[0.5, 0.25, 0, 1]), timeout=5.0) == Sum(
            id=2, value=1.75)
        n = scale(backend, 10_000, 500)                       # far more than capacity 64
        batch = np.zeros(n, dtype=Work.dtype)
        batch["id"] = np.arange(n)
        batch["data"] = np.arange(4 * n, dtype=np.float32).reshape(n, 4) % 17
        assert rt.send(Summer, batch) == n
        out = rt.receive_many(n, timeout=30.0)
        assert out.dtype == Sum.dtype and len(out) == n
        assert (out["id"] == np.arange(n)).all()          # one ordered instance: in order
        expected = batch["data"].astype(np.float32).sum(axis=1, dtype=np.float32)
        assert (out["value"] == expected).all()
        # one record of an array (a numpy void) is one message, for request as for send
        assert rt.request(Summer, batch[3], timeout=5.0) == Sum(id=3, value=expected[3])
        rt.send(Summer, batch[4])
        assert rt.receive(timeout=5.0) == Sum(id=4, value=expected[4])
        status = rt.status(Summer)
        assert status.processed == n + 4 and status.pending == 0 and status.sent == n + 4
        assert status.active and status.launched and not status.terminating
        assert rt.kernels() == [Summer]
        metrics = rt.metrics(Summer)
        assert metrics.processed == n + 4 and metrics.throughput > 0
        assert metrics.latency_mean is not None and metrics.latency_p99 >= 0
    final = rt.status(Summer)
    assert final.terminating and not final.launched and final.processed == n + 4


def test_parallel_kernel_handles_every_message_once(backend):
    """Several work-items of a work-group handle messages at once (a thread block on
    CUDA): each message is answered exactly once and the shared counter misses none."""
    with rc.launch(Squares, backend=backend) as rt:
        n = scale(backend, 20_000, 400)
        batch = np.zeros(n, dtype=Work.dtype)
        batch["id"] = np.arange(n)
        batch["data"][:, 0] = np.arange(n) % 1000
        assert rt.send(Squares, batch[: n // 2], instance=0) == n // 2
        assert rt.send(Squares, batch[n // 2:], instance=1) == n - n // 2
        out = rt.receive_many(n, timeout=60.0)
        assert len(out) == n
        order = np.argsort(out["id"])
        assert (out["id"][order] == np.arange(n)).all()
        values = (np.arange(n) % 1000).astype(np.float32)
        assert (out["value"][order] == values * values).all()
        assert sum(int(rt.checkpoint(Squares, i)["handled"]) for i in range(2)) == n
        assert rt.status(Squares).processed == n


def test_receive_and_request_time_out(backend):
    with rc.launch(Slow, backend=backend) as rt:
        with pytest.raises(TimeoutError):
            rt.receive(timeout=0.05)
        with pytest.raises(TypeError, match="no handler for Work"):
            rt.send(Slow, Work(id=1))
        with pytest.raises(ValueError, match="not a kernel of this program"):
            rt.send(Summer, Work(id=1))


def test_request_to_a_kernel_that_never_replies_times_out(backend):
    with rc.launch(Holder, backend=backend) as rt:
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="no reply from Holder"):
            rt.request(Holder, Ask(n=1), timeout=0.2)
        assert time.monotonic() - start < 2.0


def test_request_to_a_handler_that_cannot_reply_fails_at_once(backend):
    with rc.launch(Slow, backend=backend) as rt:
        with pytest.raises(TypeError, match=r"Slow\.on_spin never replies .* use send\(\)"):
            rt.request(Slow, Spin(rounds=1), timeout=60.0)
        assert rt.status(Slow).sent == 0                  # nothing was sent


def test_instances_dead_letters_and_emits(backend):
    with rc.launch(Worker, backend=backend) as rt:
        jobs = [Job(sender=0, seq=7, divisor=2, index=1),      # fine: 3, emits a Note
                Job(sender=0, seq=5, divisor=0, index=1),      # division_by_zero
                Job(sender=0, seq=6, divisor=1, index=4),      # index_out_of_range
                Job(sender=0, seq=-1, divisor=1, index=0),     # rc.fail("negative")
                Job(sender=0, seq=-9, divisor=-2, index=-1)]   # rc.fail before the index
        for job in jobs:
            rt.send(Worker, job, instance=1)
        out = rt.receive_many(2, timeout=5.0)
        assert set(out) == {Done, Note}
        assert out[Done]["quotient"].tolist() == [3] and out[Note]["seq"].tolist() == [7]
        rt.shutdown()
    dead = rt.dead_letters()
    assert [(d.kernel, d.instance, d.reason, d.source) for d in dead] == [
        ("Worker", 1, "division_by_zero", "host"), ("Worker", 1, "index_out_of_range", "host"),
        ("Worker", 1, "negative", "host"), ("Worker", 1, "negative", "host")]
    assert dead[0].message == jobs[1] and dead[3].message == jobs[4]
    s1, s0 = rt.status(Worker, instance=1), rt.status(Worker, instance=0)
    assert (s1.processed, s1.dead_lettered, s1.sent) == (1, 4, 5)
    assert (s0.processed, s0.sent) == (0, 0)
    with pytest.raises(ValueError, match="there is no instance 2"):
        rt.status(Worker, instance=2)
    snapshot = rt.checkpoint(Worker, instance=1)
    # the division faults in the reply, after the stores: those stay (as in C and Python)
    assert snapshot["handled"] == 2 and snapshot["table"].tolist() == [0, 2, 0, 0]


def test_receive_many_by_type_leaves_other_types_queued(backend):
    with rc.launch(Worker, backend=backend) as rt:
        for seq in range(8):
            rt.send(Worker, Job(seq=seq, divisor=1, index=0))
        notes = rt.receive_many(2, timeout=5.0, type=Note)
        assert notes["seq"].tolist() == [3, 7]
        done = rt.receive_many(8, timeout=5.0, type=Done)
        assert done["seq"].tolist() == list(range(8))
        with pytest.raises(TimeoutError):
            rt.receive(timeout=0.05)


def test_deactivate_keeps_messages_queued_and_send_raises_queue_full(backend):
    with rc.launch(Summer, backend=backend) as rt:
        rt.deactivate(Summer)
        batch = np.zeros(100, Work.dtype)
        with pytest.raises(rc.QueueFull) as info:
            rt.send(Summer, batch, timeout=0.1)
        assert info.value.accepted == 64                          # the ingress ring's capacity
        status = rt.status(Summer)
        assert not status.active and status.pending == 64 and status.processed == 0
        rt.activate(Summer)
        assert len(rt.receive_many(64, timeout=10.0)) == 64
        assert rt.status(Summer).pending == 0


def test_one_thread_sends_more_than_every_queue_holds_before_receiving(backend):
    n = scale(backend, 20_000, 600)
    with rc.launch(Summer, backend=backend, output_capacity=16) as rt:
        batch = np.zeros(n, Work.dtype)
        batch["id"] = np.arange(n)
        rt.send(Summer, batch, timeout=30.0)
        assert (rt.receive_many(n, timeout=30.0)["id"] == np.arange(n)).all()


def test_host_buffer_bound_turns_into_backpressure_not_loss(backend):
    n = scale(backend, 2_000, 300)
    with rc.launch(Summer, backend=backend, output_capacity=16, host_buffer=32) as rt:
        batch = np.zeros(n, Work.dtype)
        batch["id"] = np.arange(n)
        with pytest.raises(rc.QueueFull) as info:
            rt.send(Summer, batch, timeout=0.5)
        # 32 in host memory, 16 in the output queue, one inside the handler, 64 queued
        assert 64 + 16 + 32 <= info.value.accepted <= 64 + 16 + 32 + 2
        got = rt.receive_many(info.value.accepted, timeout=30.0)
        assert (got["id"] == np.arange(info.value.accepted)).all()
        assert rt.dead_letters() == []


def test_checkpoint_and_restore_between_messages(backend):
    with rc.launch(Summer, backend=backend) as rt:
        for i in range(5):
            rt.request(Summer, Work(id=i), timeout=5.0)
        snap = rt.checkpoint(Summer)
        assert snap.dtype.names == ("processed", "last")
        assert (snap["processed"], snap["last"]) == (5, 4)
        rt.request(Summer, Work(id=99), timeout=5.0)
        rt.restore(Summer, snap)
        assert rt.checkpoint(Summer)["processed"] == 5
        rt.request(Summer, Work(id=100), timeout=5.0)
        assert (rt.checkpoint(Summer)["processed"], rt.checkpoint(Summer)["last"]) == (6, 100)
        with pytest.raises(TypeError, match="a snapshot of Summer"):
            rt.restore(Summer, np.zeros((), [("x", "i4")]))


def test_checkpoint_waits_for_the_message_in_hand(backend):
    rounds = spin_rounds(backend, 300_000_000, 20_000)
    with rc.launch(Slow, backend=backend) as rt:
        rt.send(Slow, Spin(rounds=rounds))
        rt.send(Slow, Spin(rounds=rounds))
        time.sleep(0.01)
        acc = rt.checkpoint(Slow)["acc"]
        per_message = sum(i % 7 for i in range(rounds))
        assert acc in (0, per_message, 2 * per_message)      # never half a message


def test_event_driven_kernel_is_relaunched_while_messages_arrive(backend):
    with rc.launch([Forwarder, Worker], backend=backend) as rt:
        for n in (0, 1, 5):                              # instance 5 does not exist
            rt.send(Forwarder, Ask(n=n))
            time.sleep(0.02)
        assert sorted(rt.receive_many(2, timeout=10.0, type=Done)["seq"].tolist()) == [0, 1]
        assert rt.status(Forwarder).processed == 5             # 3 asks, 2 replies
        dead = rt.dead_letters()
        assert [(d.kernel, d.instance, d.reason, d.detail, d.source) for d in dead] == [
            ("Worker", 0, "no_such_instance", 5, "Forwarder[0]")]
        assert rt.status(Worker).sent == 3 and rt.status(Worker).dead_lettered == 1


def test_shutdown_without_drain_leaves_messages_pending(backend):
    rt = rc.launch(Slow, backend=backend)
    rounds = spin_rounds(backend, 200_000_000, 20_000)          # ~70 ms a message on PoCL
    for _ in range(6):
        rt.send(Slow, Spin(rounds=rounds))
    assert rt.shutdown(drain=False, timeout=10.0)
    status = rt.status(Slow)
    assert status.terminating and not status.launched
    assert status.pending > 0 and status.processed + status.pending == 6
    with pytest.raises(rc.RingcError, match="shut down"):
        rt.send(Slow, Spin(rounds=1))
    assert rt.shutdown() is True                               # twice is fine


def test_shutdown_with_drain_times_out_without_hanging(backend):
    rounds = spin_rounds(backend, 2_000_000_000, 200_000)       # ~0.7 s a message on PoCL
    rt = rc.launch(Slow, backend=backend)
    for _ in range(4):
        rt.send(Slow, Spin(rounds=rounds))
    start = time.monotonic()
    assert rt.shutdown(drain=True, timeout=0.2) is False
    assert time.monotonic() - start < 10.0
    assert rt.status(Slow).pending >= 1
    deadline = time.monotonic() + 60.0
    while rt.status(Slow).launched and time.monotonic() < deadline:
        time.sleep(0.05)                 # the message in hand ends; the stop flag is seen
    assert rt.shutdown(timeout=0)        # the runtime closed itself (and freed the device)


def test_many_threads_use_one_runtime(backend):
    n = scale(backend, 5_000, 200)
    with rc.launch(Summer, backend=backend) as rt:
        errors = []

        def client(k: int) -> None:
            try:
                for i in range(n // 10):
                    reply = rt.request(Summer, Work(id=k * 100_000 + i, data=[k, i, 0, 0]),
                                       timeout=20.0)
                    assert reply == Sum(id=k * 100_000 + i, value=float(k + i))
            except Exception as exc:                       # reported below
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert rt.status(Summer).processed == 4 * (n // 10)


def test_launch_rejects_unknown_options_and_backends():
    with pytest.raises(TypeError, match="unknown option"):
        rc.launch(Summer, backend="sim", capcity=3)
    with pytest.raises(ValueError, match="unknown backend"):
        rc.launch(Summer, backend="vulkan")
    with pytest.raises(rc.BackendUnavailable, match="Metal"):
        rc.launch(Summer, backend="metal")


def test_reject_backpressure_dead_letters_queue_full_at_the_target(backend):
    with rc.launch(Spray, backend=backend) as rt:
        rt.deactivate(Sink)
        rt.send(Spray, Ask(n=10))
        rt.shutdown(drain=True, timeout=10.0)
    dead = rt.dead_letters()
    assert [d.reason for d in dead] == ["queue_full"] * 6             # Sink holds 4
    assert {(d.kernel, d.instance, d.source) for d in dead} == {("Sink", 0, "Spray[0]")}
    assert [d.message.seq for d in dead] == list(range(4, 10))
    sink = rt.status(Sink)
    assert (sink.sent, sink.pending, sink.dead_lettered, sink.processed) == (10, 4, 6, 0)


def test_deactivating_mid_stream_conserves_every_message(backend):
    n = scale(backend, 200_000, 2_000)
    with rc.launch(Summer, backend=backend) as rt:
        batch = np.zeros(n, Work.dtype)
        batch["id"] = np.arange(n)
        sender = threading.Thread(target=rt.send, args=(Summer, batch))
        sender.start()
        time.sleep(0.02)
        rt.deactivate(Summer)
        frozen = rt.status(Summer)
        time.sleep(0.05)
        later = rt.status(Summer)
        assert later.processed == frozen.processed          # nothing taken while inactive
        assert later.sent == later.processed + later.pending + later.dead_lettered
        rt.activate(Summer)
        sender.join()
        got = rt.receive_many(n, timeout=60.0)
        assert (got["id"] == np.arange(n)).all()
        final = rt.status(Summer)
        assert (final.sent, final.processed, final.pending) == (n, n, 0)


def test_dead_letters_wait_for_the_host_instead_of_being_dropped(backend):
    """A fault on every message, and a handler that dead-letters dozens at a time, into a
    two-slot dead-letter queue: the device waits for the host to drain it, so every dead
    letter reaches dead_letters() and none is lost."""
    with rc.launch([Worker, Spray], backend=backend, dead_letter_capacity=2) as rt:
        jobs = np.zeros(300, Job.dtype)               # divisor 0: division_by_zero, each
        rt.send(Worker, jobs)
        for _ in range(5):                            # 40 notes at once into Sink's 4 slots
            rt.send(Spray, Ask(n=40))
        assert rt.shutdown(drain=True, timeout=120.0)
        letters = rt.dead_letters()
        worker, sink = rt.status(Worker), rt.status(Sink)
        assert worker.dead_lettered == 300 and worker.dead_letters_lost == 0
        assert sink.processed + sink.dead_lettered == 200 and sink.dead_lettered >= 5 * 36
        assert sink.dead_letters_lost == 0
        assert len(letters) == worker.dead_lettered + sink.dead_lettered
        assert {d.reason for d in letters} == {"division_by_zero", "queue_full"}


def test_dead_letters_the_host_never_drains_are_counted_lost_and_logged(backend, monkeypatch,
                                                                        caplog):
    """A host whose clock ticks but which stops draining the dead-letter queue: after the
    device's patience (a second on the host's clock) the letter that does not fit is lost,
    counted in Status.dead_letters_lost and logged, and the ones that fit still arrive."""
    from ringc.runtime.inbox import Inbox
    drain = Inbox.collect_dead_letters
    with rc.launch(Spray, backend=backend, dead_letter_capacity=2) as rt:
        rt.deactivate(Sink)                           # Sink holds 4 of 7 notes: 3 queue_full
        monkeypatch.setattr(Inbox, "collect_dead_letters", lambda self: None)
        with caplog.at_level("WARNING", logger="ringc"):
            rt.send(Spray, Ask(n=7))
            deadline = time.monotonic() + 30.0
            while rt.status(Sink).dead_letters_lost == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        monkeypatch.setattr(Inbox, "collect_dead_letters", drain)
        sink = rt.status(Sink)
        assert (sink.dead_lettered, sink.dead_letters_lost) == (3, 1)
        assert [d.message.seq for d in rt.dead_letters()] == [4, 5]
        health = rt.health()                          # a lost letter is never just counted
        assert health.status == "unhealthy" and health.kernels["Sink"] == "unhealthy"
        assert "Sink lost 1 dead letter(s): the host did not drain the dead-letter " \
               "queue" in health.errors
    assert "1 dead letter(s) of kernel Sink were lost" in caplog.text
