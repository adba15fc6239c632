"""What every target's toolchain shares: build results, the errors, the build cache.

Each target has a `toolchain` module whose `check(source, ...)` builds one program and
returns a `CheckResult`; `ringc.targets.check_all` runs every target present in a dict of
sources. Two outcomes are kept apart on purpose:

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

import contextlib
import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from ringc.errors import BackendUnavailable, RingcError


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


def cache_root() -> Path:
    """The folder of every cache ringc keeps (not created here): ``$RINGC_CACHE_DIR`` when
    set, else ``$XDG_CACHE_HOME/ringc``, else ``~/.cache/ringc``."""
    root = os.environ.get("RINGC_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ringc"


_OFF, _ON = ("off", "0", "false", "no"), ("", "on", "1", "true", "yes")
_warned: set[str] = set()


def caching() -> bool:
    """Whether ringc uses its caches: False when ``$RINGC_CACHE`` is ``off`` (or 0, false,
    no; any case), and then nothing is read from or written under `cache_root()`, and
    PoCL builds without its own cache. Unset, empty, ``on``, 1, true or yes: True. Another
    value warns once (naming the values) and leaves caching on. Read at each build, so it
    may change between launches; PoCL's own cache follows the value at the process's
    first OpenCL launch."""
    given = os.environ.get("RINGC_CACHE", "")
    value = given.strip().lower()
    if value in _OFF:
        return False
    if value not in _ON and given not in _warned:
        _warned.add(given)
        warnings.warn(f"RINGC_CACHE={given!r} is neither on nor off (use off, 0, false or "
                      "no to build without the caches); the caches are used", stacklevel=2)
    return True


def cache_dir(target: str) -> Path:
    """Where built binaries and emitted sources for `target` are cached (not created
    here): ``cache_root() / target``."""
    return cache_root() / target


def read_entry(path: Path) -> bytes | None:
    """The content of a cache entry `write_entry` wrote, or None when it is missing,
    unreadable or damaged (its first line is the SHA-256 of the rest: a truncated, edited
    or half-written entry does not match)."""
    try:
        digest, _, data = path.read_bytes().partition(b"\n")
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest().encode() == digest else None


def write_entry(path: Path, data: bytes) -> None:
    """Store `data` at `path` (parent directories made) behind its SHA-256, in one step: a
    temporary file renamed over the entry, so a reader never sees half of one. Where the
    cache cannot be written nothing is stored and nothing raised (a later run builds
    again); a failed write leaves no temporary file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def skipped(target: str, tool: str, reason: str) -> CheckResult:
    """The result of a build whose tool is missing here."""
    return CheckResult(target, tool, None, reason, 0.0)
