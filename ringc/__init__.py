"""ringc: persistent GPU ring kernels written in Python.

Write `@rc.message` classes and `@rc.ring_kernel` classes, then `rc.launch(...)` them or
`rc.compile(...)` them to CUDA C, OpenCL C or Metal Shading Language. The docs/ folder of the
repository describes the language, the options, the device program and the runtime.
"""

from .compiler import CompiledProgram, compile
from .dsl import device, message, ring_kernel
from .errors import BackendUnavailable, CompileError, DeadLettered, QueueFull, RingcError
from .intrinsics import (
                         Fault,
                         atomic_add,
                         atomic_cas,
                         atomic_max,
                         atomic_min,
                         clock,
                         emit,
                         every,
                         fail,
                         instance_id,
                         now,
                         reply,
                         send,
                         send_after,
                         sender,
                         zeros,
)
from .launcher import launch
from .runtime import DeadLetter, Metrics, Runtime, Status
from .types import SCALAR_TYPES, Address, Array, LRUMap, Map, Queue, Stack

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

__version__ = "0.1.0"

__all__ = [
    "message", "ring_kernel", "device", "compile", "CompiledProgram", "launch", "Runtime",
    "Status", "Metrics", "DeadLetter",
    "CompileError", "QueueFull", "BackendUnavailable", "RingcError", "DeadLettered",
    "send", "send_after", "emit", "reply", "sender", "fail", "Fault", "clock", "now", "every",
    "instance_id",
    "atomic_add", "atomic_max", "atomic_min", "atomic_cas", "zeros",
    "Address", "Array", "Queue", "Stack", "Map", "LRUMap",
    "bool_", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64",
]
