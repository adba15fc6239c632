"""Ctrl-C that cannot tear the runtime's state in two.

The runtime changes the arena and its own buffers in short sequences of Python stores (a
batch's sequence words, then the ring's `tail`, then the host's counts; slots taken out of
the host output queue, then released to the device, then buffered). Python raises
`KeyboardInterrupt` between any two bytecodes of the main thread, so one arriving inside
such a sequence would leave a ring the device and the host read differently, or messages
taken from the device and never buffered.

`Guarded` is the runtime's lock: while the main thread holds it, a SIGINT is recorded, and
`KeyboardInterrupt` is raised when the outermost hold ends, after the lock is released.
Holds are microseconds long, and every wait happens outside them, so Ctrl-C still lands at
once. `install()` puts the handler in place; it replaces only Python's default handler
(which it imitates outside holds), never one the program installed itself, and only from
the main thread, as Python requires. Without it (another handler, or `rc.launch` called
from another thread) interrupts are not deferred.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["Guarded", "install"]

_MAIN = threading.main_thread().ident
_depth = 0                 # holds of the main thread
_pending = False           # a SIGINT arrived during one


def _on_sigint(signum, frame) -> None:
    global _pending
    if _depth:
        _pending = True
        return
    _pending = False
    signal.default_int_handler(signum, frame)


def install() -> None:
    """Defer SIGINT during holds, if Python's default handler is in place and this is the
    main thread."""
    if threading.get_ident() != _MAIN:
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


class Guarded:
    """A reentrant lock whose holds by the main thread defer KeyboardInterrupt."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> Guarded:
        global _depth
        main = threading.get_ident() == _MAIN
        if main:                   # first, so no interrupt lands between acquire and here
            _depth += 1
        try:
            self._lock.acquire()
        except BaseException:
            if main:
                _depth -= 1
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        global _depth, _pending
        self._lock.release()       # first, so no interrupt lands while the lock is held
        if threading.get_ident() == _MAIN:
            _depth -= 1
            if not _depth and _pending:
                _pending = False
                raise KeyboardInterrupt
