"""The build cache ringc gives PoCL, checked before PoCL trusts it.

PoCL keeps what it compiles in a kernel cache: per program a directory `XX/YYYY...` holding
the LLVM bitcode and one shared library per work-group size, which it loads with `dlopen`.
A file there damaged behind PoCL's back (a truncated library, a full disk) crashes every
later process that loads it (SIGBUS, SIGABRT), and PoCL never rebuilds it by itself.

So ringc points PoCL at a directory of its own, `cache_dir("opencl") / "pocl"` (under
`$RINGC_CACHE_DIR` when set; a `POCL_CACHE_DIR` the user set wins), and keeps a manifest
there: the size, modification time and SHA-256 of every file PoCL wrote, recorded once a
program built from them has started. `configure()`, run once per process before PoCL
starts, deletes each program directory holding a file whose content no longer matches, so
PoCL rebuilds it, and logs one line (logger "ringc") saying so.

What is not damage, and costs no warning: a recorded file that is gone (PoCL rebuilds what
it misses), a file rewritten with the same content (another process built the same program
at the same time), and a build interrupted by a crash: PoCL writes `NAME_XXXXXX.temp` and
renames it, and builds libraries in the cache's top directory, so an interrupted build
leaves only files ringc never records. A manifest entry that does not name a file strictly
inside a program directory of the cache (an absolute path, `..`, a symlink out of it) is
damage to the manifest: it is dropped, with one log line, and nothing it names is touched.

A directory ringc cannot write gives one log line and builds without a cache
(`POCL_KERNEL_CACHE=0`). pyopencl's own binary cache is not used (its builds pass
`cache_dir=False`): PoCL's is enough, and it is the one checked here. Limits: a file damaged
after `configure()` and before the process's `record()` is recorded as it is then; two
processes recording at once keep the entries of the last one (the rest are recorded again
by later runs).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePath
from stat import S_ISREG

from ..toolchain import cache_dir

__all__ = ["configure", "record"]

log = logging.getLogger("ringc")

_MANIFEST = "ringc-manifest.json"
_VOLATILE = {"last_accessed"}          # PoCL rewrites it on every use
_IN_PROGRESS = ".temp"                 # PoCL writes NAME_XXXXXX.temp, then renames it NAME

Signature = list                       # [size, mtime_ns, sha256 hex digest]


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
        log.warning("ringc: the OpenCL build cache %s cannot be written (%s); building "
                    "without a cache", root, exc.strerror or exc)
        os.environ["POCL_KERNEL_CACHE"] = "0"
        return None
    os.environ["POCL_CACHE_DIR"] = str(root)
    _repair(root)
    return root


def record() -> None:
    """Add to the manifest every cached file PoCL has written so far: called once a program
    built from the cache has started, so what is recorded is known to load. Only files new
    or changed since they were recorded are read (hashed)."""
    root = configure()
    if root is None:
        return
    manifest = _read(root)
    for path in _files(root):
        name = str(path.relative_to(root))
        with contextlib.suppress(OSError):
            manifest[name] = _signature(path, manifest.get(name))
    _write(root, manifest)


def _repair(root: Path) -> None:
    """Delete every program directory holding a file whose content differs from the
    manifest; drop the entries of files gone and entries that name nothing inside `root`."""
    manifest = _read(root)
    top = root.resolve()
    good: dict[str, tuple[Path, Signature]] = {}
    damaged: set[Path] = set()
    outside = 0
    for name, recorded in manifest.items():
        where = _locate(top, name)
        if where is None:
            outside += 1
            continue
        directory, path = where
        if not _valid(recorded):
            continue
        try:
            current = _signature(path, recorded)
        except OSError:                      # gone: PoCL rebuilds what it misses
            continue
        if current[0] == recorded[0] and current[2] == recorded[2]:
            good[name] = directory, current
        else:
            damaged.add(directory)
    for directory in damaged:
        shutil.rmtree(directory, ignore_errors=True)
    kept = {name: sig for name, (directory, sig) in good.items() if directory not in damaged}
    if kept != manifest:
        _write(root, kept)
    if damaged:
        log.warning("ringc: removed %d damaged program(s) from the OpenCL build cache %s; "
                    "PoCL rebuilds them", len(damaged), root)
    if outside:
        log.warning("ringc: dropped %d manifest entry(ies) of the OpenCL build cache %s "
                    "that name no file inside it", outside, root)


def _locate(top: Path, name: str) -> tuple[Path, Path] | None:
    """(program directory, file) of a manifest entry, symlinks resolved: PoCL's
    `XX/YYYY.../file`. None unless the directory lies exactly two levels inside `top` (the
    resolved cache directory) and the file inside the directory, once resolved: nothing
    outside is read or deleted."""
    pure = PurePath(name)
    parts = pure.parts
    if len(parts) < 3 or pure.is_absolute():
        return None
    # the common case without resolving (a cache holds thousands of files): plain names
    # and no symlink on the way, so the path is what it says
    if all(part not in (".", "..") for part in parts):
        at = top
        for part in parts:
            at = at / part
            if os.path.islink(at):
                break
        else:
            return top.joinpath(*parts[:2]), at
    directory = top.joinpath(*parts[:2]).resolve()
    path = directory.joinpath(*parts[2:]).resolve()
    if directory.parent.parent != top or directory not in path.parents:
        return None
    return directory, path


def _valid(recorded: object) -> bool:
    """Is `recorded` a signature this version writes? (Others are dropped, not trusted.)"""
    return (isinstance(recorded, list) and len(recorded) == 3
            and all(isinstance(x, int) for x in recorded[:2]) and isinstance(recorded[2], str))


def _files(root: Path) -> Iterator[Path]:
    """Every regular file in PoCL's program directories (two levels down and below),
    symlinks never followed, PoCL's volatile and in-progress files left out."""
    for folder, _, names in os.walk(root):
        if len(Path(folder).relative_to(root).parts) < 2:
            continue
        for name in names:
            path = Path(folder, name)
            if (name not in _VOLATILE and not name.endswith(_IN_PROGRESS)
                    and not path.is_symlink() and path.is_file()):
                yield path


def _signature(path: Path, known: object = None) -> Signature:
    """[size, mtime_ns, sha256] of a file; `known`'s digest is reused, not recomputed,
    when its size and modification time still match. Anything but a regular file (never
    read: a FIFO would block) gets the digest "". OSError when it cannot be read."""
    stat = path.stat()
    if _valid(known) and known[:2] == [stat.st_size, stat.st_mtime_ns]:
        return known
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if S_ISREG(stat.st_mode) else ""
    return [stat.st_size, stat.st_mtime_ns, digest]


def _read(root: Path) -> dict[str, object]:
    try:
        found = json.loads((root / _MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write(root: Path, manifest: dict[str, Signature]) -> None:
    """Replace the manifest in one step; where that fails the old one stays, and the
    temporary file goes."""
    try:
        fd, tmp = tempfile.mkstemp(dir=root, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(manifest, out)
        os.replace(tmp, root / _MANIFEST)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
