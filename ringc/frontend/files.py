"""Loading a user's .py file: import it as a module and list the kernels it defines.

The user's own errors while importing (syntax errors, exceptions, decorator errors) come
back as one located `CompileError`, never as our traceback.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from ..dsl import is_kernel
from ..errors import CompileError
from ..ir.types import Loc


def kernels_in(module) -> list[type]:
    """The kernel classes a module defines, in definition order."""
    return [obj for obj in vars(module).values()
            if is_kernel(obj) and obj.__module__ == module.__name__]


def import_file(path: Path):
    """Import a user's .py file; its own errors come back as located CompileErrors."""
    path = path.resolve()
    name = "ringc_user_" + "".join(c if c.isalnum() else "_" for c in str(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except CompileError:
        del sys.modules[name]
        raise
    except SyntaxError as exc:
        del sys.modules[name]
        raise CompileError(f"invalid syntax: {exc.msg}",
                           Loc(exc.filename or str(path), exc.lineno or 1, exc.offset or 1)
                           ) from None
    except Exception as exc:  # the user's module raised while importing
        del sys.modules[name]
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if Path(f.filename).resolve() == path]
        where = Loc(str(path), frames[-1].lineno, 1) if frames else Loc(str(path), 1, 1)
        raise CompileError(f"importing the file raised {type(exc).__name__}: {exc}",
                           where) from None
    finally:
        sys.path.remove(str(path.parent))
    return module
