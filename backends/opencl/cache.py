"""The build cache ringc gives PoCL, checked before PoCL trusts it.

PoCL keeps what it compiles in a kernel cache: per program a directory holding the LLVM
bitcode and one shared library per work-group size, which it loads with `dlopen`. A file
there damaged behind PoCL's back (a truncated library, a full disk) crashes every later
process that loads it (SIGBUS, SIGABRT), and PoCL never rebuilds it by itself.

So ringc points PoCL at a directory of its own, `cache_dir("opencl") / "pocl"` (under
`$RINGC_CACHE_DIR` when set; a `POCL_CACHE_DIR` the user set wins), and keeps a manifest
there: the size and modification time of every file PoCL wrote, recorded once a program
built from them has started. `configure()`, run once per process before PoCL starts, deletes
each program directory whose files no longer match, so PoCL rebuilds it. A directory ringc
cannot write gives one warning and builds without a cache (`POCL_KERNEL_CACHE=0`).
pyopencl's own binary cache is not used (its builds pass `cache_dir=False`): PoCL's is
enough, and it is the one checked here.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from ..toolchain import cache_dir

__all__ = ["configure", "record"]

_MANIFEST = "ringc-manifest.json"
_VOLATILE = {"last_accessed"}          # PoCL rewrites it on every use


@functools.cache
def configure() -> Path | None:
    """Give PoCL ringc's cache directory and repair it; returns it, or None when PoCL
    builds without a cache (or uses a directory the user chose). Once per process."""
    if "POCL_CACHE_DIR" in os.environ or os.environ.get("POCL_KERNEL_CACHE") == "0":
        return None
    root = cache_dir("opencl") / "pocl"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root):
            pass
    except OSError as exc:
        warnings.warn(f"ringc: the OpenCL build cache {root} cannot be written "
                      f"({exc.strerror or exc}); building without a cache", stacklevel=3)
        os.environ["POCL_KERNEL_CACHE"] = "0"
        return None
    os.environ["POCL_CACHE_DIR"] = str(root)
    _repair(root)
    return root


def record() -> None:
    """Add to the manifest every cached file PoCL has written so far: called once a program
    built from the cache has started, so what is recorded is known to load."""
    root = configure()
    if root is None:
        return
    manifest = _read(root)
    for path in _files(root):
        with contextlib.suppress(OSError):
            manifest[str(path.relative_to(root))] = _signature(path)
    _write(root, manifest)


def _repair(root: Path) -> None:
    """Delete every program directory with a file that differs from the manifest."""
    manifest = _read(root)
    damaged = set()
    for name, signature in manifest.items():
        path = root / name
        try:
            if _signature(path) != signature:
                damaged.add(_program_dir(root, path))
        except OSError:                      # deleted: PoCL rebuilds what it misses
            damaged.add(_program_dir(root, path))
    if not damaged:
        return
    for directory in damaged:
        shutil.rmtree(directory, ignore_errors=True)
    kept = {name: sig for name, sig in manifest.items()
            if _program_dir(root, root / name) not in damaged}
    _write(root, kept)
    warnings.warn(f"ringc: removed {len(damaged)} damaged program(s) from the OpenCL build "
                  f"cache {root}; they are rebuilt", stacklevel=3)


def _program_dir(root: Path, path: Path) -> Path:
    """PoCL's directory of one program: XX/YYYY... under the root."""
    parts = path.relative_to(root).parts
    return root.joinpath(*parts[:2])


def _files(root: Path):
    for path in root.glob("*/*/**/*"):
        if path.is_file() and path.name not in _VOLATILE:
            yield path


def _signature(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _read(root: Path) -> dict[str, list[int]]:
    try:
        found = json.loads((root / _MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write(root: Path, manifest: dict[str, list[int]]) -> None:
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(manifest, out)
        os.replace(tmp, root / _MANIFEST)
