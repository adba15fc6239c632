"""Computing a program's arena layout (`ringc.arena.Layout`) and its handlers' room needs.

`compute_layout(program)` places, in this order and each on a 64-byte boundary: the control
block, one stats line per input queue, the ingress rings, the host output queue and the
dead-letter queue (the host-facing part), then, from a page boundary, one state struct per
kernel instance and the device rings (the device-local part); docs/device-program.md has
the picture. Header sizes come from `ringc.protocol`; the emitted source checks every
struct offset with static asserts, so a build by a real compiler verifies them.
"""

from __future__ import annotations

from dataclasses import replace

from ..arena import (
    HandlerLayout,
    KernelLayout,
    Layout,
    MessageLayout,
    QueueLayout,
    RoomNeed,
    round_up,
)
from ..errors import CompileError
from ..ir.nodes import (
    Call,
    Const,
    Emit,
    For,
    FunctionDef,
    If,
    KernelDef,
    Loc,
    Program,
    Reply,
    Return,
    Send,
    While,
)
from ..ir.types import MESSAGE_ALIGN, struct_dtype
from ..ir.walk import stmt_exprs, walk
from ..protocol import CONTROL, DEAD_QUEUE, DEAD_SLOT, HOST_QUEUE, LINE, PAGE, SLOT, STATS

__all__ = ["compute_layout", "room_needs"]


# ---------------------------------------------------------------------------------------
# Room needs: how many messages one handling can put in each queue group
# ---------------------------------------------------------------------------------------

def _trip_count(stmt: For) -> int:
    """The number of iterations of a constant-range For, else 1 ("at least one")."""
    if isinstance(stmt.start, Const) and isinstance(stmt.stop, Const):
        return len(range(int(stmt.start.value), int(stmt.stop.value), stmt.step))
    return 1


def _calls(expr) -> list[Call]:
    return [e for e in walk(expr) if isinstance(e, Call)]


class _NeedCounter:
    """Sums sends per queue group over a function body (If: the larger branch; constant
    loops multiply; other loops count once). Detects recursion, which GPUs cannot run."""

    def __init__(self, kernel: KernelDef | None, program: Program):
        self.kernel = kernel
        self.program = program
        self.memo: dict[str, dict[tuple, int]] = {}
        self.active: list[str] = []

    def function(self, name: str) -> FunctionDef:
        if name.startswith("self."):
            return next(f for f in self.kernel.helpers if f.name == name[5:])
        return next(f for f in self.program.functions if f.name == name)

    def call(self, name: str, loc: Loc) -> dict[tuple, int]:
        if name in self.active:
            raise CompileError(f"'{name}' calls itself (directly or through other functions)",
                               loc, hint="GPU targets cannot run recursion: use a loop")
        if name not in self.memo:
            self.active.append(name)
            self.memo[name] = self.body(self.function(name).body, handler=False)
            self.active.pop()
        return self.memo[name]

    def body(self, stmts, handler: bool) -> dict[tuple, int]:
        total: dict[tuple, int] = {}

        def add(counts: dict[tuple, int], times: int = 1) -> None:
            for key, n in counts.items():
                total[key] = total.get(key, 0) + n * times

        for stmt in stmts:
            for expr in stmt_exprs(stmt):
                for call in _calls(expr):
                    add(self.call(call.function, stmt.loc))
            if isinstance(stmt, If):
                then = self.body(stmt.then, handler)
                orelse = self.body(stmt.orelse, handler)
                add({k: max(then.get(k, 0), orelse.get(k, 0)) for k in {*then, *orelse}})
            elif isinstance(stmt, While):
                add(self.body(stmt.body, handler))
            elif isinstance(stmt, For):
                add(self.body(stmt.body, handler), _trip_count(stmt))
            elif isinstance(stmt, (Emit, Reply)):
                add({("host", None, None): 1})
            elif isinstance(stmt, Return) and handler and stmt.value is not None:
                add({("reply", None, None): 1})
            elif isinstance(stmt, Send):
                inst = stmt.instance.value if isinstance(stmt.instance, Const) else None
                add({("kernel", stmt.kernel, inst): 1})
        return total


def room_needs(program: Program, kernel: KernelDef, handler: FunctionDef) -> tuple[RoomNeed, ...]:
    """The room one handling of `handler` needs, per queue group (see the module doc)."""
    counts = _NeedCounter(kernel, program).body(handler.body, handler=True)
    return tuple(RoomNeed(target, n, k, i) for (target, k, i), n in sorted(
        counts.items(), key=lambda item: tuple(str(x) for x in item[0])) if n > 0)


def check_recursion(program: Program) -> None:
    """Raise CompileError for a device function that (indirectly) calls itself."""
    counter = _NeedCounter(None, program)
    for fn in program.functions:
        counter.call(fn.name, fn.loc)
    for kernel in program.kernels:
        counter = _NeedCounter(kernel, program)
        for fn in kernel.helpers:
            counter.call("self." + fn.name, fn.loc)


# ---------------------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------------------

def _power_of_two(value: int, what: str, loc: Loc | None) -> int:
    if value < 1 or value & (value - 1):
        raise CompileError(f"{what} must be a power of two, not {value}", loc)
    return value


def compute_layout(program: Program, output_capacity: int = 4096,
                   dead_letter_capacity: int = 1024) -> Layout:
    """The arena layout of `program` with the given host-queue capacities."""
    messages = tuple(MessageLayout(m.name, m.type_id, dtype, dtype.itemsize) for m in
                     program.messages
                     for dtype in [struct_dtype([(f.name, f.type) for f in m.fields],
                                                pad_to=MESSAGE_ALIGN)])
    by_name = {m.name: m for m in messages}
    largest = max((m.size for m in messages), default=MESSAGE_ALIGN)
    num_queues = sum(k.options.instances for k in program.kernels)
    stats_offset = CONTROL.size
    kernels: list[KernelLayout] = []
    base = 0
    for index, k in enumerate(program.kernels):
        _power_of_two(k.options.capacity, f"capacity of kernel '{k.name}'", k.loc)
        state_dtype = struct_dtype([(s.name, s.type) for s in k.state])
        handlers = []
        for h in k.handlers:
            msg = h.params[0].type.name
            handlers.append(HandlerLayout(by_name[msg].type_id, msg, h.name,
                                          room_needs(program, k, h)))
        payload = max((by_name[h.message].size for h in handlers), default=MESSAGE_ALIGN)
        slot_size = SLOT.size + payload
        kernels.append(KernelLayout(
            name=k.name, index=index, mode=k.options.mode, concurrency=k.options.concurrency,
            backpressure=k.options.backpressure, max_batch=k.options.max_batch,
            instances=k.options.instances, queue_base=base, capacity=k.options.capacity,
            slot_size=slot_size, payload_size=payload, queue_offset=0,
            queue_size=QueueLayout(base, k.name, 0, k.options.capacity, slot_size,
                                   SLOT.size, payload).size,
            ingress_offset=0, state_offset=0,
            state_stride=round_up(state_dtype.itemsize, LINE), state_dtype=state_dtype,
            state_init=tuple((s.name, s.init) for s in k.state if s.init is not None),
            handlers=tuple(handlers)))
        base += k.options.instances

    def rings(offset: int, field: str, suffix: str) -> tuple[int, list[QueueLayout]]:
        placed = []
        for i, k in enumerate(kernels):
            kernels[i] = k = replace(k, **{field: offset})
            for inst in range(k.instances):
                placed.append(QueueLayout(k.queue_base + inst, f"{k.name}[{inst}]{suffix}",
                                          offset, k.capacity, k.slot_size, SLOT.size,
                                          k.payload_size, k.name, inst))
                offset += k.queue_size
        return offset, placed

    # host-facing memory: control block, stats, ingress rings, host output, dead letters
    offset, ingress = rings(stats_offset + num_queues * STATS.size, "ingress_offset", " ingress")
    host = QueueLayout(HOST_QUEUE, "host", offset,
                       _power_of_two(output_capacity, "output_capacity", None),
                       SLOT.size + largest, SLOT.size, largest)
    offset += host.size
    dead = QueueLayout(DEAD_QUEUE, "dead_letters", offset,
                       _power_of_two(dead_letter_capacity, "dead_letter_capacity", None),
                       DEAD_SLOT.size + largest, DEAD_SLOT.size, largest)
    offset += dead.size
    # device memory: state, then the device rings
    local_offset = state_offset = offset = round_up(offset, PAGE)
    for i, k in enumerate(kernels):
        kernels[i] = replace(k, state_offset=offset)
        offset += k.state_stride * k.instances
    offset, queues = rings(offset, "queue_offset", "")
    return Layout(arena_size=offset, stats_offset=stats_offset, state_offset=state_offset,
                  local_offset=local_offset, messages=messages, kernels=tuple(kernels),
                  queues=tuple(queues), ingress=tuple(ingress), host_queue=host,
                  dead_letter_queue=dead)
