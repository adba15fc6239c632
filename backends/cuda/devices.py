"""The GPUs of `ringc devices`: what the driver reports of each, and which CUDA compilers
(NVRTC, nvcc) are usable here, which needs no GPU."""

from __future__ import annotations

from ringc.errors import RingcError

from ..devices import DeviceInfo, yes_no
from .driver import gpus
from .toolchain import available_tools, tool_versions

__all__ = ["devices"]

def devices() -> list[DeviceInfo]:
    """Every GPU here, or why there is none; with the CUDA compilers found either way."""
    versions = tool_versions()
    tools = {"compile tools": ", ".join(f"{t} {v}" for t, v in versions.items())
             or "none (" + "; ".join(str(r) for r in available_tools().values()) + ")"}
    try:
        found = gpus()
    except RingcError as exc:        # no GPU here (BackendUnavailable), or a query failed
        return [DeviceInfo("cuda", None, tools, str(exc))]
    return [DeviceInfo("cuda", gpu.name, {
        "arch": gpu.arch,
        "multiprocessors": str(gpu.multiprocessors),
        "memory": f"{gpu.memory / 2**30:.1f} GiB",
        "driver": f"CUDA {gpu.driver_version}",
        "maps host memory": yes_no(gpu.maps_host_memory),
        "cooperative launch": yes_no(gpu.cooperative),
        "host-native atomics": yes_no(gpu.host_atomics),
        "display watchdog": yes_no(gpu.watchdog) + (" (runs event-driven programs only)"
                                                  if gpu.watchdog else ""),
        **tools,
    }) for gpu in found]
