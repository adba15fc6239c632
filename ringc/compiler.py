"""`rc.compile`: kernels (or a `.py` / `.rir` file) to the IR text and a target's source.

This is the driver of the pipeline; each stage lives in its own package:
frontend (Python -> IR), ir (verify, print, parse), codegen (IR -> source).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import codegen
from .errors import CompileError
from .frontend import build_program
from .frontend.files import import_file, kernels_in
from .ir import IRVerifyError, Program, print_program, verify, verify_names
from .ir.types import Loc
from .ir.walk import MAX_EXPRESSION_DEPTH
from .targets import compile_targets
from .targets import target as target_record

_RIR_IS = "a .rir file is what `ringc compile --emit ir` writes"


@dataclass(frozen=True)
class CompiledProgram:
    """The result of compiling a program for one target.

    `ir` is the textual IR, `source` the emitted program, `layout` the arena layout the
    runtime uses, `reasons` the `rc.fail` reasons by code (16 + index), `program` the IR."""
    target: str
    ir: str
    source: str
    program: Program
    layout: object
    reasons: tuple[str, ...]

    @property
    def extension(self) -> str:
        return target_record(self.target).extension


def compile(kernels, target: str = "opencl", *, output_capacity: int = 4096,  # noqa: A001
            dead_letter_capacity: int = 1024, debug: bool = False) -> CompiledProgram:
    """Compile `kernels` (a kernel class, a sequence of them, an IR `Program`, or the path
    of a `.py` / `.rir` file) for `target` (one of `ringc.targets.compile_targets()`)."""
    if not isinstance(debug, bool):
        raise TypeError(f"rc.compile option debug must be True or False, not {debug!r}")
    try:
        if target not in compile_targets():
            raise CompileError(f"unknown target '{target}'",
                               hint="targets are " + ", ".join(compile_targets()))
        program = to_program(kernels)
        generated = codegen.generate(program, target, output_capacity=output_capacity,
                                     dead_letter_capacity=dead_letter_capacity, debug=debug)
    except CompileError as exc:   # the user's error, not our call stack
        raise exc.with_traceback(None) from None
    return CompiledProgram(target, print_program(program), generated.source, program,
                           generated.layout, generated.reasons)


def to_program(kernels, names: list[str] | None = None) -> Program:
    """The verified IR program of kernel classes, an IR Program, or a file path."""
    if isinstance(kernels, (str, Path)):
        program = load_file(Path(kernels), names)
    else:
        program = kernels if isinstance(kernels, Program) else build_program(kernels)
        if not program.kernels:
            raise CompileError("rc.compile got no kernels", hint="pass kernel classes, e.g. "
                               "rc.compile(MyKernel) or rc.compile([A, B])")
    try:
        verify(program, compile_targets())
        verify_names(program)
    except IRVerifyError as exc:
        raise CompileError(f"invalid IR: {exc.message}", exc.loc) from None
    return program


def load_file(path: Path, names: list[str] | None = None) -> Program:
    """The program in a `.py` file (its kernels, or those named) or a `.rir` file.

    `names` selects kernels of a `.py` file only; a `.rir` file is taken whole."""
    if path.suffix == ".rir":
        return _load_rir(path)
    _require_file(path)
    if path.suffix != ".py":
        raise CompileError(f"{path}: expected a .py or .rir file")
    kernels = kernels_in(import_file(path))
    if not kernels:
        raise CompileError(f"{path} defines no @rc.ring_kernel class",
                           Loc(str(path), 1, 1), "decorate a class with @rc.ring_kernel(...)")
    if names:
        by_name = {k.__name__: k for k in kernels}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise CompileError(f"{path} has no kernel named {', '.join(missing)}",
                               hint="kernels: " + ", ".join(by_name))
        kernels = [by_name[n] for n in names]
    return build_program(kernels)


def read_source(path: Path, expected: str) -> str:
    """The UTF-8 text of the file at `path`. A missing path, a directory, an unreadable or
    a non-UTF-8 file is a one-line CompileError naming `path`; `expected` ends the
    non-UTF-8 message, saying what the file should hold."""
    _require_file(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CompileError(f"{path} is not UTF-8 text (byte {exc.start}): {expected}") from None
    except OSError as exc:
        raise CompileError(f"cannot read {path}: {exc.strerror or exc}") from None


def _require_file(path: Path) -> None:
    """A CompileError unless `path` names an existing file (or something else not a
    directory, such as a pipe)."""
    if path.is_dir():
        raise CompileError(f"{path} is a directory, not a file")
    if not path.exists():
        raise CompileError(f"no such file: {path}")


def _load_rir(path: Path) -> Program:
    """The program a `.rir` file holds; one with no kernel is an error."""
    from .ir.parser import RirSyntaxError, parse_program  # lark loads only for .rir
    text = read_source(path, _RIR_IS)
    try:
        program = parse_program(text, str(path))
    except RirSyntaxError as exc:
        raise CompileError(exc.message, exc.loc) from None
    except RecursionError:
        raise CompileError(f"{path} nests expressions too deeply to read (ringc's limit "
                           f"is {MAX_EXPRESSION_DEPTH} levels)") from None
    if not program.kernels:
        raise CompileError(f"{path} defines no kernel", Loc(str(path), 1, 1), _RIR_IS)
    return program
