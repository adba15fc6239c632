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
PoCL rebuilds it, and logs one warning (logger "ringc.opencl") saying so.

What is not damage, and costs no warning: a recorded file that is gone (PoCL rebuilds what
it misses), a file rewritten with the same content (another process built the same program
at the same time), and a build interrupted by a crash: PoCL writes `NAME_XXXXXX.temp` and
renames it, and builds libraries in the cache's top directory, so an interrupted build
leaves only files ringc never records. A manifest entry that does not name a file strictly
inside a program directory of the cache (an absolute path, `..`, a symlink out of it) is
damage to the manifest: it is dropped, with one log line, and nothing it names is touched.

A directory ringc cannot write gives one log line and builds without a cache
(`POCL_KERNEL_CACHE=0`, and a temporary folder for the files PoCL compiles through), as
does `$RINGC_CACHE` off (`ringc.backends.toolchain.caching`). That also keeps `build()`
below from reading or writing binaries, and sets `PYOPENCL_NO_CACHE=1` (unless set), which
turns off pyopencl's own cache of kernel invokers (`~/.cache/pytools`) when pyopencl is
first imported after it. pyopencl's own binary cache is not used (its builds pass
`cache_dir=False`): PoCL's is enough, and it is the one checked here. Limits: a file damaged
after `configure()` and before the process's `record()` is recorded as it is then; two
processes recording at once keep the entries of the last one (the rest are recorded again
by later runs).

`build()` adds a cache of ringc's own in front of PoCL's: the binary of each program it
builds (`clGetProgramInfo(BINARIES)`), kept as `cache_dir("opencl") / "binary" / KEY.bin`
behind its SHA-256 (`ringc.backends.toolchain.write_entry`). A program created from that
binary skips PoCL's reading of the source and its cache lookup (about 20 ms of a 25 ms
build on PoCL's CPU device). KEY is the SHA-256 of the source, the build options, and the
device's name, vendor, driver and platform version: an upgraded OpenCL gets new entries. A
damaged entry, or a binary the implementation refuses, is built from the source again and
replaced; a directory that cannot be written only costs the saving. Limits: entries are
never deleted (a binary is about the size of its program's PoCL cache entry, ~150 KB for
the pipeline sample). Each build logs one debug record (logger "ringc.opencl"): from the
binary or from the source, and how long it took.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePath
from stat import S_ISREG

from ..toolchain import cache_dir, caching, read_entry, write_entry

__all__ = ["configure", "record", "build", "build_with_origin"]

log = logging.getLogger("ringc.opencl")

_MANIFEST = "ringc-manifest.json"
_VOLATILE = {"last_accessed"}          # PoCL rewrites it on every use
_IN_PROGRESS = ".temp"                 # PoCL writes NAME_XXXXXX.temp, then renames it NAME

Signature = list                       # [size, mtime_ns, sha256 hex digest]


@functools.cache
def configure() -> Path | None:
    """Give PoCL ringc's cache directory and repair it; returns it, or None when PoCL
    builds without a cache (or uses a directory the user chose). Once per process: with
    `$RINGC_CACHE` off then, PoCL builds without its cache for the whole process."""
    if not caching():
        os.environ.setdefault("PYOPENCL_NO_CACHE", "1")
        _build_uncached()
        return None
    if "POCL_CACHE_DIR" in os.environ or os.environ.get("POCL_KERNEL_CACHE") == "0":
        return None
    root = cache_dir("opencl") / "pocl"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root):
            pass
    except OSError as exc:
        log.warning("the OpenCL build cache %s cannot be written (%s); building "
                    "without a cache", root, exc.strerror or exc)
        _build_uncached()
        return None
    os.environ["POCL_CACHE_DIR"] = str(root)
    _repair(root)
    log.debug("PoCL's kernel cache: %s", root)
    return root


def _build_uncached() -> None:
    """PoCL without its kernel cache. It still compiles through temporary files in its
    cache folder (and leaves an empty one there), so it is given a temporary folder of its
    own, removed when the process exits; a `POCL_CACHE_DIR` the user set is kept."""
    os.environ["POCL_KERNEL_CACHE"] = "0"
    if "POCL_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="ringc-pocl-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["POCL_CACHE_DIR"] = folder


def record() -> None:
    """Add to the manifest every cached file PoCL has written so far: called once a program
    built from the cache has started, so what is recorded is known to load. Only files new
    or changed since they were recorded are read (hashed); the manifest is rewritten only
    when something was added or changed."""
    root = configure()
    if root is None:
        return
    manifest = _read(root)
    changed = False
    for name, stat in _files(root):
        known = manifest.get(name)
        if _valid(known) and known[:2] == [stat.st_size, stat.st_mtime_ns]:
            continue
        with contextlib.suppress(OSError):
            manifest[name] = _signature(root / name, known)
            changed = True
    if changed:
        _write(root, manifest)


def build(context, device, source: str, options: tuple[str, ...]):
    """The pyopencl program of `source` built for `device` (of `context`) with `options`,
    from the binary an earlier build stored when there is one (see the module doc), else
    from the source, its binary then stored. Raises what pyopencl's build raises
    (`pyopencl.Error`) when the source does not build; the caller handles its warnings."""
    return build_with_origin(context, device, source, options)[0]


def build_with_origin(context, device, source: str,
                      options: tuple[str, ...]) -> tuple[object, bool]:
    """`build`, and whether the program came from a stored binary (True) or from the
    source (False: PoCL may still have found it in its own kernel cache, which is not
    known here)."""
    import pyopencl as cl

    start = time.perf_counter()
    key = hashlib.sha256("\0".join((
        "ringc-binary-1", device.name, device.vendor, device.driver_version,
        device.platform.version, *options, source)).encode()).hexdigest()
    path = cache_dir("opencl") / "binary" / f"{key}.bin"
    use_cache = caching()
    binary = read_entry(path) if use_cache else None
    if binary:
        try:
            program = cl.Program(context, [device], [binary]).build(options=list(options),
                                                                     cache_dir=False)
        except cl.Error as exc:              # refused: built from the source below
            log.debug("%s refused the cached binary %s (%s); building from the source",
                      device.name.strip(), path, (str(exc).strip() or "no reason given")
                      .splitlines()[0])
        else:
            log.debug("built the OpenCL program for %s from its cached binary in %.3f s "
                      "(%s)", device.name.strip(), time.perf_counter() - start, path)
            return program, True
    program = cl.Program(context, source).build(options=list(options), cache_dir=False)
    log.debug("built the OpenCL program for %s from the source in %.3f s (cache entry %s)",
              device.name.strip(), time.perf_counter() - start, path)
    if use_cache:
        with contextlib.suppress(cl.Error, ValueError):
            write_entry(path, program.binaries[program.devices.index(device)])
    return program, False


def _repair(root: Path) -> None:
    """Delete every program directory holding a file whose content differs from the
    manifest; drop the entries of files gone and entries that name nothing inside `root`.

    Every launch pays this, so the common case is one `lstat` per recorded file (and one
    per top-level directory): a plain regular file whose size and modification time match
    its entry is intact (`_intact`; a cache of 4,000 files takes ~15 ms, not ~120). Any
    other entry takes the careful way (`_locate`, then `_signature`). Limits: an entry
    reached through a symlinked directory below the top level is found out (and dropped)
    only once its file changes; until then it is neither read nor deleted."""
    manifest = _read(root)
    top = root.resolve()
    links: dict[str, bool] = {}
    good: dict[str, tuple[str, Signature]] = {}
    damaged: set[str] = set()
    outside = 0
    for name, recorded in manifest.items():
        directory = _intact(str(top), name, recorded, links)
        if directory is not None:
            good[name] = directory, recorded
            continue
        where = _locate(top, name)
        if where is None:
            outside += 1
            continue
        directory, path = str(where[0]), where[1]
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
        log.warning("removed %d damaged program(s) from the OpenCL build cache %s; "
                    "PoCL rebuilds them", len(damaged), root)
    if outside:
        log.warning("dropped %d manifest entry(ies) of the OpenCL build cache %s "
                    "that name no file inside it", outside, root)


def _intact(top: str, name: str, recorded: object, links: dict[str, bool]) -> str | None:
    """The program directory of an entry that plainly names an unchanged file: a relative
    `XX/YYYY.../file` without `.` or `..`, its top-level directory not a symlink (`links`
    remembers them), the file itself a regular file (not a symlink) whose size and
    modification time are the recorded ones. None for anything else (checked carefully
    by the caller). Nothing is read but the file's metadata."""
    parts = name.split("/")
    if len(parts) < 3 or {"", ".", ".."} & set(parts) or not _valid(recorded):
        return None
    first = f"{top}/{parts[0]}"
    if links.get(first) is None:
        links[first] = os.path.islink(first)
    if links[first]:
        return None
    try:
        stat = os.lstat(f"{top}/{name}")
    except (OSError, ValueError):
        return None
    if not S_ISREG(stat.st_mode) or recorded[:2] != [stat.st_size, stat.st_mtime_ns]:
        return None
    return f"{first}/{parts[1]}"


def _locate(top: Path, name: str) -> tuple[Path, Path] | None:
    """(program directory, file) of a manifest entry, symlinks resolved: PoCL's
    `XX/YYYY.../file`. None unless the directory lies exactly two levels inside `top` (the
    resolved cache directory) and the file inside the directory, once resolved: nothing
    outside is read or deleted."""
    pure = PurePath(name)
    parts = pure.parts
    if len(parts) < 3 or pure.is_absolute():
        return None
    # the common case without resolving: plain names and no symlink on the way, so the
    # path is what it says
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


def _files(root: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(name relative to `root`, lstat) of every regular file in PoCL's program directories
    (two levels down and below), symlinks never followed, PoCL's volatile and in-progress
    files left out. Directories that vanish while walked (PoCL cleaning up) are skipped."""
    top = str(root)
    pending = [("", 0)]
    while pending:
        prefix, depth = pending.pop()
        try:
            entries = list(os.scandir(f"{top}/{prefix}" if prefix else top))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((f"{prefix}{entry.name}/", depth + 1))
                elif (depth >= 2 and entry.name not in _VOLATILE
                      and not entry.name.endswith(_IN_PROGRESS)
                      and entry.is_file(follow_symlinks=False)):
                    yield f"{prefix}{entry.name}", entry.stat(follow_symlinks=False)
            except OSError:
                continue


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
            out.write(json.dumps(manifest))         # dumps: C speed, dump is not
        os.replace(tmp, root / _MANIFEST)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
