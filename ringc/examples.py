"""The sample programs, for `ringc samples`: found in the installed package (`ringc.samples`,
shipped from the repository's samples/ folder) or, in a source checkout, in samples/.

A sample is a .py file of samples/ or samples/patterns/ with a docstring; its name is the
file's stem (`pipeline`, `circuit_breaker`); `run_pipeline` and the like are the runners
of the programs beside them.
"""

from __future__ import annotations

import ast
import importlib.util
import runpy
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sample", "samples_folder", "samples", "find", "run"]


@dataclass(frozen=True)
class Sample:
    name: str
    path: Path
    summary: str                # the docstring's first line


def samples_folder() -> Path | None:
    """Where the samples are: the installed `ringc.samples`, else a checkout's samples/."""
    try:
        spec = importlib.util.find_spec("ringc.samples")
    except ImportError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    checkout = Path(__file__).resolve().parent.parent / "samples"
    return checkout if checkout.is_dir() else None


def samples() -> list[Sample]:
    """Every sample, the folder's own first, then the patterns, each by name."""
    folder = samples_folder()
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
