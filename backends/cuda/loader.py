"""Run an emitted CUDA program on an NVIDIA GPU: pick a GPU, compile, map memory, launch.

Compile: NVRTC in-process (nvcc where NVRTC is missing) to a cubin for the GPU's own
architecture, cached on disk by `toolchain.compile_cubin` (logged at debug on
"ringc.cuda"); never PTX, which a driver older than the compiler cannot load. An
architecture NVRTC cannot build for, or a driver older than NVRTC's CUDA, is refused
before compiling with one sentence naming the remedy.

Memory: the host-facing part of the layout ([0, local_offset): control block, stats,
ingress rings, host output and dead-letter queues) lives in pinned host memory mapped
into the GPU, which the host reads and writes in place while the kernel runs; the
device-local part (state, kernel-to-kernel rings) lives in device memory, reached from the
host only by copies on a second non-blocking stream (checkpoint, restore, pending counts),
which never wait for the running kernel. After `release` the device-local part is kept
as a host copy, so status and checkpoint still answer.

One program per GPU at a time in a process: allocating, loading or freeing beside a
running persistent kernel can wait for it forever (freeing synchronises the device), so a
second program on a GPU whose program has not been released is refused with
`BackendUnavailable`, as the OpenCL loader refuses launches beyond PoCL's worker threads.

Launches: on a non-blocking stream; the host polls the stream and never synchronises the
device. A persistent kernel's blocks must all be resident at once (a block waiting for one
that never starts would wait forever), so `groups` is capped by the GPU's occupancy, and
with more than one block cuda-python launches cooperatively, which guarantees residency or
fails at launch. pycuda cannot launch cooperatively: its blocks are capped at one per
multiprocessor, resident whenever no other kernel holds the GPU, but not guaranteed. A GPU
with a display watchdog kills long kernels, so it runs event-driven programs only.
Blocks: `groups`, by default every block the GPU holds at once, no more than the program's
queues (docs/runtime.md, "Work-groups");
threads per block: 1, or `MAX_PARALLEL_WIDTH` where a kernel is `concurrency="parallel"`, or
the largest `group_size` of its cooperative kernels (at most 1024) where that is more.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ringc.arena import Layout
from ringc.errors import BackendUnavailable, RingcError
from ringc.protocol import MAX_LOCAL

from ..devices import DeviceFacts, choose_device, default_groups
from ..record import LoadRequest
from ..toolchain import BuildFailed, ToolchainUnavailable
from . import driver
from .driver import Gpu, gpus, open_driver
from .toolchain import compile_cubin_with_origin, nvrtc_support

__all__ = ["CudaDevice", "facts", "find_gpu", "prepare", "load"]

MAX_PARALLEL_WIDTH = min(128, MAX_LOCAL)
MAX_BLOCK = 1024                    # threads of one CUDA block
_held_lock = threading.Lock()
_held: dict[int, str] = {}          # GPU ordinal -> the program holding it (its kernels)


def prepare(device: str | int | None, settings) -> Gpu:
    """The GPU to run on, found before any compiling: BackendUnavailable (one sentence)
    when CUDA cannot run programs here."""
    name = settings["driver"]
    driver.require_driver(name)
    try:
        found = driver.gpus(name)
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"CUDA programs cannot run here: {exc} (rc.compile(..., "
                                 "'cuda') and `ringc check` still compile for CUDA)") from None
    return find_gpu(device, found)


def load(request: LoadRequest) -> CudaDevice:
    """The target's loader (`ringc.backends.record.Target.load`)."""
    return CudaDevice(request.source, request.layout, request.image, gpu=request.prepared,
                      driver=request.settings["driver"], groups=request.settings["groups"],
                      parallel=request.parallel, fast_math=request.fast_math)


def facts(device: str | int | None, settings) -> DeviceFacts:
    """The target's `facts`: those of the GPU `rc.launch(device=device)` would use."""
    return gpu_facts(prepare(device, settings))


def gpu_facts(gpu: Gpu) -> DeviceFacts:
    """Every GPU a current NVRTC builds for (sm_50 and later) has f64 and 64-bit atomics."""
    return DeviceFacts(name=gpu.name, backend="cuda", compute_units=gpu.multiprocessors,
                       max_group_size=MAX_BLOCK, fp64=True, int64_atomics=True)


def find_gpu(wanted: str | int | None = None, found: list[Gpu] | None = None) -> Gpu:
    """The GPU to run on, from `found` (default: every GPU here): the first by default,
    the `wanted`-th of `ringc devices`' CUDA list, or the first whose name contains
    `wanted` (case-insensitive)."""
    return choose_device(gpus() if found is None else found, wanted, lambda g: g.name,
                         lambda g: g.name, "GPU", "GPUs")


def check_gpu(gpu: Gpu, persistent: bool) -> None:
    """Refuse, in one sentence, a GPU this program cannot run on here."""
    if not gpu.maps_host_memory:
        raise BackendUnavailable(f"{gpu.name} cannot map host memory, so the host cannot "
                                 "reach a running kernel's queues")
    if persistent and gpu.watchdog:
        raise BackendUnavailable(
            f"{gpu.name} has a display watchdog that kills kernels after a few seconds, so "
            "a persistent kernel cannot run on it: use an event-driven program or a GPU "
            "without a display")
    why = nvrtc_support(gpu.arch, gpu.driver_version)
    if why:
        raise BackendUnavailable(why)


class CudaDevice:
    """One program's memory and launches on one GPU (see the module doc)."""

    def __init__(self, source: str, layout: Layout, image: np.ndarray, *, gpu: Gpu,
                 driver: str = "cuda-python", groups: int | None = None,
                 parallel: bool = False, fast_math: bool = False):
        if groups is not None and groups < 1:
            raise ValueError(f"groups must be at least 1, not {groups}")
        self.gpu = gpu
        self.facts = gpu_facts(gpu)
        self.layout = layout
        check_gpu(gpu, any(k.mode == "persistent" for k in layout.kernels))
        try:
            cubin, cached = compile_cubin_with_origin(source, gpu.arch, fast_math=fast_math)
        except ToolchainUnavailable as exc:
            raise BackendUnavailable(f"no CUDA compiler here: {exc}") from None
        except BuildFailed as exc:
            raise RingcError(f"the CUDA compiler rejected the generated program for "
                             f"{gpu.arch} (a ringc bug; please report it):\n"
                             f"{exc.result.log}") from None
        self.build_origin = "cached" if cached else "compiled"   # for the launch's log record
        self._program = ", ".join(k.name for k in layout.kernels)
        self._hold()
        self.driver = None
        try:
            self.driver = open_driver(driver, gpu)
            self._set_up(cubin, image, groups, parallel)
        except BaseException:
            self._let_go()
            raise

    def _hold(self) -> None:
        with _held_lock:
            holder = _held.get(self.gpu.ordinal)
            if holder is not None:
                raise BackendUnavailable(
                    f"{self.gpu.name} runs another ringc program in this process ({holder}): "
                    "CUDA cannot allocate or free memory beside a persistent kernel without "
                    "waiting for it, so shut that program down first")
            _held[self.gpu.ordinal] = self._program

    def _let_go(self) -> None:
        """Free what the driver holds and give the GPU back (no launch may run)."""
        if self.driver is not None:
            with contextlib.suppress(RingcError):
                self.driver.close()
        with _held_lock:
            _held.pop(self.gpu.ordinal, None)

    def _set_up(self, cubin: bytes, image: np.ndarray, groups: int | None,
                parallel: bool) -> None:
        driver, layout = self.driver, self.layout
        driver.load(cubin)
        # threads per block: a parallel kernel's width, and a cooperative kernel's group
        self.block = max(MAX_PARALLEL_WIDTH if parallel else 1, layout.group_size)
        if self.block > MAX_BLOCK:
            raise BackendUnavailable(f"a cooperative kernel's group_size={layout.group_size} "
                                     f"needs blocks of {self.block} threads, more than CUDA's "
                                     f"{MAX_BLOCK}")
        resident = driver.resident_blocks(self.block)
        if resident < 1:
            raise BackendUnavailable(f"a block of {self.block} thread(s) of this program "
                                     f"does not fit on {self.gpu.name}")
        wanted = groups or default_groups(resident, False, layout.num_queues)
        if wanted > resident:
            raise BackendUnavailable(
                f"{self.gpu.name} holds {resident} resident block(s) of {self.block} "
                f"thread(s) with the {driver.name} driver, and a persistent kernel "
                f"needs all of its {wanted} at once: ask for fewer groups")
        self.groups = wanted
        self.cooperative = self.groups > 1 and driver.cooperative
        split = layout.local_offset
        self.arena, self._arena_pointer = driver.host_memory(split)
        self.arena[:] = image[:split]
        self._local_size = layout.arena_size - split
        self._local_pointer = driver.device_memory(max(1, self._local_size))
        if self._local_size:
            driver.copy_to_device(self._local_pointer, image[split:])
        self._local_copy: np.ndarray | None = None     # the device-local part after release
        self._lost: str | None = None                  # why it could not be copied
        self._launched = False
        self.clock = "globaltimer"          # rc.now() (ringc/runtime/clock.py)
        self.description = (f"{self.gpu.name} ({self.gpu.arch}, CUDA {self.gpu.driver_version}"
                            f", {driver.name}), {self.groups} block(s) x {self.block} "
                            f"thread(s){', cooperative' if self.cooperative else ''}")

    def _local_range(self, offset: int, size: int) -> int:
        """The offset of layout bytes [offset, offset + size) in the device-local part."""
        start = offset - self.layout.local_offset
        if start < 0 or start + size > self._local_size:
            raise ValueError(f"bytes [{offset}, {offset + size}) are not in the device-local "
                             f"part [{self.layout.local_offset}, {self.layout.arena_size})")
        if self._lost is not None:
            raise RingcError(f"the device memory of this program is lost: {self._lost}")
        return start

    def read_local(self, offset: int, size: int) -> np.ndarray:
        start = self._local_range(offset, size)
        if self._local_copy is not None:
            return self._local_copy[start:start + size]
        return self.driver.copy_from_device(self._local_pointer + start, size)

    def write_local(self, offset: int, data: np.ndarray) -> None:
        start = self._local_range(offset, len(data))
        if self._local_copy is not None:
            self._local_copy[start:start + len(data)] = data
        else:
            self.driver.copy_to_device(self._local_pointer + start, data)

    def launch(self, mode: int) -> None:
        """Start rc_main; a launch the driver refuses releases the program (nothing runs)."""
        if self._local_copy is not None:
            raise RingcError("this program's device memory is released: it cannot be "
                             "launched again")
        try:
            self.driver.launch(self.groups, self.block, self._arena_pointer,
                               self._local_pointer, mode, self.cooperative)
        except (RingcError, BackendUnavailable):
            self.release()
            raise
        self._launched = True

    def running(self) -> bool:
        return self._launched and self._local_copy is None and self.driver.busy()

    def release(self) -> None:
        """Copy the device-local part to the host (status and checkpoint read it after
        shutdown), then free the device memory, module and streams and give the GPU back.
        The mapped host memory returns to the pool with the last view of `arena`."""
        if self._local_copy is not None:
            return
        try:
            self._local_copy = (self.driver.copy_from_device(self._local_pointer,
                                                             self._local_size)
                                if self._local_size else np.zeros(0, dtype=np.uint8))
        except RingcError as exc:        # after a failed launch the context answers no more
            self._local_copy = np.zeros(0, dtype=np.uint8)
            self._lost = str(exc)
        self._let_go()
