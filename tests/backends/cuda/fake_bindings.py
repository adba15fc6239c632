"""A stand-in for `cuda.bindings.driver`, so `CudaPython` (backends/cuda/driver.py) runs
its real calls without a GPU.

Each call is first made on the real cuda-bindings with the same arguments: with no
libcuda here it converts the arguments and then fails to find the library, so a wrong
argument kind still fails as it would on a GPU (TypeError). Then the call is imitated:
device addresses are host addresses in one buffer, copies are memmoves, and a launch
decodes its parameter array (`kernelParams`: the addresses of each argument) and runs the
simulator's `rc_main` over the arena on a thread; `cuStreamQuery` says NOT_READY while it
runs. Only usable where libcuda is absent. It says nothing of how a GPU behaves.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np
from cuda.bindings import driver as real

from ringc.backends.sim.machine import SimMachine

OK = real.CUresult.CUDA_SUCCESS
ATTRIBUTES = {"COMPUTE_CAPABILITY_MAJOR": 9, "COMPUTE_CAPABILITY_MINOR": 0,
              "MULTIPROCESSOR_COUNT": 4, "CAN_MAP_HOST_MEMORY": 1, "COOPERATIVE_LAUNCH": 1,
              "KERNEL_EXEC_TIMEOUT": 0, "HOST_NATIVE_ATOMIC_SUPPORTED": 0}
_SLACK = 1 << 20                     # room after each host block for the device part
_KEEP: list[np.ndarray] = []         # fake memory outlives every runtime that saw it


class FakeDriverModule:
    """The subset of cuda.bindings.driver that backends/cuda/driver.py calls."""

    CUresult = real.CUresult
    CUdevice_attribute = real.CUdevice_attribute
    CU_MEMHOSTALLOC_DEVICEMAP = real.CU_MEMHOSTALLOC_DEVICEMAP
    CU_MEMHOSTALLOC_PORTABLE = real.CU_MEMHOSTALLOC_PORTABLE

    def __init__(self, compiled):
        self.compiled = compiled
        self.calls: list[str] = []
        self.launches: list[tuple[int, int, int, bool]] = []
        self._stacks = threading.local()           # each thread's context stack
        self._sizes: dict[int, int] = {}           # host block -> its size
        self._device_next: int | None = None       # where the next cuMemAlloc goes
        self._thread: threading.Thread | None = None
        self._failure: str | None = None

    def __getattr__(self, name: str):
        imitation = getattr(type(self), "_" + name, None)
        if imitation is None:
            raise AttributeError(f"the fake driver has no {name}")

        def call(*args):
            try:
                getattr(real, name)(*args)          # the real argument conversion
            except RuntimeError:                    # DynamicLibNotFoundError: no libcuda
                pass
            self.calls.append(name)
            return imitation(self, *args)
        return call

    def fail_next_launch(self, error: str) -> None:
        self._failure = error

    @property
    def current(self) -> list[int]:
        """The calling thread's context stack."""
        if not hasattr(self._stacks, "contexts"):
            self._stacks.contexts = []
        return self._stacks.contexts

    # -- discovery and context
    def _cuInit(self, flags):
        return (OK,)

    def _cuDriverGetVersion(self):
        return OK, 13000

    def _cuDeviceGetCount(self):
        return OK, 1

    def _cuDeviceGet(self, ordinal):
        return OK, real.CUdevice(ordinal)

    def _cuDeviceGetName(self, length, dev):
        return OK, b"Fake H100\0\0"

    def _cuDeviceTotalMem(self, dev):
        return OK, 80 << 30

    def _cuDeviceGetAttribute(self, attribute, dev):
        return OK, ATTRIBUTES[attribute.name.removeprefix("CU_DEVICE_ATTRIBUTE_")]

    def _cuDevicePrimaryCtxRetain(self, dev):
        return OK, real.CUcontext(0xC0)

    def _cuCtxGetCurrent(self):
        return OK, real.CUcontext(self.current[-1] if self.current else 0)

    def _cuCtxPushCurrent(self, context):
        self.current.append(int(context))
        return (OK,)

    def _cuCtxPopCurrent(self):
        return OK, real.CUcontext(self.current.pop())

    # -- module, streams
    def _cuModuleLoadData(self, image):
        assert ctypes.string_at(image, 4) == b"\x7fELF", "not a cubin"
        return OK, real.CUmodule(0x111)

    def _cuModuleGetFunction(self, module, name):
        assert name == b"rc_main"
        return OK, real.CUfunction(0x222)

    def _cuFuncLoad(self, function):
        return (OK,)

    def _cuOccupancyMaxActiveBlocksPerMultiprocessor(self, function, block, shared):
        return OK, 16

    def _cuStreamCreate(self, flags):
        assert flags == 1, "streams must be non-blocking"
        return OK, real.CUstream(0x333 + len(self.calls))

    def _cuStreamSynchronize(self, stream):
        return (OK,)

    def _cuStreamDestroy(self, stream):
        return (OK,)

    def _cuModuleUnload(self, module):
        return (OK,)

    # -- memory: host blocks with slack after them; the device part of a program goes in
    # the slack of the host block it mapped last (the loader maps, then allocates)
    def _cuMemHostAlloc(self, size, flags):
        assert flags == real.CU_MEMHOSTALLOC_DEVICEMAP | real.CU_MEMHOSTALLOC_PORTABLE
        block = np.zeros(size + _SLACK, dtype=np.uint8)
        _KEEP.append(block)
        self._sizes[block.ctypes.data] = size
        return OK, block.ctypes.data

    def _cuMemHostGetDevicePointer(self, pointer, flags):
        self._device_next = pointer + self._sizes[pointer]
        return OK, real.CUdeviceptr(pointer)

    def _cuMemAlloc(self, size):
        assert self._device_next is not None and size <= _SLACK
        pointer, self._device_next = self._device_next, None
        return OK, real.CUdeviceptr(pointer)

    def _cuMemFree(self, pointer):
        assert not self._running(), "device memory freed while the kernel runs"
        return (OK,)

    def _cuMemcpyHtoDAsync(self, device, host, size, stream):
        ctypes.memmove(int(device), host, size)
        return (OK,)

    def _cuMemcpyDtoHAsync(self, host, device, size, stream):
        ctypes.memmove(host, int(device), size)
        return (OK,)

    # -- launches
    def _cuLaunchKernel(self, function, gx, gy, gz, bx, by, bz, shared, stream, params,
                        extra, cooperative=False):
        assert not self._running(), "a launch while the last one runs"
        if self._failure:
            error, self._failure = self._failure, None
            return (getattr(real.CUresult, error),)
        addresses = np.frombuffer(ctypes.string_at(params, 24), dtype=np.uint64)
        arena, local = (int.from_bytes(ctypes.string_at(int(a), 8), "little")
                        for a in addresses[:2])
        mode = int.from_bytes(ctypes.string_at(int(addresses[2]), 4), "little")
        layout = self.compiled.layout
        assert local == arena + layout.local_offset, "the device part must follow the arena"
        memory = np.ctypeslib.as_array((ctypes.c_uint8 * layout.arena_size).from_address(arena))
        self.launches.append((gx, bx, mode, cooperative))
        machine = SimMachine(self.compiled.program, layout, self.compiled.reasons)
        self._thread = threading.Thread(target=machine.run, args=(memory, mode), daemon=True)
        self._thread.start()
        return (OK,)

    def _cuLaunchCooperativeKernel(self, function, gx, gy, gz, bx, by, bz, shared, stream,
                                   params):
        return self._cuLaunchKernel(function, gx, gy, gz, bx, by, bz, shared, stream, params,
                                    0, cooperative=True)

    def _cuStreamQuery(self, stream):
        return (real.CUresult.CUDA_ERROR_NOT_READY if self._running() else OK,)

    def _running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
