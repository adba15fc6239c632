"""The simulator as a device: `SimMachine` (the device program in Python) on a thread.

The arena is a plain numpy array the host runtime reads and writes exactly as it does a
device's; the machine runs `rc_main`'s loop over it on one daemon thread (`groups`
work-groups, default 1, interleaved pass by pass, so a run is deterministic and shows no
interleaving inside a pass). Python's GIL makes it slow, not different.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from ringc.arena import Layout
from ringc.errors import RingcError
from ringc.ir.nodes import MAX_GROUP_SIZE, Program

from ..devices import DeviceFacts
from ..record import LoadRequest
from .machine import SimMachine

__all__ = ["SimDevice", "FACTS", "facts", "prepare", "load"]

# one Python thread runs every work-group; lanes up to the language's limit; every type
FACTS = DeviceFacts(name="ringc simulator", backend="sim", compute_units=1,
                    max_group_size=MAX_GROUP_SIZE, fp64=True, int64_atomics=True)


def prepare(device, settings) -> None:
    """The simulator has one device: a `device` choice is a mistake; `groups` must be a
    positive int."""
    if device is not None:
        raise ValueError("backend 'sim' has one device: leave device out")
    groups = settings["groups"]
    if groups is not None and (isinstance(groups, bool) or not isinstance(groups, int)
                               or groups < 1):
        raise ValueError(f"groups must be an int of at least 1, not {groups!r}")


def facts(device, settings) -> DeviceFacts:
    """The target's `facts` (the simulator's one device)."""
    prepare(device, settings)
    return FACTS


def load(request: LoadRequest) -> SimDevice:
    """The target's loader (`ringc.backends.record.Target.load`): runs the IR itself."""
    return SimDevice(request.program, request.layout, request.reasons, request.image,
                     groups=request.settings["groups"] or 1)


class SimDevice:
    """One program's memory and launches in the simulator."""

    clock = "host"      # rc.now() is the host's clock: `now`, called by the machine itself

    def __init__(self, program: Program, layout: Layout, reasons: tuple[str, ...],
                 image: np.ndarray, groups: int = 1):
        self.groups = groups
        self.facts = FACTS
        self.description = (f"ringc simulator (Python, {groups} work-group(s) of one "
                            f"work-item, interleaved pass by pass)")
        self.memory = image.copy()
        self.arena = self.memory[:layout.local_offset]
        self.machine = SimMachine(program, layout, reasons)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        # the runtime's `rt.now()` (ns since the launch); None: the machine's own
        # (time.monotonic_ns() less the time of its first launch)
        self.now: Callable[[], int] | None = None

    def read_local(self, offset: int, size: int) -> np.ndarray:
        return self.memory[offset:offset + size]

    def write_local(self, offset: int, data: np.ndarray) -> None:
        self.memory[offset:offset + len(data)] = data

    def launch(self, mode: int) -> None:
        self._thread = threading.Thread(target=self._run, args=(mode,), name="ringc-sim",
                                        daemon=True)
        self._thread.start()

    def _run(self, mode: int) -> None:
        try:
            self.machine.run(self.memory, mode, self.now, groups=self.groups)
        except BaseException as exc:            # reported to the host by running()
            self._error = exc

    def running(self) -> bool:
        if self._error is not None:
            raise RingcError(f"the simulator stopped on an internal error: "
                             f"{type(self._error).__name__}: {self._error}")
        return self._thread is not None and self._thread.is_alive()

    def release(self) -> None:
        """Nothing to free: the memory stays readable after shutdown."""
