"""Build emitted OpenCL C with the OpenCL implementation found here (PoCL on a CPU-only box).

The build is a real one (`clBuildProgram` through pyopencl) on the first device of the
preferred platform: PoCL when installed, otherwise the first platform with a device. A
successful check says the program builds for *that* device; another vendor's compiler
may still reject it. Nothing is launched.

Build options (`build_options`): ``-cl-std=CL1.2``, because the emitted code uses only
OpenCL C 1.2 (``atomic_*`` on ``volatile __global`` pointers, ``atom_*`` for 64-bit with
the ``cl_khr_int64_*`` pragmas, ``mem_fence``) and every OpenCL 1.2, 2.x and 3.0
implementation accepts CL1.2, while CL3.0 is refused by 1.2-only ones (Apple, older
drivers). ``-cl-fp32-correctly-rounded-divide-sqrt`` makes float division and sqrt match
numpy. ``-cl-fast-relaxed-math`` replaces it only when `fast_math` is asked for.
Contraction of ``a*b + c`` into fma is switched off by the source itself
(``#pragma OPENCL FP_CONTRACT OFF``), not by an option.

What the compiler says about a build that succeeds (pyopencl raises it as a
`CompilerWarning`) never reaches the warnings filter: `logged_build` logs it on
"ringc.opencl" (docs/logging.md).
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ..toolchain import CheckResult, ToolchainUnavailable
from . import cache

#: The options every ringc OpenCL program is built with (the loader uses the same).
BUILD_OPTIONS: tuple[str, ...] = ("-cl-std=CL1.2", "-cl-fp32-correctly-rounded-divide-sqrt")
#: The options with `fast_math`: relaxed IEEE semantics, never used unless asked for.
FAST_MATH_OPTIONS: tuple[str, ...] = ("-cl-std=CL1.2", "-cl-fast-relaxed-math")

if TYPE_CHECKING:
    import pyopencl

_POCL = "Portable Computing Language"
# PoCL names the source it builds after a temporary file in its cache; say `program.cl`.
_POCL_TEMPFILE = re.compile(r"\S*/tempfile_\w+\.cl\b")

log = logging.getLogger("ringc.opencl")
#: The most characters of a compiler's log one record holds (the rest is counted).
LOG_LIMIT = 2000
_Built = TypeVar("_Built")


def build_options(fast_math: bool = False) -> tuple[str, ...]:
    """The OpenCL build options for a program (see the module docstring for why)."""
    return FAST_MATH_OPTIONS if fast_math else BUILD_OPTIONS


def builds(source: str) -> list[tuple[str, Callable[[], CheckResult]]]:
    """`ringc check`'s build of `source`: PoCL (or the first OpenCL device) through pyopencl."""
    return [("OpenCL", functools.partial(check, source))]


def available() -> str | None:
    """None when OpenCL programs can be built here, else a one-sentence reason why not."""
    try:
        _context()
    except ToolchainUnavailable as exc:
        return str(exc)
    return None


def check(source: str, *, fast_math: bool = False) -> CheckResult:
    """Build `source` on the preferred OpenCL device with `build_options(fast_math)`.

    Returns ok=True with the build log (often empty), or ok=False with the compiler's
    diagnostics. Raises ToolchainUnavailable when there is no usable OpenCL device."""
    context, tool = _context()
    import pyopencl as cl

    device = context.devices[0]
    program = cl.Program(context, source)
    start = time.perf_counter()
    ok, failure = True, ""
    try:                                 # the log is returned: logged at debug only
        logged_build(lambda: program.build(options=list(build_options(fast_math)),
                                           devices=[device], cache_dir=False),
                     device, level=logging.DEBUG)
    except cl.Error as exc:
        ok = False
        failure = str(exc)
    seconds = time.perf_counter() - start
    try:
        log = program.get_build_info(device, cl.program_build_info.LOG)
    except cl.Error:
        log = ""
    if not ok and not log.strip():
        log = failure
    why = unusable_compiler(log, device) if not ok else None
    if why:
        raise ToolchainUnavailable(why)
    return CheckResult("opencl", tool, ok, _POCL_TEMPFILE.sub("program.cl", log), seconds)


def logged_build(build: Callable[[], _Built], device, *,
                 level: int = logging.WARNING) -> _Built:
    """Run `build` (a pyopencl build for `device` returning the program) with pyopencl's
    `CompilerWarning`s caught: they never reach the warnings filter. When the build
    succeeds and the compiler said something, its build log for `device` (where that
    cannot be read, the warnings' text) is logged once, at `level`, on "ringc.opencl",
    trimmed to `LOG_LIMIT` characters. Other warnings raised during the build are
    issued again as they came. A failed build logs nothing: pyopencl's exception holds
    its log. Limits: like `warnings.catch_warnings`, not thread-safe (a warning another
    thread raises meanwhile is caught here, and issued again)."""
    cl = opencl()
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", cl.CompilerWarning)
            program = build()
    finally:
        for w in caught:
            if not issubclass(w.category, cl.CompilerWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                                       source=w.source)
    said = [str(w.message) for w in caught if issubclass(w.category, cl.CompilerWarning)]
    if said:
        try:
            text = program.get_build_info(device, cl.program_build_info.LOG).strip()
        except (cl.Error, AttributeError):
            text = ""
        text = _POCL_TEMPFILE.sub("program.cl", text or "\n".join(said))
        more = len(text) - LOG_LIMIT
        log.log(level, "the OpenCL compiler's log of a build for %s that succeeded:\n%s%s",
                device.name.strip(), text[:LOG_LIMIT],
                f"\n... ({more} more characters)" if more > 0 else "")
    return program


def unusable_compiler(log: str, device) -> str | None:
    """Why a failed build says nothing about the program, from its log: the OpenCL
    compiler cannot build anything for this device (e.g. PoCL's LLVM does not know the
    CPU: "unknown target CPU 'generic'"). None when the log blames the program."""
    if "unknown target CPU" in log:
        return (f"{implementation(device.platform)} cannot compile for this processor: its "
                "LLVM does not know the CPU (\"unknown target CPU\"); a newer PoCL does "
                "(e.g. Debian's pocl-opencl-icd, or a newer pyopencl wheel)")
    return None


def opencl():
    """The pyopencl module; ToolchainUnavailable when it is not installed."""
    cache.configure()        # before pyopencl and PoCL start: they read their cache settings
    try:
        import pyopencl as cl
    except ImportError:
        raise ToolchainUnavailable(
            "pyopencl is not installed (pip install 'ringc[opencl]')") from None
    return cl


def devices() -> list:
    """Every OpenCL device here, PoCL's first; ToolchainUnavailable when there is none."""
    cl = opencl()
    try:
        platforms = cl.get_platforms()
    except cl.Error:
        platforms = []
    found = []
    for platform in sorted(platforms, key=lambda p: p.name != _POCL):
        try:
            found.extend(platform.get_devices())
        except cl.Error:             # a platform with no device raises DEVICE_NOT_FOUND
            continue
    if not found:
        why = "no OpenCL platform" if not platforms else "no OpenCL device"
        raise ToolchainUnavailable(
            f"{why} found (pip install pocl-binary-distribution, or install a vendor ICD)")
    return found


def is_pocl_cpu(device) -> bool:
    """Is `device` PoCL's CPU device (whose worker threads run the work-groups)?"""
    return device.platform.name == _POCL and bool(device.type & opencl().device_type.CPU)


def require_linker(device) -> None:
    """PoCL's CPU device links with `ld`: ToolchainUnavailable when it is missing."""
    if is_pocl_cpu(device) and not shutil.which("ld"):
        raise ToolchainUnavailable(
            "PoCL's CPU device needs the linker `ld` (binutils) on PATH to build programs")


@functools.lru_cache(maxsize=1)
def _context():
    """The (context, tool description) checks build in; raises ToolchainUnavailable."""
    device = devices()[0]
    require_linker(device)
    tool = f"{implementation(device.platform)} ({device.name.strip()}) via pyopencl"
    return opencl().Context([device]), tool


def implementation(platform: pyopencl.Platform) -> str:
    """The OpenCL implementation of a pyopencl platform, e.g. 'PoCL 3.0-rc2' from its
    version 'OpenCL 3.0 PoCL 3.0-rc2  Linux, Release, ...'."""
    words = platform.version.split(",")[0].split()
    return " ".join(words[2:4]) or platform.name.strip()
