"""What ships beside the code, for `ringc samples` and `ringc docs`: the sample programs and
the documentation, found in the installed package (`ringc.samples`, `ringc.docs`, shipped
from the repository's samples/ and docs/ folders) or, in a source checkout, in those
folders.

A sample is a .py file of samples/ or samples/patterns/ with a docstring; its name is the
file's stem (`pipeline`, `circuit_breaker`); `run_pipeline` and the like are the runners
of the programs beside them. A page is a .md file of docs/; its name is the file's stem
(`getting-started`, `options`), its title its first heading.
"""

from __future__ import annotations

import ast
import importlib.util
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sample", "Page", "shipped_folder", "samples", "find", "run", "pages", "page"]


def shipped_folder(name: str) -> Path | None:
    """Where the shipped folder `name` ("samples", "docs") is: the installed `ringc.NAME`,
    else a checkout's NAME/; None when neither is there."""
    try:
        spec = importlib.util.find_spec(f"ringc.{name}")
    except ImportError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    checkout = Path(__file__).resolve().parent.parent / name
    return checkout if checkout.is_dir() else None


@dataclass(frozen=True)
class Sample:
    name: str
    path: Path
    summary: str                # the docstring's first line


def samples() -> list[Sample]:
    """Every sample, the folder's own first, then the patterns, each by name."""
    folder = shipped_folder("samples")
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("*.py")) + sorted((folder / "patterns").glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if doc and not path.name.startswith("_"):
            found.append(Sample(path.stem, path, doc.splitlines()[0]))
    return found


def find(name: str) -> Sample:
    """The sample called `name` (its file's stem); KeyError naming those there are."""
    for sample in samples():
        if sample.name == name:
            return sample
    raise KeyError(f"no sample called {name!r} (ringc samples lists them)")


def run(sample: Sample, args: list[str]) -> None:
    """Run `sample` as `python FILE ARGS...` would, in this process."""
    saved = sys.argv
    sys.argv = [str(sample.path), *args]
    try:
        runpy.run_path(str(sample.path), run_name="__main__")
    finally:
        sys.argv = saved


@dataclass(frozen=True)
class Page:
    name: str
    path: Path
    title: str                  # the first heading


def pages() -> list[Page]:
    """Every page of the documentation, by name."""
    folder = shipped_folder("docs")
    if folder is None:
        return []
    found = []
    for path in sorted(folder.glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        title = next((line.lstrip("#").strip() for line in lines if line.startswith("# ")),
                     path.stem)
        found.append(Page(path.stem, path, title))
    return found


def page(name: str) -> Page:
    """The page called `name` (its file's stem, with or without .md); KeyError naming
    those there are."""
    name = name.removesuffix(".md").removeprefix("docs/")
    for found in pages():
        if found.name == name:
            return found
    raise KeyError(f"no page called {name!r} (ringc docs lists them: "
                   f"{', '.join(p.name for p in pages())})")
