"""One clock for the host and the device: `rt.now()` and `rc.now()`, ns since the launch
(docs/runtime.md, "Time"; docs/device-program.md, "Time").

The host reads `time.monotonic_ns()` less the launch's epoch. A device reads it its own way
(`device.clock`):
- "host": the simulator runs on the host and calls `now` itself;
- "tsc": PoCL's CPU device on x86-64 reads the time-stamp counter and scales it with a
  calibration the host writes into the control block before every launch
  (`clock_ns + (ticks - clock_ticks) * clock_scale / 2**32`). The host reads the same
  counter through ten bytes of machine code, so each calibration point brackets one
  counter read between two clock reads. The rate is measured from the first point this
  process took; a calibration is written only while no launch runs, and never reads
  earlier than the last one did at the same counter, so `rc.now()` never steps back (it
  may stay ahead of `rt.now()` by what the rate was off, microseconds). A launch that
  never parks keeps its rate error (about 1 µs per second of running after a 50 ms
  window);
- "globaltimer": CUDA reads `%globaltimer` (ns) from what the launch's first work-group
  found there, anchored at the host's time of the launch (so it trails by the launch
  latency); a handler's `rc.now()` never reads less than the `host_clock` word, which the
  host writes as for "heartbeat" below, so it never reads a time before its message's send;
- "heartbeat": elsewhere (Metal, OpenCL GPUs) the device reads the `host_clock` word the
  host refreshes whenever it pumps (every 2 ms while a launch runs) and before it puts a
  message in, so a handler never reads a time before its message's send.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import sys
import time

__all__ = ["Clock", "tsc_reader"]

_MIN_WINDOW_NS = 50_000_000       # the shortest calibration window the rate comes from
_PAIRS = 16                       # clock reads per calibration point (the tightest wins)


def _make_tsc_reader():
    """A callable returning the x86-64 time-stamp counter, or None where that cannot be:
    rdtsc; shl rdx, 32; or rax, rdx; ret (needs an executable anonymous mapping)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (OSError, ValueError, AttributeError):
        return None
    page.write(bytes.fromhex("0f31" "48c1e220" "4809d0" "c3"))
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    read = ctypes.CFUNCTYPE(ctypes.c_uint64)(address)
    read.page = page                 # the mapping lives as long as the function
    return read


_TSC = _make_tsc_reader()
_ANCHOR: tuple[int, int] | None = None     # the process's first (ns, ticks) point


def tsc_reader():
    """The host's time-stamp counter reader, or None (then no device uses "tsc")."""
    return _TSC


def _point() -> tuple[int, int]:
    """(monotonic ns, ticks) read as close together as this process can."""
    best = None
    for _ in range(_PAIRS):
        before = time.monotonic_ns()
        ticks = _TSC()
        after = time.monotonic_ns()
        if best is None or after - before < best[0]:
            best = (after - before, (before + after) // 2, ticks)
    return best[1], best[2]


def anchor() -> None:
    """Take the process's first calibration point (a loader calls it early, so the rate's
    window spans the program's build)."""
    global _ANCHOR
    if _TSC is not None and _ANCHOR is None:
        _ANCHOR = _point()


class Clock:
    """The launch's clock: `now()` on the host, `calibration()` for a "tsc" device."""

    def __init__(self) -> None:
        self.epoch = time.monotonic_ns()
        self._last: tuple[int, int, int] | None = None    # the calibration last written
        self._last_at = 0

    def now(self) -> int:
        """ns since the launch."""
        return time.monotonic_ns() - self.epoch

    def calibration(self) -> tuple[int, int, int]:
        """(clock_ns, clock_ticks, clock_scale) for the control block: a point now, and the
        rate (ns per tick, 32.32 fixed point) since the process's first point; the last
        one again within a second of it (a relaunch after a short park stays cheap)."""
        if self._last is not None and time.monotonic_ns() - self._last_at < 1_000_000_000:
            return self._last
        anchor()
        ns0, ticks0 = _ANCHOR
        wait = ns0 + _MIN_WINDOW_NS - time.monotonic_ns()
        if wait > 0:
            time.sleep(wait / 1e9)
        ns, ticks = _point()
        scale = ((ns - ns0) << 32) // max(1, ticks - ticks0)
        at = ns - self.epoch
        if self._last is not None:         # never before what the last calibration reads
            last_ns, last_ticks, last_scale = self._last
            at = max(at, last_ns + ((ticks - last_ticks) * last_scale >> 32))
        self._last, self._last_at = (at, ticks, scale), ns
        return self._last
