"""`rc.launch`: compile a program for a backend, load it on a device, start it.

The driver of the running half of the pipeline, as `compiler.py` is of the compiling half:
frontend (classes -> IR), codegen (layout, source), a backend's loader (device memory and
launches), and `ringc.runtime.Runtime` (the host's side).
"""

from __future__ import annotations

import atexit
from pathlib import Path

from . import codegen
from .codegen.layout import compute_layout
from .compiler import to_program
from .errors import BackendUnavailable, CompileError
from .frontend import build_program_with_classes
from .frontend.files import import_file, kernels_in
from .runtime import Runtime
from .runtime.runtime import stop_all

__all__ = ["launch", "BACKENDS"]

BACKENDS = ("opencl", "cuda", "metal", "sim")
_COMMON_OPTIONS = {"output_capacity": 4096, "dead_letter_capacity": 1024,
                   "host_buffer": 1 << 22, "debug": False}
_BACKEND_OPTIONS = {"opencl": {"memory", "groups"}, "sim": set(),
                    "cuda": {"driver", "groups"}, "metal": set()}

atexit.register(stop_all)


def launch(kernels, backend: str = "opencl", device=None, **options) -> Runtime:
    """Compile `kernels` (a kernel class, a sequence of them, or a `.py` file), load the
    program on `backend` ('opencl', 'cuda', 'metal' or 'sim') and start it; returns the
    `Runtime` (a context manager). The program is the kernels given plus every kernel
    they can `rc.send` to.

    `device`: an index into the backend's list in `ringc devices`, or part of a device's
    name (OpenCL: or of its platform's); the default is PoCL's CPU device for OpenCL and
    the first GPU for CUDA. Options: `output_capacity` and `dead_letter_capacity` (slots,
    powers of two), `host_buffer` (messages the host keeps from the output queue before
    the device sees backpressure), `debug`; OpenCL and CUDA also `groups` (persistent
    work-groups, thread blocks on CUDA); OpenCL `memory` ('auto', 'svm' or 'host_ptr');
    CUDA `driver` ('cuda-python', the default, or 'pycuda', which cannot launch
    cooperatively)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (backends: {', '.join(BACKENDS)})")
    allowed = set(_COMMON_OPTIONS) | _BACKEND_OPTIONS[backend]
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"rc.launch got unknown option(s) {', '.join(unknown)} for backend "
                        f"{backend!r} (options: {', '.join(sorted(allowed))})")
    settings = {**_COMMON_OPTIONS, **options}
    if device is not None and backend == "sim":
        raise ValueError("backend 'sim' has one device: leave device out")
    if backend == "cuda":
        gpu = _cuda_gpu(device, settings.get("driver", "cuda-python"))
    if backend == "metal":
        raise BackendUnavailable("ringc cannot run Metal programs: Metal runs only on "
                                 "Apple hardware, and ringc has no Metal loader yet")
    try:
        program, messages, kernel_classes = _program(kernels)
    except CompileError as exc:
        raise exc.with_traceback(None) from None
    capacities = dict(output_capacity=settings["output_capacity"],
                      dead_letter_capacity=settings["dead_letter_capacity"])
    if backend == "sim":
        from .backends.sim.device import SimDevice

        layout = compute_layout(program, **capacities)
        reasons = codegen.fail_reasons(program)
        dev = SimDevice(program, layout, reasons, layout.new_arena())
    else:
        try:
            generated = codegen.generate(program, backend, debug=settings["debug"],
                                         **capacities)
        except CompileError as exc:
            raise exc.with_traceback(None) from None
        layout, reasons = generated.layout, generated.reasons
        shape = dict(groups=settings.get("groups"),
                     parallel=any(k.concurrency == "parallel" for k in layout.kernels),
                     fast_math=any(k.options.fast_math for k in program.kernels))
        if backend == "cuda":
            from .backends.cuda.loader import CudaDevice

            dev = CudaDevice(generated.source, layout, layout.new_arena(), gpu=gpu,
                             driver=settings.get("driver", "cuda-python"), **shape)
        else:
            from .backends.opencl.loader import OpenCLDevice

            dev = OpenCLDevice(generated.source, layout, layout.new_arena(), device=device,
                               memory=settings.get("memory", "auto"), **shape)
    return Runtime(program, layout, reasons, messages, kernel_classes, dev, backend,
                   host_buffer=settings["host_buffer"])


def _cuda_gpu(device, driver: str):
    """The GPU to run on, found before any compiling: BackendUnavailable (one sentence)
    when CUDA cannot run programs here."""
    from .backends.cuda.driver import gpus, require_driver
    from .backends.cuda.loader import find_gpu

    require_driver(driver)
    try:
        found = gpus(driver)
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"CUDA programs cannot run here: {exc} (rc.compile(..., "
                                 "'cuda') and `ringc check` still compile for CUDA)") from None
    return find_gpu(device, found)


def _program(kernels):
    """(IR program, message classes, kernel classes) of classes or a `.py` file."""
    if isinstance(kernels, (str, Path)):
        path = Path(kernels)
        if path.suffix != ".py" or not path.exists():
            raise CompileError(f"rc.launch runs kernel classes or a .py file, not {path}")
        kernels = kernels_in(import_file(path))
        if not kernels:
            raise CompileError(f"{path} defines no @rc.ring_kernel class")
    if isinstance(kernels, (list, tuple)) and not kernels:
        raise CompileError("rc.launch got no kernels", hint="pass kernel classes, e.g. "
                           "rc.launch(MyKernel) or rc.launch([A, B])")
    program, messages, kernel_classes = build_program_with_classes(kernels)
    return to_program(program), messages, kernel_classes
