"""A child process for test_interrupts.py: Ctrl-C at random points of `send`,
`receive_many` and `request`, hundreds of times, then the runtime is used again.

Usage: python -m tests.runtime.interrupted BACKEND ROUNDS SEED. Prints one JSON line: what
the host received (counting messages delivered to it before or after the interrupts), and
the kernel's final status after a drained shutdown.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time

import numpy as np

import ringc as rc
from tests.runtime.kernels import Sum, Summer, Work


def interrupt_after(delay: float) -> threading.Thread:
    """SIGINT to this process `delay` seconds from now (delivered to the main thread)."""
    def fire() -> None:
        time.sleep(delay)
        os.kill(os.getpid(), signal.SIGINT)
    thread = threading.Thread(target=fire, daemon=True)
    thread.start()
    return thread


def main(backend: str, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    interrupts = 0
    arrays, replies = [], []       # appended by the call that gets them: Python checks for
                                   # signals after a call like append, not between
                                   # a function's return and the append
    batch = np.zeros(200, Work.dtype)          # more than Summer's queue (64 slots) holds
    batch["data"] = 1.0
    with rc.launch(Summer, backend=backend, output_capacity=64) as rt:
        for _ in range(rounds):
            what = rng.choice(("send", "receive_many", "request"))
            timer = None
            try:
                timer = interrupt_after(rng.uniform(0, 0.003))
                if what == "send":
                    rt.send(Summer, batch, timeout=5.0)
                elif what == "receive_many":
                    arrays.append(rt.receive_many(150, timeout=0.01))
                else:
                    replies.append(rt.request(Summer, Work(id=1), timeout=5.0))
                timer.join()                   # a late SIGINT lands here
            except KeyboardInterrupt:
                interrupts += 1
                if timer is not None:
                    timer.join()
        rt.shutdown(drain=True, timeout=60.0)
        rest = rt.receive_many(10**9, timeout=0)
        received = len(rest) + len(replies) + sum(len(a) for a in arrays)
        status = rt.status(Summer)
    print(json.dumps({"received": received, "interrupts": interrupts, "sent": status.sent,
                      "processed": status.processed, "pending": status.pending,
                      "dead_lettered": status.dead_lettered,
                      "replies_are_sums": bool(rest.dtype == Sum.dtype)}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
