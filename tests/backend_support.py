"""Which backends can run programs here (for the `backend` fixture in tests/conftest.py),
and stream lengths per backend."""

from __future__ import annotations

import functools

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


def scale(backend: str, device: int, sim: int) -> int:
    """A stream length: the simulator runs handlers in Python, ~1000x slower."""
    return sim if backend == "sim" else device
