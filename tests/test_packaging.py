"""The distribution installs everything as `ringc.*` and carries its data files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_only_ringc_and_its_data(tmp_path):
    pytest.importorskip("setuptools", minversion="77",
                        reason="building the wheel offline needs setuptools>=77 "
                               "(make setup installs it)")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("ringc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"ringc", next(t for t in tops if t.endswith(".dist-info"))}
    for data in ("ringc/ir/ringc.lark", "ringc/templates/common.j2",
                 "ringc/backends/cuda/program.cu.j2", "ringc/backends/opencl/program.cl.j2",
                 "ringc/backends/metal/program.metal.j2",
                 "ringc/backends/metal/metal_shim.h", "ringc/backends/opencl/dialect.py"):
        assert data in names
    # the samples `ringc samples` runs, the pages `ringc docs` prints (every one, and the
    # README's picture), the license, and the one version
    assert {"ringc/samples/pipeline.py", "ringc/samples/patterns/circuit_breaker.py"} <= set(
        names)
    pages = {f"ringc/docs/{p.relative_to(ROOT / 'docs')}" for p in (ROOT / "docs").rglob("*")
             if p.is_file()}
    assert "ringc/docs/getting-started.md" in pages and pages <= set(names)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    import ringc
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert f"Version: {ringc.__version__}\n" in zipfile.ZipFile(wheel).read(metadata).decode()
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "ringc = ringc.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
