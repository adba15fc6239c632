"""`ringc inspect`: a compiled program described for a person: kernels, handlers, message
layouts (offsets and sizes, identical on every target), state and queue sizes."""

from __future__ import annotations

from .compiler import CompiledProgram
from .ir import nodes as ir


def describe(compiled: CompiledProgram) -> str:
    program, layout = compiled.program, compiled.layout
    out: list[str] = []
    out.append(f"program: {len(program.kernels)} kernel(s), {len(program.messages)} "
               f"message type(s); memory: {_bytes(layout.local_offset)} host-facing, "
               f"{_bytes(layout.arena_size - layout.local_offset)} device-local")
    out.append("")
    out.append("messages (layout identical on cuda, opencl and metal):")
    for message, mlayout in zip(program.messages, layout.messages):
        out.append(f"  {message.name}  type id {message.type_id}, {mlayout.size} bytes")
        dtype = mlayout.dtype
        for field in message.fields:
            offset = dtype.fields[field.name][1]
            size = dtype.fields[field.name][0].itemsize
            out.append(f"    {field.name:20} {str(field.type):14} offset {offset:4}  "
                       f"size {size}")
    out.append("")
    out.append("kernels:")
    for kernel in program.kernels:
        out.extend(_kernel(kernel, layout.kernel(kernel.name), layout))
    out.append("queues:")
    for k in layout.kernels:
        out.append(f"  {k.name:20} {k.instances} x {k.capacity} slots x {k.slot_size} B"
                   f" = {_bytes(k.instances * k.queue_size)}")
    for label, q in (("host output", layout.host_queue),
                     ("dead letters", layout.dead_letter_queue)):
        out.append(f"  {label:20} 1 x {q.capacity} slots x {q.slot_size} B = {_bytes(q.size)}")
    if compiled.reasons:
        out.append("")
        out.append("rc.fail reasons: " + ", ".join(
            f"{16 + i}={r}" for i, r in enumerate(compiled.reasons)))
    return "\n".join(out)


def _kernel(kernel: ir.KernelDef, klayout, layout) -> list[str]:
    o = kernel.options
    lines = [f"  {kernel.name}  mode={o.mode} instances={o.instances} capacity={o.capacity} "
             f"concurrency={o.concurrency}"
             + (f" group_size={o.group_size}" if o.concurrency == "cooperative" else "")
             + f" backpressure={o.backpressure} "
             f"max_batch={o.max_batch} domain={o.domain}",
             f"    targets: {'all' if o.targets is None else ', '.join(o.targets)}; queue ids "
             f"{klayout.queue_base}..{klayout.queue_base + o.instances - 1}"]
    for handler in kernel.handlers:
        reply = f" -> {handler.returns}" if handler.returns is not None else ""
        lines.append(f"    handler {handler.name}({handler.params[0].type}){reply}")
    for helper in kernel.helpers:
        params = ", ".join(f"{p.name}: {p.type}" for p in helper.params)
        ret = f" -> {helper.returns}" if helper.returns is not None else ""
        lines.append(f"    helper  {helper.name}({params}){ret}")
    dtype = klayout.state_dtype
    lines.append(f"    state: {dtype.itemsize} bytes per instance")
    for state in kernel.state:
        offset = dtype.fields[state.name][1]
        init = "" if state.init is None else f" = {state.init}"
        lines.append(f"      {state.name:18} {str(state.type):14} offset {offset:4}{init}")
    lines.append("")
    return lines


def _bytes(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n} B"
