"""Build emitted source with the real toolchains found on this machine.

Each target has a `toolchain` module whose `check(source, ...)` builds one program and
returns a `CheckResult`; `check_all` runs every target present in a dict of sources.
Two outcomes are kept apart on purpose:

- the tool is absent (no pyopencl, no OpenCL platform, no NVRTC or nvcc, no C++ compiler):
  `check` raises `ToolchainUnavailable` with a one-sentence reason, and `check_all`
  reports it as a skipped result (`ok is None`, the reason in `log`);
- the tool is present and rejects the source: `check` returns `ok=False` with the
  compiler's own diagnostics in `log`, never a Python traceback.

What "ok" proves differs by target: OpenCL is a full build by the OpenCL implementation
(PoCL here), CUDA a full compile to cubin for one architecture (nothing is loaded or run),
and Metal only a C++ syntax and type check against a declared shim (see
`ringc.backends.metal.toolchain`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ringc.errors import BackendUnavailable, RingcError

#: The CUDA architectures `check_all` compiles for: Ampere (A100) and Hopper (H100).
CUDA_ARCHS: tuple[str, ...] = ("sm_80", "sm_90")


class ToolchainUnavailable(BackendUnavailable):
    """The compiler a target needs is not on this machine; the message says why."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of building one program with one tool.

    `ok` is True (built), False (the compiler rejected it; `log` holds its diagnostics) or
    None (skipped because the tool is unavailable; `log` holds the reason). `tool` names
    the tool, its version and what was checked, e.g. ``"nvrtc 13.5 sm_90"``; `seconds` is
    the wall time of the build (0.0 when skipped). `log` may hold warnings when `ok`."""
    target: str
    tool: str
    ok: bool | None
    log: str
    seconds: float

    @property
    def skipped(self) -> bool:
        return self.ok is None


class BuildFailed(RingcError):
    """A build that had to succeed (e.g. for the loader) did not; `result` holds the log."""

    def __init__(self, result: CheckResult):
        self.result = result
        super().__init__(f"{result.tool} failed to build the {result.target} program:\n"
                         f"{result.log.strip()}")


def cache_dir(target: str) -> Path:
    """Where built binaries for `target` are cached (not created here).

    ``$RINGC_CACHE_DIR/<target>`` when that variable is set, else
    ``$XDG_CACHE_HOME/ringc/<target>``, else ``~/.cache/ringc/<target>``."""
    root = os.environ.get("RINGC_CACHE_DIR")
    if root:
        return Path(root) / target
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ringc" / target


def check_all(sources: Mapping[str, str], *,
              cuda_archs: tuple[str, ...] = CUDA_ARCHS) -> list[CheckResult]:
    """Build each target's source with the tools present here, one result per build.

    `sources` maps a target ('opencl', 'cuda', 'metal') to its emitted source. CUDA is
    compiled once per architecture in `cuda_archs` by each of NVRTC and nvcc present (they
    differ: nvcc pre-includes host headers that NVRTC does not).
    A target whose tool is missing yields a skipped result with the reason; an unknown
    target raises ValueError."""
    from .cuda import toolchain as cuda
    from .metal import toolchain as metal
    from .opencl import toolchain as opencl

    unknown = sorted(set(sources) - {"opencl", "cuda", "metal"})
    if unknown:
        raise ValueError(f"no toolchain for target(s) {', '.join(unknown)}; "
                         "targets are opencl, cuda, metal")
    builds: list[tuple[str, str, Callable[[], CheckResult]]] = []
    for target, source in sources.items():
        if target == "opencl":
            builds.append((target, "OpenCL", partial(opencl.check, source)))
        elif target == "cuda":
            tools = [t for t, reason in cuda.available_tools().items() if reason is None]
            builds += [(target, f"CUDA {arch}", partial(cuda.check, source, arch=arch,
                                                        tool=tool))
                       for tool in tools or ["auto"] for arch in cuda_archs]
        else:
            builds.append((target, "Metal shim check", partial(metal.check, source)))
    return [_or_skipped(*build) for build in builds]


def _or_skipped(target: str, tool: str, build: Callable[[], CheckResult]) -> CheckResult:
    try:
        return build()
    except ToolchainUnavailable as exc:
        return CheckResult(target, tool, None, str(exc), 0.0)
