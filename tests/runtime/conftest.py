"""One fixture runs each runtime test on every backend present: the simulator always,
OpenCL where pyopencl finds a device, CUDA where a GPU and its driver are there."""

from __future__ import annotations

import functools

import pytest

import ringc as rc


@functools.cache
def unavailable(backend: str) -> str | None:
    """None when `backend` can run programs here, else why not (for the skip)."""
    from ringc.backends.devices import list_devices

    if backend == "sim":
        return None
    entries = [d for d in list_devices() if d.backend == backend]
    if not any(d.available for d in entries):
        return entries[0].reason if entries else f"no {backend} backend"
    if backend == "cuda":
        try:
            with rc.launch([], backend="cuda"):
                pass
        except rc.BackendUnavailable as exc:
            return str(exc)
        except Exception:            # an empty program is refused, but the backend is there
            return None
    return None


@pytest.fixture(params=["sim", "opencl", "cuda"])
def backend(request) -> str:
    why = unavailable(request.param)
    if why:
        pytest.skip(f"{request.param}: {why}")
    return request.param


def scale(backend: str, device: int, sim: int) -> int:
    """A stream length: the simulator runs handlers in Python, ~1000x slower."""
    return sim if backend == "sim" else device
