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
from ..ir.dispatch import Dispatch
from ..ir.nodes import (
    Assign,
    Barrier,
    Break,
    Call,
    Const,
    Continue,
    Emit,
    ExprStmt,
    Fail,
    For,
    ForEach,
    FunctionDef,
    HelperCall,
    If,
    KernelDef,
    Loc,
    Program,
    Raise,
    Reply,
    Return,
    Send,
    SendAfter,
    Stmt,
    Try,
    While,
)
from ..ir.types import I64, MESSAGE_ALIGN, U32, U64, ArrayType, struct_dtype
from ..ir.walk import stmt_exprs, walk
from ..protocol import (
    CONTROL,
    DEAD_QUEUE,
    DEAD_SLOT,
    HOOKS,
    HOST_QUEUE,
    LINE,
    PAGE,
    SLOT,
    STATS,
    capacity_problem,
)

__all__ = ["compute_layout", "room_needs", "timer_fields", "TIMER_FIELDS"]


# ---------------------------------------------------------------------------------------
# Room needs: how many messages one handling can put in each queue group
# ---------------------------------------------------------------------------------------

def _trip_count(stmt: For) -> int:
    """The number of iterations of a constant-range For, else 1 ("at least one")."""
    if isinstance(stmt.start, Const) and isinstance(stmt.stop, Const):
        return len(range(int(stmt.start.value), int(stmt.stop.value), stmt.step))
    return 1


Counts = dict[tuple, int]     # (queue group, kernel, instance) -> messages


class _NeedCounter:
    """Sums sends per queue group over a function body (If: the larger branch; Try: all
    blocks; constant loops multiply; other loops count once; a call adds its callee's
    sends). The call graph must be acyclic, as the IR verifier ensures."""

    statement = Dispatch()      # (stmt, handler: bool) -> Counts

    def __init__(self, kernel: KernelDef, program: Program):
        self.kernel = kernel
        self.program = program
        self.memo: dict[tuple[type, str], Counts] = {}   # by (call kind, function)

    def body(self, stmts: tuple[Stmt, ...], handler: bool) -> Counts:
        total: Counts = {}
        for stmt in stmts:
            for expr in stmt_exprs(stmt):
                for call in walk(expr):
                    if isinstance(call, (Call, HelperCall)):
                        _add(total, self.call(call))
            _add(total, self.statement(stmt, handler))
        return total

    def call(self, call: Call | HelperCall) -> Counts:
        key = (type(call), call.function)
        if key not in self.memo:
            functions = (self.kernel.helpers if isinstance(call, HelperCall)
                         else self.program.functions)
            callee = next(f for f in functions if f.name == call.function)
            self.memo[key] = self.body(callee.body, handler=False)
        return self.memo[key]

    @statement.on(If)
    def if_(self, stmt: If, handler: bool) -> Counts:
        then, orelse = self.body(stmt.then, handler), self.body(stmt.orelse, handler)
        return {k: max(then.get(k, 0), orelse.get(k, 0)) for k in {*then, *orelse}}

    @statement.on(While, ForEach)
    def while_(self, stmt: While | ForEach, handler: bool) -> Counts:
        return self.body(stmt.body, handler)

    @statement.on(For)
    def for_(self, stmt: For, handler: bool) -> Counts:
        total: Counts = {}
        _add(total, self.body(stmt.body, handler), _trip_count(stmt))
        return total

    @statement.on(Emit, Reply)
    def to_host(self, stmt: Emit | Reply, handler: bool) -> Counts:
        return {("host", None, None): 1}

    @statement.on(Return)
    def return_(self, stmt: Return, handler: bool) -> Counts:
        return {("reply", None, None): 1} if handler and stmt.value is not None else {}

    @statement.on(Send)
    def send(self, stmt: Send, handler: bool) -> Counts:
        instance = stmt.instance.value if isinstance(stmt.instance, Const) else None
        return {("kernel", stmt.kernel, instance): 1}

    @statement.on(Try)
    def try_(self, stmt: Try, handler: bool) -> Counts:
        """Every block may run (a fault late in the body, then the except block)."""
        total: Counts = {}
        for block in (stmt.body, stmt.handler or (), stmt.orelse, stmt.finalbody):
            _add(total, self.body(block, handler))
        return total

    @statement.on(Assign, ExprStmt, Break, Continue, Fail, Raise, SendAfter, Barrier)
    def sends_nothing(self, stmt: Stmt, handler: bool) -> Counts:
        return {}


def _add(total: Counts, counts: Counts, times: int = 1) -> None:
    for key, n in counts.items():
        total[key] = total.get(key, 0) + n * times


def room_needs(program: Program, kernel: KernelDef, handler: FunctionDef) -> tuple[RoomNeed, ...]:
    """The room one handling of `handler` needs, per queue group (see the module doc).
    `program` must be verified IR: a recursive call graph would not end. A cooperative
    kernel's handler runs on `group_size` lanes: each may send what one handling sends;
    the reply is lane 0's alone."""
    counts = _NeedCounter(kernel, program).body(handler.body, handler=True)
    lanes = kernel.options.group_size
    if lanes > 1:
        counts = {key: n if key[0] == "reply" else n * lanes for key, n in counts.items()}
    return tuple(RoomNeed(target, n, k, i) for (target, k, i), n in sorted(
        counts.items(), key=lambda item: tuple(str(x) for x in item[0])) if n > 0)


# ---------------------------------------------------------------------------------------
# The timer table (docs/device-program.md, "Time")
# ---------------------------------------------------------------------------------------

# The state fields ringc adds to a kernel with rc.send_after or @rc.every. Scheduled
# messages stay in fixed slots; `rc_timer_heap` is a permutation of the slot numbers whose
# first `rc_timer_count` entries are a binary min-heap on (due, order) and whose rest are
# the free slots. `rc_taken_at` is rc.now() when a checkpoint copied the state (restore
# moves every due time by the time since). `rc_tick_due`: the next due time of each
# periodic method, in the order of `KernelDef.periodic`.
TIMER_FIELDS = ("rc_timer_count", "rc_timer_seq", "rc_taken_at", "rc_tick_due",
                "rc_timer_heap", "rc_timer_due", "rc_timer_order", "rc_timer_queue",
                "rc_timer_type", "rc_timer_corr", "rc_timer_payload")


def _scheduled_size(program: Program, kernel: KernelDef) -> int:
    """The largest message the kernel's rc.send_after calls schedule (bytes)."""
    return max((struct_dtype([(f.name, f.type) for f in program.message(name).fields],
                             pad_to=MESSAGE_ALIGN).itemsize
                for name in kernel.scheduled_messages), default=0)


def timer_fields(program: Program, kernel: KernelDef) -> tuple[list, list]:
    """(fields, initial values) of the timer table ringc adds to `kernel`'s state: none
    when it neither schedules nor has periodic methods."""
    if not kernel.timed:
        return [], []
    n = kernel.options.timers if kernel.schedules() else 0
    fields = [("rc_timer_count", U32), ("rc_timer_seq", U32), ("rc_taken_at", I64)]
    init = []
    if kernel.periodic:
        fields.append(("rc_tick_due", ArrayType(I64, len(kernel.periodic))))
        init.append(("rc_tick_due", tuple(p.period for p in kernel.periodic)))
    if n:
        words = _scheduled_size(program, kernel) // 8
        fields += [("rc_timer_heap", ArrayType(U32, n)), ("rc_timer_due", ArrayType(I64, n)),
                   ("rc_timer_order", ArrayType(U32, n)), ("rc_timer_queue", ArrayType(U32, n)),
                   ("rc_timer_type", ArrayType(U32, n)), ("rc_timer_corr", ArrayType(U64, n)),
                   ("rc_timer_payload", ArrayType(ArrayType(U64, words), n))]
        init.append(("rc_timer_heap", tuple(range(n))))
    clash = [s.name for s in kernel.state if s.name in TIMER_FIELDS]
    if clash:
        raise CompileError(f"state '{clash[0]}' of kernel '{kernel.name}' has the name of a "
                           "field of ringc's timer table", kernel.loc, "rename it")
    return fields, init


# ---------------------------------------------------------------------------------------
# The layout
# ---------------------------------------------------------------------------------------

def _power_of_two(value: int, what: str, loc: Loc | None) -> int:
    problem = capacity_problem(value)
    if problem:
        raise CompileError(f"{what} {problem}", loc)
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
        timers, timers_init = timer_fields(program, k)
        state_dtype = struct_dtype([(s.name, s.type) for s in k.state] + timers)
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
            state_init=tuple((s.name, s.init) for s in k.state if s.init is not None)
            + tuple(timers_init),
            handlers=tuple(handlers),
            hooks=tuple(h for h in HOOKS if any(f.name == h for f in k.helpers)),
            periods=tuple(p.period for p in k.periodic),
            timers=k.options.timers if k.schedules() else 0,
            group_size=k.options.group_size))
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
