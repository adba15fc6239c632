"""Every sample compiles for every target and builds with every toolchain present."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringc.compiler import compile, load_file
from ringc.targets import check_all

SAMPLES = sorted(p for p in (Path(__file__).resolve().parent.parent / "samples").glob("*.py")
                 if not p.stem.startswith("run_"))          # run_*: scripts that launch them


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_builds_for_every_target(path):
    program = load_file(path)
    sources = {t: compile(program, t).source for t in ("opencl", "cuda", "metal")}
    results = check_all(sources)
    built = [r for r in results if r.ok is not None]
    assert built, "no toolchain ran: " + "; ".join(r.log for r in results)
    for result in built:
        assert result.ok, f"{result.target} ({result.tool}):\n{result.log}"


def test_samples_cover_the_three_patterns():
    assert {p.stem for p in SAMPLES} >= {"pipeline", "kv_store", "scatter_gather"}
    kernels = {p.stem: [k.name for k in load_file(p).kernels] for p in SAMPLES}
    assert len(kernels["pipeline"]) == 3
    scatter = load_file(SAMPLES[[p.stem for p in SAMPLES].index("scatter_gather")])
    assert scatter.kernel("Worker").options.instances > 1
