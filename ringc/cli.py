"""The `ringc` command: compile, inspect, check, devices, samples, docs, cache.

A mistake in the user's program or on the command line prints one located message and
exits with status 1; ringc's own stack is never shown for those. So does a stdout that
cannot be written (a full disk, a closed stdout), except a reader that went away
(`ringc ... | head`): that ends ringc quietly with status 141, as SIGPIPE would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import CompileError, RingcError
from .targets import all_targets, check_all, compile_targets, list_devices

EPILOG = """\
examples:
  ringc samples                                          # the samples and where they are
  ringc samples run circuit_breaker sim                  # run one (its own arguments after)
  ringc compile "$(ringc samples path pipeline)" --target all -o out/
  ringc compile my_kernels.py --emit ir                  # the textual IR on stdout
  ringc inspect my_kernels.py
  ringc check out/pipeline.rir --target opencl
  ringc check out/pipeline.cu                            # an emitted program, as written
  ringc check --run my_kernels.py                        # run CUDA and MSL through the shims
  ringc devices
  ringc docs getting-started                             # the documentation, page by page
  ringc cache info                                       # what the build caches hold

FILE is a Python file defining @rc.ring_kernel classes, or a .rir file of textual IR.
"""


def main(argv: list[str] | None = None) -> int:
    """Run `ringc` with `argv` (default: the command line); the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except CompileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except RingcError as exc:
        print(f"ringc: error: {exc}", file=sys.stderr)
        return 1
    except _OutputFailed as exc:
        return _output_failed(exc)
    except KeyboardInterrupt:
        return 130


class _OutputFailed(Exception):
    """stdout could not be written; the message says why."""

    def __init__(self, reason: str, broken_pipe: bool = False):
        super().__init__(reason)
        self.broken_pipe = broken_pipe


def _print(text: str = "", end: str = "\n") -> None:
    """Write `text` and `end` to stdout and flush, so that a failure there raises
    _OutputFailed here; other OSErrors stay what they are. Python drops what a failed
    flush could not write, so nothing is left to fail again (or to be reported as
    "Exception ignored") when the interpreter flushes stdout at exit."""
    if sys.stdout is None:                 # started with file descriptor 1 closed
        raise _OutputFailed("standard output is closed")
    try:
        sys.stdout.write(text + end)
        sys.stdout.flush()
    except OSError as exc:
        raise _OutputFailed(exc.strerror or str(exc),
                            isinstance(exc, BrokenPipeError)) from None


def _output_failed(exc: _OutputFailed) -> int:
    """Report a stdout that failed: status 141 and nothing said when the reader went away,
    else one error line and status 1."""
    if exc.broken_pipe:
        return 141
    print(f"ringc: error: cannot write output: {exc}", file=sys.stderr)
    return 1


class _SubcommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an argument it does not know is a usage error against its
    own usage line (`ringc compile: error: ...`), not handed up to the top-level parser."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ringc", description="Compile Python ring kernels to CUDA C, OpenCL C and Metal.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ringc {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=_SubcommandParser)

    p = sub.add_parser("compile", help="emit source (or IR) for one or more targets",
                       description="Compile FILE's kernels and write the emitted programs.")
    _file_args(p)
    p.add_argument("-o", "--output", metavar="DIR", type=Path,
                   help="write FILE-STEM.{cu,cl,metal,rir} into DIR (default: print to stdout)")
    p.add_argument("--emit", choices=("source", "ir"), default="source",
                   help="what to write: the target source (default) or the textual IR")
    p.add_argument("--debug", action="store_true",
                   help="emit printf diagnostics in the device loop (off by default)")
    p.set_defaults(run=cmd_compile)

    p = sub.add_parser("inspect", help="show kernels, handlers, message layouts and queue sizes",
                       description="Describe FILE's program: kernels, handlers, message "
                                   "layouts (offsets, sizes), state and queue sizes.")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--kernel", action="append", metavar="NAME",
                   help="only this kernel (and what it sends to); repeatable")
    p.set_defaults(run=cmd_inspect)

    p = sub.add_parser("check", help="build the emitted source with every toolchain present",
                       description="Compile FILE for the targets and build each program with "
                                   "the real toolchains found here: PoCL (OpenCL), NVRTC or "
                                   "nvcc (CUDA, sm_80 and sm_90), and g++ -fsyntax-only over "
                                   "a Metal shim header (a syntax and type check, not Metal). "
                                   "FILE may also be an emitted .cl, .cu or .metal program. "
                                   "--run also runs FILE's program through each target's "
                                   "executing shim on this CPU (docs/shims.md) and compares "
                                   "it with the simulator.")
    _file_args(p)
    p.add_argument("--run", action="store_true", dest="run_shims",
                   help="also run the program through the executing shims (cuda-shim, "
                        "metal-shim) with a smoke exchange and compare with the simulator")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("devices", help="list backends and devices available here",
                       description="List every backend with its devices, or why it has none.")
    p.set_defaults(run=cmd_devices)

    p = sub.add_parser("samples", help="list, locate or run the sample programs",
                       description="Without arguments, list the samples shipped with ringc "
                                   "and where they are. `path NAME` prints a sample's file; "
                                   "`run NAME [ARGS...]` runs it with its own arguments "
                                   "(most take a backend: opencl, sim, ...).")
    p.add_argument("action", nargs="?", choices=("list", "path", "run"), default="list")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    p.set_defaults(run=cmd_samples)

    p = sub.add_parser("docs", help="list or print the documentation's pages",
                       description="Without arguments, list the pages of ringc's "
                                   "documentation (Markdown, shipped with ringc) and where "
                                   "they are; `ringc docs PAGE` prints one (e.g. "
                                   "getting-started, options, language, runtime).")
    p.add_argument("page", nargs="?", metavar="PAGE")
    p.add_argument("--path", action="store_true",
                   help="print the page's file (without PAGE: the folder), not its text")
    p.set_defaults(run=cmd_docs)

    p = sub.add_parser("cache", help="show or clear the build caches",
                       description="The emitted sources and built programs ringc caches, "
                                   "under $RINGC_CACHE_DIR (default ~/.cache/ringc). `info` "
                                   "lists them; `clear` deletes them (each is rebuilt when "
                                   "next needed). RINGC_CACHE=off builds without them.")
    p.add_argument("action", choices=("info", "clear"))
    p.set_defaults(run=cmd_cache)
    return parser


def _file_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", type=Path, metavar="FILE", help="a .py file with kernels, or a .rir")
    p.add_argument("--target", choices=(*compile_targets(), "all"), default="all",
                   help="target language (default: all)")
    p.add_argument("--kernel", action="append", metavar="NAME",
                   help="compile only this kernel (and what it sends to); repeatable")


def _targets(args, program) -> list[str]:
    if args.target != "all":
        return [args.target]
    wanted = [t for t in compile_targets()
              if all(k.options.allows(t) for k in program.kernels)]
    if not wanted:
        raise CompileError("no target is allowed by every kernel's `targets` option")
    return wanted


def cmd_compile(args) -> int:
    # the compiler loads only for the commands that use it (`ringc devices` needs none)
    from .compiler import compile, to_program
    from .ir import print_program

    program = to_program(args.file, args.kernel)
    stem = args.file.stem
    if args.emit == "ir":
        _write(args.output, f"{stem}.rir", print_program(program))
        return 0
    for target in _targets(args, program):
        result = compile(program, target, debug=args.debug)
        _write(args.output, stem + result.extension, result.source)
    return 0


def _write(directory: Path | None, name: str, text: str) -> None:
    if directory is None:
        _print(text, end="")
        return
    if directory.exists() and not directory.is_dir():
        raise RingcError(f"-o {directory} names a file; give a directory to write into")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    except OSError as exc:
        where = exc.filename or directory
        raise RingcError(f"cannot write {name} into {directory}: {where}: "
                         f"{exc.strerror or exc}") from None
    _print(f"wrote {directory / name}")


def cmd_check(args) -> int:
    from .compiler import compile, read_source, to_program

    target = next((t.name for t in all_targets() if t.compiles
                   and t.extension == args.file.suffix), None)
    shims = _shims_to_run(args, target) if args.run_shims else []
    if target is not None:                 # an emitted program, e.g. from `ringc compile -o`
        if args.target not in ("all", target):
            raise CompileError(f"{args.file} is {target} source, not {args.target}")
        sources = {target: read_source(args.file, f"`ringc check` reads a {args.file.suffix} "
                                                  f"file as emitted {target} source")}
    else:
        program = to_program(args.file, args.kernel)
        sources = {t: compile(program, t).source for t in _targets(args, program)}
    failed = False
    for result in check_all(sources):
        status = {True: "ok", False: "FAILED", None: "skipped"}[result.ok]
        _print(f"{result.target:7} {status:8} {result.tool} ({result.seconds:.2f} s)")
        if result.ok is False:
            failed = True
            _print(_indent(result.log.strip()))
        elif result.ok is None:
            _print(_indent(result.log.strip()))
    if shims:
        failed = _check_run(args.file, shims) or failed
    return 1 if failed else 0


def _shims_to_run(args, emitted_target: str | None) -> list[str]:
    """The executing shims `ringc check --run` runs FILE through (checked before any
    build: a misuse is reported at once)."""
    if emitted_target is not None:
        raise CompileError(f"--run runs a program from its .py file; {args.file} is emitted "
                           f"{emitted_target} source", hint=f"ringc check --run <the .py "
                           f"file {args.file.name} was compiled from>")
    if args.file.suffix != ".py":
        raise CompileError(f"--run runs a .py file's kernels, not {args.file}")
    wanted = [t.name for t in all_targets() if t.runs_source_of
              and (args.target == "all" or t.runs_source_of == args.target)]
    if not wanted:
        raise CompileError(f"no executing shim runs {args.target} programs (shims: "
                           f"{', '.join(t.name for t in all_targets() if t.runs_source_of)})")
    return wanted


def _check_run(file: Path, shims: list[str]) -> bool:
    """`ringc check --run`: the shims' smoke runs; True when one failed or disagreed."""
    from .smoke import check_run

    failed = False
    _print("running through the executing shims (this CPU, not a GPU), against the "
           "simulator:")
    for result in check_run(file, shims):
        _print(f"{result.backend:10} {result.verdict}")
        if result.detail:
            _print(_indent(result.detail.strip()))
        failed = failed or result.ok is False
    return failed


def cmd_inspect(args) -> int:
    from .compiler import compile, to_program
    from .describe import describe

    program = to_program(args.file, args.kernel)
    compiled = compile(program, _inspect_target(program))
    _print(describe(compiled))
    return 0


def _inspect_target(program) -> str:
    """The first target every kernel allows (layouts are the same on all of them)."""
    for target in compile_targets():
        if all(k.options.allows(target) for k in program.kernels):
            return target
    return program.kernels[0].options.targets[0]


def cmd_devices(args) -> int:
    _print("targets (ringc compile --target NAME; rc.launch(..., backend=NAME)):")
    for record in all_targets():
        can = " and ".join(what for what, yes in (("compiles", record.compiles),
                                                  ("runs", record.runs)) if yes)
        _print(f"  {record.name:10} {can:18} {record.description}")
        if not record.runs and record.cannot_run:
            _print(f"  {'':10} {'':18} {record.cannot_run}")
    _print()
    for info in list_devices():
        _print(info.describe())
    return 0


def cmd_samples(args) -> int:
    from . import shipped

    if args.action == "list":
        found = shipped.samples()
        if not found:
            _print("no samples here (a ringc installed without its samples)")
            return 0
        _print(f"samples in {shipped.shipped_folder('samples')} "
               "(ringc samples run NAME [ARGS...]):")
        for sample in found:
            _print(f"  {sample.name:24} {sample.summary}")
        return 0
    if args.name is None:
        raise RingcError(f"ringc samples {args.action} needs a sample NAME (ringc samples "
                          "lists them)")
    try:
        sample = shipped.find(args.name)
    except KeyError as exc:
        raise RingcError(exc.args[0]) from None
    if args.action == "path":
        _print(str(sample.path))
        return 0
    try:
        shipped.run(sample, args.args)
    except SystemExit as exc:                  # a sample's own `sys.exit(main())`
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def cmd_docs(args) -> int:
    from . import shipped

    if args.page is None:
        found = shipped.pages()
        if not found:
            _print("no documentation here (a ringc installed without its docs)")
            return 0
        if args.path:                            # the folder, as `--path PAGE` gives a file
            _print(str(shipped.shipped_folder("docs")))
            return 0
        _print(f"documentation in {shipped.shipped_folder('docs')} "
               "(ringc docs PAGE prints one):")
        for page in found:
            _print(f"  {page.name:16} {page.title}")
        return 0
    try:
        page = shipped.page(args.page)
    except KeyError as exc:
        raise RingcError(exc.args[0]) from None
    _print(str(page.path) if args.path else page.path.read_text(encoding="utf-8").rstrip("\n"))
    return 0


def cmd_cache(args) -> int:
    from . import caches

    root = caches.cache_root()
    if args.action == "info":
        if not caches.caching():
            _print("the caches are off (RINGC_CACHE=off): nothing is read or written")
        found = caches.folders()
        if not found:
            _print(f"no cache at {root} (set RINGC_CACHE_DIR to put it elsewhere)")
            return 0
        _print(f"cache at {root} (RINGC_CACHE_DIR):")
        for folder in found:
            _print(f"  {folder.name:12} {folder.files:6,} file(s) {_size(folder.size):>10}")
        return 0
    try:
        files, size = caches.clear()
    except OSError as exc:
        raise RingcError(f"cannot clear the cache at {root}: {exc}") from None
    _print(f"removed {files:,} file(s), {_size(size)}, from {root}" if files
           else f"no cache at {root}: nothing to clear")
    return 0


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} MiB"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _version() -> str:
    from . import __version__
    return __version__


if __name__ == "__main__":
    sys.exit(main())
