"""Private memory on PoCL's CPU device: what a handling needs, and what a work-item has.

PoCL's CPU device (its "pthread" driver) runs every work-group on one of its worker threads,
made with `pthread_create(&thread, NULL, ...)`: the C library's default thread stack, which
glibc takes from the `ulimit -s` soft limit when the process starts (2 MiB when it is
unlimited). A work-item's private memory lives on that stack, and the emitted handlers keep
whole messages there: the dispatcher copies each message it takes out of its ring, and a
handler builds the messages it sends in locals. PoCL reports no real figure for it
(`CL_KERNEL_PRIVATE_MEM_SIZE` reads 1024 whatever the program), and a kernel that runs past
the end of the stack is not refused: it kills the whole process with SIGSEGV.

Measured (PoCL 3.1, LLVM 15, x86-64), with a message holding an `Array[f32, N]`: a handler
replying with one local of the message type ran with N = 1,046,875 (2 x 4,187,516 bytes,
13,576 bytes short of the 8 MiB stack) and crashed with N = 1,062,500; with a 16 MiB stack
N = 2,000,000 ran, with 2 MiB (`ulimit -s unlimited`) N = 240,000 ran and 280,000 crashed.
A second such local took a third of the stack per copy (N = 693,000 ran, 700,000 crashed);
`return Msg(...)` without a local kept two copies too (N = 1,040,000 ran, 1,500,000
crashed); a zeroed `Array[f32, K]` local kept K x 4 bytes (K = 2,075,000 ran). A parallel
kernel (16 work-items) had the same limits.

So `private_need` sums a handler's parameter (the dispatcher's copy), its locals, every
message built other than as a local's value (a temporary) and, along its costliest call,
the callee's own sum and result; `check` refuses a program whose largest need does not fit
in the worker stack less `RESERVE`. Limits: the sum is a model of what LLVM keeps, checked
against the shapes above; LLVM may keep less (calls are often inlined: a refused program
might have run) or, for shapes not measured, more. Only PoCL's CPU device is checked; other
devices' private memory is theirs to limit.
"""

from __future__ import annotations

import ctypes
import functools

from ringc.errors import BackendUnavailable
from ringc.ir.nodes import (
    Assign,
    Call,
    Expr,
    FunctionDef,
    HelperCall,
    KernelDef,
    Local,
    MessageNew,
    Program,
    Stmt,
    Zero,
)
from ringc.ir.walk import all_stmts, function_locals, stmt_exprs, walk

from .toolchain import is_pocl_cpu

__all__ = ["FALLBACK_STACK", "RESERVE", "check", "private_need", "worker_stack"]

#: Stack left for everything `private_need` does not count: PoCL's and the kernel's own
#: frames, scalars, thread-local storage. Four times the 13,576 bytes to spare measured.
RESERVE = 64 << 10
#: The worker stack assumed where the C library cannot be asked (no
#: `pthread_getattr_default_np`, e.g. macOS): macOS's default for secondary threads.
FALLBACK_STACK = 512 << 10


@functools.cache
def worker_stack() -> int:
    """The stack, in bytes, of the threads PoCL makes: the C library's default for new
    threads (`pthread_getattr_default_np`), else `FALLBACK_STACK`."""
    try:
        libc = ctypes.CDLL(None)
        get_default = libc.pthread_getattr_default_np
    except (OSError, AttributeError):
        return FALLBACK_STACK
    attr = ctypes.create_string_buffer(256)       # a pthread_attr_t (56 bytes on glibc)
    size = ctypes.c_size_t()
    if get_default(attr) != 0:
        return FALLBACK_STACK
    try:
        if libc.pthread_attr_getstacksize(attr, ctypes.byref(size)) != 0:
            return FALLBACK_STACK
    finally:
        libc.pthread_attr_destroy(attr)
    return size.value


def private_need(program: Program, kernel: KernelDef, handler: FunctionDef) -> int:
    """Bytes of private memory one handling of `handler` keeps (see the module doc).
    `program` must be verified IR: a recursive call graph would not end."""
    return _Frames(program, kernel).need(handler)


def check(program: Program, device) -> None:
    """BackendUnavailable when a handler of `program` needs more private memory than a
    work-item has on `device` (PoCL's CPU device; others are not checked)."""
    if not is_pocl_cpu(device):
        return
    needs = [(private_need(program, k, h), k, h) for k in program.kernels for h in k.handlers]
    if not needs:
        return
    need, kernel, handler = max(needs, key=lambda n: n[0])
    room = worker_stack() - RESERVE
    if need <= room:
        return
    message = handler.params[0].type
    raise BackendUnavailable(
        f"{kernel.name}.{handler.name} keeps {need:,} bytes in private memory (its message "
        f"{message} is {message.size:,} bytes, plus its locals and calls), but PoCL runs the "
        f"work-items of {device.name.strip()} on threads whose stack is {worker_stack():,} "
        f"bytes, which leaves at most {room:,}: send smaller messages, raise `ulimit -s` "
        "before starting Python, or use backend='sim'")


class _Frames:
    """Private bytes of functions of one kernel, memoized by (call kind, name)."""

    def __init__(self, program: Program, kernel: KernelDef):
        self.program = program
        self.kernel = kernel
        self.memo: dict[tuple[type, str], int] = {}

    def need(self, fn: FunctionDef) -> int:
        """`fn`'s parameters, locals and temporaries, plus its costliest call."""
        own = (sum(p.type.size for p in fn.params)
               + sum(t.size for t in function_locals(fn).values()))
        deepest = 0
        for stmt in all_stmts(fn.body):
            for node in (n for e in stmt_exprs(stmt) for n in walk(e)):
                if isinstance(node, (MessageNew, Zero)) and not _initializes_local(stmt, node):
                    own += node.type.size
                elif isinstance(node, (Call, HelperCall)):
                    deepest = max(deepest, self.call(node))
        return own + deepest

    def call(self, call: Call | HelperCall) -> int:
        key = (type(call), call.function)
        if key not in self.memo:
            functions = (self.kernel.helpers if isinstance(call, HelperCall)
                         else self.program.functions)
            callee = next(f for f in functions if f.name == call.function)
            result = callee.returns.size if callee.returns is not None else 0
            self.memo[key] = self.need(callee) + result
        return self.memo[key]


def _initializes_local(stmt: Stmt, value: Expr) -> bool:
    """Is `value` the whole value assigned to a local (built in the local's own memory,
    measured), rather than a temporary (`return Msg(...)`, `rc.emit(Msg(...))`)?"""
    return isinstance(stmt, Assign) and stmt.value is value and isinstance(stmt.target, Local)
