"""Barrier synchronisation: supersteps that no participant starts before all finished the last.

CELLS instances of `Cell` sit on a ring; each holds a value (set from its instance number
in `on_start`). In every superstep a cell shares its value with both neighbours, and once
it has both of theirs it becomes the mean of the three, then arrives at the `Barrier`. When
all cells have arrived, the barrier starts the next superstep by sending every cell a
`Release`; after the last one, each cell emits its final value to the host.

Without the barrier a quick cell could share its next value while a slow neighbour still
waits for the current one, mixing two supersteps. Every `Share` and `Arrive` carries its
superstep, and one out of step is dead-lettered (`out_of_step`): the run shows none.

Limits: the number of participants is the number of instances, fixed when the program is
compiled; all cells run in one work-group unless `groups=` asks for more.

    python samples/patterns/barrier_sync.py [opencl|sim]
"""

import sys

import numpy as np

import ringc as rc
from ringc import bool_, f32, i32

CELLS = 8
SUPERSTEPS = 12


@rc.message
class Begin:
    supersteps: i32


@rc.message
class Release:
    step: i32
    last: i32                # the final superstep: emit the value instead of sharing it


@rc.message
class Share:
    step: i32
    from_left: bool_         # from the cell before this one on the ring
    value: f32


@rc.message
class Arrive:
    step: i32


@rc.message
class Final:
    cell: i32
    value: f32


@rc.ring_kernel(instances=CELLS, capacity=32)
class Cell:
    value: f32
    step: i32
    left: f32
    right: f32
    received: i32            # neighbours' values received this superstep

    def on_start(self):
        self.value = f32(rc.instance_id() * 10)

    def on_release(self, m: Release):
        me = rc.instance_id()
        self.step = m.step
        if m.step == m.last:
            rc.emit(Final(cell=me, value=self.value))
            return
        rc.send(Cell, Share(step=m.step, from_left=True, value=self.value),
                instance=(me + 1) % CELLS)
        rc.send(Cell, Share(step=m.step, from_left=False, value=self.value),
                instance=(me + CELLS - 1) % CELLS)

    def on_share(self, m: Share):
        if m.step != self.step:
            rc.fail("out_of_step")
        if m.from_left:
            self.left = m.value
        else:
            self.right = m.value
        self.received += 1
        if self.received == 2:
            self.received = 0
            self.value = (self.left + self.value + self.right) / 3.0
            rc.send(Barrier, Arrive(step=self.step))


@rc.ring_kernel(capacity=64)
class Barrier:
    superstep: i32
    last: i32
    arrived: i32

    def on_begin(self, m: Begin):
        self.last = m.supersteps
        self.release_all()

    def on_arrive(self, m: Arrive):
        if m.step != self.superstep:
            rc.fail("out_of_step")
        self.arrived += 1
        if self.arrived == CELLS:
            self.arrived = 0
            self.superstep += 1
            self.release_all()

    def release_all(self):
        for cell in range(CELLS):
            rc.send(Cell, Release(step=self.superstep, last=self.last), instance=cell)


def expected_values() -> np.ndarray:
    """The same supersteps on the host, in the same f32 arithmetic."""
    values = np.arange(CELLS, dtype=np.float32) * np.float32(10)
    for _ in range(SUPERSTEPS):
        values = (np.roll(values, 1) + values + np.roll(values, -1)) / np.float32(3)
    return values


def main(backend: str = "opencl") -> dict:
    """Run SUPERSTEPS supersteps; compare the final values with the host's own run."""
    with rc.launch(Barrier, backend=backend) as rt:
        rt.send(Barrier, Begin(supersteps=SUPERSTEPS))
        finals = np.sort(rt.receive_many(CELLS, timeout=30.0), order="cell")
        supersteps = int(rt.checkpoint(Barrier)["superstep"])
        out_of_step = sum(d.reason == "out_of_step" for d in rt.dead_letters())
    values = finals["value"]
    matches = np.array_equal(values, expected_values())
    print(f"{CELLS} cells ran {supersteps} supersteps, each ended by the barrier; "
          f"messages out of step: {out_of_step}")
    print("values went from " + " ".join(f"{10 * c:g}" for c in range(CELLS))
          + " to " + " ".join(f"{v:.2f}" for v in values))
    print(f"the same as the host's supersteps: {'yes' if matches else 'NO'}")
    return {"supersteps": supersteps, "out_of_step": out_of_step, "matches": matches}


if __name__ == "__main__":
    main(*sys.argv[1:2])
