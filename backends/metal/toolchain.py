"""Syntax- and type-check emitted Metal Shading Language with a C++17 compiler and a shim.

This is NOT a Metal compile: nothing on Linux compiles MSL. The source is parsed as
C++17 by ``g++ -fsyntax-only`` (``clang++`` when g++ is absent) after the shim header
``metal_shim.h`` (package data of ``ringc.backends.metal``), which declares the parts of
MSL that ringc emits: address spaces (defined away), attributes (ignored), atomics,
barriers, fences and math. A pass means the program is well-formed C++ against those
declarations: names, types, overloads and calls agree. It cannot catch address-space
mismatches, MSL-only restrictions, or anything in Apple's compiler; only a Mac can.

The command: ``g++ -std=c++17 -fsyntax-only -Wno-unknown-pragmas -Wno-unused
-Wno-attributes -x c++ -include metal_shim.h -`` with the source on stdin.
``-Wno-attributes`` because g++ warns about every Metal attribute (``[[buffer(0)]]``)
it does not know; ``-Wno-unused`` because emitted code may leave helpers unused.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from ..toolchain import CheckResult, ToolchainUnavailable

FLAGS: tuple[str, ...] = ("-std=c++17", "-fsyntax-only", "-Wno-unknown-pragmas",
                          "-Wno-unused", "-Wno-attributes", "-x", "c++")


def shim_path() -> Path:
    """The shim header's path; raises ToolchainUnavailable when it is not installed."""
    shim = resources.files("ringc.backends.metal") / "metal_shim.h"
    if not shim.is_file():
        raise ToolchainUnavailable(
            "the Metal shim header metal_shim.h is missing from ringc.backends.metal")
    return Path(str(shim))


def builds(source: str) -> list[tuple[str, Callable[[], CheckResult]]]:
    """`ringc check`'s check of `source`: g++ (or clang++) over the shim."""
    return [("Metal shim check", functools.partial(check, source))]


def available() -> str | None:
    """None when the Metal syntax check can run here, else a one-sentence reason why not."""
    try:
        _compiler()
        shim_path()
    except ToolchainUnavailable as exc:
        return str(exc)
    return None


def check(source: str) -> CheckResult:
    """Syntax- and type-check `source` as C++17 against the Metal shim (not a Metal build).

    Returns ok=False with the compiler's diagnostics (lines read ``<stdin>:LINE:COL``,
    counted in `source`) when it is rejected; raises ToolchainUnavailable when there is
    no C++ compiler or no shim."""
    compiler, version = _compiler()
    shim = shim_path()
    start = time.perf_counter()
    run = subprocess.run([compiler, *FLAGS, "-include", str(shim), "-"], input=source,
                         capture_output=True, text=True)
    seconds = time.perf_counter() - start
    log = (run.stdout + run.stderr).strip()
    if run.returncode != 0 and not log:
        log = f"{compiler} exited with status {run.returncode}"
    tool = f"{Path(compiler).name} {version} -fsyntax-only + metal shim"
    return CheckResult("metal", tool, run.returncode == 0, log, seconds)


@functools.lru_cache(maxsize=1)
def _compiler() -> tuple[str, str]:
    """(path, version) of g++ or clang++; raises ToolchainUnavailable when neither exists."""
    for name in ("g++", "clang++"):
        path = shutil.which(name)
        if path is not None:
            try:
                version = subprocess.run([path, "-dumpversion"], capture_output=True,
                                         text=True, check=True).stdout.strip()
            except (OSError, subprocess.CalledProcessError):
                continue
            return path, version
    raise ToolchainUnavailable(
        "no C++ compiler (g++ or clang++) on PATH for the Metal syntax check")
