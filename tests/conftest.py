"""Shared fixtures: user programs written to real files, as users write them."""

from __future__ import annotations

import itertools
import textwrap

import pytest
from hypothesis import Phase, settings

from ringc.frontend.files import import_file, kernels_in
from tests.backend_support import unavailable

# `make gpu-check` (pytest --hypothesis-profile gpu-check): report a failing example as
# found, without minutes of shrinking on a leased GPU
settings.register_profile("gpu-check", phases=[Phase.explicit, Phase.reuse, Phase.generate])

PRELUDE = "import math\nimport ringc as rc\nfrom ringc import *\n"
PRELUDE_LINES = PRELUDE.count("\n")
_counter = itertools.count()


@pytest.fixture
def user_module(tmp_path):
    """Write `source` (after PRELUDE) to a .py file and import it; returns the module."""
    def load(source: str, prelude: bool = True):
        path = tmp_path / f"user_{next(_counter)}.py"
        path.write_text((PRELUDE if prelude else "") + textwrap.dedent(source))
        return import_file(path)
    return load


@pytest.fixture
def user_kernels(user_module):
    """The kernel classes of a user source, in definition order."""
    def load(source: str):
        return kernels_in(user_module(source))
    return load


@pytest.fixture(params=["sim", "opencl", "cuda", "cuda-shim", "metal-shim"])
def backend(request) -> str:
    """Runs a test on every backend present: the simulator always, OpenCL where pyopencl
    finds a device, CUDA where a GPU, its driver and ringc's CUDA loader are there, and the
    emitted CUDA and Metal programs on this CPU through the executing shims where a C++
    compiler is (docs/shims.md)."""
    why = unavailable(request.param)
    if why:
        pytest.skip(f"{request.param}: {why}")
    return request.param
