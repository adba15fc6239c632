"""The OpenCL devices of `ringc devices`: every platform's devices, with what ringc needs
to know of each (SVM, atomics, fp64); discovery builds and launches nothing."""

from __future__ import annotations

from ..devices import DeviceInfo, yes_no
from .cache import configure
from .toolchain import implementation

__all__ = ["devices"]

_SVM_FLAGS = (("COARSE_GRAIN_BUFFER", "coarse-grain buffer"),
              ("FINE_GRAIN_BUFFER", "fine-grain buffer"),
              ("FINE_GRAIN_SYSTEM", "fine-grain system"),
              ("ATOMICS", "atomics"))


def devices() -> list[DeviceInfo]:
    """Every OpenCL device here, or why there is none."""
    configure()                        # PoCL reads its cache settings when it starts
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
                "int64 atomics": yes_no("cl_khr_int64_base_atomics" in device.extensions),
                "fp64": yes_no("cl_khr_fp64" in device.extensions),
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
