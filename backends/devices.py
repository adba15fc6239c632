"""What each backend can run on here: its devices, or one sentence saying why it has none.

`list_devices()` reports every backend (opencl, cuda, metal, sim) in that order, one
`DeviceInfo` per device, or a single entry with `device=None` and a `reason`. Discovery
only asks: it builds nothing and launches nothing, so a device listed here may still
fail to run a program (e.g. a driver older than the compiler that made the cubin).
CUDA compilers (NVRTC, nvcc) need no GPU, so the cuda entries also say which are usable.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from .opencl.toolchain import implementation

BACKENDS: tuple[str, ...] = ("opencl", "cuda", "metal", "sim")


@dataclass
class DeviceInfo:
    """One device of a backend (`device` its name) or, with `device=None`, the backend's
    reason for having none. `details` holds what discovery found (type, compute units,
    versions, compile tools...), as display strings."""
    backend: str
    device: str | None
    details: dict[str, str] = field(default_factory=dict)
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.device is not None

    def describe(self) -> str:
        """Two or more lines for `ringc devices`: the backend and device, then details."""
        head = f"{self.backend:7} {self.device if self.available else '(no device)'}"
        lines = [head] + ([f"        {self.reason}"] if self.reason else [])
        lines += [f"        {key}: {value}" for key, value in self.details.items()]
        return "\n".join(lines)


Device = TypeVar("Device")


def choose_device(found: Sequence[Device], wanted: str | int | None,
                  name_of: Callable[[Device], str], text_of: Callable[[Device], str],
                  kind: str, kinds: str) -> Device:
    """The device `rc.launch(device=wanted)` means among a backend's `found` (in `ringc
    devices`' order): the first for None, the `wanted`-th for an int, else the first whose
    `text_of` contains `wanted` (case-insensitive). Anything else is BackendUnavailable
    naming what is here, e.g. "no GPU matches 'A100' (GPUs here: 0: NVIDIA H100)"."""
    from ringc.errors import BackendUnavailable

    if wanted is None:
        return found[0]
    if isinstance(wanted, (int, np.integer)) and not isinstance(wanted, bool):
        if 0 <= wanted < len(found):
            return found[int(wanted)]
    elif isinstance(wanted, str):
        for device in found:
            if wanted.lower() in text_of(device).lower():
                return device
    names = "; ".join(f"{i}: {name_of(d)}" for i, d in enumerate(found))
    raise BackendUnavailable(f"no {kind} matches {wanted!r} ({kinds} here: {names})")


def list_devices() -> list[DeviceInfo]:
    """Every backend with its devices, or why it has none here."""
    return [*_opencl(), *_cuda(), _metal(), _sim()]


# ---- OpenCL --------------------------------------------------------------------------

_SVM_FLAGS = (("COARSE_GRAIN_BUFFER", "coarse-grain buffer"),
              ("FINE_GRAIN_BUFFER", "fine-grain buffer"),
              ("FINE_GRAIN_SYSTEM", "fine-grain system"),
              ("ATOMICS", "atomics"))


def _opencl() -> list[DeviceInfo]:
    try:
        import pyopencl as cl
    except ImportError:
        return [DeviceInfo("opencl", None, reason="pyopencl is not installed "
                           "(pip install 'ringc[opencl]')")]
    try:
        platforms = cl.get_platforms()
    except cl.Error:
        platforms = []
    found = []
    for plat in platforms:
        try:
            devices = plat.get_devices()
        except cl.Error:            # DEVICE_NOT_FOUND: a platform with no device
            continue
        for device in devices:
            found.append(DeviceInfo("opencl", device.name.strip(), {
                "platform": f"{plat.name} ({implementation(plat)})",
                "type": _device_type(cl, device.type),
                "compute units": str(device.max_compute_units),
                "OpenCL": f"{' '.join(device.version.split()[1:2])}, "
                          f"OpenCL C {_opencl_c_versions(cl, device)}",
                "global memory": f"{device.global_mem_size / 2**30:.1f} GiB",
                "SVM": _svm(cl, device),
                "int64 atomics": _yes("cl_khr_int64_base_atomics" in device.extensions),
                "fp64": _yes("cl_khr_fp64" in device.extensions),
            }))
    if found:
        return found
    why = "no OpenCL platform" if not platforms else "no OpenCL device on any platform"
    return [DeviceInfo("opencl", None, reason=f"{why} (pip install "
                       "pocl-binary-distribution, or install a vendor ICD)")]


def _device_type(cl, bits: int) -> str:
    names = [n for n in ("GPU", "CPU", "ACCELERATOR", "CUSTOM")
             if bits & getattr(cl.device_type, n)]
    return " | ".join(names) or str(bits)


def _opencl_c_versions(cl, device) -> str:
    """'1.0, 1.1, 1.2, 3.0' (OpenCL 3.0 devices list all), else the one version reported."""
    try:
        versions = device.opencl_c_all_versions
    except cl.Error:                # before OpenCL 3.0 there is only the highest one
        return " ".join(device.opencl_c_version.split()[2:3])
    return ", ".join(f"{v.version >> 22}.{v.version >> 12 & 0x3FF}" for v in versions)


def _svm(cl, device) -> str:
    try:
        caps = device.svm_capabilities
    except cl.Error:                # OpenCL 1.2 devices have no such query
        return "none"
    flags = cl.device_svm_capabilities
    names = [text for flag, text in _SVM_FLAGS if caps & getattr(flags, flag)]
    return ", ".join(names) or "none"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# ---- CUDA ----------------------------------------------------------------------------

def _cuda() -> list[DeviceInfo]:
    from ringc.errors import RingcError

    from .cuda.driver import gpus
    from .cuda.toolchain import available_tools, tool_versions

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
        "maps host memory": _yes(gpu.maps_host_memory),
        "cooperative launch": _yes(gpu.cooperative),
        "host-native atomics": _yes(gpu.host_atomics),
        "display watchdog": _yes(gpu.watchdog) + (" (runs event-driven programs only)"
                                                  if gpu.watchdog else ""),
        **tools,
    }) for gpu in found]


# ---- Metal and the simulator ---------------------------------------------------------

def _metal() -> DeviceInfo:
    from .metal.toolchain import available

    why = available()
    check = "MSL is syntax-checked here with the shim" if why is None else (
        f"MSL cannot be syntax-checked here either: {why}")
    if platform.system() == "Darwin":
        return DeviceInfo("metal", None, reason=f"ringc has no Metal loader yet; {check}")
    return DeviceInfo("metal", None, reason=f"Metal runs only on macOS; {check}")


def _sim() -> DeviceInfo:
    return DeviceInfo("sim", "Python simulator", {
        "runs": "the program's IR in Python over the same queues, one work-group",
        "use": "the oracle device backends are tested against; a debugger's backend"})
