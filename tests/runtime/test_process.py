"""The process never hangs: on exit with the kernel running, or on Ctrl-C while a send
waits for room in a full queue. Each case runs in a child Python process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.backend_support import spin_rounds

ROOT = Path(__file__).resolve().parents[2]


def child(backend: str, body: str) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        import ringc as rc
        from tests.runtime.kernels import Slow, Spin, Summer, Work
        backend = {backend!r}
    """) + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_exit_with_the_kernel_running_does_not_hang(backend):
    proc = child(backend, """
        rt = rc.launch(Summer, backend=backend)
        print(rt.request(Summer, Work(id=3), timeout=10.0).id, flush=True)
        rt.deactivate(Summer)
        rt.send(Summer, np.zeros(64, Work.dtype))          # the queue is full, too
        # no shutdown: the atexit hook stops the program
    """)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == "3"


def test_ctrl_c_interrupts_a_send_waiting_for_room(backend):
    proc = child(backend, """
        rt = rc.launch(Summer, backend=backend)
        rt.deactivate(Summer)
        print("waiting", flush=True)
        try:
            rt.send(Summer, np.zeros(1000, Work.dtype))      # waits forever for room
        except KeyboardInterrupt:
            print("interrupted", rt.status(Summer).pending, flush=True)
            sys.exit(3)
    """)
    assert proc.stdout.readline().strip() == "waiting"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert out.split() == ["interrupted", "64"]


def test_ctrl_c_during_a_long_handler_leaves_promptly(backend):
    rounds = spin_rounds(backend, 2_000_000_000, 2_000_000)
    proc = child(backend, f"""
        with rc.launch(Slow, backend=backend) as rt:
            rt.send(Slow, Spin(rounds={rounds}))
            rt.send(Slow, Spin(rounds={rounds}))
            print("sent", flush=True)
            rt.receive()                                      # nothing ever comes
    """)
    assert proc.stdout.readline().strip() == "sent"
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert time.monotonic() - start < 20


def test_ctrl_c_during_a_draining_shutdown_still_stops_the_kernel(backend):
    rounds = spin_rounds(backend, 2_000_000_000, 1_000_000)       # about a second each
    proc = child(backend, f"""
        rt = rc.launch(Slow, backend=backend)
        for _ in range(8):
            rt.send(Slow, Spin(rounds={rounds}))
        print("draining", flush=True)
        try:
            rt.shutdown(drain=True, timeout=None)
        except KeyboardInterrupt:
            print("interrupted", rt.status(Slow).terminating, flush=True)
            raise SystemExit(3)
    """)
    assert proc.stdout.readline().strip() == "draining"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err                     # not an abort at exit
    assert out.split() == ["interrupted", "True"]
