"""Run an emitted CUDA or Metal program on this CPU: the executing shims (docs/shims.md).

Build: the target's emitted source, compiled as C++17 by g++ (clang++ where g++ is absent)
after the target's `exec_shim.h` (its builtins, with bodies) and `backends/shim/
exec_runtime.h` (groups as host threads, lanes as fibers), into a shared library, cached
on disk by a hash of the source, the flags, the headers and the compiler's version. Each
build logs one debug record (logger "ringc.shim"): from the cache, or compiled and how long
it took.

Run: the whole layout in one page-aligned numpy buffer ([0, local_offset) is `arena`, the
rest the device-local part, as OpenCL's host_ptr path keeps it); a launch is a Python
thread that calls the library's blocking `rcx_launch` through ctypes (which lets go of
Python's lock), so `running()` is whether that thread is alive. `groups` host threads run
in parallel (by default one fewer than the CPUs, no more than the program's queues; more
than the cores is allowed: host threads are preemptive); lanes per group: 1, or 32 (a warp,
a SIMD-group) where a kernel is `concurrency="parallel"`, or a cooperative kernel's
`group_size` where that is more.

Limits: this is the CPU, not a GPU. x86-64's memory order is stronger than a GPU's (a
missing fence can pass here), there is no PCIe or host-mapped memory, lanes run one at a
time between barriers, Metal's address spaces are defined away, and a program that
crashes (an out-of-bounds write the emitted code does not check) takes the process with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ringc.arena import Layout
from ringc.errors import BackendUnavailable, RingcError, ShimBuildError
from ringc.protocol import CONTROL

from ..devices import DeviceFacts, choose_device, default_groups
from ..record import LoadRequest
from ..toolchain import ToolchainUnavailable, cache_dir, caching, read_entry, write_entry

__all__ = ["ShimDevice", "ShimBuildError", "ShimMissingBuiltin", "load", "build",
           "build_with_origin", "compiler", "facts_of", "FLAGS", "PARALLEL_WIDTH"]

PAGE = 4096
PARALLEL_WIDTH = 32                  # lanes per group of a program with a parallel kernel
MAX_LANES = 1024                     # lanes (fibers) of one group; cooperative group_size
_TEMPORARY: set[Path] = set()       # libraries built outside the cache, removed once loaded
OPT_LEVEL = "-O1"                    # docs/shims.md, "Compile time"
FLAGS: tuple[str, ...] = (
    "-std=c++17", OPT_LEVEL, "-fPIC", "-shared", "-pthread", "-ffp-contract=off",
    "-fno-strict-aliasing", "-fvisibility=hidden", "-Wno-attributes", "-Wno-unknown-pragmas",
    "-DRINGC_EXEC_SHIM", "-x", "c++")
EXTENSION = {"cuda": ".cu", "metal": ".metal"}
CLOCK = {"cuda": "globaltimer", "metal": "heartbeat"}   # ringc/runtime/clock.py
_STATUS = {1: "a host thread for a group could not be started",
           2: "a lane's stack could not be mapped",
           3: "lanes of one group left rc_main at different barriers"}
_SHIM = Path(__file__).resolve().parent
log = logging.getLogger("ringc.shim")


class ShimMissingBuiltin(ShimBuildError):
    """The emitted program uses a builtin the target's executing shim does not define
    (`builtin` names it, `line` the emitted line using it): a gap of the shim."""

    def __init__(self, message: str, builtin: str, line: int):
        self.builtin = builtin
        self.line = line
        super().__init__(message)


@functools.lru_cache(maxsize=1)
def compiler() -> tuple[str, str]:
    """(path, version) of g++, else clang++; ToolchainUnavailable when neither is here."""
    for name in ("g++", "clang++"):
        path = shutil.which(name)
        if path is None:
            continue
        try:
            version = subprocess.run([path, "--version"], capture_output=True, text=True,
                                     check=True).stdout.splitlines()[0].strip()
        except (OSError, subprocess.CalledProcessError, IndexError):
            continue
        return path, version
    raise ToolchainUnavailable("no C++ compiler (g++ or clang++) on PATH to build the "
                               "executing shims")


def headers(target: str) -> tuple[Path, Path]:
    """(the target's exec_shim.h, the common exec_runtime.h)."""
    return _SHIM.parent / target / "exec_shim.h", _SHIM / "exec_runtime.h"


def build(source: str, target: str) -> Path:
    """The shared library of `source` (emitted for `target`, "cuda" or "metal"): from the
    cache, or compiled (a few tenths of a second per program) and stored there atomically.
    With `$RINGC_CACHE` off, or a cache that cannot be written, it is a temporary file
    instead, which `load` deletes once loaded (another caller keeps it).
    `$RINGC_SHIM_FLAGS` adds compiler flags (e.g. `-fsanitize=undefined`; part of the key).
    ShimMissingBuiltin or ShimBuildError when the compiler rejects it;
    ToolchainUnavailable when there is no compiler."""
    return build_with_origin(source, target)[0]


def build_with_origin(source: str, target: str) -> tuple[Path, bool]:
    """`build`, and whether the library came from the cache (True) or was compiled now
    (False)."""
    path, version = compiler()
    shim, common = headers(target)
    flags = FLAGS + tuple(os.environ.get("RINGC_SHIM_FLAGS", "").split())
    digest = hashlib.sha256()
    for part in (source.encode(), "\0".join(flags).encode(), shim.read_bytes(),
                 common.read_bytes(), f"{path}\0{version}".encode()):
        digest.update(hashlib.sha256(part).digest())
    key = digest.hexdigest()[:40]
    folder = cache_dir(f"{target}-shim")
    library, check = folder / f"{key}.so", folder / f"{key}.sha256"
    use_cache = caching()
    if use_cache and _intact(library, check):
        log.debug("read the %s shim's library from the cache (%s)", target, library)
        return library, True
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ringc-shim-") as work:
        program = Path(work) / f"program{EXTENSION[target]}"
        program.write_text(source)
        out = Path(work) / "program.so"
        run = subprocess.run([path, *flags, "-include", str(shim), program.name, "-o",
                              str(out), "-lm"], cwd=work, capture_output=True, text=True,
                             env={**os.environ, "LC_ALL": "C"})
        if run.returncode != 0:
            raise _rejected(target, source, program.name, run.stdout + run.stderr, path)
        said = (run.stdout + run.stderr).strip()
        log.debug("compiled the %s shim's library with %s in %.3f s%s", target, path,
                  time.perf_counter() - start,
                  f"; the compiler said:\n{said[:2000]}" if said else "")
        data = out.read_bytes()
    if use_cache and _store(library, check, data):
        return library, False
    fd, tmp = tempfile.mkstemp(prefix="ringc-shim-", suffix=".so")  # `load` removes it
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    _TEMPORARY.add(Path(tmp))
    return Path(tmp), False


def _store(library: Path, check: Path, data: bytes) -> bool:
    """Put a built library in the cache atomically, its SHA-256 beside it; False where the
    cache cannot be written."""
    try:
        library.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=library.parent, suffix=".so.tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, library)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    write_entry(check, hashlib.sha256(data).hexdigest().encode())
    return True


def _intact(library: Path, check: Path) -> bool:
    """Is the cached library there and what was stored (its SHA-256 entry agrees)?"""
    digest = read_entry(check)
    try:
        return digest is not None and hashlib.sha256(library.read_bytes()).hexdigest() == \
            digest.decode()
    except OSError:
        return False


_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: "
                    r"(?P<message>.*)$", re.MULTILINE)
_Q = _P = "['\u2018\u2019]"       # g++'s quotes: ASCII under LC_ALL=C, else typographic
_UNDECLARED = (re.compile(rf"{_Q}(?P<name>[\w:]+){_P} was not declared in this scope"),
               re.compile(rf"use of undeclared identifier {_Q}(?P<name>[\w:]+){_P}"),
               re.compile(rf"{_Q}(?P<name>\w+){_P} is not a member of {_Q}(?P<scope>[\w:]+){_P}"),
               re.compile(rf"no member named {_Q}(?P<name>\w+){_P} in namespace "
                          rf"{_Q}(?P<scope>[\w:]+){_P}"))


def _rejected(target: str, source: str, name: str, log: str, tool: str) -> ShimBuildError:
    """The error for a compiler's rejection: the missing builtin named where the shim
    lacks one, else the first error and the emitted line it points at."""
    tool = Path(tool).name
    first = _ERROR.search(log)
    if first is None:
        return ShimBuildError(f"{target}-shim: {tool} rejected the emitted program:\n"
                               f"{log.strip()}")
    where, message = first["file"], first["message"].strip()
    line = int(first["line"])
    if Path(where).name != name:      # an error inside a shim header: the shim's own bug
        return ShimBuildError(f"{target}-shim: {tool} rejected the shim header at "
                               f"{Path(where).name}:{line}: {message}")
    for pattern in _UNDECLARED:
        found = pattern.search(message)
        if found:
            builtin = found["name"]
            if "scope" in found.groupdict() and found["scope"]:
                builtin = f"{found['scope']}::{builtin}"
            return ShimMissingBuiltin(f"the {target} executing shim has no `{builtin}` "
                                      f"(used at {name}:{line})", builtin, line)
    lines = source.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    return ShimBuildError(f"{target}-shim: {tool} rejected the emitted program at "
                           f"{name}:{line}: {text}\n{message}")


def _aligned(size: int) -> np.ndarray:
    raw = np.zeros(size + PAGE, dtype=np.uint8)
    start = -raw.ctypes.data % PAGE
    return raw[start:start + size]


def load(request: LoadRequest, target: str) -> ShimDevice:
    """A runner's loader (`Target.load`, bound to its source target by target.py)."""
    _this_cpu(request.device, target)
    try:
        library, cached = build_with_origin(request.source, target)
    except ToolchainUnavailable as exc:
        raise BackendUnavailable(f"{target}-shim cannot run here: {exc}") from None
    try:
        device = ShimDevice(library, target, request.layout, request.image,
                            groups=request.settings["groups"], parallel=request.parallel)
    finally:
        if library in _TEMPORARY:       # loaded (or refused): the file is not needed again
            _TEMPORARY.discard(library)
            with contextlib.suppress(OSError):
                library.unlink()
    device.build_origin = "cached" if cached else "compiled"
    return device


def facts_of(target: str) -> DeviceFacts:
    """What the shim of `target` offers: the cores as compute units and the target's own
    capabilities (Metal: no f64, no 64-bit atomics), not the host's."""
    metal = target == "metal"
    return DeviceFacts(name=f"this CPU under the {target} executing shim",
                       backend=f"{target}-shim", compute_units=os.cpu_count() or 1,
                       max_group_size=MAX_LANES, fp64=not metal, int64_atomics=not metal)


def _this_cpu(device: str | int | None, target: str) -> None:
    """A shim's one device is this CPU: `device` may be None, 0 or part of "cpu"."""
    choose_device(["this CPU"], device, str, str, f"{target}-shim device", "devices")


def cuda_facts(device: str | int | None, settings) -> DeviceFacts:
    """`cuda-shim`'s `facts`."""
    _this_cpu(device, "cuda")
    return facts_of("cuda")


def metal_facts(device: str | int | None, settings) -> DeviceFacts:
    """`metal-shim`'s `facts`."""
    _this_cpu(device, "metal")
    return facts_of("metal")


def load_cuda(request: LoadRequest) -> ShimDevice:
    """`cuda-shim`'s loader: the emitted CUDA C++ on this CPU."""
    return load(request, "cuda")


def load_metal(request: LoadRequest) -> ShimDevice:
    """`metal-shim`'s loader: the emitted Metal Shading Language on this CPU."""
    return load(request, "metal")


class ShimDevice:
    """One program's memory and launches on this CPU under an executing shim (the
    runtime's `Device`; see the module doc). Not a GPU: see its limits there.
    `build_origin`: how `load` got the library ("cached" or "compiled"; None when built
    elsewhere)."""

    build_origin: str | None = None

    def __init__(self, library: Path, target: str, layout: Layout, image: np.ndarray, *,
                 groups: int | None = None, parallel: bool = False):
        if groups is not None and (isinstance(groups, bool) or not isinstance(
                groups, (int, np.integer)) or groups < 1):
            raise ValueError(f"groups must be an int of at least 1, not {groups!r}")
        self.target = target
        self.layout = layout
        self.library = library
        self._lib = ctypes.CDLL(str(library))
        self._entry = self._lib.rcx_launch
        self._entry.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_uint, ctypes.c_uint, ctypes.c_uint]
        self._entry.restype = ctypes.c_int
        self.memory = _aligned(layout.arena_size)
        self.memory[:] = image
        split = layout.local_offset
        self.arena = self.memory[:split]
        self._base = self.memory.ctypes.data
        self._stop = self._base + layout.control_offset + CONTROL.offset("stop")
        ticks = layout.control_offset + CONTROL.offset("clock_ticks")
        self._ticks = self.memory[ticks:ticks + 8].view(np.uint64)
        anchor = layout.control_offset + CONTROL.offset("clock_ns")
        self._clock_ns = self.memory[anchor:anchor + 8].view(np.int64)
        # the runtime's rt.now() (ns since the launch), set by the Runtime
        self.now: Callable[[], int] | None = None
        self.groups = int(groups) if groups else default_groups(os.cpu_count() or 1, True,
                                                                 layout.num_queues)
        self.lanes = max(PARALLEL_WIDTH if parallel else 1, layout.group_size)
        if self.lanes > MAX_LANES:
            raise BackendUnavailable(f"a cooperative kernel's group_size={layout.group_size} "
                                     f"needs {self.lanes} lanes, more than the {MAX_LANES} "
                                     f"fibers a group of the {target} shim runs")
        self.clock = CLOCK[target]
        self.facts = facts_of(target)
        self._thread: threading.Thread | None = None
        self._status = 0
        self.launches = 0
        self.description = (f"this CPU, not a GPU: the emitted {target} program under the "
                            f"executing shim, {self.groups} group(s) x {self.lanes} lane(s) "
                            f"as host threads and fibers")

    def read_local(self, offset: int, size: int) -> np.ndarray:
        if offset < self.layout.local_offset or offset + size > self.layout.arena_size:
            raise ValueError(f"bytes [{offset}, {offset + size}) are not in the device-local "
                             f"part [{self.layout.local_offset}, {self.layout.arena_size})")
        return self.memory[offset:offset + size]

    def write_local(self, offset: int, data: np.ndarray) -> None:
        self.read_local(offset, len(data))[:] = data

    def launch(self, mode: int) -> None:
        """Start rc_main on `groups` host threads; returns at once."""
        if self.running():
            raise RingcError("a launch of this program is still running")
        self._status = 0
        if self.clock == "globaltimer":
            # the shim's %globaltimer is CLOCK_MONOTONIC, which the host reads too: the
            # anchor the runtime leaves at 0 is the monotonic time of the runtime's clock_ns
            # (`now`, the runtime's clock, set by the Runtime), so rc.now() reads rt.now()
            # itself, not a clock behind it by the time since clock_ns was written
            behind = 0 if self.now is None else self.now() - int(self._clock_ns[0])
            self._ticks[0] = time.monotonic_ns() - behind
        args = (self._base, self._base + self.layout.local_offset, self._stop, mode,
                self.groups, self.lanes)
        self._thread = threading.Thread(target=self._run, args=args, daemon=True,
                                        name=f"ringc-{self.target}-shim")
        self._thread.start()
        self.launches += 1

    def _run(self, *args) -> None:
        self._status = self._entry(*args)

    def running(self) -> bool:
        thread = self._thread
        if thread is None:
            return False
        if thread.is_alive():
            return True
        self._thread = None
        if self._status:
            raise RingcError(f"the {self.target}-shim launch failed: "
                             f"{_STATUS.get(self._status, f'status {self._status}')}")
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` s for the launch to end (for tests); True once it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not (thread is not None and thread.is_alive())

    def release(self) -> None:
        """Nothing to free early: memory stays readable after shutdown and goes with this
        object; the library stays loaded (ctypes never unloads it)."""
