"""`SimDrainRunner`: tests/codegen/arena.py's DrainRunner, run by the simulator instead of
PoCL, so one test drives either backend."""

from __future__ import annotations

import numpy as np

from ringc.arena import Layout
from ringc.backends.sim.machine import SimMachine
from ringc.ir.nodes import Program
from ringc.protocol import DEAD_QUEUE, DRAIN_LAUNCH, HOST_QUEUE
from tests.codegen.arena import drain


class SimDrainRunner:
    """Runs launches of `program` on the simulator over numpy arenas. As on OpenCL,
    `rc.clock()` reads the control block's `host_clock`; a send that finds the host output
    queue full does not wait (no host thread drains it during a launch here)."""

    def __init__(self, program: Program, layout: Layout, reasons: tuple[str, ...],
                 local_size: int = 1):
        self.layout = layout
        self.machine = SimMachine(program, layout, reasons, width=local_size, host_wait=0.0)

    def run(self, arena: np.ndarray, groups: int = 1, mode: int = DRAIN_LAUNCH) -> np.ndarray:
        host_clock = arena[8:16].view(np.uint64)
        self.machine.run(arena, mode, lambda: int(host_clock[0]), groups=groups)
        return arena

    def host(self, arena: np.ndarray) -> list[dict]:
        return drain(arena, HOST_QUEUE, self.layout)

    def dead(self, arena: np.ndarray) -> list[dict]:
        return drain(arena, DEAD_QUEUE, self.layout)
