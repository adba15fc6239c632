"""The `device` fixture of the differential tests: each device the simulator is compared
with, where it can run here (PoCL; the CUDA and Metal executing shims, docs/shims.md)."""

from __future__ import annotations

import pytest

from tests.backend_support import unavailable

DEVICES = ["opencl", "cuda-shim", "metal-shim"]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    why = unavailable(request.param)
    if why:
        pytest.skip(f"{request.param}: {why}")
    return request.param
