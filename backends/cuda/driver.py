"""The CUDA driver API under the loader: cuda-python (`cuda-bindings`, the default) or pycuda.

`gpus(driver)` lists the GPUs the NVIDIA driver sees, or raises `BackendUnavailable` with
one sentence saying why there are none. A driver object (`CudaPython`, `PyCuda`) holds
what one program uses on one GPU: the GPU's primary context (retained for the life of the
process, as the CUDA runtime does), the loaded module, two non-blocking streams (one for
launches, one for copies that never wait for the running kernel) and the program's
memory. Every call checks its result and raises `RingcError` naming the call and the
driver's error.

Memory: `host_memory` is pinned and mapped into the GPU's address space (DEVICEMAP |
PORTABLE). Freeing pinned memory synchronises the device, which would wait forever
behind a persistent kernel, so it is never freed: when the last numpy view of a block goes,
the block returns to a pool that later programs reuse (zeroed), and the process's exit
frees it. `device_memory` is plain device memory (never managed memory: page faults would
bounce the queues between host and GPU), freed by `close` once no launch runs.

Contexts: every call runs with the GPU's context current, pushed for the call when the
calling thread has another one current (a second GPU, the user's own CUDA code), so the
thread's current context is what it was before.

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

__all__ = ["DRIVERS", "Gpu", "checked", "gpus", "open_driver", "require_driver"]

DRIVERS: tuple[str, ...] = ("cuda-python", "pycuda")
_NON_BLOCKING = 1                      # CU_STREAM_NON_BLOCKING
_STICKY = ("CUDA_ERROR_ILLEGAL_ADDRESS", "CUDA_ERROR_LAUNCH_FAILED", "CUDA_ERROR_ASSERT",
           "CUDA_ERROR_ILLEGAL_INSTRUCTION", "CUDA_ERROR_MISALIGNED_ADDRESS",
           "CUDA_ERROR_INVALID_PC", "CUDA_ERROR_HARDWARE_STACK_ERROR",
           "CUDA_ERROR_LAUNCH_TIMEOUT")


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
    watchdog: bool                     # kernels are killed after a few seconds (a display)
    host_atomics: bool                 # GPU atomics on mapped host memory are atomic for the
                                       # host too (ringc needs them atomic among GPU threads)


def require_driver(name: str) -> None:
    """Raise ValueError for an unknown driver name, BackendUnavailable for one not here."""
    if name not in DRIVERS:
        raise ValueError(f"driver must be one of {', '.join(map(repr, DRIVERS))}, "
                         f"not {name!r}")
    _pycuda() if name == "pycuda" else _bindings()


def gpus(driver: str = "cuda-python") -> list[Gpu]:
    """Every GPU the driver sees (through `driver`); raises BackendUnavailable with one
    sentence when there is none."""
    require_driver(driver)
    found = _pycuda_gpus() if driver == "pycuda" else _bindings_gpus()
    if not found:
        raise BackendUnavailable("the NVIDIA driver sees no GPU")
    return found


def open_driver(name: str, gpu: Gpu):
    """A fresh driver object of kind `name` ('cuda-python' or 'pycuda') on `gpu`."""
    require_driver(name)
    return CudaPython(gpu) if name == "cuda-python" else PyCuda(gpu)


def _bindings():
    try:
        from cuda.bindings import driver
    except ImportError:
        raise BackendUnavailable("cuda-bindings is not installed "
                                 "(pip install 'ringc[cuda]')") from None
    return driver


def _pycuda():
    try:
        import pycuda.driver as drv
    except ImportError:
        raise BackendUnavailable(
            "pycuda is not installed: pip install 'ringc[pycuda]' builds it from source and "
            "needs the CUDA toolkit (the default driver, cuda-python, needs neither)") from None
    return drv


def checked(result: tuple, call: str):
    """The value(s) a cuda-python call returned after its CUresult; raises on an error."""
    err, *values = result
    if int(err) != 0:
        name = getattr(err, "name", str(err))
        sticky = (" (CUDA keeps this error: this GPU is unusable until the process "
                  "restarts)" if name in _STICKY else "")
        raise RingcError(f"{call} failed: {name}{sticky}")
    return values[0] if len(values) == 1 else tuple(values) or None


# ---- GPU discovery -----------------------------------------------------------------------

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


def _bindings_gpus() -> list[Gpu]:
    driver = _started()
    attr = driver.CUdevice_attribute
    version = checked(driver.cuDriverGetVersion(), "cuDriverGetVersion")
    found = []
    for ordinal in range(checked(driver.cuDeviceGetCount(), "cuDeviceGetCount")):
        dev = checked(driver.cuDeviceGet(ordinal), "cuDeviceGet")

        def get(name: str, dev=dev) -> int:
            return checked(driver.cuDeviceGetAttribute(getattr(attr, "CU_DEVICE_ATTRIBUTE_"
                                                              + name), dev),
                          "cuDeviceGetAttribute")

        name = checked(driver.cuDeviceGetName(256, dev), "cuDeviceGetName")
        found.append(Gpu(
            ordinal, name.split(b"\0", 1)[0].decode(errors="replace"),
            f"sm_{get('COMPUTE_CAPABILITY_MAJOR')}{get('COMPUTE_CAPABILITY_MINOR')}",
            get("MULTIPROCESSOR_COUNT"), checked(driver.cuDeviceTotalMem(dev),
                                                "cuDeviceTotalMem"),
            f"{version // 1000}.{version % 1000 // 10}", bool(get("CAN_MAP_HOST_MEMORY")),
            bool(get("COOPERATIVE_LAUNCH")), bool(get("KERNEL_EXEC_TIMEOUT")),
            bool(get("HOST_NATIVE_ATOMIC_SUPPORTED"))))
    return found


def _pycuda_gpus() -> list[Gpu]:
    drv = _pycuda()
    try:
        drv.init()
    except drv.Error as exc:
        raise BackendUnavailable(f"the NVIDIA driver did not start (pycuda: {exc})") from None
    version = drv.get_driver_version()
    attr = drv.device_attribute
    found = []
    for ordinal in range(drv.Device.count()):
        dev = drv.Device(ordinal)
        major, minor = dev.compute_capability()
        found.append(Gpu(
            ordinal, dev.name(), f"sm_{major}{minor}",
            dev.get_attribute(attr.MULTIPROCESSOR_COUNT), dev.total_memory(),
            f"{version // 1000}.{version % 1000 // 10}",
            bool(dev.get_attribute(attr.CAN_MAP_HOST_MEMORY)), False,
            bool(dev.get_attribute(attr.KERNEL_EXEC_TIMEOUT)),
            bool(getattr(attr, "HOST_NATIVE_ATOMIC_SUPPORTED", None)
                 and dev.get_attribute(attr.HOST_NATIVE_ATOMIC_SUPPORTED))))
    return found


# ---- mapped host memory, never freed under a running kernel -------------------------------

class _MappedBlock:
    """A pooled block seen through numpy: `np.asarray` of this object keeps it alive, and
    the block goes back to the pool when the last array over it goes."""

    def __init__(self, pointer: int, size: int):
        self.__array_interface__ = {"data": (pointer, False), "shape": (size,),
                                    "typestr": "|u1", "version": 3}


class _MappedPool:
    """Pinned mapped blocks of every program in this process: taken (the smallest that
    fits, zeroed) or allocated, returned when unused, never freed before exit."""

    def __init__(self):
        self._lock = threading.Lock()
        self._free: list[tuple[int, int, object]] = []     # (size, pointer, keep-alive)

    def take(self, size: int, allocate) -> tuple[np.ndarray, int]:
        """(zeroed uint8 array of `size` bytes, its host address); `allocate(size)` makes a
        new block as (pointer, keep-alive object) when none is free."""
        with self._lock:
            fits = [entry for entry in self._free if entry[0] >= size]
            entry = min(fits, key=lambda e: e[0]) if fits else None
            if entry is not None:
                self._free.remove(entry)
        if entry is None:
            pointer, keep = allocate(size)
            entry = (size, pointer, keep)
        block_size, pointer, _ = entry
        ctypes.memset(pointer, 0, block_size)
        block = _MappedBlock(pointer, size)
        weakref.finalize(block, self._give_back, entry).atexit = False
        return np.asarray(block), pointer

    def _give_back(self, entry) -> None:
        with self._lock:
            self._free.append(entry)


_MAPPED = _MappedPool()


# ---- cuda-python -------------------------------------------------------------------------

class CudaPython:
    """One program's context, module, streams and memory through cuda-bindings."""

    name = "cuda-python"

    def __init__(self, gpu: Gpu):
        self._driver = driver = _started()
        self.cooperative = gpu.cooperative
        self._gpu = gpu
        dev = checked(driver.cuDeviceGet(gpu.ordinal), "cuDeviceGet")
        self._context = checked(driver.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
        with self._current():
            self._stream = self._new_stream()
            self._copies = self._new_stream()
        self._device_allocations: list = []
        self._module = self._function = None

    @contextlib.contextmanager
    def _current(self):
        """This GPU's context current for the block; the thread's own restored after."""
        driver = self._driver
        current = checked(driver.cuCtxGetCurrent(), "cuCtxGetCurrent")
        if int(current) == int(self._context):
            yield
            return
        checked(driver.cuCtxPushCurrent(self._context), "cuCtxPushCurrent")
        try:
            yield
        finally:
            driver.cuCtxPopCurrent()

    def _new_stream(self):
        return checked(self._driver.cuStreamCreate(_NON_BLOCKING), "cuStreamCreate")

    def load(self, cubin: bytes) -> None:
        """Load the program's cubin and its entry point `rc_main`, eagerly: loading it at
        the first launch (CUDA's lazy loading) could wait for a running kernel."""
        image = np.frombuffer(cubin, dtype=np.uint8)
        with self._current():
            self._module = checked(self._driver.cuModuleLoadData(image.ctypes.data),
                                  "cuModuleLoadData")
            self._function = checked(self._driver.cuModuleGetFunction(self._module,
                                                                      b"rc_main"),
                                    "cuModuleGetFunction")
            checked(self._driver.cuFuncLoad(self._function), "cuFuncLoad")

    def resident_blocks(self, block: int) -> int:
        """How many blocks of `block` threads the whole GPU holds at once."""
        with self._current():
            per_sm = checked(self._driver.cuOccupancyMaxActiveBlocksPerMultiprocessor(
                self._function, block, 0), "cuOccupancyMaxActiveBlocksPerMultiprocessor")
        return per_sm * self._gpu.multiprocessors

    def host_memory(self, size: int) -> tuple[np.ndarray, int]:
        """(zeroed mapped pinned memory as uint8, its device address)."""
        driver = self._driver

        def allocate(nbytes: int) -> tuple[int, None]:
            flags = driver.CU_MEMHOSTALLOC_DEVICEMAP | driver.CU_MEMHOSTALLOC_PORTABLE
            return int(checked(driver.cuMemHostAlloc(nbytes, flags), "cuMemHostAlloc")), None

        with self._current():
            memory, pointer = _MAPPED.take(size, allocate)
            device_pointer = checked(driver.cuMemHostGetDevicePointer(pointer, 0),
                                    "cuMemHostGetDevicePointer")
        return memory, int(device_pointer)

    def device_memory(self, size: int) -> int:
        with self._current():
            pointer = checked(self._driver.cuMemAlloc(size), "cuMemAlloc")
        self._device_allocations.append(pointer)
        return int(pointer)

    def copy_to_device(self, pointer: int, data: np.ndarray) -> None:
        """Copy `data` to device address `pointer` on the copy stream and wait for it."""
        data = np.ascontiguousarray(data)
        with self._current():
            checked(self._driver.cuMemcpyHtoDAsync(pointer, data.ctypes.data, data.nbytes,
                                                  self._copies), "cuMemcpyHtoDAsync")
            checked(self._driver.cuStreamSynchronize(self._copies), "cuStreamSynchronize")

    def copy_from_device(self, pointer: int, size: int) -> np.ndarray:
        out = np.empty(size, dtype=np.uint8)
        with self._current():
            checked(self._driver.cuMemcpyDtoHAsync(out.ctypes.data, pointer, size,
                                                  self._copies), "cuMemcpyDtoHAsync")
            checked(self._driver.cuStreamSynchronize(self._copies), "cuStreamSynchronize")
        return out

    def launch(self, grid: int, block: int, arena: int, local: int, mode: int,
               cooperative: bool) -> None:
        """rc_main(arena, local, mode) on `grid` blocks of `block` threads, not waited for."""
        values = (np.array([arena], np.uint64), np.array([local], np.uint64),
                  np.array([mode], np.uint32))
        params = np.array([v.ctypes.data for v in values], dtype=np.uint64)
        with self._current():
            if cooperative:
                checked(self._driver.cuLaunchCooperativeKernel(
                    self._function, grid, 1, 1, block, 1, 1, 0, self._stream,
                    params.ctypes.data), "cuLaunchCooperativeKernel")
            else:
                checked(self._driver.cuLaunchKernel(
                    self._function, grid, 1, 1, block, 1, 1, 0, self._stream,
                    params.ctypes.data, 0), "cuLaunchKernel")

    def busy(self) -> bool:
        """Whether the last launch still runs; raises RingcError if it failed."""
        with self._current():
            (err,) = self._driver.cuStreamQuery(self._stream)
        if err == self._driver.CUresult.CUDA_ERROR_NOT_READY:
            return True
        checked((err,), "the launch (cuStreamQuery)")
        return False

    def close(self) -> None:
        """Free the device memory, the module and the streams (no launch may run). Errors
        are ignored: after a failed launch the context refuses every call."""
        with contextlib.suppress(RingcError), self._current():
            for pointer in self._device_allocations:
                self._driver.cuMemFree(pointer)
            if self._module is not None:
                self._driver.cuModuleUnload(self._module)
            for stream in (self._stream, self._copies):
                self._driver.cuStreamDestroy(stream)
        self._device_allocations.clear()
        self._module = self._function = None


# ---- pycuda ------------------------------------------------------------------------------

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
        self._staging = None         # pinned, allocated before any launch and kept
        self._module = self._function = None

    @contextlib.contextmanager
    def _current(self):
        """pycuda's context stack is per thread: push for the call, pop after."""
        try:
            self._context.push()
        except self._drv.Error as exc:
            raise RingcError(f"pycuda: {exc}") from None
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

        def allocate(nbytes: int):
            memory = self._drv.pagelocked_empty(nbytes, np.uint8,
                                                mem_flags=flags.DEVICEMAP | flags.PORTABLE)
            return memory.ctypes.data, memory         # the array keeps pycuda's block

        with self._current():
            memory, pointer = _MAPPED.take(size, allocate)
        return memory, pointer              # unified addressing: the device sees the same address

    def device_memory(self, size: int) -> int:
        with self._current():
            allocation = self._drv.mem_alloc(size)
        self._device_allocations.append(allocation)
        return int(allocation)

    def _staged(self, size: int):
        """The pinned staging buffer: the first copy (the program's initial image, before
        any launch) sizes it, since freeing one later would wait for the kernel."""
        if self._staging is None or len(self._staging) < size:
            self._staging = self._drv.pagelocked_empty(size, np.uint8)
        return self._staging[:size]

    def copy_to_device(self, pointer: int, data: np.ndarray) -> None:
        with self._current():
            staging = self._staged(data.nbytes)
            staging[:] = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
            self._drv.memcpy_htod_async(pointer, staging, self._copies)
            self._copies.synchronize()

    def copy_from_device(self, pointer: int, size: int) -> np.ndarray:
        with self._current():
            staging = self._staged(size)
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
        self._module = self._function = self._staging = None
