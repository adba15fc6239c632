"""Records and nested arrays (docs/language.md, "Records and arrays"): in state, in
messages, as array elements and locals, on every backend present, against Python."""

from __future__ import annotations

import numpy as np
import pytest

import ringc as rc

from .kernels import COLS, ROWS, Frame, Keeper, Reading, Report


class KeeperModel:
    """What Keeper does, in plain Python."""

    def __init__(self) -> None:
        self.ring = [Reading() for _ in range(4)]
        self.last, self.count = Reading(), 0
        self.grid = np.zeros((ROWS, COLS), np.float32)
        self.flat = np.zeros(ROWS * COLS, np.float32)

    def reading(self, m: Reading) -> Report:
        slot = self.count % 4
        self.ring[slot] = Reading(sensor=m.sensor, value=m.value + np.float32(1.0))
        self.last, self.count = m, self.count + 1
        total = np.float32(0.0)
        for r in self.ring:
            total += r.value
        self.grid[m.sensor % ROWS][m.sensor % COLS] = m.value
        self.flat[m.sensor % (ROWS * COLS)] += m.value
        return Report(count=self.count, total=total, last=self.last,
                      corner=self.grid[ROWS - 1][COLS - 1], window=list(self.ring))

    def frame(self, m: Frame) -> Report:
        if m.first.sensor < 0:
            self.grid[...] = 0
            self.last, self.ring = Reading(), [Reading() for _ in range(4)]
            return Report(count=self.count)
        self.grid = m.grid.copy()
        self.last = m.first
        return Report(count=self.count, total=self.grid[1][2], last=self.last,
                      corner=m.grid[2][3])


def test_records_and_nested_arrays_behave_as_in_python(backend):
    model = KeeperModel()
    readings = [Reading(sensor=s, value=0.25 * s) for s in (0, 5, 11, 3, 7, 2, 14)]
    frame = Frame(first=Reading(sensor=9, value=-2.5),
                  grid=np.arange(ROWS * COLS, dtype=np.float32).reshape(ROWS, COLS))
    with rc.launch(Keeper, backend=backend) as rt:
        for m in readings:
            assert rt.request(Keeper, m, timeout=30.0) == model.reading(m)
        assert rt.request(Keeper, frame, timeout=30.0) == model.frame(frame)
        snapshot = rt.checkpoint(Keeper)
        ring, grid = [(r.sensor, r.value) for r in model.ring], model.grid.copy()
        reset = Frame(first=Reading(sensor=-1))
        assert rt.request(Keeper, reset, timeout=30.0) == model.frame(reset)
        after = rt.checkpoint(Keeper)
    assert not after["grid"].any() and not after["ring"]["value"].any()
    assert after["last"]["sensor"] == 0 and after["count"] == len(readings)
    assert snapshot["count"] == len(readings)
    assert [tuple(r) for r in snapshot["ring"]] == ring
    assert (snapshot["grid"] == grid).all() and snapshot["grid"].shape == (ROWS, COLS)
    assert (snapshot["flat"] == model.flat).all()


def test_a_snapshot_with_records_restores_on_another_backend(backend):
    """State holding records, taken on the simulator, restored on `backend`."""
    with rc.launch(Keeper, backend="sim") as rt:
        for s in range(5):
            rt.request(Keeper, Reading(sensor=s, value=float(s)), timeout=30.0)
        snapshot = rt.checkpoint(Keeper)
    with rc.launch(Keeper, backend=backend) as rt:
        rt.restore(Keeper, snapshot)
        report = rt.request(Keeper, Reading(sensor=1, value=0.5), timeout=30.0)
        assert report.count == 6
        assert [r.sensor for r in report.window] == [4, 1, 2, 3]
        assert rt.checkpoint(Keeper)["last"]["sensor"] == 1


def test_messages_hold_records_and_nested_arrays_on_the_host():
    m = Frame(first=Reading(sensor=3, value=1.5), grid=[[1, 2, 3, 4]] * ROWS)
    assert m.grid.shape == (ROWS, COLS) and m.first == Reading(sensor=3, value=1.5)
    assert Frame.from_record(m.to_record()) == m
    assert Frame.dtype.itemsize == 16 + 16 * ROWS * COLS // 4       # 16-byte padded
    assert Report().window == [Reading()] * 4
    with pytest.raises(TypeError, match="first: .* is not a Reading"):
        Frame(first=3)
    with pytest.raises(TypeError, match=r"shape \(2,\), not \(3, 4\)"):
        Frame(grid=[1, 2])


def test_records_build_for_every_target_and_round_trip_as_text():
    from ringc.compiler import compile
    from ringc.frontend import build_program
    from ringc.ir.parser import parse_program
    from ringc.ir.printer import print_program
    from ringc.targets import check_all

    program = build_program(Keeper)
    text = print_program(program)
    assert "state grid: f32[4][3]" in text and "state ring: Reading[4]" in text
    assert parse_program(text) == program
    assert print_program(parse_program(text)) == text
    sources = {t: compile(program, t).source for t in ("opencl", "cuda", "metal")}
    built = [r for r in check_all(sources) if r.ok is not None]
    assert built
    for result in built:
        assert result.ok, f"{result.target} ({result.tool}):\n{result.log}"


def test_a_message_without_fields(user_module, backend):
    module = user_module("""
@rc.message
class Tick:
    pass

@rc.message
class Count:
    n: i32

@rc.ring_kernel
class Beat:
    n: i32

    def on_tick(self, t: Tick):
        self.n += 1
        if self.n < 3:
            rc.send_after(1000, Beat, Tick())
        rc.emit(Count(n=self.n))
""")
    assert module.Tick() == module.Tick() and repr(module.Tick()) == "Tick()"
    with rc.launch(module.Beat, backend=backend) as rt:
        rt.send(module.Beat, module.Tick())
        assert [rt.receive(timeout=10.0).n for _ in range(3)] == [1, 2, 3]
