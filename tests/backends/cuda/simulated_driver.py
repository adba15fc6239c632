"""A stand-in for the CUDA driver object, so the loader's own logic runs without a GPU.

`SimulatedDriver` has the interface of `CudaPython` and `PyCuda` (backends/cuda/driver.py)
over one host buffer: "mapped host memory" is its front, "device memory" the rest, and a
launch runs the simulator's `rc_main` over the whole of it on a thread. With it, `rc.launch
(..., backend="cuda")` goes through the real launcher, NVRTC compile and `CudaDevice`
(memory split, copies, launches, release); it says nothing about a GPU or the driver API.
"""

from __future__ import annotations

import threading

import numpy as np

from ringc.backends.cuda.driver import Gpu
from ringc.backends.sim.machine import SimMachine

GPU = Gpu(ordinal=0, name="Simulated GPU", arch="sm_90", multiprocessors=4,
          memory=1 << 30, driver_version="13.0", maps_host_memory=True, cooperative=True,
          watchdog=False, host_atomics=True)


class SimulatedDriver:
    name = "simulated"
    cooperative = True

    def __init__(self, compiled, resident_blocks: int = 64):
        self.compiled = compiled
        self.memory = np.zeros(compiled.layout.arena_size, dtype=np.uint8)
        self.cubin: bytes | None = None
        self.launches: list[tuple[int, int, int, bool]] = []
        self.copies = 0
        self.closed = False
        self._resident = resident_blocks
        self._next = 0
        self._thread: threading.Thread | None = None

    def load(self, cubin: bytes) -> None:
        self.cubin = cubin

    def resident_blocks(self, block: int) -> int:
        return self._resident

    def _carve(self, size: int) -> int:
        start, self._next = self._next, self._next + size
        assert self._next <= len(self.memory), "more memory than the layout has"
        return start

    def host_memory(self, size: int) -> tuple[np.ndarray, int]:
        start = self._carve(size)
        return self.memory[start:start + size], start

    def device_memory(self, size: int) -> int:
        return self._carve(size)

    def copy_to_device(self, pointer: int, data: np.ndarray) -> None:
        self.copies += 1
        self.memory[pointer:pointer + data.nbytes] = np.ascontiguousarray(data).view(np.uint8)

    def copy_from_device(self, pointer: int, size: int) -> np.ndarray:
        self.copies += 1
        return self.memory[pointer:pointer + size].copy()

    def launch(self, grid: int, block: int, arena: int, local: int, mode: int,
               cooperative: bool) -> None:
        assert not self.busy(), "a launch while the last one runs"
        assert (arena, local) == (0, self.compiled.layout.local_offset)
        self.launches.append((grid, block, mode, cooperative))
        machine = SimMachine(self.compiled.program, self.compiled.layout,
                             self.compiled.reasons)
        self._thread = threading.Thread(target=machine.run, args=(self.memory, mode),
                                        daemon=True)
        self._thread.start()

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        assert not self.busy(), "memory freed while the kernel runs"
        self.closed = True
