"""Activation, checkpoint and restore of a running program's instances (docs/runtime.md,
"State, control and reports"). `Control` is the part of `Runtime` (its base class, as
`Reports` is) that holds instances inactive and reads or replaces their state between two
messages; it works on the runtime's arena, lock and waits. Limits: an instance that stays
inside one handler for 10 s fails a checkpoint or restore with TimeoutError; a snapshot is
checked by its fields and its timer table's targets, not by the program it came from.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

from ..arena import KernelLayout
from ..protocol import NEVER
from .codec import fitted
from .rings import full_fence

if TYPE_CHECKING:
    from .reporting import Kernel

__all__ = ["Control"]


class Control:
    """`Runtime`'s control methods (see the module doc); not used on its own."""

    def activate(self, kernel: Kernel, instance: int | None = None) -> None:
        """Let the kernel's instances (or one) take messages again."""
        self._set_active(kernel, instance, True)
        if self._parks:                  # what waited for them may need a launch now
            with self._lock:
                self._relaunch_if_needed()
            self._wake.set()

    def deactivate(self, kernel: Kernel, instance: int | None = None) -> None:
        """Stop the kernel's instances (or one) taking messages; they stay queued. Returns
        once none of them is inside a handler (the one in hand completes)."""
        queues = self._set_active(kernel, instance, False)
        self._wait(lambda: not self._stats["busy"][queues.start:queues.stop].any()
                   or not self._device_running(), None)

    def _set_active(self, kernel, instance: int | None, value: bool) -> range:
        queues = self._queues(self._kernel(kernel), instance)
        with self._lock:
            self._wanted_active[queues.start:queues.stop] = value
            self._apply_active(queues)
        return queues

    def _apply_active(self, queues: range) -> None:
        """The device's `active` words: what the user asked, unless a checkpoint or restore
        holds the instance. Caller holds the lock."""
        q = slice(queues.start, queues.stop)
        self._stats["active"][q] = self._wanted_active[q] & (self._holds[q] == 0)
        full_fence()
        self._launch_progress = None       # what was inactive may have work: launch again
        self._device_due = None            # ... or timers and ticks due

    @contextlib.contextmanager
    def _quiesced(self, queue: int):
        """Instance `queue` between two messages while the block runs: held inactive
        (holds are counted, so concurrent checkpoints compose), and busy == 0."""
        queues = range(queue, queue + 1)
        with self._lock:
            self._holds[queue] += 1
            self._apply_active(queues)
        try:
            if not self._wait(lambda: self._stats["busy"][queue] == 0
                              or not self._device_running(), 10.0):
                raise TimeoutError("the instance stayed inside a handler for 10 s")
            with self._lock:
                yield
        finally:
            with self._lock:
                self._holds[queue] -= 1
                self._apply_active(queues)

    def _state_of(self, kernel, instance) -> tuple[KernelLayout, int, int]:
        """(kernel layout, queue id, state offset) of one instance."""
        k, queue = self._target(kernel, instance)
        return k, queue, k.state_offset + (queue - k.queue_base) * k.state_stride

    def checkpoint(self, kernel: Kernel, instance: int = 0) -> np.void:
        """The instance's state as a numpy record (fields named after the state
        attributes), taken between two messages."""
        k, queue, offset = self._state_of(kernel, instance)
        with self._quiesced(queue):
            raw = np.array(self._device.read_local(offset, k.state_dtype.itemsize), copy=True)
        snapshot = raw.view(k.state_dtype)[0]
        if k.timed:
            snapshot["rc_taken_at"] = self._clock.now()
        return snapshot

    def restore(self, kernel: Kernel, snapshot: np.void | np.ndarray,
                instance: int = 0) -> None:
        """Replace the instance's state with `snapshot` (from `checkpoint`, or any record
        with the same fields), between two messages."""
        k, queue, offset = self._state_of(kernel, instance)
        record = np.zeros((), k.state_dtype)
        names = getattr(getattr(snapshot, "dtype", None), "names", None)
        if names is None or set(names) != set(k.state_dtype.names or ()):
            raise TypeError(f"a snapshot of {k.name} is a record with the fields "
                            f"{', '.join(k.state_dtype.names or ())}")
        for name in names:
            record[name] = fitted(snapshot[name], k.state_dtype.fields[name][0], None,
                                  f"field {name!r} of the snapshot of {k.name}")
        if k.timed:
            self._rebase_timers(k, record)
            self._timer_targets(record)               # checked before anything changes
        with self._quiesced(queue):
            if k.timers:
                current = np.array(self._device.read_local(offset, k.state_dtype.itemsize),
                                   copy=True).view(k.state_dtype)[0]
                with self._lock:
                    self._retarget(current, -1)      # the table replaced, and the one
                    self._retarget(record, +1)       # restored: counted at their targets
            self._device.write_local(offset, record.reshape(1).view(np.uint8))

    def _timer_targets(self, state) -> np.ndarray:
        """The target queue of each message a timer table holds (ValueError if one is not
        a queue of this program: a snapshot of another program)."""
        if "rc_timer_heap" not in (state.dtype.names or ()):
            return np.zeros(0, dtype=np.int64)
        live = state["rc_timer_heap"][:int(state["rc_timer_count"])]
        targets = state["rc_timer_queue"][live].astype(np.int64)
        if (targets >= self._layout.num_queues).any():
            raise ValueError("the snapshot's timer table sends to queues this program does "
                             "not have: it comes from another program")
        return targets

    def _retarget(self, state, sign: int) -> None:
        """Count a timer table's messages in (+1) or out (-1) of `received` and `scheduled`
        at their targets, as the device counted them when they were scheduled: the host
        keeps the difference (the device's words are its own). Caller holds the lock."""
        for q in self._timer_targets(state):
            self._restored[q] += sign

    def _rebase_timers(self, k: KernelLayout, record: np.ndarray) -> None:
        """A restored timer table: each scheduled message as far from due as when the
        checkpoint was taken (it may come from another launch, whose clock started
        elsewhere), and each periodic method due at its next period of this launch."""
        now = self._clock.now()
        shift = now - int(record["rc_taken_at"])
        if k.timers:
            live = record["rc_timer_heap"][:int(record["rc_timer_count"])]
            due = record["rc_timer_due"][live].astype(np.int64) + shift
            record["rc_timer_due"][live] = np.clip(due, 0, NEVER)
        if k.periods:
            periods = np.array(k.periods, dtype=np.int64)
            record["rc_tick_due"] = (now // periods + 1) * periods
        record["rc_taken_at"] = now
