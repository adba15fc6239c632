"""Loading a user's .py file: import it as a module and list the kernels it defines.

The user's own errors while importing (syntax errors, exceptions, decorator errors, a
`sys.exit`) come back as one located `CompileError`, never as our traceback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import linecache
import sys
import traceback
import types
from pathlib import Path

from ..dsl import is_kernel
from ..errors import CompileError
from ..ir.types import Loc

_EXIT_HINT = ('ringc imports the file to find its kernels; run the program only under '
              '`if __name__ == "__main__":`')


def kernels_in(module) -> list[type]:
    """The kernel classes a module defines, in definition order."""
    return [obj for obj in vars(module).values()
            if is_kernel(obj) and obj.__module__ == module.__name__]


def import_file(path: Path) -> types.ModuleType:
    """Import a user's .py file; its own errors come back as located CompileErrors.

    A syntax error, an exception or a `sys.exit` in the file is reported at the path as
    given (`path`, not its absolute form); errors the frontend raises from decorators keep
    their own locations. What the module prints to `sys.stdout` while importing goes to
    `sys.stderr`, so it never mixes with emitted source; writes straight to file
    descriptor 1 (C code, `os.write`, child processes) are not redirected, and `os._exit`
    cannot be caught."""
    resolved = path.resolve()
    name = "ringc_user_" + "".join(c if c.isalnum() else "_" for c in str(resolved))
    spec = importlib.util.spec_from_file_location(name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(resolved.parent))
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except (CompileError, KeyboardInterrupt):
        del sys.modules[name]
        raise
    except (Exception, SystemExit) as exc:  # the user's module failed or exited
        del sys.modules[name]
        raise _import_error(exc, path) from None
    finally:
        sys.path.remove(str(resolved.parent))
    return module


def _import_error(exc: BaseException, path: Path) -> CompileError:
    """The CompileError for `exc`, raised while importing the user's file `path`. A
    SyntaxError without a file name was raised by the module's code, not by Python
    reading a file, and is located where it was raised, like any other exception."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return _located(_syntax_message(exc.msg or "invalid syntax"), exc.filename, path,
                        exc.lineno or 1, exc.offset or 1)
    resolved = path.resolve()
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve() == resolved]
    line = frames[-1].lineno if frames else 1
    if isinstance(exc, SystemExit):
        return _located(f"importing the file raised SystemExit with exit code {exc.code!r}",
                        str(resolved), path, line, 1, _EXIT_HINT)
    return _located(f"importing the file raised {_describe(exc)}", str(resolved), path,
                    line, 1)


def _describe(exc: BaseException) -> str:
    """`exc`'s type and message ("ValueError: bad"), or its type alone when the message
    is empty (a bare `raise MemoryError` or `raise SyntaxError`)."""
    detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def _located(message: str, file: str, path: Path, line: int, col: int,
             hint: str | None = None) -> CompileError:
    """A CompileError at `file`:`line`:`col`, naming `file` as `path` (as the user gave it)
    when it is the user's file; the source line is read from `file` itself."""
    shown = str(path) if Path(file).resolve() == path.resolve() else file
    source_line = linecache.getline(file, line).rstrip("\n") or None
    return CompileError(message, Loc(shown, line, col), hint, source_line)


def _syntax_message(msg: str) -> str:
    """Python's syntax error message, said to be one once ("invalid syntax" or
    "invalid syntax: '(' was never closed")."""
    return msg if msg.startswith("invalid syntax") else f"invalid syntax: {msg}"
