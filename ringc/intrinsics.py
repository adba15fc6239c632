"""Device intrinsics: `rc.send`, `rc.emit`, `rc.reply`, `rc.sender`, `rc.fail`, `rc.clock`,
`rc.instance_id` and `rc.atomic_*`.

Inside a handler compiled by ringc the frontend recognises these names and lowers them; they
are never called there. Called as plain Python they act on the execution context a host-side
executor (the simulator) installs for the handler it runs; with none installed they raise,
naming the call, because outside a running kernel they have no meaning.
"""

from __future__ import annotations

import threading

from .errors import RingcError

_current = threading.local()


def set_context(context) -> object:
    """Install `context` (an object with the intrinsics as methods) for this thread; return
    the one it replaces. Used by executors that run handlers in Python."""
    previous = getattr(_current, "context", None)
    _current.context = context
    return previous


def _context(name: str):
    context = getattr(_current, "context", None)
    if context is None:
        raise RingcError(f"rc.{name}() can only run inside a handler of a launched ring kernel")
    return context


def send(kernel, msg, instance=0) -> None:
    """Send `msg` to `kernel`'s input queue (instance `instance`); a new conversation."""
    _context("send").send(kernel, msg, instance)


def emit(msg) -> None:
    """Put `msg` in the host output queue."""
    _context("emit").emit(msg)


def reply(address, msg) -> None:
    """Answer the conversation `address` (from `rc.sender()`) with `msg`."""
    _context("reply").reply(address, msg)


def sender():
    """The current message's return address."""
    return _context("sender").sender()


def fail(reason: str) -> None:
    """End the handler; the message goes to the dead-letter queue with `reason`."""
    _context("fail").fail(reason)


def clock():
    """Device time in nanoseconds."""
    return _context("clock").clock()


def instance_id():
    """This kernel instance's number, 0..instances-1."""
    return _context("instance_id").instance_id()


def atomic_add(ref, value):
    """Add to a state variable (or element) atomically; returns the old value."""
    return _context("atomic_add").atomic("add", ref, value)


def atomic_max(ref, value):
    """Store max(old, value) atomically; returns the old value."""
    return _context("atomic_max").atomic("max", ref, value)


def atomic_min(ref, value):
    """Store min(old, value) atomically; returns the old value."""
    return _context("atomic_min").atomic("min", ref, value)


def atomic_cas(ref, expected, desired):
    """Store `desired` if the value equals `expected`; returns the old value."""
    return _context("atomic_cas").atomic("cas", ref, expected, desired)


INTRINSIC_FUNCTIONS = {fn.__name__: fn for fn in (
    send, emit, reply, sender, fail, clock, instance_id,
    atomic_add, atomic_max, atomic_min, atomic_cas)}
