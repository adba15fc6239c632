"""The device protocol: every header, word, code and limit that the device program, the
simulator and the host runtime share (docs/device-program.md describes each one).

This module is its one source. Codegen prints it as C (`c_defines`, `c_structs`,
`c_asserts`: every header is also declared as a C struct, and a static assert per field
checks that the compiler puts it where this module says, so a wrong constant fails each
real build); the simulator and the runtime read the same tables from Python.

A header is a `Record`: fields in declaration order, each at its natural alignment (or on
a line of its own where the field asks for one), as C lays out a struct. `check()` verifies
that every offset a consumer reads is still that layout; the simulator runs it where a
compiler would run the static asserts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LINE", "PAGE", "HOST_QUEUE", "DEAD_QUEUE", "NO_RING", "INGRESS", "DEVICE_CONVERSATION",
    "Field", "Record", "CONTROL", "STATS", "QUEUE", "SLOT", "DEAD_SLOT", "REASONS",
    "FIRST_USER_REASON", "PHASE_NEW", "PHASE_RUNNING", "PHASE_STOPPED", "HOOKS",
    "HASH_MULTIPLIER",
    "SERVE_PERSISTENT", "SERVE_EVENT_DRIVEN", "RETURN_WHEN_IDLE", "PARK_WHEN_IDLE", "NEVER",
    "PERSISTENT_LAUNCH", "DRAIN_LAUNCH", "ROOM_OK", "ROOM_DEVICE", "ROOM_HOST",
    "BLOCK_SPINS", "HOST_PATIENCE_NS", "MAX_LOCAL", "DRAIN_PASSES", "ROOM_PATIENCE", "MAX_PASSES",
    "SWEEP_PASSES", "TIME_EVERY",
    "MAX_ROOM_NEED", "MIN_CAPACITY", "MAX_CAPACITY", "capacity_problem", "RECORDS",
    "ProtocolError", "check", "c_defines", "c_structs", "c_asserts",
]

LINE = 64                  # every region, counter and queue starts on its own cache line
PAGE = 4096                # the device-local part starts on a page of its own

# ---- queue ids ---------------------------------------------------------------------------
# Input queues are numbered 0.. (kernels in program order, then instances).
HOST_QUEUE = 0xFFFF_FFFF   # the host as a sender or reply address; also the host output queue
DEAD_QUEUE = 0xFFFF_FFFE   # the dead-letter queue's ring id inside device code
NO_RING = 0xFFFF_FFFD      # "no ring taken" inside device code
INGRESS = 0x8000_0000      # ring id of input queue q's host ingress ring: q | INGRESS
DEVICE_CONVERSATION = 1 << 63   # set in the correlation id of every rc.send conversation

_SIZES = {"u32": 4, "u64": 8}
_NUMPY = {"u32": "<u4", "u64": "<u8"}


@dataclass(frozen=True)
class Field:
    """One word of a header; `line=True` puts it at the start of a cache line of its own."""
    name: str
    type: str
    line: bool = False


class Record:
    """A header the device and the host share. `offsets` (field -> byte offset) is what
    every consumer reads; it is computed here by C's struct rule and nowhere else."""

    def __init__(self, c_name: str, prefix: str, fields: tuple[Field, ...], size: int):
        self.c_name, self.prefix, self.fields, self.size = c_name, prefix, fields, size
        self.offsets = dict(_natural_offsets(fields))
        end = max(self.offsets[f.name] + _SIZES[f.type] for f in fields)
        if end > size:
            raise ProtocolError(f"{c_name} needs {end} bytes, more than its {size}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def offset(self, name: str) -> int:
        return self.offsets[name]

    def word(self, name: str) -> int:
        """The field's index counted in 32-bit words (what the simulator indexes)."""
        return self.offsets[name] >> 2

    def define(self, name: str) -> str:
        """The C constant holding the field's offset, e.g. RC_STAT_PROCESSED."""
        return self.prefix + name.upper()

    @property
    def dtype(self) -> np.dtype:
        return np.dtype({"names": list(self.names),
                         "formats": [_NUMPY[f.type] for f in self.fields],
                         "offsets": [self.offsets[f.name] for f in self.fields],
                         "itemsize": self.size})


class ProtocolError(Exception):
    """The protocol's tables contradict C's layout of its headers (a wrong constant)."""


def _natural_offsets(fields: tuple[Field, ...]):
    at = 0
    for f in fields:
        align = LINE if f.line else _SIZES[f.type]
        at = -(-at // align) * align
        yield f.name, at
        at += _SIZES[f.type]


# ---- headers -----------------------------------------------------------------------------

CONTROL = Record("rc_control", "RC_CTL_", (
    Field("stop", "u32"),                  # host: 1 asks every work-group to leave the loop
    Field("running", "u32"),               # device: work-groups inside the loop
    Field("host_clock", "u64"),            # host: its monotonic clock (ns), the heartbeat
    Field("next_correlation", "u32"),      # device: counter of rc.send conversations
    Field("dead_letter_overflow", "u32"),  # device: dead letters that found no room
    Field("stopping", "u32"),              # host: 1 asks for the on_stop hooks (after a drain)
    Field("parking", "u32"),               # device: work-groups idle for park_after (they
                                           # leave once all are; the host zeroes it)
    Field("park_after", "u64"),            # host: ns a work-group stays idle before it parks
                                           # (returns; read by PARK_WHEN_IDLE launches only)
    # rc.now() on a device with a cycle counter (docs/device-program.md, "Time"):
    # clock_ns + (ticks - clock_ticks) * clock_scale / 2^32, written by the host before each
    # launch; CUDA's clock_ticks is %globaltimer at the launch's first entry (0: not yet)
    Field("clock_ns", "u64"),
    Field("clock_ticks", "u64"),
    Field("clock_scale", "u64"),
), size=2 * LINE)

# `phase` and `hook_fault` are used by kernels with lifecycle hooks only: the phase goes
# PHASE_NEW -> PHASE_RUNNING (on_start ran) -> PHASE_STOPPED (on_stop ran); hook_fault is
# the reason code of the last fault a hook raised and did not catch (0: none);
# `scheduled`: messages sent to this queue by rc.send_after, not yet due (counted in
# `received` when scheduled, like `sent` at their sender); `tick_fault`: the reason code of
# the last fault a periodic method raised and did not catch
STATS = Record("rc_stats", "RC_STAT_", tuple(Field(name, "u32") for name in (
    "active", "processed", "dead_lettered", "sent", "received", "busy", "deferred",
    "waits_host", "dead_letters_lost", "phase", "hook_fault", "scheduled", "tick_fault",
    "handler_ns",         # ns inside the handlings timed (TIME_EVERY-th; each at most 2^32-1)
    "handler_timed",      # ... how many were timed
    "bell")),     # set by whoever puts a message in the queue's rings, cleared by its server
    size=LINE)

QUEUE = Record("rc_queue_header", "RC_QUEUE_", (
    Field("head", "u32", line=True),       # consumer counter
    Field("tail", "u32", line=True),       # producer counter
    Field("reserved", "u32"),              # device: slots from tail that handlings being
                                           # taken have reserved for their sends
), size=2 * LINE)

SLOT = Record("rc_slot_header", "RC_SLOT_", (
    Field("seq", "u32"), Field("type_id", "u32"), Field("source", "u32"),
    Field("flags", "u32"), Field("correlation", "u64"), Field("timestamp", "u64"),
), size=32)

DEAD_SLOT = Record("rc_dead_header", "RC_DLQ_", SLOT.fields + (
    Field("queue", "u32"),                 # where it was dead-lettered
    Field("reason", "u32"),                # a code of REASONS, or FIRST_USER_REASON + i
    Field("detail", "u32"),                # the instance asked for, or the replying queue
    Field("reserved", "u32"),
), size=48)

# ---- codes -------------------------------------------------------------------------------

# Built-in dead-letter reasons; the strings of `rc.fail` get FIRST_USER_REASON and up.
REASONS = {1: "queue_full", 2: "division_by_zero", 3: "index_out_of_range",
           4: "no_such_instance", 5: "no_handler", 6: "bad_address", 7: "container_full",
           8: "container_empty", 9: "key_not_found", 10: "timers_full",
           11: "delay_out_of_range"}
FIRST_USER_REASON = 16
PHASE_NEW, PHASE_RUNNING, PHASE_STOPPED = 0, 1, 2    # an instance's lifecycle (STATS.phase)
HOOKS = ("on_start", "on_stop")                      # the lifecycle hooks' method names
# a map's home slot for key k: ((k as u64) * HASH_MULTIPLIER mod 2^64) >> (64 - log2 slots)
HASH_MULTIPLIER = 0x9E3779B97F4A7C15                 # 2^64 / golden ratio (Fibonacci hashing)

# rc_main's `mode` bits: which kernels a launch serves, and whether it returns when idle
SERVE_PERSISTENT = 1
SERVE_EVENT_DRIVEN = 2
RETURN_WHEN_IDLE = 4       # return when a pass takes nothing (or after DRAIN_PASSES passes)
PARK_WHEN_IDLE = 8         # return once idle for `park_after` ns (the host wakes it when due)
PERSISTENT_LAUNCH = SERVE_PERSISTENT
DRAIN_LAUNCH = SERVE_EVENT_DRIVEN | RETURN_WHEN_IDLE

# Why a message cannot be taken yet (docs/device-program.md, "Room before taking")
ROOM_OK, ROOM_DEVICE, ROOM_HOST = 0, 1, 2

# ---- limits ------------------------------------------------------------------------------

BLOCK_SPINS = 1 << 20      # retries of a send that finds its queue full (backpressure="block")
MAX_LOCAL = 256            # parallel messages one work-group takes per pass
DRAIN_PASSES = 1 << 10     # passes one event-driven launch makes at most; the host relaunches
ROOM_PATIENCE = 1 << 6     # passes a message waits for room in device rings before it is taken
MAX_PASSES = (1 << 64) - 1  # the loop's bound: an induction variable (PoCL needs one)
TIME_EVERY = 1 << 4        # an ordered or parallel handling is timed when its ring position
                           # is a multiple of this (handler_ns); a cooperative one always
SWEEP_PASSES = 1 << 6      # every this many passes (the first too) the loop looks at every
                           # queue's rings, bell or not
MAX_ROOM_NEED = 1 << 20    # a room check asks for at most this many slots of one queue
MIN_CAPACITY = 2           # a one-slot ring's free and full slots have the same seq word
MAX_CAPACITY = 1 << 24     # the most slots ringc gives one ring (a kernel's or the host's)
NEVER = (1 << 63) - 1      # a due time that never comes (rc.now()'s largest value)
HOST_PATIENCE_NS = 10**9   # how long, on the host's clock, a device waits for the host to
                           # drain its output or dead-letter queue before giving up

RECORDS = (CONTROL, STATS, QUEUE, SLOT, DEAD_SLOT)


def check() -> None:
    """Raise ProtocolError if an offset differs from C's layout of its header: what the
    static asserts of `c_asserts` check in every device build."""
    for record in RECORDS:
        natural = dict(_natural_offsets(record.fields))
        for name, offset in record.offsets.items():
            if natural[name] != offset:
                raise ProtocolError(f"{record.c_name}.{name} is at byte {natural[name]} in "
                                    f"C, but the protocol says {offset}")


def c_defines() -> list[tuple[str, int, int]]:
    """(name, value, bits) of every protocol constant device code uses."""
    out = [("RC_LINE", LINE, 32), ("RC_HOST_QUEUE", HOST_QUEUE, 32),
           ("RC_DEAD_QUEUE", DEAD_QUEUE, 32), ("RC_NO_RING", NO_RING, 32),
           ("RC_INGRESS", INGRESS, 32), ("RC_DEVICE_CONVERSATION", DEVICE_CONVERSATION, 64),
           ("RC_STATS_LINE", STATS.size, 32), ("RC_QUEUE_HEADER", QUEUE.size, 32),
           ("RC_PAYLOAD", SLOT.size, 32),
           ("RC_DEAD_PAYLOAD", DEAD_SLOT.size, 32)]
    for record in RECORDS:
        out += [(record.define(f.name), record.offsets[f.name], 32) for f in record.fields]
    out += [(f"RC_{reason.upper()}", code, 32) for code, reason in REASONS.items()]
    out += [("RC_SERVE_PERSISTENT", SERVE_PERSISTENT, 32),
            ("RC_SERVE_EVENT_DRIVEN", SERVE_EVENT_DRIVEN, 32),
            ("RC_RETURN_WHEN_IDLE", RETURN_WHEN_IDLE, 32), ("RC_NEVER", NEVER, 64),
            ("RC_PARK_WHEN_IDLE", PARK_WHEN_IDLE, 32),
            ("RC_ROOM_OK", ROOM_OK, 32), ("RC_ROOM_DEVICE", ROOM_DEVICE, 32),
            ("RC_ROOM_HOST", ROOM_HOST, 32),
            ("RC_BLOCK_SPINS", BLOCK_SPINS, 32), ("RC_HOST_PATIENCE", HOST_PATIENCE_NS, 64),
            ("RC_MAX_LOCAL", MAX_LOCAL, 32), ("RC_DRAIN_PASSES", DRAIN_PASSES, 32),
            ("RC_ROOM_PATIENCE", ROOM_PATIENCE, 32), ("RC_MAX_PASSES", MAX_PASSES, 64),
            ("RC_SWEEP_PASSES", SWEEP_PASSES, 32), ("RC_TIME_EVERY", TIME_EVERY, 32),
            ("RC_MAX_ROOM_NEED", MAX_ROOM_NEED, 32), ("RC_PHASE_NEW", PHASE_NEW, 32),
            ("RC_PHASE_RUNNING", PHASE_RUNNING, 32), ("RC_PHASE_STOPPED", PHASE_STOPPED, 32)]
    names = [name for name, _, _ in out]
    if len(set(names)) != len(names):
        raise ProtocolError("two protocol constants share a C name")
    return out


def c_structs() -> list[tuple[str, list[tuple[str, str, int]]]]:
    """(C name, members) of every header; a member is (IR type, name, array length or 0),
    with `u8` padding arrays where a field starts a line of its own or the size leaves
    room. Members follow the declaration, never `offsets`: the static asserts compare."""
    out = []
    for record in RECORDS:
        members, at = [], 0
        for f, (_, offset) in zip(record.fields, _natural_offsets(record.fields)):
            if offset > at:
                members.append(("u8", f"rc_pad{len(members)}", offset - at))
            members.append((f.type, f.name, 0))
            at = offset + _SIZES[f.type]
        if record.size > at:
            members.append(("u8", f"rc_pad{len(members)}", record.size - at))
        out.append((record.c_name, members))
    return out


def c_asserts() -> list[tuple[str, str]]:
    """(C expression, C constant) pairs that must be equal in every build."""
    out = []
    for record in RECORDS:
        out.append((f"sizeof({record.c_name})", str(record.size)))
        out += [(f"__builtin_offsetof({record.c_name}, {f.name})", record.define(f.name))
                for f in record.fields]
    return out


def capacity_problem(value) -> str | None:
    """Why `value` cannot be a ring's capacity (slots), or None when it can."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an int, not {type(value).__name__}"
    if value & (value - 1) or not MIN_CAPACITY <= value <= MAX_CAPACITY:
        why = " (a ring of one slot cannot tell a free slot from a full one)" \
            if value == 1 else ""
        return f"must be a power of two from {MIN_CAPACITY} to {MAX_CAPACITY}, not {value}{why}"
    return None
