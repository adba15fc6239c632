"""Private memory on PoCL's CPU device: a handling that cannot fit in a worker thread's
stack is refused at launch (it used to kill the process with SIGSEGV), one that fits runs."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

import ringc as rc
from ringc import Array, f32, i32
from ringc.backends.opencl import stack
from ringc.backends.opencl.stack import RESERVE, private_need
from ringc.compiler import to_program
from tests.backend_support import unavailable

ROOT = Path(__file__).resolve().parents[3]
STACK = 2 << 20                       # the child's `ulimit -s`: its threads' stack
needs_pocl = pytest.mark.skipif(unavailable("opencl") is not None,
                                reason=f"opencl: {unavailable('opencl')}")

CHILD = """
import ringc as rc
from ringc import Array, f32, i32

@rc.message
class Big:                            # 1,200,016 bytes: twice that does not fit in 2 MiB
    n: i32
    v: Array[f32, 300_000]

@rc.message
class Small:                          # 400,016 bytes: twice that does
    n: i32
    v: Array[f32, 100_000]

@rc.ring_kernel(capacity=2)
class BigEcho:
    def on_big(self, m: Big) -> Big:
        r = Big(n=m.n + 1)
        r.v[0] = m.v[1]
        return r

@rc.ring_kernel(capacity=2)
class SmallEcho:
    def on_small(self, m: Small) -> Small:
        r = Small(n=m.n + 1)
        r.v[0] = m.v[1]
        return r

for kernel, message in ((BigEcho, Big(n=1)), (SmallEcho, Small(n=1))):
    try:
        with rc.launch(kernel, backend="opencl", output_capacity=2,
                       dead_letter_capacity=2) as rt:
            print(rt.request(kernel, message, timeout=30.0).n)
    except rc.BackendUnavailable as exc:
        print(exc)
"""


def small_stack() -> None:
    """In the child before it starts: glibc sizes new threads from this limit."""
    hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
    limit = STACK if hard == resource.RLIM_INFINITY else min(STACK, hard)
    resource.setrlimit(resource.RLIMIT_STACK, (limit, hard))


def require_pocl_cpu() -> None:
    from ringc.backends.opencl.loader import find_device
    from ringc.backends.opencl.toolchain import is_pocl_cpu

    if not is_pocl_cpu(find_device()):
        pytest.skip("the default OpenCL device is not PoCL's CPU device")


@needs_pocl
def test_a_message_too_big_for_the_worker_stack_is_refused_not_a_crash(tmp_path):
    require_pocl_cpu()
    script = tmp_path / "echo.py"
    script.write_text(CHILD)
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, preexec_fn=small_stack)
    assert result.returncode == 0, result.stderr[-2000:]
    refusal, reply = result.stdout.splitlines()
    assert refusal.startswith("BigEcho.on_big keeps 2,400,032 bytes in private memory (its "
                              "message Big is 1,200,016 bytes, plus its locals and calls), "
                              "but PoCL runs the work-items of ")
    assert refusal.endswith(f"on threads whose stack is {STACK:,} bytes, which leaves at most "
                            f"{STACK - RESERVE:,}: send smaller messages, raise `ulimit -s` "
                            "before starting Python, or use backend='sim'")
    assert reply == "2"


@needs_pocl
def test_the_refusal_carries_none_of_our_call_stack(monkeypatch):
    require_pocl_cpu()
    monkeypatch.setattr(stack, "worker_stack", lambda: RESERVE + 1024)
    with pytest.raises(rc.BackendUnavailable, match="OneLocal.on_blob keeps") as info:
        rc.launch(OneLocal, backend="opencl")
    assert "\n" not in str(info.value)
    assert [entry.name for entry in info.traceback][1:] == ["launch"]


# ---- what a handling keeps, from the IR ----------------------------------------------

@rc.message
class Blob:                           # 4,016 bytes
    n: i32
    v: Array[f32, 1000]


@rc.device
def bumped(b: Blob) -> Blob:
    c = b
    c.n = b.n + 1
    return c


@rc.ring_kernel(capacity=2)
class OneLocal:
    def on_blob(self, m: Blob) -> Blob:       # the dispatcher's copy and one local
        r = Blob(n=m.n)
        return r


@rc.ring_kernel(capacity=2)
class Temporary:
    def on_blob(self, m: Blob) -> Blob:       # ... and the reply it builds in a temporary
        return Blob(n=m.n)


@rc.ring_kernel(capacity=2)
class TwoLocals:
    def on_blob(self, m: Blob) -> None:       # ... two locals
        r = Blob(n=m.n)
        s = Blob(n=r.n)
        rc.emit(r)
        rc.emit(s)


@rc.ring_kernel(capacity=2)
class Calls:
    def on_blob(self, m: Blob) -> Blob:       # ... a call: its parameter, local and result
        return bumped(m)


@pytest.mark.parametrize("kernel, copies",
                         [(OneLocal, 2), (Temporary, 2), (TwoLocals, 3), (Calls, 4)])
def test_a_handling_keeps_its_message_its_locals_and_its_calls(kernel, copies):
    program = to_program([kernel])
    ir = program.kernel(kernel.__name__)
    assert copies * 4016 <= private_need(program, ir, ir.handlers[0]) < copies * 4016 + 64
