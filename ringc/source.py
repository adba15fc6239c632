"""Finding the user's source: the file and `ast` of a decorated class or function.

Line and column numbers in the returned trees are those of the file, so every error the
frontend raises can point at the user's own line.

Where the source is read from:

* a function: `inspect.getsourcelines`, which reads `fn.__code__.co_filename` through
  `linecache` (a .py file, or a Jupyter/IPython cell, which IPython puts in `linecache`);
* a class: `inspect.getsourcelines` when its answer holds the class's methods. Before
  Python 3.13 `inspect` finds a class through its module's `__file__`, which a notebook's
  `__main__` lacks; then the class is found through its methods instead: their code names
  the file (the cell) and a line inside the class, and the `class` statement of the class's
  qualified name around that line is the definition (decorators included, as `inspect`
  gives them);
* a class without methods of its own (a message with only fields) defined in `__main__`:
  the interactive sources in `linecache` (entries that are not files on disk: IPython
  cells) are searched for a `class` statement of its qualified name whose annotated fields
  are the class's, in order (and, on Python 3.13+, that starts on `cls.__firstlineno__`).
  Of several, the most recently executed cell wins: the highest IPython execution count
  (the running shell's record of its cells, or the N of `<ipython-input-N-...>`), then
  the later entry in `linecache`. The cell being executed is the newest, so a class
  decorated as its cell runs is read from that cell.

Limits: a class or function made by `exec` of a string, typed at the plain Python prompt
(before 3.13), or whose cell `linecache.clearcache()` dropped, has no source to read: the
located "cannot read the source" error says so. A method-less class redefined in a cell
with the same fields, whose cells carry no execution count, is read from the later
`linecache` entry.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import os
import re
import sys
import textwrap
import types

from .errors import CompileError, Loc

_IPYTHON_INPUT = re.compile(r"<ipython-input-(\d+)-[0-9a-f]+>")

# (file name, the lines of the definition, the file line of its first line)
_Found = tuple[str, list[str], int]


def source_of(obj) -> tuple[str, ast.ClassDef | ast.FunctionDef]:
    """(file name, the definition's `ast` node with file line numbers) of a class or
    function defined in a source file or a Jupyter/IPython cell (see the module's
    docstring for how a class is found, and what cannot be)."""
    kind = "class" if inspect.isclass(obj) else "function"
    found = _inspected(obj)
    code = _method_code(obj) if kind == "class" else _function_code(obj)
    if kind == "class" and (found is None or not _holds_any(found, code)):
        found = _class_around_code(obj, code) or found or _class_in_cells(obj)
    if found is None:
        where = Loc(code[0].co_filename, code[0].co_firstlineno, 1) if code else None
        raise CompileError(
            f"ringc cannot read the source of {kind} '{obj.__qualname__}'", where,
            hint="define ring kernels, messages and device functions in a .py file or a "
                 "Jupyter/IPython cell, not with exec() of a string or at the plain "
                 "Python prompt") from None
    file, lines, first = found
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


# -- inspect ------------------------------------------------------------------------------

def _inspected(obj) -> _Found | None:
    """What `inspect` says: (file, lines, first line), or None when it cannot tell."""
    try:
        file = inspect.getsourcefile(obj) or inspect.getfile(obj)
        lines, first = inspect.getsourcelines(obj)
    except (OSError, TypeError):
        return None
    return file, lines, first


def _function_code(fn) -> list[types.CodeType]:
    code = getattr(inspect.unwrap(fn), "__code__", None) if callable(fn) else None
    return [code] if isinstance(code, types.CodeType) else []


def _method_code(cls: type) -> list[types.CodeType]:
    """The code of the functions written in `cls`'s own body (by their qualified names:
    methods, static and class methods, property accessors), in definition order. Methods
    ringc or a library generates carry the class's qualified name too; their code names a
    file without the class (`<string>`), and the lookups below pass over them."""
    code = []
    for value in vars(cls).values():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        accessors = ([value.fget, value.fset, value.fdel] if isinstance(value, property)
                     else [value])
        for fn in accessors:
            fn = inspect.unwrap(fn) if callable(fn) else fn
            if isinstance(fn, types.FunctionType) and \
                    fn.__qualname__.startswith(cls.__qualname__ + "."):
                code.append(fn.__code__)
    return code


def _same_file(a: str, b: str) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _holds_any(found: _Found, code: list[types.CodeType]) -> bool:
    """Whether `inspect`'s answer is the class the methods were written in: true when it
    spans the first line of one of them (or there are none to check)."""
    file, lines, first = found
    return not code or any(_same_file(c.co_filename, file)
                           and first <= c.co_firstlineno < first + len(lines) for c in code)


# -- the class around its methods --------------------------------------------------------

def _class_defs(tree: ast.AST, qualname: str) -> list[ast.ClassDef]:
    """The `class` statements in `tree` whose qualified name is `qualname` (a class in a
    function is `f.<locals>.Name`, in a class `Outer.Name`), in source order."""
    found: list[ast.ClassDef] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = prefix + child.name
                if name == qualname:
                    found.append(child)
                visit(child, name + ".")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.Lambda):
                visit(child, f"{prefix}<lambda>.<locals>.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _first_line(node: ast.ClassDef) -> int:
    """The definition's first line: its first decorator's, as `inspect` starts it."""
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


def _parsed(file: str) -> tuple[list[str], ast.Module] | None:
    """(the lines of `file` in `linecache`, their `ast`), or None when there are none or
    they do not parse."""
    lines = linecache.getlines(file)
    if not lines:
        return None
    try:
        return lines, ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return None


def _class_around_code(cls: type, code: list[types.CodeType]) -> _Found | None:
    """The definition of `cls` holding the first line of one of its methods' code."""
    for c in code:
        parsed = _parsed(c.co_filename)
        if parsed is None:
            continue
        lines, tree = parsed
        around = [node for node in _class_defs(tree, cls.__qualname__)
                  if _first_line(node) <= c.co_firstlineno <= node.end_lineno]
        if around:
            node = around[0]
            first = _first_line(node)
            return c.co_filename, lines[first - 1:node.end_lineno], first
    return None


# -- a method-less class in the interactive sources ---------------------------------------

def _interactive_files() -> list[str]:
    """The `linecache` entries that are sources registered by an interactive shell (an
    IPython cell: no modification time, as no file on disk backs them), in entry order."""
    return [name for name, entry in list(linecache.cache.items())
            if len(entry) == 4 and entry[1] is None]


def _execution_counts() -> dict[str, int]:
    """IPython's execution count of each cell file, from the running shell (empty when no
    IPython shell runs in this process)."""
    if "IPython" not in sys.modules:
        return {}
    try:
        shell = sys.modules["IPython"].get_ipython()
        counts = getattr(getattr(shell, "compile", None), "_filename_map", None)
    except Exception:           # an IPython too old or too new to ask: order by linecache
        return {}
    return {k: v for k, v in counts.items() if isinstance(v, int)} \
        if isinstance(counts, dict) else {}


def _field_names(node: ast.ClassDef) -> list[str]:
    return [stmt.target.id for stmt in node.body
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)]


def _class_in_cells(cls: type) -> _Found | None:
    """A method-less class of `__main__` in the most recently executed interactive cell
    that defines a class of its qualified name and fields (the module's docstring has the
    rule)."""
    if cls.__module__ != "__main__":
        return None
    fields = list(vars(cls).get("__annotations__", {}))
    firstlineno = vars(cls).get("__firstlineno__")              # Python 3.13+
    counts = _execution_counts()
    best: tuple[tuple[int, int], _Found] | None = None
    for position, file in enumerate(_interactive_files()):
        parsed = _parsed(file)
        if parsed is None:
            continue
        lines, tree = parsed
        nodes = [node for node in _class_defs(tree, cls.__qualname__)
                 if _field_names(node) == fields
                 and not any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                             for s in node.body)
                 and (firstlineno is None or _first_line(node) == firstlineno)]
        if not nodes:
            continue
        match = _IPYTHON_INPUT.fullmatch(file)
        count = counts.get(file, int(match.group(1)) if match else -1)
        node = nodes[-1]                        # the last one the cell runs is the class
        first = _first_line(node)
        if best is None or (count, position) >= best[0]:
            best = (count, position), (file, lines[first - 1:node.end_lineno], first)
    return best[1] if best else None
