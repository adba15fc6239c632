"""The caches ringc keeps, for `ringc cache info` and `ringc cache clear`.

Every cache lives under one folder, `ringc.backends.toolchain.cache_root()`:
`$RINGC_CACHE_DIR` when set, else `$XDG_CACHE_HOME/ringc`, else `~/.cache/ringc`. Its
folders are the emitted sources and built programs of each target (`opencl`: sources,
built binaries and PoCL's own kernel cache; `cuda`: cubins; `cuda-shim`, `metal-shim`:
the shims' shared libraries) and `templates` (the compiled Jinja templates). Each entry
is checked when it is read (a damaged one is rebuilt), so clearing is never needed for
correctness, only to take the space back; a program running while the cache is cleared
keeps what it loaded. `$RINGC_CACHE=off` keeps ringc from reading or writing any of them
(`ringc.backends.toolchain.caching`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .backends.toolchain import cache_root, caching

__all__ = ["CacheFolder", "cache_root", "caching", "folders", "clear"]


@dataclass(frozen=True)
class CacheFolder:
    """One folder under the cache root: its name, path, files and bytes."""
    name: str
    path: Path
    files: int
    size: int


def folders() -> list[CacheFolder]:
    """The folders under the cache root, by name; empty when there is no cache."""
    root = cache_root()
    if not root.is_dir():
        return []
    found = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        files = [f for f in path.rglob("*") if f.is_file()]
        found.append(CacheFolder(path.name, path, len(files),
                                 sum(f.stat().st_size for f in files)))
    return found


def clear() -> tuple[int, int]:
    """Delete everything under the cache root (the root itself stays); returns the files
    and bytes removed, (0, 0) when there is no cache. A file that cannot be removed
    raises OSError naming it."""
    root = cache_root()
    if not root.is_dir():
        return 0, 0
    removed = folders()
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return sum(f.files for f in removed), sum(f.size for f in removed)
