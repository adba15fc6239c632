"""Finding the user's source: the file and `ast` of a decorated class or function.

Line and column numbers in the returned trees are those of the file, so every error the
frontend raises can point at the user's own line.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap

from .errors import CompileError, Loc


def source_of(obj) -> tuple[str, ast.ClassDef | ast.FunctionDef]:
    """(file name, the definition's `ast` node with file line numbers) of a class or
    function defined in a source file."""
    kind = "class" if inspect.isclass(obj) else "function"
    try:
        file = inspect.getsourcefile(obj) or inspect.getfile(obj)
        lines, first = inspect.getsourcelines(obj)
    except (OSError, TypeError):
        raise CompileError(
            f"ringc cannot read the source of {kind} '{obj.__qualname__}'",
            hint="define ring kernels, messages and device functions in a .py file, "
                 "not in an interactive session or exec()") from None
    text = "".join(lines)
    dedented = textwrap.dedent(text)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    tree = ast.parse(dedented)
    ast.increment_lineno(tree, first - 1)
    if indent:
        for node in ast.walk(tree):
            if hasattr(node, "col_offset"):
                node.col_offset += indent
                if getattr(node, "end_col_offset", None) is not None:
                    node.end_col_offset += indent
    node = tree.body[0]
    if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
        raise CompileError(f"cannot find the definition of {kind} '{obj.__qualname__}'")
    linecache.checkcache(file)
    return file, node


def loc_of(file: str, node: ast.AST) -> Loc:
    """The Loc of an `ast` node (columns are 1-based, as compilers print them)."""
    return Loc(file, getattr(node, "lineno", 0), getattr(node, "col_offset", -1) + 1)
