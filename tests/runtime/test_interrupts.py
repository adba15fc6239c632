"""Ctrl-C anywhere in the runtime loses nothing: every message is delivered to the caller
or still receivable, and the rings stay consistent (docs/runtime.md, "Threads")."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ringc.runtime import interrupts

ROOT = Path(__file__).resolve().parents[2]


def test_interrupts_at_random_points_lose_nothing(backend):
    run = subprocess.run([sys.executable, "-m", "tests.runtime.interrupted", backend, "300",
                          "7"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.splitlines()[-1])
    assert found["interrupts"] > 100, found            # the test did interrupt
    assert found["pending"] == 0 and found["dead_lettered"] == 0, found
    assert found["sent"] == found["processed"], found  # conservation: no ring was torn
    assert found["received"] == found["processed"], found   # every reply was received


def test_a_guarded_section_defers_sigint_to_its_end(monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    monkeypatch.setattr(signal, "getsignal", lambda _: signal.default_int_handler)
    installed = []
    monkeypatch.setattr(signal, "signal", lambda sig, handler: installed.append(handler))
    interrupts.install()
    (handler,) = installed
    guard, steps = interrupts.Guarded(), []
    with pytest.raises(KeyboardInterrupt):
        with guard:
            handler(signal.SIGINT, None)                # arrives inside: recorded
            steps.append("finished")
    assert steps == ["finished"]
    with pytest.raises(KeyboardInterrupt):
        handler(signal.SIGINT, None)                    # outside: at once, as Python's
