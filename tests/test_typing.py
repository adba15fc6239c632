"""Type checkers accept user programs: mypy, with ringc's plugin (`ringc.mypy_plugin`),
passes on the README's example, on every sample and on a program that uses the whole typing
surface (messages built by keyword, their `dtype` and records, `Array` fields, kernels,
intrinsics, a `Runtime`'s reports), and still reports the mistakes it should. Without the
plugin, `@rc.message` is a dataclass transform all the same.

One mypy run covers every file (a module-scoped fixture); the mypy tests are skipped
without mypy (`pip install 'ringc[dev]'`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import ringc as rc

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted([*(ROOT / "samples").glob("*.py"), *(ROOT / "samples" / "patterns").glob("*.py")])

SURFACE = '''
"""Every name a user program types against, with the types a checker must infer."""
import numpy as np
from typing_extensions import assert_type

import ringc as rc
from ringc import Array, bool_, f32, i32, i64, u8

N = 8


@rc.message
class Point:
    id: i32
    flag: bool_
    xs: Array[f32, 4]
    grid: Array[Array[f32, 4], 2]
    back: rc.Address
    v: rc.f32x4


@rc.message
class Pair:
    a: Point
    n: u8


@rc.ring_kernel(capacity=64, instances=2)
class K:
    total: i64
    seen: Array[i32, N]
    jobs: rc.Queue[Point, 16]
    table: rc.Map[i32, f32, 32]

    def on_point(self, m: Point) -> Pair:
        self.total += 1
        assert_type(rc.atomic_add(self.total, 1), int)
        s = 0.0
        for i in range(4):
            s += m.xs[i] + rc.f32x4.load(m.grid[0], 0).x
        if m.id < 0:
            rc.fail("negative")                 # ends the handler: no return after it
        rc.reply(rc.sender(), Pair(n=u8(rc.instance_id())))
        assert_type(rc.now(), int)
        return Pair(a=m, n=u8(s))

    @rc.every(0.5)
    def tick(self) -> None:
        self.seen[0] = i32(rc.now() % 7)


@rc.ring_kernel
class Plain:
    def on_pair(self, m: Pair) -> None:
        rc.emit(m)


@rc.device
def half(x: f32) -> f32:
    return x / 2


assert_type(half(f32(3)), float)
p = Point(id=1, xs=[1, 2, 3, 4])                   # omitted fields are zero
assert_type(p, Point)
assert_type(p.id, int)
assert_type(p.flag, bool)
assert_type(Point.dtype, np.dtype[np.void])
assert_type(p.to_record(), np.void)
assert_type(Point.from_record(p.to_record()), Point)
assert p == Point(id=1, xs=[1, 2, 3, 4])
batch = np.zeros(4, Point.dtype)
batch["id"] = 3


def host(rt: rc.Runtime) -> None:
    assert_type(rt.send(K, p), int)
    assert_type(rt.send("K", batch, instance=1, timeout=None, type=Point, delay=0.5), int)
    reply: Pair = rt.request(K, p, timeout=1.0)
    assert_type(reply.n, int)
    assert_type(rt.status(K), rc.Status)
    assert_type(rt.status(K).processed, int)
    assert_type(rt.status(), dict[str, rc.Status])
    assert_type(rt.metrics("K", instance=0), rc.Metrics)
    assert_type(rt.metrics(K).latency_p99, float | None)
    assert_type(rt.metrics(), dict[str, rc.Metrics])
    assert_type(rt.health(), rc.Health)
    assert_type(rt.health().warnings, tuple[str, ...])
    assert_type(rt.receive_many(10, type=Pair), np.ndarray)
    assert_type(rt.receive_many(10, 1.0, Pair), np.ndarray)
    assert_type(rt.checkpoint(K, instance=1), np.void)
    rt.restore(K, rt.checkpoint(K))
    assert_type(rt.dead_letters(), list[rc.DeadLetter])
    assert_type(rt.dead_letters()[0].reason, str)
    assert_type(rt.shutdown(drain=False), bool)
    assert_type(rt.now(), int)


with rc.launch(K, backend="sim") as rt:
    assert_type(rt, rc.Runtime)
    host(rt)
program = rc.compile(K, "cuda")
assert_type(program, rc.CompiledProgram)
assert_type(program.source, str)
'''

# each line marked `# error` must be reported, and nothing else in this file
MISTAKES = '''
import ringc as rc
from ringc import f32, i32


@rc.message
class M:
    id: i32
    value: f32


M(id="one")                                 # error: a str for an i32
M(idd=1)                                    # error: no such field
M(1, 2.0)                                   # error: fields are taken by name only
M(id=1).nope                                # error: no such attribute
x: i32 = M(id=1).value                      # error: a float is no i32


def host(rt: rc.Runtime) -> None:
    rt.status(M).nope                       # error: Status has no such field
    rt.health(M)                            # error: health takes no kernel
    rt.send(M, M(), timeout="soon")         # error: timeout is seconds
'''

# mypy without the plugin: @rc.message is still a dataclass transform
BARE = '''
import ringc as rc
from ringc import Array, f32, i32


@rc.message
class W:
    id: i32
    data: Array[f32, 4]


W(id=1, data=[1.0, 2.0, 3.0, 4.0])
W(id="one", data=[])                        # error: a str for an i32
'''


def _readme_example() -> str:
    """The first ```python block of README.md, read now (the README changes)."""
    found = re.search(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(),
                      re.MULTILINE | re.DOTALL)
    assert found, "README.md has no ```python block"
    return found.group(1)


def _mypy(args: list[str], config: Path) -> dict[Path, list[tuple[int, str]]]:
    """Run mypy from the repository root (where it finds `ringc`); the errors by file."""
    mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed (ringc[dev])")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        out, err, status = mypy_api.run(["--config-file", str(config), "--no-pretty",
                                         "--show-error-codes", "--no-color-output", *args])
    assert status in (0, 1), f"mypy failed to run:\n{out}\n{err}"
    errors: dict[Path, list[tuple[int, str]]] = {}
    for line in out.splitlines():
        hit = re.match(r"(.+?):(\d+): error: (.*)", line)
        if hit:
            path = (ROOT / hit.group(1)).resolve()
            errors.setdefault(path, []).append((int(hit.group(2)), hit.group(3)))
    if status == 1:
        assert errors, f"mypy reported something other than errors:\n{out}"
    return errors


def _config(where: Path, plugin: bool) -> Path:
    config = where / ("mypy.ini" if plugin else "bare.ini")
    config.write_text("[mypy]\n"
                      + ("plugins = ringc.mypy_plugin\n" if plugin else "")
                      + f"cache_dir = {where / 'cache'}\n"
                      + f"mypy_path = {ROOT / 'samples'}\n"     # run_pipeline imports pipeline
                      # samples/scatter_gather.py and samples/patterns/scatter_gather.py
                      "explicit_package_bases = True\n"
                      # ringc's own modules as a user's checker sees them: not reported
                      "follow_imports = silent\n"
                      # metrics_collection's parser: ringc[prometheus], maybe not installed
                      "[mypy-prometheus_client.*]\nignore_missing_imports = True\n")
    return config


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[dict[str, Path], dict[Path, list[tuple[int, str]]]]:
    where = tmp_path_factory.mktemp("typing")
    files = {"readme": where / "readme_example.py", "surface": where / "typing_surface.py",
             "mistakes": where / "typing_mistakes.py"}
    files["readme"].write_text(_readme_example())
    files["surface"].write_text(SURFACE)
    files["mistakes"].write_text(MISTAKES)
    targets = [str(p) for p in (*files.values(), *SAMPLES)]
    return files, _mypy(targets, _config(where, plugin=True))


def _marked(source: str) -> list[int]:
    return [n for n, line in enumerate(source.splitlines(), 1) if "# error" in line]


def test_the_package_ships_py_typed():
    assert (Path(rc.__file__).parent / "py.typed").is_file()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.dataclass_transform: 3.11+")
def test_message_is_a_dataclass_transform():
    assert rc.message.__dataclass_transform__["kw_only_default"] is True


def test_mypy_accepts_the_readme_example(checked):
    files, errors = checked
    assert not errors.get(files["readme"]), errors.get(files["readme"])


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.relative_to(ROOT / "samples").as_posix())
def test_mypy_accepts_the_sample(checked, path):
    assert not checked[1].get(path.resolve()), checked[1].get(path.resolve())


def test_mypy_infers_the_typing_surface(checked):
    files, errors = checked
    assert not errors.get(files["surface"]), errors.get(files["surface"])


def test_mypy_reports_the_mistakes(checked):
    files, errors = checked
    reported = errors.get(files["mistakes"], [])
    assert sorted({n for n, _ in reported}) == _marked(MISTAKES), reported


def test_nothing_else_is_reported(checked):
    files, errors = checked
    known = {p.resolve() for p in (*files.values(), *SAMPLES)}
    assert not {p: e for p, e in errors.items() if p not in known}


def test_without_the_plugin_message_is_still_a_dataclass_transform(tmp_path):
    path = tmp_path / "bare.py"
    path.write_text(BARE)
    errors = _mypy([str(path)], _config(tmp_path, plugin=False))
    assert sorted({n for n, _ in errors.get(path.resolve(), [])}) == _marked(BARE), errors
