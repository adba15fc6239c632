"""Codegen: from an IR `Program` to the complete source of one target.

`generate(program, target)` computes the arena layout, prints every handler, kernel helper
and device function with the target's dialect, and renders the target's template around
them: a file in the target's folder (`backends/<target>/program.*.j2`) that extends the
shared skeleton `templates/common.j2`; the target's record (`ringc.targets`) names both.
The result carries the layout the runtime drives the program with and the table of
`rc.fail` reasons (reason code 16 + index).

A kernel whose `targets` option excludes the target, or a feature the target lacks (Metal:
f64, 64-bit atomics), is a `CompileError` naming the line.

Limits: the program must be verified IR (`ringc.ir.verify`, which `ringc.compiler` and
`rc.launch` run on every program first); codegen does not check again what the verifier
checks, recursion included (the layout's room computation would not end on it).

`generate_cached` is `generate` with the emitted source kept on disk (what `rc.launch`
calls; `rc.compile` always emits afresh): see its docstring for the key and its limits.

The pieces: `dialect` (what a target spells its own way), `printer` (IR functions to C),
`helpers` (the helper functions printed code calls), `layout` (the arena), `identifiers`
(C names).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .. import protocol, targets
from ..arena import Layout
from ..errors import CompileError
from ..ir.nodes import Fail, FaultIs, FunctionDef, Program
from ..ir.printer import print_program
from ..ir.types import (
    I64,
    VECTOR_TYPES,
    ArrayType,
    ContainerType,
    MessageType,
    ScalarType,
    struct_layout,
)
from ..ir.walk import all_stmts, stmt_exprs, walk
from ..protocol import FIRST_USER_REASON, HASH_MULTIPLIER, MAX_LOCAL, MAX_ROOM_NEED, REASONS
from ..targets import Target
from .dialect import CFamilyDialect
from .identifiers import Names, mangle
from .layout import compute_layout, timer_fields
from .printer import ProgramPrinter, comment_text

__all__ = ["GeneratedProgram", "generate", "generate_cached", "dialect_for", "fail_reasons"]

log = logging.getLogger("ringc.codegen")

_U32, _U64 = ScalarType("u32"), ScalarType("u64")
# words of work-group memory in each of the two arrays of room reserved for claimed parallel
# messages (8 KB each): inside every target's smallest work-group memory with room to spare
_RESERVATION_WORDS = 2048
# bytes of work-group memory the cooperative kernels may use (Metal's threadgroup memory is
# 32 KB in all; CUDA's static shared memory 48 KB)
_COOP_MEMORY_BYTES = 24576


@dataclass(frozen=True)
class GeneratedProgram:
    """The emitted source of one target, with its arena layout and `rc.fail` reasons.
    `from_cache`: the source was read from `generate_cached`'s cache, not rendered (not
    compared: a hit equals a fresh result)."""
    target: str
    source: str
    layout: Layout
    reasons: tuple[str, ...]
    from_cache: bool = field(default=False, compare=False)


def _compiling(target: str) -> Target:
    """The record of a target ringc compiles for; CompileError naming them otherwise."""
    try:
        record = targets.target(target)
    except ValueError:
        record = None
    if record is None or not record.compiles:
        raise CompileError(f"unknown target '{target}'",
                           hint="targets are " + ", ".join(targets.compile_targets()))
    return record


def dialect_for(target: str) -> CFamilyDialect:
    """The dialect of a target (its record's `dialect`)."""
    record = _compiling(target)
    return record.resolve(record.dialect)


@cache
def _environment(target: str):
    """The Jinja environment of `target`: its own template folder first, then the shared
    skeleton (templates/). jinja2 loads on the first render."""
    import jinja2

    folder = _compiling(target).folder
    env = jinja2.Environment(loader=jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(folder), jinja2.PackageLoader("ringc.templates", ".")]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False, bytecode_cache=_template_cache())
    env.filters["comment"] = comment_text
    return env


def _template_cache():
    """Jinja's compiled templates, kept under the cache directory (`templates/`) so a new
    process renders without compiling them again (150-200 ms); keyed by each template's
    source, so an edited template is compiled afresh. None where it cannot be written, or
    when `$RINGC_CACHE` is off as the process first renders for a target."""
    import jinja2

    from ..backends.toolchain import cache_dir, caching

    if not caching():
        return None

    class QuietCache(jinja2.FileSystemBytecodeCache):
        def dump_bytecode(self, bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:                  # a full disk costs a compile, nothing else
                pass

    folder = cache_dir("templates")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return QuietCache(str(folder))


def fail_reasons(program: Program) -> tuple[str, ...]:
    """The fault reasons the program names (`rc.fail`, `raise rc.Fault`, `f.reason ==`)
    other than the built-in ones, in the order it first names them."""
    functions = [*(fn for k in program.kernels for fn in (*k.handlers, *k.helpers)),
                 *program.functions]
    builtin = set(REASONS.values())
    found: dict[str, None] = {}
    for fn in functions:
        for s in all_stmts(fn.body):
            if isinstance(s, Fail):
                found.setdefault(s.reason)
            for e in stmt_exprs(s):
                found.update((node.reason, None) for node in walk(e)
                             if isinstance(node, FaultIs))
    return tuple(r for r in found if r not in builtin)


def generate(program: Program, target: str, *, output_capacity: int = 4096,
             dead_letter_capacity: int = 1024, debug: bool = False) -> GeneratedProgram:
    """The complete source of `program` for `target` (one of `ringc.targets.compile_targets`).
    `debug` adds a printf for every dead-lettered message where the target has printf."""
    record = _compiling(target)
    dialect = record.resolve(record.dialect)
    for k in program.kernels:
        if not k.options.allows(target):
            raise CompileError(
                f"kernel '{k.name}' is not meant for {target} (its targets are "
                f"{', '.join(k.options.targets)})", k.loc,
                hint=f"add '{target}' to its targets option, or compile for another target")
    layout = compute_layout(program, output_capacity, dead_letter_capacity)
    reasons = fail_reasons(program)
    names = Names()
    printer = ProgramPrinter(dialect, program, layout, names,
                             {r: FIRST_USER_REASON + i for i, r in enumerate(reasons)})
    messages = [_message_view(printer, m) for m in program.messages]
    containers = [_container_view(printer, t) for t in dict.fromkeys(
        s.type for k in program.kernels for s in k.state if isinstance(s.type, ContainerType))]
    kernels = [_kernel_view(printer, k, layout, program) for k in program.kernels]
    coop = _coop_views(_coop_memory(printer, layout, program), kernels)
    functions, prototypes = _print_functions(printer, program)
    for view in (*messages, *kernels):
        for t, loc in view.pop("checks"):
            printer.check_type(t, loc)
    asserts = [*protocol.c_asserts(), ("sizeof(rc_address)", 16),
               ("__builtin_offsetof(rc_address, correlation)", 8)]
    for view in (*messages, *containers, *kernels):
        asserts += view.pop("asserts")
    pragmas = list(dialect.pragmas) + [dialect.feature_pragmas[f] for f in
                                       sorted(printer.helpers.features)
                                       if f in dialect.feature_pragmas]
    context = dict(
        d=dialect, G=dialect.global_space, L=dialect.local_space, P=dialect.private_space,
        LP=dialect.local_pointer_space, coop=coop,
        FN=dialect.function_qualifier, layout=layout, messages=messages, kernels=kernels,
        containers=containers,
        functions=functions, prototypes=prototypes, helpers=list(
            printer.helpers.items.values()), asserts=asserts, pragmas=pragmas,
        protocol_defines=[(name, _literal(dialect, value, bits))
                          for name, value, bits in protocol.c_defines()],
        protocol_structs=[(name, [printer.declare(_member_type(t, n), member)
                                  for t, member, n in members])
                          for name, members in protocol.c_structs()],
        user_reasons=[(FIRST_USER_REASON + i, r) for i, r in enumerate(reasons)],
        max_room_need=MAX_ROOM_NEED, debug=debug,
        has_parallel=any(k.concurrency == "parallel" for k in layout.kernels),
        parallel=_parallel_rows(layout),
        u64=lambda n: printer.const(n, _U64),
        atomic_add_u32=dialect.atomic("add", _U32, p="rc_p", v="rc_v"),
        atomic_cas_u32=dialect.atomic("cas", _U32, p="rc_p", e="rc_e", v="rc_v"))
    source = _environment(target).get_template(record.template).render(context)
    return GeneratedProgram(target, source, layout, reasons)


def generate_cached(program: Program, target: str, *, output_capacity: int = 4096,
                    dead_letter_capacity: int = 1024, debug: bool = False) -> GeneratedProgram:
    """`generate`, with the emitted source read from (or written to) the cache directory,
    `cache_dir(target) / "source" / KEY + extension` (`ringc.backends.toolchain.cache_dir`:
    under `$RINGC_CACHE_DIR` when set). The layout and the fail reasons are computed
    afresh (a few ms); only the source's printing and rendering are saved.

    KEY is the SHA-256 of the program's printed IR (every node and its source location),
    the target, the options, and the content of every file that shapes the source
    (`_fingerprint`). An entry that does not match the digest on its first line
    (truncated, edited; `ringc.backends.toolchain.read_entry`) or is not UTF-8 is ignored
    and written again; a cache that cannot be written costs a generate each time, nothing
    else. Limits: a change to ringc outside the fingerprinted files that alters the
    emitted source (none does today: the frontend changes the IR, which is in the key)
    needs the entry removed by hand; entries are never deleted (each is the size of its
    source). With `$RINGC_CACHE` off, this is `generate`: nothing is read or written."""
    from ..backends.toolchain import cache_dir, caching, read_entry, write_entry

    if not caching():
        return generate(program, target, output_capacity=output_capacity,
                        dead_letter_capacity=dead_letter_capacity, debug=debug)
    record = _compiling(target)
    key = hashlib.sha256("\0".join((
        "ringc-source-1", target, str(output_capacity), str(dead_letter_capacity),
        str(debug), _fingerprint(target), print_program(program))).encode()).hexdigest()
    path = cache_dir(target) / "source" / f"{key}{record.extension}"
    try:
        source = (read_entry(path) or b"").decode("utf-8")
    except UnicodeDecodeError:
        source = ""
    if not source:
        start = time.perf_counter()
        generated = generate(program, target, output_capacity=output_capacity,
                             dead_letter_capacity=dead_letter_capacity, debug=debug)
        write_entry(path, generated.source.encode("utf-8"))
        log.debug("generated the %s source in %.3f s (cache entry %s)", target,
                  time.perf_counter() - start, path)
        return generated
    log.debug("read the %s source from the cache (entry %s)", target, path)
    # a program `generate` refuses (a kernel not meant for the target) never got an entry
    return GeneratedProgram(target, source,
                            compute_layout(program, output_capacity, dead_letter_capacity),
                            fail_reasons(program), from_cache=True)


@cache
def _fingerprint(target: str) -> str:
    """The SHA-256 of the files that shape `target`'s emitted source: ringc's IR, codegen,
    protocol, arena and types modules, the shared templates and the target's folder
    (its dialect and template). Read once per process."""
    ringc_root = Path(__file__).resolve().parent.parent
    from .. import templates

    files = [*(ringc_root / "codegen").glob("*.py"), *(ringc_root / "ir").glob("*.py"),
             *(ringc_root / name for name in ("protocol.py", "arena.py", "types.py")),
             *Path(templates.__file__).parent.glob("*.j2"),
             *(f for f in _compiling(target).folder.iterdir() if f.suffix in (".py", ".j2"))]
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(f"{file.name}\0".encode() + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _literal(dialect: CFamilyDialect, value: int, bits: int) -> str:
    """An unsigned C literal; large values in hex, where their bit pattern reads best."""
    suffix = dialect.int_suffix["u64" if bits == 64 else "u32"]
    return (f"{value:#x}" if value > 0xFFFF else str(value)) + suffix


def _member_type(type_name: str, length: int):
    """The IR type of a protocol header member (`ringc.protocol.c_structs`)."""
    scalar = ScalarType(type_name)
    return ArrayType(scalar, length) if length else scalar


def _struct_fields(printer: ProgramPrinter, fields, size: int) -> list[str]:
    """C member declarations (bool stored as uchar) padded to `size` bytes, every gap an
    explicit `uchar rc_padN[k]` member: a struct initialised with `{}` (or `{0}`) then has
    all its bytes zero in C and in C++ alike (C++ leaves implicit padding unspecified, and
    g++ leaves stack bytes there), so what a program sends or keeps is the same bytes on
    every target and run."""
    offsets = struct_layout(list(fields))[0] if fields else []
    decls, end = [], 0
    for (name, t), offset in zip(fields, offsets):
        if offset > end:
            decls.append(f"uchar rc_pad{len(decls)}[{offset - end}]")
        decls.append(printer.declare(t, mangle(name), storage=True))
        end = offset + t.size
    if size > end:
        decls.append(f"uchar rc_pad{len(decls)}[{size - end}]")
    return decls


def _asserts(c_name: str, fields, dtype) -> list[tuple[str, int]]:
    checks = [(f"sizeof({c_name})", dtype.itemsize)]
    for name, _ in fields:
        checks.append((f"__builtin_offsetof({c_name}, {mangle(name)})", dtype.fields[name][1]))
    return checks


def _message_view(printer: ProgramPrinter, m) -> dict:
    ml = printer.layout.message(m.name)
    fields = [(f.name, f.type) for f in m.fields]
    c_name = printer.names("msg", m.name)
    return dict(name=m.name, type_id=m.type_id, size=ml.size, c=c_name,
                fields=_struct_fields(printer, fields, ml.size),
                put=printer.names("put", m.name), send=printer.names("send", m.name),
                dead=printer.names("dead", m.name),
                asserts=_asserts(c_name, fields, ml.dtype),
                checks=[(t, m.loc) for _, t in fields])


def _container_view(printer: ProgramPrinter, t: ContainerType) -> dict:
    """A state container's struct and the names of its functions (templates/common.j2)."""
    c_name = printer.names("box", t.kind, str(len(printer.containers)))
    printer.containers[t] = c_name
    return dict(c=c_name, kind=t.kind, n=t.capacity, fields=_struct_fields(
        printer, t.fields, t.size), item=printer.ctype(t.item, storage=True),
        key=printer.ctype(t.key) if t.key is not None else None, slots=t.slots,
        shift=64 - (t.slots.bit_length() - 1), golden=printer.const(HASH_MULTIPLIER, _U64),
        asserts=_asserts(c_name, t.fields, t.np_dtype))


def _kernel_view(printer: ProgramPrinter, k, layout: Layout, program: Program) -> dict:
    kl = layout.kernel(k.name)
    fields = [(s.name, s.type) for s in k.state] + timer_fields(program, k)[0]
    c_state = printer.names("state", k.name)
    decls = _struct_fields(printer, fields, kl.state_dtype.itemsize) if fields else [
        "uchar rc_empty"]
    handlers = []
    for h, hl in zip(k.handlers, kl.handlers):
        handlers.append(dict(type_id=hl.type_id, name=hl.message,
                             message=printer.names("msg", hl.message),
                             dead=printer.names("dead", hl.message),
                             function=printer.function_name(h, k)))
    hooks = {fn.name: printer.function_name(fn, k) for fn in k.helpers if fn.name in kl.hooks}
    helpers = {fn.name: fn for fn in k.helpers}
    scheduled = k.scheduled_messages
    timers = dict(
        n=kl.timers, fire=printer.names("timers", k.name),
        before=printer.names("timer_before", k.name), up=printer.names("timer_up", k.name),
        down=printer.names("timer_down", k.name),
        ticks=[dict(period=printer.const(p.period, I64),
                    function=printer.function_name(helpers[p.method], k))
               for p in k.periodic],
        after=[dict(function=printer.names("after", k.name, m),
                    message=printer.names("msg", m), dead=printer.names("dead", m),
                    type_id=layout.message(m).type_id,
                    words=layout.message(m).size // 8) for m in scheduled],
        words=max((layout.message(m).size // 8 for m in scheduled), default=0)) \
        if kl.timed else None
    return dict(name=k.name, domain=k.options.domain, layout=kl, state=c_state,
                start=hooks.get("on_start"), stop=hooks.get("on_stop"),
                lifecycle=printer.names("lifecycle", k.name) if hooks else None,
                timers=timers,
                state_fields=decls,
                end=kl.queue_base + kl.instances, handlers=handlers,
                dispatch=printer.names("dispatch", k.name), room=printer.names("room", k.name),
                serve=printer.names("serve", k.name), take=printer.names("take", k.name),
                ctake=printer.names("ctake", k.name),
                cdispatch=printer.names("cdispatch", k.name),
                group_size=k.options.group_size,
                shared_words=printer.shared_bytes[k.name] // 4,
                ready=printer.names("ready", k.name),
                reservations=_reservations(kl, layout),
                asserts=_asserts(c_state, fields, kl.state_dtype) if fields else [],
                checks=[(t, k.loc) for _, t in fields])


def _reservations(kl, layout: Layout) -> int:
    """The most device rings one handling of the kernel reserves room in (its room check's
    device-ring terms: every instance of a kernel sent to by a computed instance, a reply
    to a kernel), at least 1 (a C array's length)."""
    most = 1
    for h in kl.handlers:
        rings = 0
        for n in h.needs:
            if n.target == "reply":
                rings += 1
            elif n.target == "kernel":
                to = layout.kernel(n.kernel)
                rings += to.instances if n.instance is None else int(
                    0 <= n.instance < to.instances)
        most = max(most, rings)
    return most


def _parallel_rows(layout: Layout) -> dict[str, int]:
    """The work-group memory for the room reserved for each claimed parallel message: rows
    (messages one work-group claims per pass, at most MAX_LOCAL) of `reservations` rings,
    kept within _RESERVATION_WORDS words per array (a kernel that sends to many instances
    claims fewer messages a pass)."""
    most = max((_reservations(k, layout) for k in layout.kernels
                if k.concurrency == "parallel"), default=1)
    return dict(reservations=most, rows=max(1, min(MAX_LOCAL, _RESERVATION_WORDS // most)))


def _coop_memory(printer: ProgramPrinter, layout: Layout, program: Program) -> dict | None:
    """The work-group memory of the program's cooperative kernels (one array of 16-byte
    words, `RC_COOP_*` byte offsets; docs/device-program.md, "Cooperative kernels"): the
    leader's words for the message being handled (64 bytes: the taken flag, type, ring,
    position, source, reservations, correlation at 32, the fault flags at 48), the room
    reserved for it, each lane's fault, the message, the scratch of the group reductions
    and broadcasts (8 bytes a lane), and the shared arrays of the kernel that has most.
    None without a cooperative kernel."""
    coop = [k for k in layout.kernels if k.concurrency == "cooperative"]
    if not coop:
        return None
    lanes = max(k.group_size for k in coop)
    reservations = max(_reservations(k, layout) for k in coop)
    places, offset = {}, 64
    for name, size in (("res_q", 4 * reservations), ("res_n", 4 * reservations),
                       ("faults", 4 * lanes), ("msg", max(k.payload_size for k in coop)),
                       ("scratch", 8 * lanes),
                       ("shared", max(printer.shared_bytes[k.name] for k in coop))):
        places[name] = offset
        offset += (size + 15) // 16 * 16
    if offset > _COOP_MEMORY_BYTES:
        k = max(coop, key=lambda k: printer.shared_bytes[k.name])
        raise CompileError(
            f"the cooperative kernels need {offset} bytes of work-group memory (shared "
            f"arrays {printer.shared_bytes[k.name]}, messages, reductions), more than "
            f"{_COOP_MEMORY_BYTES}", program.kernel(k.name).loc,
            hint="make the shared arrays or the messages smaller")
    return dict(words=offset // 16, reservations=reservations, lanes=lanes,
                word=printer.ctype(VECTOR_TYPES["u32x4"]), **places)


def _coop_views(coop: dict | None, kernels: list[dict]) -> dict | None:
    """`coop` with the views of the cooperative kernels, in program order."""
    if coop is None:
        return None
    return {**coop, "kernels": [k for k in kernels if k["layout"].concurrency == "cooperative"]}


def _print_functions(printer: ProgramPrinter, program: Program) -> tuple[list[str], list[str]]:
    functions, prototypes = [], []
    entries: list[tuple[FunctionDef, object, bool, bool]] = []
    for k in program.kernels:
        entries += [(fn, k, True, False) for fn in k.handlers]
        entries += [(fn, k, False, False) for fn in k.helpers]
    entries += [(fn, None, False, False) for fn in program.functions]
    if any(k.options.concurrency == "cooperative" for k in program.kernels):
        entries += [(fn, None, False, True) for fn in program.functions]
    for fn, kernel, handler, coop in entries:
        if handler and not (len(fn.params) == 1 and isinstance(fn.params[0].type, MessageType)):
            raise CompileError(f"handler '{fn.name}' must take exactly one message", fn.loc)
        functions.append(printer.function(fn, kernel, handler, coop))
        prototypes.append(printer.signature(fn, kernel, handler, coop))
    return functions, prototypes
