"""The host's rings (ringc/runtime/rings.py) in both implementations: the pure-Python
reference (`PyIngressRing`, `PyOutputRing`) and the compiled loops (`CIngressRing`,
`COutputRing`, the C extension `ringc.runtime._rings`).

The differential test drives the same random operations (host produce and consume, and the
device's side simulated by storing `seq`, `head` and `tail` words as the device does) on two
arenas, one per implementation, and asserts equal results and byte-identical arenas after
every step. A real program also runs end to end with the reference forced
(RINGC_PURE_PYTHON=1), so the suite exercises both paths wherever the extension is built."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ringc.arena import QueueLayout
from ringc.protocol import DEAD_SLOT, SLOT
from ringc.runtime import rings
from tests.backend_support import unavailable

ROOT = Path(__file__).resolve().parents[2]
NOT_BUILT = "ringc.runtime._rings is not built (no C compiler when ringc was installed)"
_WRAP = 1 << 32
_SEQ = SLOT.offset("seq")

IMPLEMENTATIONS = [
    pytest.param((rings.PyIngressRing, rings.PyOutputRing), id="python"),
    pytest.param((rings.CIngressRing, rings.COutputRing), id="c",
                 marks=pytest.mark.skipif(rings.CIngressRing is None, reason=NOT_BUILT)),
]
needs_c = pytest.mark.skipif(rings.CIngressRing is None, reason=NOT_BUILT)

# Message dtypes: plain, padded between and around fields, nested, big-endian, unstructured,
# a bool field (random bytes in it), and one filling the slot's payload area exactly.
DTYPES = [
    np.dtype([("id", "<i4"), ("seq", "<i4"), ("values", "<f4", (6,))]),
    np.dtype([("id", "<i4"), ("data", "<f4", (4,)), ("ts", "<i8")], align=True),
    np.dtype({"names": ["a", "b"], "formats": ["u1", "<u8"], "offsets": [1, 8],
              "itemsize": 24}),
    np.dtype([("h", np.dtype([("x", "u1"), ("y", "<u2")], align=True)), ("z", ">u4"),
              ("w", "<f8")], align=True),
    np.dtype("<u8"),
    np.dtype([("flag", "?"), ("v", "<u2")]),
    np.dtype([("bytes", "u1", (48,))]),
]
ROOM = 48                        # the ingress ring's payload area: slot 80, payload at 32


def _layouts(capacity: int, dead: bool) -> tuple[QueueLayout, QueueLayout, int]:
    """An ingress ring and an output ring (a dead-letter queue's slots where `dead`) side by
    side in one arena; returns them and the arena's size."""
    ingress = QueueLayout(id=0, name="in", offset=0, capacity=capacity, slot_size=80,
                          payload_offset=SLOT.size, payload_size=ROOM)
    head = DEAD_SLOT.size if dead else SLOT.size
    output = QueueLayout(id=1, name="out", offset=ingress.size, capacity=capacity,
                         slot_size=head + 32, payload_offset=head, payload_size=32)
    return ingress, output, ingress.size + output.size


def _arena(size: int, seed: int, rings_at: tuple[QueueLayout, ...], start: int) -> np.ndarray:
    """Random bytes (so bytes a write leaves alone show), each ring's counters at `start`
    and its slots' `seq` words as a fresh ring's, shifted to `start`."""
    memory = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    for q in rings_at:
        memory[q.head_offset:q.head_offset + 4].view(np.uint32)[0] = start
        memory[q.tail_offset:q.tail_offset + 4].view(np.uint32)[0] = start
        for k in range(q.capacity):
            pos = (start + k) % _WRAP
            at = q.slots_offset + (pos & (q.capacity - 1)) * q.slot_size + _SEQ
            memory[at:at + 4].view(np.uint32)[0] = pos
    return memory


class Device:
    """The device's side of both rings on one arena, as the device program does it: it
    consumes the ingress ring (claim by moving `head`, release by storing `seq` later) and
    produces into the output ring (claim by moving `tail`, publish by writing the slot and
    storing `seq`). Claimed slots not yet released or published are what the host must
    wait for."""

    def __init__(self, memory: np.ndarray, ingress: QueueLayout, output: QueueLayout):
        self.memory, self.ingress, self.output = memory, ingress, output
        self.taken: list[int] = []          # ingress positions claimed, not released
        self.claimed: list[int] = []        # output positions claimed, not published

    def word(self, at: int) -> int:
        return int(self.memory[at:at + 4].view(np.uint32)[0])

    def set_word(self, at: int, value: int) -> None:
        self.memory[at:at + 4].view(np.uint32)[0] = value % _WRAP

    def seq_at(self, q: QueueLayout, pos: int) -> int:
        return q.slots_offset + (pos & (q.capacity - 1)) * q.slot_size + _SEQ

    def take(self, k: int) -> None:
        q = self.ingress
        for _ in range(k):
            head = self.word(q.head_offset)
            if self.word(self.seq_at(q, head)) != (head + 1) % _WRAP:
                return
            self.set_word(q.head_offset, head + 1)
            self.taken.append(head)

    def release(self, k: int, newest_first: bool) -> None:
        for _ in range(min(k, len(self.taken))):
            pos = self.taken.pop(-1 if newest_first else 0)
            self.set_word(self.seq_at(self.ingress, pos), pos + self.ingress.capacity)

    def drain(self, k: int) -> None:
        """Consume `k` ingress messages whole (claim and release each)."""
        self.take(k)
        self.release(len(self.taken), newest_first=False)

    def answer(self, k: int, seed: int) -> None:
        """Produce `k` output messages whole (claim and publish each)."""
        self.claim(k)
        self.publish(len(self.claimed), seed)

    def claim(self, k: int) -> None:
        q = self.output
        for _ in range(k):
            tail = self.word(q.tail_offset)
            if self.word(self.seq_at(q, tail)) != tail:
                return
            self.set_word(q.tail_offset, tail + 1)
            self.claimed.append(tail)

    def publish(self, k: int, seed: int) -> None:
        q, rng = self.output, np.random.default_rng(seed)
        for _ in range(min(k, len(self.claimed))):
            pos = self.claimed.pop(0)
            slot = q.slots_offset + (pos & (q.capacity - 1)) * q.slot_size
            self.memory[slot + _SEQ + 4:slot + q.slot_size] = rng.integers(
                0, 256, q.slot_size - _SEQ - 4, dtype=np.uint8)
            self.set_word(slot + _SEQ, pos + 1)


def _records(dtype: np.dtype, count: int, step: int, seed: int) -> np.ndarray:
    raw = np.random.default_rng(seed).integers(0, 256, count * step * dtype.itemsize,
                                                dtype=np.uint8)
    return raw.view(dtype)[::step]


def _correlations(kind: str, count: int, seed: int):
    values = np.random.default_rng(seed).integers(0, 2**63, count + 3, dtype=np.uint64)
    return {"u64": values[:count], "longer": values, "strided": values[::-1][:count],
            "i64": values[:count].astype(np.int64), "list": [int(v) for v in values[:count]],
            "short": values[:max(count - 1, 0)]}[kind]


_u32, _u64 = st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
# what the compiled methods leave to the reference: out of range, not an int, a numpy int
_odd = st.sampled_from([2**32, 2**64, -1, True, 2.0, np.uint32(3), np.int64(-1)])
_limits = st.one_of(st.integers(-2, 20), st.sampled_from([2**70, -(2**70), np.int64(3)]))
_seeds = st.integers(0, 2**32 - 1)


def _three_of(valid: tuple, odd) -> st.SearchStrategy:
    """Valid words three times in four; otherwise any of them may be odd."""
    some_odd = st.tuples(*(st.one_of(v, odd) for v in valid))
    return st.one_of(st.tuples(*valid), st.tuples(*valid), st.tuples(*valid), some_odd)


OPERATIONS = st.one_of(
    st.tuples(st.just("produce"), st.integers(0, len(DTYPES) - 1), st.integers(0, 20),
              st.integers(1, 3),
              st.sampled_from(["u64"] * 6 + ["longer", "strided", "i64", "list", "short"]),
              _three_of((_u32, _u32, _u64), _odd), _seeds),
    st.tuples(st.just("produce_one"), st.integers(0, ROOM), st.sampled_from(
        [bytes] * 6 + [bytearray]), _three_of((_u32, _u32, _u64, _u64), _odd), _seeds),
    st.tuples(st.just("free"), _limits),
    st.tuples(st.just("take"), st.integers(0, 20)),
    st.tuples(st.just("release"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("claim"), st.integers(0, 20)),
    st.tuples(st.just("publish"), st.integers(0, 20), _seeds),
    st.tuples(st.just("drain"), st.integers(0, 20)),
    st.tuples(st.just("answer"), st.integers(0, 20), _seeds),
    st.tuples(st.just("ready")),
    st.tuples(st.just("consume"), _limits),
    st.tuples(st.just("consume_one")),
)


def _outcome(call):
    """A call's result, or the type and text of what it raised (which must agree too)."""
    try:
        return call()
    except Exception as exc:                # noqa: BLE001 (compared, not swallowed)
        return ("raised", type(exc), str(exc))


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == b.tobytes())
    return type(a) is type(b) and a == b


class Side:
    """One implementation's rings and simulated device on its own arena."""

    def __init__(self, classes, memory, ingress, output):
        self.memory = memory
        self.ingress, self.output = classes[0](memory, ingress), classes[1](memory, output)
        self.device = Device(memory, ingress, output)

    def run(self, op):
        kind, *args = op
        if kind == "produce":
            index, count, step, corrs, (type_id, source, timestamp), seed = args
            records = _records(DTYPES[index], count, step, seed)
            correlations = _correlations(corrs, count, seed)
            return _outcome(lambda: self.ingress.produce(type_id, records, source,
                                                         correlations, timestamp))
        if kind == "produce_one":
            size, kind, (type_id, source, correlation, timestamp), seed = args
            payload = kind(np.random.default_rng(seed).integers(0, 256, size, np.uint8))
            return _outcome(lambda: self.ingress.produce_one(type_id, payload, source,
                                                             correlation, timestamp))
        if kind == "free":
            return _outcome(lambda: self.ingress.free(*args))
        if kind in ("take", "release", "claim", "publish", "drain", "answer"):
            return getattr(self.device, kind)(*args)
        if kind == "consume_one" and self.output.ready() == 0:
            return "not ready"              # the caller asks `ready` first (inbox.collect)
        return _outcome(lambda: getattr(self.output, kind)(*args))


@needs_c
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(capacity=st.sampled_from([2, 4, 8, 16]), dead=st.booleans(), seed=_seeds,
       start=st.one_of(st.sampled_from([0, 2**32 - 1, 2**32 - 5, 2**32 - 16]),
                       st.integers(0, 2**32 - 1)),
       operations=st.lists(OPERATIONS, min_size=10, max_size=80))
def test_both_implementations_write_the_same_bytes_and_return_the_same(
        capacity, dead, seed, start, operations):
    ingress, output, size = _layouts(capacity, dead)
    sides = [Side(classes, _arena(size, seed, (ingress, output), start), ingress, output)
             for classes in ((rings.PyIngressRing, rings.PyOutputRing),
                             (rings.CIngressRing, rings.COutputRing))]
    for step, op in enumerate(operations):
        reference, compiled = (side.run(op) for side in sides)
        assert _same(reference, compiled), (step, op, reference, compiled)
        assert sides[0].memory.tobytes() == sides[1].memory.tobytes(), (step, op)


@pytest.mark.parametrize("classes", IMPLEMENTATIONS)
def test_a_batch_wraps_the_ring_and_the_counters(classes):
    """A batch from two slots before the counters wrap at 2^32, across the ring's end,
    consumed by the device and then answered through the output ring."""
    ingress, output, size = _layouts(8, dead=False)
    memory = _arena(size, 1, (ingress, output), 2**32 - 2)
    producer, consumer = classes[0](memory, ingress), classes[1](memory, output)
    device = Device(memory, ingress, output)
    records = _records(DTYPES[0], 5, 1, 2)
    corrs = np.arange(5, dtype=np.uint64)
    assert producer.produce(7, records, 3, corrs, 99) == 5
    assert producer.used() == 5 and producer.free(8) == 3
    assert producer.produce(7, records, 3, corrs, 99) == 3          # the rest of the room
    assert producer.produce_one(7, b"x", 3, 5, 99) is False          # full
    device.take(8)
    assert producer.free(8) == 0                  # taken, not released: still not free
    device.release(8, newest_first=True)
    assert producer.free(8) == 8 and producer.produce_one(7, b"x", 3, 5, 99) is True
    assert int(producer.tail[0]) == 7            # 2^32 - 2 + 9, wrapped
    slots = producer.region.view(ingress.slot_dtype(DTYPES[0]))
    assert slots[0]["correlation"] == 2 and slots[1]["correlation"] == 3   # positions 0, 1
    assert (slots[0]["payload"].tobytes() == records[2].tobytes())

    assert consumer.ready() == 0 and len(consumer.consume(8)) == 0
    device.claim(3)
    device.publish(1, seed=4)
    assert consumer.ready() == 1
    row = consumer.consume_one()
    assert len(row) == output.slot_size and rings.read_header(row).type_id == struct.unpack_from(
        "<I", row, SLOT.offset("type_id"))[0]
    device.publish(2, seed=5)
    assert consumer.ready() == 2
    rows = consumer.consume(10)
    assert rows.shape == (2, output.slot_size) and rows.dtype == np.uint8
    assert consumer.used() == 0 and consumer.ready() == 0


def test_the_active_implementation_follows_the_environment():
    """RINGC_PURE_PYTHON set to anything but "" or "0" picks the reference."""
    code = ("from ringc.runtime import rings; "
            "print(rings.IMPLEMENTATION, rings.IngressRing.__name__, rings.OutputRing.__name__)")
    built = rings.CIngressRing is not None
    for value, expected in (("1", "python"), ("yes", "python"), ("0", "c" if built else "python"),
                            ("", "c" if built else "python")):
        env = {**os.environ, "RINGC_PURE_PYTHON": value}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                             capture_output=True, timeout=60, check=True).stdout.split()
        prefix = "C" if expected == "c" else "Py"
        assert out == [expected, f"{prefix}IngressRing", f"{prefix}OutputRing"], value


def test_a_program_runs_end_to_end_on_the_pure_python_rings():
    """The suite runs on the compiled rings where they are built; this runs a program on the
    reference (request, a padded-record batch, receive_many) in a child process."""
    backend = "opencl" if unavailable("opencl") is None else "sim"
    code = textwrap.dedent(f"""
        import numpy as np
        import ringc as rc
        from ringc.runtime import rings
        from tests.runtime.kernels import Sum, Summer, Work
        assert rings.IMPLEMENTATION == "python", rings.IMPLEMENTATION
        with rc.launch(Summer, backend={backend!r}) as rt:
            assert rt.request(Summer, Work(id=2, data=[0.5, 0.25, 0, 1]),
                              timeout=10.0) == Sum(id=2, value=1.75)
            batch = np.zeros(150, Work.dtype)          # more than the capacity (64)
            batch["id"] = np.arange(150)
            batch["data"][:, 0] = np.arange(150)
            assert rt.send(Summer, batch) == 150
            out = rt.receive_many(150, timeout=60.0)
            assert (out["id"] == np.arange(150)).all()
            assert (out["value"] == np.arange(150)).all()
        print("ok")
    """)
    env = {**os.environ, "RINGC_PURE_PYTHON": "1"}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                         capture_output=True, timeout=120)
    assert run.returncode == 0 and run.stdout.split() == ["ok"], run.stderr


@needs_c
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_copy_plans_cover_what_numpy_copies(dtype):
    """A plain record's plan is one run over the whole record; a padded one's skips the
    padding (numpy's field-by-field assignment leaves it as the slot held it)."""
    ingress, _, _ = _layouts(4, dead=False)
    plan = rings.copy_plan(ingress, dtype)
    if dtype == DTYPES[0] or dtype.names is None:
        assert plan == np.array([0, dtype.itemsize], np.uint32).tobytes()
    if dtype == DTYPES[2]:
        assert plan == np.array([1, 1, 8, 8], np.uint32).tobytes()
