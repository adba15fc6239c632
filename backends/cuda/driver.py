"""The CUDA driver API under the loader: cuda-python (`cuda-bindings`, the default) or pycuda.

`gpus()` lists the GPUs the NVIDIA driver sees, or raises `BackendUnavailable` with one
sentence saying why there are none. A driver object (`CudaPython`, `PyCuda`) holds what one
program uses on one GPU: the GPU's primary context (retained for the life of the process,
as the CUDA runtime does), the loaded module, two non-blocking streams (one for launches,
one for copies that never wait for the running kernel) and the program's memory. Every call
checks its result and raises `RingcError` naming the call and the driver's error.

Memory: `host_memory` is pinned and mapped into the GPU's address space (DEVICEMAP |
PORTABLE); the numpy array it returns owns it, so it is freed when the last view of it
goes, never while the runtime can still read it. `device_memory` is plain device memory
(never managed memory: page faults would bounce the queues between host and GPU), freed by
`close`.

Threads: CUDA binds a context to a thread, and the runtime calls from its callers' threads
and its pump thread. cuda-python makes the context current once per thread; pycuda keeps a
context stack per thread, so each of its calls pushes and pops it.

pycuda cannot launch cooperatively: `PyCuda.cooperative` is False, and its
`resident_blocks` is one block per multiprocessor, a count that is co-resident whenever
no other kernel holds the GPU, but that no launch guarantees.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ringc.errors import BackendUnavailable, RingcError

__all__ = ["DRIVERS", "Gpu", "gpus", "open_driver", "require_driver"]

DRIVERS: tuple[str, ...] = ("cuda-python", "pycuda")
_NON_BLOCKING = 1                      # CU_STREAM_NON_BLOCKING


@dataclass(frozen=True)
class Gpu:
    """One GPU as the driver reports it."""
    ordinal: int
    name: str
    arch: str                          # e.g. 'sm_90'
    multiprocessors: int
    memory: int                        # bytes
    driver_version: str                # the CUDA version the driver supports, e.g. '13.0'
    maps_host_memory: bool
    cooperative: bool


def _bindings():
    try:
        from cuda.bindings import driver
    except ImportError:
        raise BackendUnavailable("cuda-bindings is not installed "
                                 "(pip install 'ringc[cuda]')") from None
    return driver


def _started():
    """cuda.bindings.driver after a successful cuInit."""
    driver = _bindings()
    try:
        (err,) = driver.cuInit(0)
    except RuntimeError:               # cuda.pathfinder's DynamicLibNotFoundError
        raise BackendUnavailable("there is no NVIDIA driver (libcuda) on this "
                                 "machine") from None
    if err == driver.CUresult.CUDA_ERROR_NO_DEVICE:
        raise BackendUnavailable("the NVIDIA driver sees no GPU")
    if err != driver.CUresult.CUDA_SUCCESS:
        raise BackendUnavailable(f"the NVIDIA driver did not start (cuInit: {err.name})")
    return driver


def _value(result: tuple, call: str):
    """The value(s) a cuda-python call returned after its CUresult; raises on an error."""
    err, *values = result
    if int(err) != 0:
        raise RingcError(f"{call} failed: {getattr(err, 'name', err)}")
    return values[0] if len(values) == 1 else tuple(values) or None


def gpus() -> list[Gpu]:
    """Every GPU the driver sees (through cuda-python); raises BackendUnavailable with one
    sentence when there is none."""
    driver = _started()
    attr = driver.CUdevice_attribute
    version = _value(driver.cuDriverGetVersion(), "cuDriverGetVersion")
    found = []
    for ordinal in range(_value(driver.cuDeviceGetCount(), "cuDeviceGetCount")):
        dev = _value(driver.cuDeviceGet(ordinal), "cuDeviceGet")

        def get(name: str, dev=dev) -> int:
            return _value(driver.cuDeviceGetAttribute(getattr(attr, name), dev),
                          "cuDeviceGetAttribute")

        name = _value(driver.cuDeviceGetName(256, dev), "cuDeviceGetName")
        found.append(Gpu(
            ordinal, name.split(b"\0", 1)[0].decode(errors="replace"),
            f"sm_{get('CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR')}"
            f"{get('CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR')}",
            get("CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT"),
            _value(driver.cuDeviceTotalMem(dev), "cuDeviceTotalMem"),
            f"{version // 1000}.{version % 1000 // 10}",
            bool(get("CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY")),
            bool(get("CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH"))))
    if not found:
        raise BackendUnavailable("the NVIDIA driver sees no GPU")
    return found


def require_driver(name: str) -> None:
    """Raise ValueError for an unknown driver name, BackendUnavailable for one not here."""
    if name not in DRIVERS:
        raise ValueError(f"driver must be one of {', '.join(map(repr, DRIVERS))}, "
                         f"not {name!r}")
    if name == "pycuda":
        _pycuda()
    else:
        _bindings()


def open_driver(name: str, gpu: Gpu):
    """A fresh driver object of kind `name` ('cuda-python' or 'pycuda') on `gpu`."""
    require_driver(name)
    return CudaPython(gpu) if name == "cuda-python" else PyCuda(gpu)


def _pycuda():
    try:
        import pycuda.driver as drv
    except ImportError:
        raise BackendUnavailable(
            "pycuda is not installed: pip install 'ringc[pycuda]' builds it from source and "
            "needs the CUDA toolkit (the default driver, cuda-python, needs neither)") from None
    return drv


class _MappedHost:
    """Pinned, device-mapped host memory seen through numpy: `np.asarray` of this object
    keeps it alive, and it is freed when the last array over it goes."""

    def __init__(self, driver, context, size: int):
        self.pointer = _value(driver.cuMemHostAlloc(size, driver.CU_MEMHOSTALLOC_DEVICEMAP
                                                    | driver.CU_MEMHOSTALLOC_PORTABLE),
                              "cuMemHostAlloc")
        ctypes.memset(self.pointer, 0, size)
        self.__array_interface__ = {"data": (self.pointer, False), "shape": (size,),
                                    "typestr": "|u1", "version": 3}
        # not at exit: a kernel may still run then, and the driver frees it with the process
        weakref.finalize(self, _free_host, driver, context, self.pointer).atexit = False


def _free_host(driver, context, pointer: int) -> None:
    """cuMemFreeHost from whichever thread drops the last view (it needs a context)."""
    driver.cuCtxSetCurrent(context)
    driver.cuMemFreeHost(pointer)


class CudaPython:
    """One program's context, module, streams and memory through cuda-bindings."""

    name = "cuda-python"

    def __init__(self, gpu: Gpu):
        self._driver = driver = _started()
        self.cooperative = gpu.cooperative
        self._gpu = gpu
        dev = _value(driver.cuDeviceGet(gpu.ordinal), "cuDeviceGet")
        self._context = _value(driver.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
        self._threads = threading.local()
        self._current()
        self._stream = self._new_stream()
        self._copies = self._new_stream()
        self._device_allocations: list = []
        self._module = self._function = None

    def _current(self) -> None:
        if getattr(self._threads, "context", None) is not self._context:
            _value(self._driver.cuCtxSetCurrent(self._context), "cuCtxSetCurrent")
            self._threads.context = self._context

    def _new_stream(self):
        return _value(self._driver.cuStreamCreate(_NON_BLOCKING), "cuStreamCreate")

    def load(self, cubin: bytes) -> None:
        """Load the program's cubin and find its entry point `rc_main`."""
        self._current()
        image = np.frombuffer(cubin, dtype=np.uint8)
        self._module = _value(self._driver.cuModuleLoadData(image.ctypes.data),
                              "cuModuleLoadData")
        self._function = _value(self._driver.cuModuleGetFunction(self._module, b"rc_main"),
                                "cuModuleGetFunction")

    def resident_blocks(self, block: int) -> int:
        """How many blocks of `block` threads the whole GPU holds at once."""
        self._current()
        per_sm = _value(self._driver.cuOccupancyMaxActiveBlocksPerMultiprocessor(
            self._function, block, 0), "cuOccupancyMaxActiveBlocksPerMultiprocessor")
        return per_sm * self._gpu.multiprocessors

    def host_memory(self, size: int) -> tuple[np.ndarray, int]:
        """(zeroed mapped pinned memory as uint8, its device address)."""
        self._current()
        mapped = _MappedHost(self._driver, self._context, size)
        device_pointer = _value(self._driver.cuMemHostGetDevicePointer(mapped.pointer, 0),
                                "cuMemHostGetDevicePointer")
        return np.asarray(mapped), int(device_pointer)

    def device_memory(self, size: int) -> int:
        self._current()
        pointer = _value(self._driver.cuMemAlloc(size), "cuMemAlloc")
        self._device_allocations.append(pointer)
        return int(pointer)

    def copy_to_device(self, pointer: int, data: np.ndarray) -> None:
        """Copy `data` to device address `pointer` on the copy stream and wait for it."""
        self._current()
        data = np.ascontiguousarray(data)
        _value(self._driver.cuMemcpyHtoDAsync(pointer, data.ctypes.data, data.nbytes,
                                              self._copies), "cuMemcpyHtoDAsync")
        _value(self._driver.cuStreamSynchronize(self._copies), "cuStreamSynchronize")

    def copy_from_device(self, pointer: int, size: int) -> np.ndarray:
        self._current()
        out = np.empty(size, dtype=np.uint8)
        _value(self._driver.cuMemcpyDtoHAsync(out.ctypes.data, pointer, size, self._copies),
               "cuMemcpyDtoHAsync")
        _value(self._driver.cuStreamSynchronize(self._copies), "cuStreamSynchronize")
        return out

    def launch(self, grid: int, block: int, arena: int, local: int, mode: int,
               cooperative: bool) -> None:
        """rc_main(arena, local, mode) on `grid` blocks of `block` threads, not waited for."""
        self._current()
        values = (np.array([arena], np.uint64), np.array([local], np.uint64),
                  np.array([mode], np.uint32))
        params = np.array([v.ctypes.data for v in values], dtype=np.uint64)
        if cooperative:
            result = self._driver.cuLaunchCooperativeKernel(
                self._function, grid, 1, 1, block, 1, 1, 0, self._stream, params.ctypes.data)
        else:
            result = self._driver.cuLaunchKernel(
                self._function, grid, 1, 1, block, 1, 1, 0, self._stream, params.ctypes.data,
                0)
        _value(result, "cuLaunchCooperativeKernel" if cooperative else "cuLaunchKernel")

    def busy(self) -> bool:
        """Whether the last launch still runs; raises RingcError if it failed."""
        self._current()
        (err,) = self._driver.cuStreamQuery(self._stream)
        if err == self._driver.CUresult.CUDA_ERROR_NOT_READY:
            return True
        _value((err,), "the launch (cuStreamQuery)")
        return False

    def close(self) -> None:
        """Free the device memory, the module and the streams (no launch may run). Errors
        are ignored: after a failed launch the context refuses every call."""
        self._current()
        for pointer in self._device_allocations:
            self._driver.cuMemFree(pointer)
        self._device_allocations.clear()
        if self._module is not None:
            self._driver.cuModuleUnload(self._module)
            self._module = self._function = None
        for stream in (self._stream, self._copies):
            self._driver.cuStreamDestroy(stream)


class PyCuda:
    """One program's context, module, streams and memory through pycuda (no cooperative
    launch: see the module docstring)."""

    name = "pycuda"
    cooperative = False

    def __init__(self, gpu: Gpu):
        self._drv = drv = _pycuda()
        self._gpu = gpu
        try:
            drv.init()
            self._context = drv.Device(gpu.ordinal).retain_primary_context()
        except drv.Error as exc:
            raise BackendUnavailable(f"pycuda could not open GPU {gpu.ordinal}: {exc}") from None
        with self._current():
            self._stream = drv.Stream(flags=_NON_BLOCKING)
            self._copies = drv.Stream(flags=_NON_BLOCKING)
        self._device_allocations: list = []
        self._module = self._function = None

    @contextlib.contextmanager
    def _current(self):
        self._context.push()
        try:
            yield
        except self._drv.Error as exc:
            raise RingcError(f"pycuda: {exc}") from None
        finally:
            self._drv.Context.pop()

    def load(self, cubin: bytes) -> None:
        with self._current():
            self._module = self._drv.module_from_buffer(cubin)
            self._function = self._module.get_function("rc_main")
            self._function.prepare("PPI")

    def resident_blocks(self, block: int) -> int:
        return self._gpu.multiprocessors

    def host_memory(self, size: int) -> tuple[np.ndarray, int]:
        flags = self._drv.host_alloc_flags
        with self._current():
            memory = self._drv.pagelocked_zeros(size, np.uint8,
                                                mem_flags=flags.DEVICEMAP | flags.PORTABLE)
            return memory, int(memory.base.get_device_pointer())

    def device_memory(self, size: int) -> int:
        with self._current():
            allocation = self._drv.mem_alloc(size)
        self._device_allocations.append(allocation)
        return int(allocation)

    def copy_to_device(self, pointer: int, data: np.ndarray) -> None:
        with self._current():
            staging = self._drv.pagelocked_empty(data.nbytes, np.uint8)
            staging[:] = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
            self._drv.memcpy_htod_async(pointer, staging, self._copies)
            self._copies.synchronize()

    def copy_from_device(self, pointer: int, size: int) -> np.ndarray:
        with self._current():
            staging = self._drv.pagelocked_empty(size, np.uint8)
            self._drv.memcpy_dtoh_async(staging, pointer, self._copies)
            self._copies.synchronize()
            return np.array(staging, copy=True)

    def launch(self, grid: int, block: int, arena: int, local: int, mode: int,
               cooperative: bool) -> None:
        if cooperative:
            raise BackendUnavailable("pycuda has no cooperative launch")
        with self._current():
            self._function.prepared_async_call((grid, 1), (block, 1, 1), self._stream,
                                               arena, local, mode)

    def busy(self) -> bool:
        with self._current():
            return not self._stream.is_done()

    def close(self) -> None:
        with contextlib.suppress(RingcError), self._current():
            for allocation in self._device_allocations:
                allocation.free()
        self._device_allocations.clear()
        self._module = self._function = None
