"""ringc's caches as a whole (ringc/caches.py, docs/runtime.md "Start-up and caches"):
`RINGC_CACHE=off` leaves no file behind on any backend that runs here, and the same
program with the caches on fills them, so the check can tell the two apart. Each run is a
new process: PoCL reads its cache settings once, when it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.backend_support import unavailable

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = textwrap.dedent("""
    import sys
    import ringc as rc
    from ringc import f32, i32

    @rc.message
    class Ask:
        x: f32

    @rc.message
    class Answer:
        y: f32

    @rc.ring_kernel(capacity=16)
    class Double:
        n: i32

        def on_ask(self, m: Ask) -> Answer:
            self.n += 1
            return Answer(y=m.x * 2.0)

    for backend in sys.argv[1:]:
        with rc.launch(Double, backend=backend) as rt:
            assert rt.request(Double, Ask(x=1.5), timeout=30.0).y == 3.0
        print(backend, "ran")
""")


def _run(tmp_path: Path, backends: list[str], **env: str) -> tuple[Path, Path, Path]:
    """Run PROGRAM on `backends` with its caches, XDG cache and temporary files under
    `tmp_path`; returns those three folders."""
    cache, xdg, temp = (tmp_path / "cache", tmp_path / "xdg", tmp_path / "tmp")
    temp.mkdir()
    script = tmp_path / "double.py"
    script.write_text(PROGRAM)
    environ = {k: v for k, v in os.environ.items()
               if k not in ("POCL_CACHE_DIR", "POCL_KERNEL_CACHE", "RINGC_CACHE")}
    environ.update(RINGC_CACHE_DIR=str(cache), XDG_CACHE_HOME=str(xdg), TMPDIR=str(temp),
                   PYTHONPATH=str(ROOT), **env)
    run = subprocess.run([sys.executable, str(script), *backends], capture_output=True,
                         text=True, env=environ, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:-1] == [f"{b} ran" for b in backends]
    return cache, xdg, temp


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def backends() -> list[str]:
    found = [b for b in ("opencl", "cuda-shim", "metal-shim") if not unavailable(b)]
    if not found:
        pytest.skip("neither OpenCL nor a shim runs here: nothing would be cached")
    return found


def test_with_the_caches_off_nothing_is_written(tmp_path, backends):
    cache, xdg, temp = _run(tmp_path, backends, RINGC_CACHE="off")
    assert not cache.exists()
    assert _files(xdg) == []             # PoCL's default cache stayed unused too
    assert _files(temp) == []            # the shims' temporary libraries are gone


def test_with_the_caches_on_each_backend_fills_its_own(tmp_path, backends):
    cache, _, temp = _run(tmp_path, backends)
    folders = {p.name for p in cache.iterdir()}
    assert "templates" in folders
    for backend in backends:
        target = backend.removesuffix("-shim")
        assert _files(cache / backend if backend.endswith("-shim") else cache / target)
        assert _files(cache / target / "source")
    assert _files(temp) == []
