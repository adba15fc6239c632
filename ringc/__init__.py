"""ringc: persistent GPU ring kernels written in Python.

Write `@rc.message` classes and `@rc.ring_kernel` classes, then `rc.launch(...)` them or
`rc.compile(...)` them to CUDA C, OpenCL C or Metal Shading Language. The docs/ folder of the
repository describes the language, the options, the device program and the runtime.

Importing ringc loads only what decorating needs (the decorators, types and intrinsics, the
IR's node classes, numpy); the compiler, codegen (jinja2), the frontend and the runtime
load on first use of a name that needs them (`rc.compile`, `rc.launch`, `rc.Runtime`, ...)
or of a submodule (`ringc.codegen`), so `import ringc` stays cheap.
"""

import importlib as _importlib
from typing import TYPE_CHECKING

from .dsl import device, message, ring_kernel
from .errors import (
    BackendUnavailable,
    Closed,
    CompileError,
    DeadLettered,
    QueueFull,
    RingcError,
    ShimBuildError,
)
from .intrinsics import (
    Fault,
    atomic_add,
    atomic_cas,
    atomic_max,
    atomic_min,
    barrier,
    broadcast,
    clock,
    dot,
    emit,
    every,
    fail,
    group_max,
    group_min,
    group_size,
    group_sum,
    instance_id,
    lane,
    now,
    reply,
    send,
    send_after,
    sender,
    zeros,
)
from .ir.types import unknown_vector as _unknown_vector
from .types import (
    SCALAR_TYPES,
    VECTOR_TYPES,
    Address,
    Array,
    LRUMap,
    Map,
    Queue,
    Shared,
    Stack,
)

if TYPE_CHECKING:
    # What a type checker sees: a scalar type is the Python type of its values (an int, a
    # float, a bool), so `x: i32` annotates and `i32(x)` casts; a vector is Any (a numpy
    # array on the host, lanes in a handler). At run time they are the IR's type objects
    # (below). `Array[T, n]` and the containers are Any (ringc/types.py); `@rc.message` is
    # a dataclass transform, completed by `ringc.mypy_plugin` (ringc/dsl.py).
    from typing import Any, TypeAlias

    bool_: TypeAlias = bool
    i8: TypeAlias = int
    i16: TypeAlias = int
    i32: TypeAlias = int
    i64: TypeAlias = int
    u8: TypeAlias = int
    u16: TypeAlias = int
    u32: TypeAlias = int
    u64: TypeAlias = int
    f32: TypeAlias = float
    f64: TypeAlias = float
    f32x2: TypeAlias = Any
    f32x4: TypeAlias = Any
    i32x4: TypeAlias = Any
    u32x4: TypeAlias = Any

    # the names loaded on first use (`_LAZY`), as the type checker reads them
    from .compiler import CompiledProgram, compile
    from .launcher import DeviceFacts, device_facts, devices, launch
    from .runtime import DeadLetter, Health, Metrics, Runtime, Status
else:
    bool_ = SCALAR_TYPES["bool"]
    i8 = SCALAR_TYPES["i8"]
    i16 = SCALAR_TYPES["i16"]
    i32 = SCALAR_TYPES["i32"]
    i64 = SCALAR_TYPES["i64"]
    u8 = SCALAR_TYPES["u8"]
    u16 = SCALAR_TYPES["u16"]
    u32 = SCALAR_TYPES["u32"]
    u64 = SCALAR_TYPES["u64"]
    f32 = SCALAR_TYPES["f32"]
    f64 = SCALAR_TYPES["f64"]
    f32x2 = VECTOR_TYPES["f32x2"]
    f32x4 = VECTOR_TYPES["f32x4"]
    i32x4 = VECTOR_TYPES["i32x4"]
    u32x4 = VECTOR_TYPES["u32x4"]

__version__ = "0.1.0"

# names loaded on first use -> the module that defines them
_LAZY = {"compile": "compiler", "CompiledProgram": "compiler", "launch": "launcher",
         "Runtime": "runtime", "Status": "runtime", "Metrics": "runtime",
         "DeadLetter": "runtime", "Health": "runtime", "device_facts": "launcher",
         "DeviceFacts": "launcher", "devices": "launcher"}


def __getattr__(name: str) -> object:
    """A name of `_LAZY`, or a submodule (`ringc.codegen`), imported on first use and kept
    as an attribute of the package (later uses cost nothing). AttributeError otherwise
    (at once for dunder names, which tools probe for)."""
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _unknown_vector(name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}: "
                             f"{_unknown_vector(name)}")
    if name in _LAZY:
        value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        try:
            value = _importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

__all__ = [
    "message", "ring_kernel", "device", "compile", "CompiledProgram", "launch", "Runtime",
    "Status", "Metrics", "DeadLetter", "Health", "device_facts", "DeviceFacts",
    "devices",
    "CompileError", "QueueFull", "BackendUnavailable", "RingcError", "DeadLettered", "Closed",
    "ShimBuildError",
    "send", "send_after", "emit", "reply", "sender", "fail", "Fault", "clock", "now", "every",
    "instance_id", "dot",
    "atomic_add", "atomic_max", "atomic_min", "atomic_cas", "zeros",
    "lane", "group_size", "barrier", "group_sum", "group_max", "group_min", "broadcast",
    "Address", "Array", "Queue", "Stack", "Map", "LRUMap", "Shared",
    "bool_", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64",
    "f32x2", "f32x4", "i32x4", "u32x4",
]
