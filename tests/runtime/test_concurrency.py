"""Threads sharing one Runtime, and the runtime's answers to misuse (found in review)."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import ringc as rc

from .kernels import Ask, Done, Feeder, Forwarder, Job, Note, Sum, Summer, Work, Worker


@pytest.fixture
def fast_switching():
    """Switch threads every microsecond, so races show up in a short test."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


STOP = 1 << 20


def test_concurrent_receivers_never_see_a_false_timeout(backend, fast_switching):
    n, receivers = 300, 6
    with rc.launch(Worker, backend=backend) as rt:
        got, errors = [], []

        def receiver() -> None:
            try:
                while True:
                    msg = rt.receive(timeout=5.0)
                    if msg.seq >= STOP:
                        return
                    got.append((type(msg).__name__, msg.seq))
            except Exception as exc:                  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=receiver) for _ in range(receivers)]
        for t in threads:
            t.start()
        for seq in range(n):
            rt.send(Worker, Job(seq=seq, divisor=1, index=0), instance=seq % 2, timeout=10.0)
        deadline = time.monotonic() + 60              # stop signs go after every job:
        while rt.status(Worker).processed < n:        # instances are not ordered together
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for _ in range(receivers):                    # a stop sign each
            rt.send(Worker, Job(seq=STOP, divisor=1, index=0), timeout=10.0)
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(got) == sorted([("Done", s) for s in range(n)]
                                     + [("Note", s) for s in range(n) if s % 4 == 3])


def test_concurrent_checkpoints_leave_the_instance_active(backend, fast_switching):
    with rc.launch(Summer, backend=backend) as rt:
        def checkpoints() -> None:
            for _ in range(30):
                rt.checkpoint(Summer)

        threads = [threading.Thread(target=checkpoints) for _ in range(3)]
        for t in threads:
            t.start()
        rt.deactivate(Summer)                         # the user's wish survives them
        for t in threads:
            t.join()
        assert not rt.status(Summer).active
        rt.activate(Summer)
        assert rt.status(Summer).active
        assert rt.request(Summer, Work(id=4), timeout=5.0) == Sum(id=4, value=0.0)


def test_a_dead_lettered_request_fails_at_once(backend):
    with rc.launch(Worker, backend=backend) as rt:
        start = time.monotonic()
        with pytest.raises(rc.DeadLettered, match=r"Worker\[0\]: division_by_zero") as info:
            rt.request(Worker, Job(seq=1, divisor=0), timeout=30.0)
        assert time.monotonic() - start < 10.0
        assert info.value.dead_letter.message == Job(seq=1, divisor=0)


def test_event_driven_program_waiting_for_the_host_is_not_relaunched_in_a_loop(backend):
    with rc.launch(Forwarder, backend=backend, output_capacity=16, host_buffer=16) as rt:
        for n in range(60):                            # 60 replies, room for 32 on the host
            rt.send(Forwarder, Ask(n=n % 2), timeout=10.0)
        time.sleep(0.5)
        launches = rt._launches
        time.sleep(0.5)
        assert rt._launches - launches <= 2            # not hundreds a second
        assert len(rt.receive_many(60, timeout=30.0, type=Done)) == 60


def test_shutdown_without_a_timeout_and_misuse_errors(backend):
    rt = rc.launch(Worker, backend=backend)
    with pytest.raises(TypeError, match="instance must be an int"):
        rt.send(Worker, Job(), instance="a")
    with pytest.raises(TypeError, match="instance must be an int"):
        rt.checkpoint(Worker, instance=None)
    with pytest.raises(ValueError, match="receive_many takes a count"):
        rt.receive_many(-3, timeout=0.1)
    with pytest.raises(TypeError, match="request takes one message "):
        rt.request(Worker, np.zeros(3, Job.dtype), timeout=1.0)
    with pytest.raises(TypeError, match="which int32 cannot hold without a cast"):
        snap = np.zeros((), [("table", "U4", (4,)), ("handled", "u4")])
        snap["table"] = "x"
        rt.restore(Worker, snap)
    with pytest.raises(TypeError, match="no handler for Note"):
        rt.send(Worker, Note(seq=1))
    with pytest.raises(TypeError, match="not a message of this program"):
        rt.receive_many(1, timeout=0, type=Sum)
    assert rt.shutdown(timeout=None) is True
    with pytest.raises(ValueError, match="timeout must be"):
        rt.shutdown(timeout=-1)


def test_launch_refuses_nothing_and_a_device_for_the_simulator():
    with pytest.raises(rc.CompileError, match="got no kernels"):
        rc.launch([], backend="sim")
    with pytest.raises(ValueError, match="has one device"):
        rc.launch(Summer, backend="sim", device=1)


def test_an_event_driven_kernel_feeding_itself_runs_to_the_end(backend):
    with rc.launch(Feeder, backend=backend) as rt:
        rt.send(Feeder, Ask(n=6))                     # 127 messages if none were lost
        assert rt.shutdown(drain=True, timeout=60.0)
    s = rt.status(Feeder)
    assert s.processed > 16 and s.pending == 0 and s.sent == s.processed + s.dead_lettered
    assert {d.reason for d in rt.dead_letters()} <= {"queue_full"}


def test_activation_after_a_quiet_launch_launches_again(backend):
    with rc.launch([Forwarder, Worker], backend=backend) as rt:
        for _ in range(5):
            rt.deactivate(Forwarder)
            rt.send(Forwarder, Ask(n=0))
            time.sleep(0.02)
            rt.activate(Forwarder)
            assert rt.receive(timeout=10.0).seq == 0


def test_metrics_while_requests_run(backend, fast_switching):
    with rc.launch(Summer, backend=backend) as rt:
        stop, errors = threading.Event(), []

        def requests() -> None:
            while not stop.is_set():
                rt.request(Summer, Work(id=1), timeout=10.0)

        worker = threading.Thread(target=requests)
        worker.start()
        try:
            for _ in range(300):
                try:
                    rt.metrics(Summer)
                except Exception as exc:                # reported below
                    errors.append(exc)
        finally:
            stop.set()
            worker.join()
        assert errors == []


def test_send_returns_the_count_and_takes_fields_set_after_construction(backend):
    with rc.launch(Summer, backend=backend) as rt:
        work = Work(id=3)
        work.data = [1.0, 2.0, 3.0, 4.0]                 # a list, not the array it was
        assert rt.send(Summer, work) == 1
        assert rt.receive(timeout=10.0) == Sum(id=3, value=10.0)
        work.id = 2 ** 40
        with pytest.raises(TypeError, match="this Work cannot be sent"):
            rt.send(Summer, work)
