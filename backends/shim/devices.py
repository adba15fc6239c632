"""The executing shims in `ringc devices`: this CPU, when a C++ compiler is here."""

from __future__ import annotations

import os
import platform

from ..devices import DeviceInfo
from ..toolchain import ToolchainUnavailable

__all__ = ["cuda_devices", "metal_devices"]


def _devices(target: str) -> list[DeviceInfo]:
    from .loader import PARALLEL_WIDTH, compiler

    backend = f"{target}-shim"
    try:
        path, version = compiler()
    except ToolchainUnavailable as exc:
        return [DeviceInfo(backend, None, reason=f"{exc}: the {target} executing shim "
                                                  "cannot build programs here")]
    cpu = platform.processor() or platform.machine() or "CPU"
    return [DeviceInfo(backend, f"this CPU ({cpu}, {os.cpu_count()} cores), not a GPU",
                       details={
                           "runs": f"the emitted {target} source as C++ (executing shim)",
                           "compiler": version,
                           "groups": "host threads (default: one fewer than the cores)",
                           "lanes": f"fibers: 1, or {PARALLEL_WIDTH} for parallel kernels",
                           "cannot show": "the GPU memory model, PCIe, warp scheduling"
                                          + (", address spaces" if target == "metal" else ""),
                       })]


def cuda_devices() -> list[DeviceInfo]:
    """`cuda-shim`: this CPU when g++ or clang++ is here, else why not."""
    return _devices("cuda")


def metal_devices() -> list[DeviceInfo]:
    """`metal-shim`: this CPU when g++ or clang++ is here, else why not."""
    return _devices("metal")
