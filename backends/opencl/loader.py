"""Run an emitted OpenCL program: pick a device, build (cached), share memory, launch.

Memory: the whole layout lives in one host allocation the device uses in place: fine-grain
SVM where the device offers it, otherwise a page-aligned numpy array wrapped as two
`USE_HOST_PTR` buffers (the host-facing part and the device-local part, split at the
page-aligned `local_offset`). The second is zero-copy only where the device shares the
host's memory (CPU devices, integrated GPUs); a discrete GPU without fine-grain SVM cannot
exchange messages with a running kernel and is refused with `BackendUnavailable`.

Launches never block the host: `running()` polls the launch's event (PoCL does not deliver
Ctrl-C to a thread waiting in `clFinish`). Work-groups: `groups`, by default as many as the
device runs at once (one fewer on a CPU device, no more than the program's queues:
docs/runtime.md, "Work-groups"); on a CPU device never more than its compute units (PoCL
runs one work-group per worker thread) across the process's running programs, the default
taking what the running ones leave.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass

import numpy as np

from ringc.arena import Layout
from ringc.errors import BackendUnavailable, RingcError
from ringc.protocol import CONTROL
from ringc.runtime.clock import anchor as clock_anchor
from ringc.runtime.clock import tsc_reader

from ..devices import DeviceFacts, choose_device, default_groups
from ..record import LoadRequest
from . import cache, stack
from .toolchain import (
    build_options,
    devices,
    logged_build,
    opencl,
    require_linker,
    unusable_compiler,
)

__all__ = ["OpenCLDevice", "facts", "find_device", "load"]

PAGE = 4096
_workers_lock = threading.Lock()
_workers_taken: dict[int, int] = {}       # CPU device -> work-groups of running launches
MAX_PARALLEL_WIDTH = {"cpu": 16, "gpu": 128}
_claims_lock = threading.Lock()


def load(request: LoadRequest) -> OpenCLDevice:
    """The target's loader (`ringc.backends.record.Target.load`). A program whose handlers
    need more private memory than the device's work-items have is BackendUnavailable before
    anything is built (`stack.check`: on PoCL's CPU device it would crash the process)."""
    stack.check(request.program, find_device(request.device))
    return OpenCLDevice(request.source, request.layout, request.image, device=request.device,
                        memory=request.settings["memory"], groups=request.settings["groups"],
                        parallel=request.parallel, fast_math=request.fast_math)


def find_device(wanted: str | int | None = None):
    """The OpenCL device to run on: PoCL's CPU device (or the first one) by default, the
    `wanted`-th device of `ringc devices`' OpenCL list, or the first whose name or
    platform contains `wanted` (case-insensitive)."""
    return choose_device(devices(), wanted, lambda d: d.name.strip(),
                         lambda d: f"{d.name} {d.platform.name}", "OpenCL device", "devices")


def facts(device: str | int | None, settings) -> DeviceFacts:
    """The target's `facts`: those of the device `rc.launch(device=device)` would use."""
    return facts_of(find_device(device))


def facts_of(cl_device) -> DeviceFacts:
    extensions = cl_device.extensions.split()
    return DeviceFacts(name=cl_device.name.strip(), backend="opencl",
                       compute_units=int(cl_device.max_compute_units),
                       max_group_size=int(cl_device.max_work_group_size),
                       fp64="cl_khr_fp64" in extensions,
                       int64_atomics="cl_khr_int64_base_atomics" in extensions)


@functools.cache
def _context(device):
    return opencl().Context([device])


@dataclass(eq=False)
class _Build:
    """A built program, whether it came from ringc's binary cache, and whether a device
    of this process took it already (`OpenCLDevice.build_origin`)."""
    program: object
    from_cache: bool
    taken: bool = False


@functools.lru_cache(maxsize=32)
def _built(device, source_hash: str, source: str, options: tuple[str, ...]) -> _Build:
    """The built program: built once per process, and from the binary an earlier process
    stored where there is one (cache.build; PoCL also keeps its own kernel cache). What
    the compiler says about a build that succeeds is logged (`toolchain.logged_build`)."""
    cl = opencl()
    from_cache = []

    def build():
        program, cached = cache.build_with_origin(_context(device), device, source, options)
        from_cache.append(cached)
        return program

    try:
        return _Build(logged_build(build, device), from_cache[0])
    except cl.Error as exc:
        why = unusable_compiler(str(exc), device)
        if why:
            raise BackendUnavailable(why) from None
        raise RingcError(f"the OpenCL compiler rejected the generated program "
                         f"(a ringc bug; please report it): {exc}") from None


def _aligned(size: int) -> np.ndarray:
    raw = np.zeros(size + PAGE, dtype=np.uint8)
    start = -raw.ctypes.data % PAGE
    return raw[start:start + size]


class OpenCLDevice:
    """One program's memory and launches on one OpenCL device (see the module doc)."""

    def __init__(self, source: str, layout: Layout, image: np.ndarray, *,
                 device: str | int | None = None, memory: str = "auto",
                 groups: int | None = None, parallel: bool = False,
                 fast_math: bool = False):
        cl = self.cl = opencl()
        self.cl_device = find_device(device)
        require_linker(self.cl_device)
        self.context = _context(self.cl_device)
        is_cpu = bool(self.cl_device.type & cl.device_type.CPU)
        self.layout = layout
        # rc.now(): the time-stamp counter on PoCL's CPU device on x86-64 (ringc/runtime/
        # clock.py), else the host's heartbeat
        self.clock = "tsc" if is_cpu and tsc_reader() is not None and "Portable" in \
            self.cl_device.platform.name else "heartbeat"
        if self.clock == "tsc":
            clock_anchor()
        options = build_options(fast_math) + (("-DRC_TSC_CLOCK",) if self.clock == "tsc"
                                              else ())
        built = _built(self.cl_device, hashlib.sha256(source.encode()).hexdigest(),
                       source, options)
        with _claims_lock:
            # how the program was built, for the launch's log record: "cached" (ringc's
            # binary cache), "compiled" (from the source; PoCL may have found it in its own
            # kernel cache) or "reused" (built by an earlier launch of this process)
            self.build_origin = "reused" if built.taken else "cached" if built.from_cache \
                else "compiled"
            built.taken = True
        self.program = built.program
        self.kernel = cl.Kernel(self.program, "rc_main")
        self.queue = cl.CommandQueue(self.context)
        self.memory_kind = self._memory_kind(memory, is_cpu)
        if self.memory_kind == "svm":
            # 128 bytes: the largest alignment PoCL's clSVMAlloc grants, and more than any
            # struct in the arena needs
            self.memory = cl.fsvm_empty(self.context, layout.arena_size, np.uint8,
                                        alignment=128)
        else:
            self.memory = _aligned(layout.arena_size)
        self.memory[:] = image
        split = layout.local_offset
        self.arena = self.memory[:split]
        self._local = self.memory[split:]
        if self.memory_kind == "svm":
            self._args = (cl.SVM(self.arena), cl.SVM(self._local))
        else:
            flags = cl.mem_flags.READ_WRITE | cl.mem_flags.USE_HOST_PTR
            self._args = tuple(cl.Buffer(self.context, flags, hostbuf=part)
                               for part in (self.arena, self._local))
        if groups is not None and groups < 1:
            raise ValueError(f"groups must be at least 1, not {groups}")
        self._default_groups = groups is None
        self.groups = groups or default_groups(self.cl_device.max_compute_units, is_cpu,
                                               layout.num_queues)
        width = MAX_PARALLEL_WIDTH["cpu" if is_cpu else "gpu"]
        self.local_size = min(width, self.cl_device.max_work_group_size) if parallel else 1
        lanes = layout.group_size          # a cooperative kernel's work-group, at least
        if lanes > 1:
            most = self.kernel.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE,
                                                   self.cl_device)
            if lanes > most:
                raise BackendUnavailable(
                    f"a cooperative kernel of group_size={lanes} needs work-groups of {lanes} "
                    f"work-items, and {self.cl_device.name.strip()} runs this program's in "
                    f"work-groups of at most {most}")
            self.local_size = max(self.local_size, lanes)
        self._event = None
        self._mode: int | None = None          # the mode the kernel's arguments hold
        self._entered = self.arena[layout.control_offset + CONTROL.offset("running"):][
            :4].view(np.uint32)              # work-groups inside rc_main
        self._cache_recorded = False
        self._holds_workers = False
        self.is_cpu = is_cpu
        self.facts = facts_of(self.cl_device)
        self.description = self._describe()

    def _describe(self) -> str:
        return (f"{self.cl_device.name.strip()} ({self.cl_device.platform.name}), "
                f"{self.groups} work-group(s) x {self.local_size}, {self.memory_kind} memory")

    def _memory_kind(self, memory: str, is_cpu: bool) -> str:
        cl = self.cl
        try:
            fine = bool(self.cl_device.svm_capabilities
                        & cl.device_svm_capabilities.FINE_GRAIN_BUFFER)
        except (cl.Error, AttributeError):
            fine = False
        shared = is_cpu or bool(getattr(self.cl_device, "host_unified_memory", False))
        if memory not in ("auto", "svm", "host_ptr"):
            raise ValueError(f"memory must be 'auto', 'svm' or 'host_ptr', not {memory!r}")
        if memory == "svm" and not fine:
            raise BackendUnavailable(f"{self.cl_device.name.strip()} has no fine-grain SVM")
        if memory == "host_ptr" or (memory == "auto" and not fine):
            if not shared:
                raise BackendUnavailable(
                    f"{self.cl_device.name.strip()} has neither fine-grain SVM nor memory "
                    "shared with the host, so the host cannot reach a running kernel's queues")
            return "host_ptr"
        return "svm"

    def read_local(self, offset: int, size: int) -> np.ndarray:
        return self.memory[offset:offset + size]

    def write_local(self, offset: int, data: np.ndarray) -> None:
        self.memory[offset:offset + len(data)] = data

    def launch(self, mode: int) -> None:
        cl = self.cl
        if self.is_cpu:
            self._claim_workers()
        try:
            if mode != self._mode:                 # a relaunch with the same mode sets none
                self.kernel.set_args(*self._args, np.uint32(mode))
                self._mode = mode
            self._event = cl.enqueue_nd_range_kernel(
                self.queue, self.kernel, (self.groups * self.local_size,), (self.local_size,))
            self.queue.flush()
        except cl.Error as exc:
            self._release_workers()
            raise RingcError(f"{self.cl_device.name.strip()} refused the launch: {exc}") \
                from None

    def running(self) -> bool:
        if self._event is None:
            return False
        status = self._event.command_execution_status
        if status < 0:
            self._release_workers()
            raise RingcError(f"the OpenCL launch failed with status {status}")
        complete = status == self.cl.command_execution_status.COMPLETE
        if not self._cache_recorded and (complete or self._entered[0]):
            # what PoCL cached for this program has loaded: record it, off the caller's
            # thread (a large cache takes tens of ms to walk, and callers hold a lock); not
            # a daemon, so a process that ends at once still records (an unrecorded, later
            # damaged library would be loaded, and crash PoCL)
            threading.Thread(target=cache.record, name="ringc-cache-record").start()
            self._cache_recorded = True
        if complete:
            self._release_workers()
            return False
        return True

    def _claim_workers(self) -> None:
        """PoCL runs as many work-groups at once as the device has compute units (worker
        threads); a launch beyond that would wait in the queue until another program
        ends. Refuse it instead, saying why."""
        key = self.cl_device.int_ptr
        with _workers_lock:
            taken = _workers_taken.get(key, 0)
            units = self.cl_device.max_compute_units
            if self._default_groups and taken < units:       # the default takes what is free
                self.groups = min(self.groups, units - taken)
                self._default_groups = False
                self.description = self._describe()
            if taken + self.groups > units:
                raise BackendUnavailable(
                    f"{self.cl_device.name.strip()} runs {units} work-group(s) at once and "
                    f"running programs hold {taken}: shut one down before launching another "
                    f"(this one needs {self.groups})")
            _workers_taken[key] = taken + self.groups
            self._holds_workers = True

    def _release_workers(self) -> None:
        if self._holds_workers:
            with _workers_lock:
                _workers_taken[self.cl_device.int_ptr] -= self.groups
            self._holds_workers = False

    def release(self) -> None:
        """Nothing to free early: the memory stays readable for status and checkpoint
        after shutdown, and goes with this object."""
