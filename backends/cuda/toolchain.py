"""Compile emitted CUDA C to a cubin with NVRTC (in-process) or nvcc; no GPU needed.

A check is a full compile to machine code (cubin) for one architecture, e.g. ``sm_80`` or
``sm_90``; nothing is loaded or run, so it says nothing about a driver's version or a
launch. The emitted source is header-free: NVRTC gets no headers and no include path.
nvcc, however, always pre-includes ``cuda_runtime.h`` (and with it the host's system
headers), so a source may build with NVRTC and clash with a host typedef under nvcc.

Options (`options`): ``-arch=sm_XX --std=c++17`` and IEEE float semantics:
``--fmad=false`` (no contraction of ``a*b + c`` into fma, matching numpy and the OpenCL
target's ``FP_CONTRACT OFF``), ``--ftz=false --prec-div=true --prec-sqrt=true`` (the
defaults, spelled out). With `fast_math` they become ``--use_fast_math`` (fma, flush to
zero, approximate division and sqrt). NVRTC and nvcc accept the same spellings.

`compile_cubin` is what the loader uses: it caches cubins on disk (see
`ringc.backends.toolchain.cache_dir`) keyed by the source, architecture, options and the
compiler's exact version. Each cubin it returns logs one debug record (logger
"ringc.cuda"): from the cache, or compiled (tool, architecture, seconds).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..toolchain import BuildFailed, CheckResult, ToolchainUnavailable, cache_dir, caching

TOOLS: tuple[str, ...] = ("nvrtc", "nvcc")
#: The architectures `ringc check` compiles for: Ampere (A100) and Hopper (H100).
CHECK_ARCHS: tuple[str, ...] = ("sm_80", "sm_90")
_STRICT_MATH = ("--fmad=false", "--ftz=false", "--prec-div=true", "--prec-sqrt=true")
_ARCH = re.compile(r"(sm|compute)_\d+[af]?")
_DEFAULT_CUDA_HOME = "/usr/local/cuda"
log = logging.getLogger("ringc.cuda")


def options(arch: str, fast_math: bool = False) -> tuple[str, ...]:
    """The compiler options for `arch` (see the module docstring for why these)."""
    if not _ARCH.fullmatch(arch):
        raise ValueError(f"CUDA architecture must look like 'sm_90', not {arch!r}")
    math = ("--use_fast_math",) if fast_math else _STRICT_MATH
    return (f"-arch={arch}", "--std=c++17", *math)


def builds(source: str) -> list[tuple[str, Callable[[], CheckResult]]]:
    """`ringc check`'s builds of `source`: one per architecture in CHECK_ARCHS by each
    compiler present (they differ: nvcc pre-includes host headers that NVRTC does not)."""
    tools = [t for t, reason in available_tools().items() if reason is None]
    return [(f"CUDA {arch}", functools.partial(check, source, arch=arch, tool=tool))
            for tool in tools or ["auto"] for arch in CHECK_ARCHS]


def available_tools() -> dict[str, str | None]:
    """Each CUDA compiler ('nvrtc', 'nvcc') mapped to None if usable, else why not."""
    found: dict[str, str | None] = {}
    for tool, probe in (("nvrtc", _nvrtc_version), ("nvcc", _nvcc)):
        try:
            probe()
            found[tool] = None
        except ToolchainUnavailable as exc:
            found[tool] = str(exc)
    return found


def tool_versions() -> dict[str, str]:
    """The version of each usable CUDA compiler, e.g. {'nvrtc': '13.5', 'nvcc': '13.0'}."""
    versions: dict[str, str] = {}
    with contextlib.suppress(ToolchainUnavailable):
        versions["nvrtc"] = _nvrtc_version_text()
    with contextlib.suppress(ToolchainUnavailable):
        versions["nvcc"] = _nvcc()[1]
    return versions


def check(source: str, *, arch: str, fast_math: bool = False,
          tool: str = "auto") -> CheckResult:
    """Compile `source` to a cubin for `arch` ('sm_80', 'sm_90', ...).

    `tool` is 'nvrtc', 'nvcc' or 'auto' (NVRTC when usable, else nvcc). Returns ok=False
    with the compiler's diagnostics when the source does not compile; raises
    ToolchainUnavailable when the tool asked for is absent."""
    return _compile(source, arch, fast_math, _resolve(tool))[0]


def compile_cubin(source: str, arch: str, *, fast_math: bool = False,
                  tool: str = "auto") -> bytes:
    """The cubin of `source` for `arch`, from the disk cache or freshly compiled.

    Raises BuildFailed (with the compiler's log) when the source does not compile and
    ToolchainUnavailable when no CUDA compiler is here. A cache entry is the cubin's
    SHA-256 followed by the cubin: one that does not match (truncated, overwritten) is
    deleted and rebuilt. A cache that cannot be written (read-only home) only costs the
    cache."""
    return compile_cubin_with_origin(source, arch, fast_math=fast_math, tool=tool)[0]


def compile_cubin_with_origin(source: str, arch: str, *, fast_math: bool = False,
                              tool: str = "auto") -> tuple[bytes, bool]:
    """`compile_cubin`, and whether the cubin came from the disk cache (True) or was
    compiled now (False)."""
    tool = _resolve(tool)
    identity = _nvrtc_identity() if tool == "nvrtc" else _nvcc()[2]
    key = hashlib.sha256("\0".join([identity, *options(arch, fast_math), source])
                         .encode()).hexdigest()
    path = cache_dir("cuda") / f"{key}.cubin"
    use_cache = caching()
    cached = _read_entry(path) if use_cache else None
    if cached is not None:
        log.debug("read the %s cubin for %s from the cache (%s)", tool, arch, path)
        return cached, True
    result, cubin = _compile(source, arch, fast_math, tool)
    if not result.ok:
        raise BuildFailed(result)
    log.debug("compiled the cubin with %s in %.3f s (cache entry %s)%s", result.tool,
              result.seconds, path, f"; the compiler said:\n{result.log.strip()[:2000]}"
              if result.log.strip() else "")
    if not use_cache:
        return cubin, False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(hashlib.sha256(cubin).digest() + cubin)
        os.replace(tmp, path)        # atomic: readers never see half a cubin
    except OSError:
        pass
    return cubin, False


_ELF = b"\x7fELF"


def _read_entry(path: Path) -> bytes | None:
    """The cubin cached at `path`, or None (absent, unreadable, or damaged: then removed)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest, cubin = data[:32], data[32:]
    if len(data) > 32 and hashlib.sha256(cubin).digest() == digest and cubin[:4] == _ELF:
        return cubin
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def nvrtc_support(arch: str, driver_version: str) -> str | None:
    """Why this process's NVRTC cannot make cubins for `arch` that a driver supporting CUDA
    `driver_version` ('12.4') loads, in one sentence; None when it can, or when there is
    no NVRTC (nvcc is then used, and its own errors say it)."""
    try:
        major, minor = _nvrtc_version()
    except ToolchainUnavailable:
        return None
    from cuda.bindings import nvrtc

    number = int(re.sub(r"\D", "", arch))
    _, supported = nvrtc.nvrtcGetSupportedArchs()
    if number not in supported:
        return (f"NVRTC {major}.{minor} cannot compile for {arch} (it builds sm_{supported[0]} "
                f"to sm_{supported[-1]}): install a cuda-bindings[all] release that does")
    driver_major = int(driver_version.split(".")[0])
    if driver_major < major:
        return (f"the NVIDIA driver supports CUDA {driver_version}, older than NVRTC "
                f"{major}.{minor}, so it may not load what NVRTC makes: install "
                f"'cuda-bindings[all]=={driver_major}.*' or update the driver")
    return None


def compile_ptx(source: str, *, arch: str, fast_math: bool = False) -> str:
    """The PTX NVRTC makes of `source` for `arch` ('compute_90' or 'sm_90').

    PTX is what a driver older than NVRTC cannot load, so prefer `compile_cubin`; this is
    for inspection. Raises BuildFailed or ToolchainUnavailable like `compile_cubin`."""
    version = _nvrtc_version_text()
    ok, log, seconds, ptx = _nvrtc(source, options(arch, fast_math), "ptx")
    if not ok:
        raise BuildFailed(CheckResult("cuda", _name("nvrtc", version, arch), False, log,
                                      seconds))
    return ptx.decode()


def _resolve(tool: str) -> str:
    if tool not in ("auto", *TOOLS):
        raise ValueError(f"tool must be 'auto', 'nvrtc' or 'nvcc', not {tool!r}")
    if tool != "auto":
        return tool
    reasons = available_tools()
    for candidate in TOOLS:
        if reasons[candidate] is None:
            return candidate
    raise ToolchainUnavailable(f"no CUDA compiler here: {reasons['nvrtc']}; "
                               f"{reasons['nvcc']}")


def _compile(source: str, arch: str, fast_math: bool,
             tool: str) -> tuple[CheckResult, bytes]:
    opts = options(arch, fast_math)
    if tool == "nvrtc":
        version = _nvrtc_version_text()
        ok, log, seconds, cubin = _nvrtc(source, opts, "cubin")
    else:
        nvcc, version, _ = _nvcc()
        ok, log, seconds, cubin = _run_nvcc(nvcc, source, opts)
    return CheckResult("cuda", _name(tool, version, arch), ok, log, seconds), cubin


def _name(tool: str, version: str, arch: str) -> str:
    return f"{tool} {version} {arch}"


# ---- NVRTC ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _nvrtc_version() -> tuple[int, int]:
    """NVRTC's (major, minor); raises ToolchainUnavailable when it cannot be loaded."""
    try:
        from cuda.bindings import nvrtc
    except ImportError:
        raise ToolchainUnavailable(
            "NVRTC: cuda-bindings is not installed (pip install 'ringc[cuda]')") from None
    try:
        err, major, minor = nvrtc.nvrtcVersion()
    except RuntimeError as exc:      # cuda.pathfinder's DynamicLibNotFoundError
        raise ToolchainUnavailable(
            "NVRTC: libnvrtc was not found (pip install 'cuda-bindings[all]')") from exc
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise ToolchainUnavailable(f"NVRTC: nvrtcVersion failed with {err.name}")
    return major, minor


def _nvrtc_identity() -> str:
    from cuda import bindings
    return f"nvrtc {_nvrtc_version_text()} cuda-bindings {bindings.__version__}"


def _nvrtc_version_text() -> str:
    return "{}.{}".format(*_nvrtc_version())


def _nvrtc(source: str, opts: tuple[str, ...], output: str) -> tuple[bool, str, float, bytes]:
    """(ok, log, seconds, cubin or PTX bytes) of one NVRTC compile."""
    from cuda.bindings import nvrtc

    success = nvrtc.nvrtcResult.NVRTC_SUCCESS
    start = time.perf_counter()
    err, program = nvrtc.nvrtcCreateProgram(source.encode(), b"program.cu", 0, [], [])
    if err != success:
        return False, f"nvrtcCreateProgram failed: {err.name}", 0.0, b""
    try:
        (err,) = nvrtc.nvrtcCompileProgram(program, len(opts), [o.encode() for o in opts])
        seconds = time.perf_counter() - start
        _, size = nvrtc.nvrtcGetProgramLogSize(program)
        log = b" " * size
        nvrtc.nvrtcGetProgramLog(program, log)
        log_text = log.rstrip(b"\0").decode(errors="replace")
        if err != success:
            return False, log_text or f"nvrtcCompileProgram failed: {err.name}", seconds, b""
        get_size, get = ((nvrtc.nvrtcGetCUBINSize, nvrtc.nvrtcGetCUBIN) if output == "cubin"
                         else (nvrtc.nvrtcGetPTXSize, nvrtc.nvrtcGetPTX))
        _, size = get_size(program)
        data = b" " * size
        get(program, data)
        return True, log_text, seconds, data.rstrip(b"\0") if output == "ptx" else data
    finally:
        nvrtc.nvrtcDestroyProgram(program)


# ---- nvcc ----------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _nvcc() -> tuple[str, str, str]:
    """(path, 'major.minor', full version line) of nvcc; raises ToolchainUnavailable."""
    path = shutil.which("nvcc")
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), _DEFAULT_CUDA_HOME):
        if path is None and home and os.access(Path(home, "bin", "nvcc"), os.X_OK):
            path = str(Path(home, "bin", "nvcc"))
    if path is None:
        raise ToolchainUnavailable("nvcc: not on PATH, in $CUDA_HOME/bin or /usr/local/cuda")
    try:
        banner = subprocess.run([path, "--version"], capture_output=True, text=True,
                                check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ToolchainUnavailable(f"nvcc: {path} --version failed ({exc})") from None
    match = re.search(r"release (\d+\.\d+), (V[\w.]+)", banner)
    if match is None:
        raise ToolchainUnavailable(f"nvcc: cannot read the version of {path}")
    return path, match.group(1), f"nvcc {match.group(2)}"


def _run_nvcc(nvcc: str, source: str,
              opts: tuple[str, ...]) -> tuple[bool, str, float, bytes]:
    """(ok, diagnostics, seconds, cubin) of `nvcc -cubin` on `source` in a temp dir."""
    with tempfile.TemporaryDirectory(prefix="ringc-nvcc-") as tmp:
        Path(tmp, "program.cu").write_text(source)
        start = time.perf_counter()
        run = subprocess.run([nvcc, "-cubin", *opts, "-o", "program.cubin", "program.cu"],
                             cwd=tmp, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        log = (run.stdout + run.stderr).strip()
        if run.returncode != 0:
            return False, log or f"nvcc exited with status {run.returncode}", seconds, b""
        return True, log, seconds, Path(tmp, "program.cubin").read_bytes()
