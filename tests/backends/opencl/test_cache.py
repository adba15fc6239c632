"""The OpenCL build cache ringc gives PoCL: damaged entries are rebuilt, an unwritable
cache costs one warning and the cache, never a crash. Each run is a fresh child process
(PoCL reads its cache settings when it starts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backend_support import unavailable

pytestmark = pytest.mark.skipif(unavailable("opencl") is not None,
                                reason=f"opencl: {unavailable('opencl')}")

ROOT = Path(__file__).resolve().parents[3]
REQUEST = """
import ringc as rc
from tests.runtime.kernels import Summer, Work
with rc.launch(Summer, backend="opencl") as rt:
    print(rt.request(Summer, Work(id=7, data=[1, 2, 3, 4]), timeout=30.0).value)
"""


def run(cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RINGC_CACHE_DIR": str(cache)}
    env.pop("POCL_CACHE_DIR", None)
    return subprocess.run([sys.executable, "-c", REQUEST], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_damaged_pocl_libraries_are_rebuilt_not_loaded(tmp_path):
    first = run(tmp_path)
    assert first.returncode == 0 and first.stdout.strip() == "10.0", first.stderr
    libraries = list((tmp_path / "opencl" / "pocl").rglob("*.so"))
    assert libraries, "PoCL cached no library where ringc told it to"
    for library in libraries:
        library.write_bytes(library.read_bytes()[:64])      # truncated behind PoCL's back
    second = run(tmp_path)
    assert second.returncode == 0 and second.stdout.strip() == "10.0", second.stderr
    assert "removed 1 damaged program(s) from the OpenCL build cache" in second.stderr
    third = run(tmp_path)                                   # repaired: nothing to say
    assert third.returncode == 0 and "damaged" not in third.stderr


def test_an_unwritable_cache_warns_once_and_builds_without_one(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run(blocker / "cache")                         # cannot be a directory
    assert result.returncode == 0 and result.stdout.strip() == "10.0", result.stderr
    assert result.stderr.count("cannot be written") == 1
    assert "building without a cache" in result.stderr
