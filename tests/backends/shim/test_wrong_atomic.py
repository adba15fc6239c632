"""A deliberately wrong atomic in the emitted CUDA fails a shimmed run: the 32-bit
compare-and-swap the device loop claims slots with (a parallel queue's head, a ring's
tail) spelled as a plain load, a short spin and a store. Four groups on host threads then
claim the same message twice or write the same slot twice: messages are handled twice,
lost, or the program never drains. The right spelling conserves every message on the same
run. x86's strong memory model hides a missing fence (docs/shims.md, "Limits"), but not a
missing atomic: this is the case that shows.

Each run is a child process (`python -m tests.backends.shim.test_wrong_atomic racy|right
FILE`), so a broken program that hangs costs its time limit, not the test session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

MESSAGES = 4000
GROUPS = 4
TRIES = 6
LIMIT_S = 30
PROGRAM = """
import ringc as rc
from ringc import i32


@rc.message
class Tick:
    v: i32


@rc.ring_kernel(capacity=1 << 13)
class Sink:
    seen: i32

    def on_tick(self, m: Tick):
        self.seen += 1


@rc.ring_kernel(capacity=1 << 13, concurrency="parallel")
class Fan:
    def on_tick(self, m: Tick):
        rc.send(Sink, m)
"""
# a CAS that is not atomic: another group's store can land between its load and its
# store (the spin between them stands for a GPU's thousands of threads racing on one word)
RACY_CAS = ("({{ {t} rc_o = *(volatile {t}*)({p}); "
            "for (volatile int rc_k = 0; rc_k < 2000; ++rc_k) {{}} "
            "if (rc_o == ({e})) *(volatile {t}*)({p}) = ({v}); rc_o; }})")
ROOT = Path(__file__).resolve().parents[3]


def outcome(program_file: Path, racy: bool) -> tuple[int, int, int]:
    """(messages Fan handled, Sink handled, dead letters) after MESSAGES were drained by
    GROUPS groups of 4 lanes, with the CAS as emitted or racy."""
    from ringc.backends.cuda.dialect import DIALECT
    from ringc.codegen import generate
    from ringc.frontend import build_program
    from ringc.frontend.files import import_file, kernels_in
    from ringc.protocol import DEAD_QUEUE, HOST_QUEUE, RETURN_WHEN_IDLE, SERVE_PERSISTENT
    from tests.codegen.arena import ShimDrainRunner, drain, push, stats

    program = build_program(kernels_in(import_file(program_file)))
    if racy:
        DIALECT.atomic_cas = {**DIALECT.atomic_cas, 32: RACY_CAS}
    generated = generate(program, "cuda")
    layout = generated.layout
    runner = ShimDrainRunner(generated.source, layout, "cuda", local_size=4)
    arena = layout.new_arena()
    fan, sink = layout.kernel("Fan").queue_base, layout.kernel("Sink").queue_base
    tick = layout.message("Tick").dtype
    for i in range(MESSAGES):
        push(arena, layout, fan, "Tick", np.array((i,), tick)[()], correlation=i + 1)
    for _ in range(20):                      # drain launches until nothing is left to take
        runner.run(arena, groups=GROUPS, mode=SERVE_PERSISTENT | RETURN_WHEN_IDLE)
        if int(stats(arena, layout, sink)["processed"]) >= MESSAGES:
            break
    drain(arena, HOST_QUEUE, layout)
    dead = len(drain(arena, DEAD_QUEUE, layout))
    return (int(stats(arena, layout, fan)["processed"]),
            int(stats(arena, layout, sink)["processed"]), dead)


def _run(program_file: Path, racy: bool) -> str:
    """One run in a child process: its outcome, or "hung" past LIMIT_S."""
    try:
        done = subprocess.run([sys.executable, "-m", "tests.backends.shim.test_wrong_atomic",
                               "racy" if racy else "right", str(program_file)],
                              cwd=ROOT, capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        return "hung"
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("clang++") is None,
                    reason="the executing shims need g++ or clang++")
def test_a_racy_compare_and_swap_breaks_conservation_and_the_real_one_keeps_it(tmp_path):
    program_file = tmp_path / "fan_in.py"
    program_file.write_text(PROGRAM)
    conserved = str((MESSAGES, MESSAGES, 0))
    assert _run(program_file, racy=False) == conserved
    seen = []
    for _ in range(TRIES):               # each racy run breaks with high probability
        seen.append(_run(program_file, racy=True))
        if seen[-1] != conserved:
            break
    assert seen[-1] != conserved, seen


if __name__ == "__main__":
    print(outcome(Path(sys.argv[2]), sys.argv[1] == "racy"))
