"""`rc.launch`: compile a program for a backend, load it on a device, start it.

The driver of the running half of the pipeline, as `compiler.py` is of the compiling half:
frontend (classes -> IR), codegen (layout, source), a backend's loader (device memory and
launches), and `ringc.runtime.Runtime` (the host's side).

A new process launching a program it launched before reads the emitted source from the
cache directory (`ringc.codegen.generate_cached`, keyed by the program's IR) instead of
rendering it; the backend keeps its own build cache.

Logging (logger "ringc.launch", docs/logging.md): one info record per launch once the
program runs (its kernels, the backend, the device, the seconds the compile, build and
load took, and whether the source and the build came from a cache), one warning per
launch refused with `BackendUnavailable`. Importing this module applies `RINGC_LOG`
(`ringc.log.configure_from_env`).
"""

from __future__ import annotations

import atexit
import logging
import time
from pathlib import Path

from . import codegen
from .backends.devices import DeviceFacts, DeviceInfo
from .backends.record import LoadRequest, Target
from .codegen.layout import compute_layout
from .compiler import to_program
from .errors import BackendUnavailable, CompileError
from .frontend import build_program_with_classes
from .frontend.files import import_file, kernels_in
from .log import configure_from_env
from .protocol import capacity_problem
from .runtime import Runtime
from .runtime.clock import anchor as clock_anchor
from .runtime.reports import positive_seconds
from .runtime.runtime import stop_all
from .targets import all_targets, run_targets, target

__all__ = ["launch", "device_facts", "devices"]

_COMMON_OPTIONS = {"output_capacity": 4096, "dead_letter_capacity": 1024,
                   "host_buffer": 1 << 22, "debug": False, "park_after": 0.01,
                   "stall_after": 5.0}

log = logging.getLogger("ringc.launch")

atexit.register(stop_all)
configure_from_env()

# how a loader got the program it runs (its `build_origin`), as the launch record says it
_BUILD = {"cached": "build from the cache", "compiled": "built from the source",
          "reused": "build reused from an earlier launch"}


def launch(kernels, backend: str = "opencl", device=None, **options) -> Runtime:
    """Compile `kernels` (a kernel class, a sequence of them, or a `.py` file), load the
    program on `backend` (a target that runs programs: `ringc devices` lists them; "opencl"
    by default) and start it; returns the `Runtime` (a context manager). The program is
    the kernels given plus every kernel they can `rc.send` to.

    `device`: an index into the backend's list in `ringc devices`, or part of a device's
    name (OpenCL: or of its platform's); the default is PoCL's CPU device for OpenCL and
    the first GPU for CUDA. Options (`ringc docs options`): `output_capacity` and
    `dead_letter_capacity` (slots, powers of two), `host_buffer` (messages the host keeps
    from the output queue before the device sees backpressure), `debug`, `park_after`
    (seconds a program with nothing to do keeps polling before it parks; None: never
    parks), `stall_after` (seconds inside one handling before `rt.health()` calls an
    instance stalled), and the backend's own: `groups` (persistent work-groups, thread
    blocks on CUDA; by default as many as the device runs at once, the simulator's 1);
    OpenCL `memory` ('auto', 'svm' or 'host_ptr'); CUDA `driver` ('cuda-python', the
    default, or 'pycuda', which cannot launch cooperatively). Logs one info record on
    "ringc.launch" once the program runs, one warning when the launch is refused
    (docs/logging.md)."""
    start = time.perf_counter()
    try:
        record, settings = _backend(backend, options)
        # a device on the time-stamp counter needs a 50 ms window before its first launch
        # (ringc/runtime/clock.py): opened here, it spans the compile and the build, where a
        # window opened by the loader would make a warm launch wait for it
        clock_anchor()
        prepared = (record.resolve(record.prepare)(device, settings) if record.prepare
                    else None)
    except BackendUnavailable as exc:
        _refused(_named(kernels), backend, exc)
        raise
    generated = None
    try:
        program, messages, kernel_classes = _program(kernels)
        capacities = dict(output_capacity=settings["output_capacity"],
                          dead_letter_capacity=settings["dead_letter_capacity"])
        if record.source_target:
            generated = codegen.generate_cached(program, record.source_target,
                                                debug=settings["debug"], **capacities)
            layout, reasons, source = generated.layout, generated.reasons, generated.source
        else:                               # the target runs the IR itself
            layout = compute_layout(program, **capacities)
            reasons, source = codegen.fail_reasons(program), None
    except CompileError as exc:
        raise exc.with_traceback(None) from None
    request = LoadRequest(program, layout, reasons, source, layout.new_arena(), device,
                          settings, prepared)
    names = ", ".join(k.name for k in program.kernels) or "no kernels"
    try:
        dev = record.resolve(record.load)(request)
    except BackendUnavailable as exc:        # the device cannot run it: say why, not where
        _refused(names, backend, exc)
        raise exc.with_traceback(None) from None
    seconds = time.perf_counter() - start
    try:
        rt = Runtime(program, layout, reasons, messages, kernel_classes, dev, backend,
                     host_buffer=settings["host_buffer"], park_after=settings["park_after"],
                     stall_after=settings["stall_after"])
    except BackendUnavailable as exc:        # e.g. PoCL's worker threads are all taken
        _refused(names, backend, exc)
        raise
    if log.isEnabledFor(logging.INFO):
        log.info("launched %s on %s, %s; compile, build and load took %.3f s (%s)", names,
                 backend, _device_text(dev), seconds, _origin(generated, dev))
    return rt


def _refused(kernels: str, backend: str, exc: BackendUnavailable) -> None:
    log.warning("a launch of %s on %s was refused: %s", kernels, backend, exc)


def _named(kernels) -> str:
    """The kernels `rc.launch` was given, for a record written before they are compiled."""
    if isinstance(kernels, (str, Path)):
        return str(kernels)
    given = kernels if isinstance(kernels, (list, tuple)) else [kernels]
    return ", ".join(getattr(k, "__name__", repr(k)) for k in given) or "no kernels"


def _device_text(dev) -> str:
    """The device's name (its facts) and description (the loader's)."""
    name = dev.facts.name
    description = getattr(dev, "description", "")
    if not description or description == name:
        return f"device {name}"
    return f"device {description}" if description.startswith(name) else \
        f"device {name}: {description}"


def _origin(generated, dev) -> str:
    """Where the source and the build came from, as far as they are known."""
    if generated is None:
        return "nothing built: the backend runs the IR"
    source = "source from the cache" if generated.from_cache else "source generated"
    build = _BUILD.get(getattr(dev, "build_origin", None), "build origin not known")
    return f"{source}, {build}"


def device_facts(backend: str = "opencl", device=None, **options) -> DeviceFacts:
    """What the device `rc.launch(..., backend, device, **options)` would run on can do,
    found without compiling or launching anything: pick a kernel's precision or group
    size by it (docs/runtime.md, "The device"). BackendUnavailable when `backend` cannot
    run programs here."""
    record, settings = _backend(backend, options)
    return record.resolve(record.facts)(device, settings)


def devices(backend: str | None = None) -> list[DeviceInfo]:
    """What `ringc devices` lists, from Python: every target's devices (or `backend`'s),
    one `DeviceInfo` each (`backend`, `device` name, `details`), or one saying why a
    target has none here (`device` None, `reason`). Discovery builds nothing."""
    from .targets import list_devices

    if backend is not None and backend not in {t.name for t in all_targets()}:
        raise ValueError(f"unknown backend {backend!r} (backends: "
                         f"{', '.join(t.name for t in all_targets())})")
    return [d for d in list_devices() if backend is None or d.backend == backend]


def _backend(backend: str, options: dict) -> tuple[Target, dict]:
    """The record of `backend` (one that runs programs here) and the launch settings:
    `options` checked against its own and the common ones, defaults for the rest."""
    if not isinstance(backend, str) or backend not in run_targets():
        raise ValueError(f"unknown backend {backend!r} (backends: "
                         f"{', '.join(run_targets())})")
    record = target(backend, "backend")
    allowed = {**_COMMON_OPTIONS, **record.launch_options}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"rc.launch got unknown option(s) {', '.join(unknown)} for backend "
                        f"{backend!r} (options: {', '.join(sorted(allowed))})")
    settings = {**allowed, **options}
    _check_common(settings)
    if not record.runs:
        raise BackendUnavailable(record.cannot_run)
    return record, settings


def _check_common(settings: dict) -> None:
    """ValueError or TypeError, in one sentence, for a bad common option."""
    for name in ("output_capacity", "dead_letter_capacity", "host_buffer"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"rc.launch option {name} must be an int, not "
                            f"{type(value).__name__}")
        problem = capacity_problem(value) if name != "host_buffer" else (
            None if value >= 1 else f"must be at least 1, not {value}")
        if problem:
            raise ValueError(f"rc.launch option {name} {problem}")
    if not isinstance(settings["debug"], bool):
        raise TypeError("rc.launch option debug must be True or False")
    park = settings["park_after"]
    if park is not None:
        if isinstance(park, bool) or not isinstance(park, (int, float)):
            raise TypeError(f"rc.launch option park_after must be seconds or None, not "
                            f"{type(park).__name__}")
        if not 0 < park < 1e9:
            raise ValueError(f"rc.launch option park_after must be more than 0 seconds "
                             f"(None: never park), not {park}")
    positive_seconds("stall_after", settings["stall_after"])


def _program(kernels):
    """(IR program, message classes, kernel classes) of classes or a `.py` file."""
    if isinstance(kernels, (str, Path)):
        path = Path(kernels)
        if path.suffix != ".py":
            raise CompileError(f"rc.launch runs kernel classes or a .py file, not {path}")
        if not path.is_file():
            raise CompileError(f"no such file: {path}")
        kernels = kernels_in(import_file(path))
        if not kernels:
            raise CompileError(f"{path} defines no @rc.ring_kernel class")
    if isinstance(kernels, (list, tuple)) and not kernels:
        raise CompileError("rc.launch got no kernels", hint="pass kernel classes, e.g. "
                           "rc.launch(MyKernel) or rc.launch([A, B])")
    program, messages, kernel_classes = build_program_with_classes(kernels)
    return to_program(program), messages, kernel_classes
