"""Which backends can run programs here (for the `backend` fixture in tests/conftest.py),
and stream lengths per backend."""

from __future__ import annotations

import functools

import ringc as rc


@functools.cache
def unavailable(backend: str) -> str | None:
    """None when `backend` can run programs here, else why not (for the skip)."""
    from ringc.targets import list_devices

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


def scale(backend: str, device: int, sim: int, cuda: int | None = None) -> int:
    """A stream length or loop count: the simulator runs handlers in Python, ~1000x slower;
    one GPU thread runs a scalar loop far slower than PoCL's vectorised CPU code, so loop
    counts sized in seconds on PoCL give `cuda` (default: the device's)."""
    if backend == "sim":
        return sim
    return cuda if backend == "cuda" and cuda is not None else device


def spin_rounds(backend: str, pocl: int, sim: int) -> int:
    """`Slow`'s loop count for a handler that takes a while: `pocl` rounds are ~0.35 s per
    1e9 on PoCL; a GPU thread is taken to be ~20x slower (never measured here)."""
    return scale(backend, pocl, sim, cuda=pocl // 20)
