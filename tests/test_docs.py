"""The docs run as written: every ```python block of README.md and docs/*.md.

Each ```python block is run as a script of its own: written to a file in a fresh temporary
folder, run there by `sys.executable` in a new process with the repository first on
PYTHONPATH, under a timeout. Then every ring kernel the block defined (at module level) is
compiled for OpenCL, so a block that only defines kernels is checked by the compiler too.

A block that cannot run alone is a fragment. Mark it with an HTML comment on the line right
before its fence, giving the reason (GitHub does not show the comment):

    <!-- fragment: the body of a handler, shown alone -->
    ```python
    ...
    ```

A fragment without a reason is an error. Output, transcripts and shell commands go in
```text or ```sh blocks, which are never run; a ```python block holding a `>>>` prompt is an
error.

A page that builds on a program it showed earlier names it: `<!-- file: counter.py -->` on
the line before a runnable block saves it under that name, and every later block of the
same page runs beside it (`from counter import Totals`).

What a block needs is read from its code: `rc.launch` / `rc.device_facts` without
`backend=` needs OpenCL, `backend="X"` needs X (skipped, with the reason, where
`tests.backend_support.unavailable` says X cannot run here); an import of a module that is
not installed (prometheus_client), or `serve_metrics`, skips with the `pip install` to run.
Keep blocks fast: `backend="sim"` and small counts, the whole file in well under a minute.

Also here: docs/options.md names every kernel option, every launch option (common and each
backend's own), every `rc.compile` option and every `RINGC_*` environment variable ringc
reads; every relative link of the docs resolves (files and headings), and every image is
there; every fenced block names its language; nothing points to a DESIGN.md; and a block
with an `if __name__ == "__main__":` guard can be compiled by `ringc compile` without
running its program.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backend_support import unavailable

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 60
FRAGMENT = re.compile(r"^<!--\s*fragment:(.*?)-->\s*$")
FILE = re.compile(r"^<!--\s*file:\s*([\w-]+\.py)\s*-->\s*$")
FENCE = re.compile(r"^(`{3,})\s*([\w+-]*)(.*)$")
# pip extras that bring a module a block imports
EXTRAS = {"prometheus_client": "ringc[prometheus]", "pyopencl": "ringc[opencl]"}

CHECK_KERNELS = """

# ---- appended by tests/test_docs.py: every kernel the block defined compiles ----
def _docs_check_kernels():
    import ringc as _rc
    found = [v for v in list(globals().values())
             if isinstance(v, type) and hasattr(v, "_ringc_kernel")
             and v.__module__ == "__main__"
             and v._ringc_kernel.options.allows("opencl")]
    if found:
        _rc.compile(found, "opencl")
    print(f"[docs] compiled {len(found)} kernel(s)")


_docs_check_kernels()
"""


@dataclasses.dataclass(frozen=True)
class Block:
    page: Path
    line: int                   # the fence's line, 1-based
    lang: str
    code: str
    fragment: str | None        # the reason, when marked as a fragment
    file: str | None = None     # the name it is saved under, for later blocks of its page

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """Every fenced block of a Markdown page."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang = match.group(1), match.group(2).lower()
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip() == fence),
                   None)
        assert end is not None, f"{page.name}:{i + 1}: a fence that is never closed"
        before = lines[i - 1].strip() if i else ""
        marker, named = FRAGMENT.match(before), FILE.match(before)
        found.append(Block(page, i + 1, lang, "\n".join(lines[i + 1:end]) + "\n",
                           marker.group(1).strip() if marker else None,
                           named.group(1) if named else None))
        i = end + 1
    return found


ALL = [b for page in PAGES for b in blocks(page)]
PYTHON = [b for b in ALL if b.lang in ("python", "py")]
RUNNABLE = [b for b in PYTHON if b.fragment is None]


def needs(block: Block) -> list[str]:
    """Why the block cannot run here (an empty list when it can)."""
    tree = ast.parse(block.code)
    backends, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("launch", "device_facts"):
                given = [k.value for k in node.keywords if k.arg == "backend"]
                if len(node.args) > 1 and name == "launch":
                    given.append(node.args[1])
                elif len(node.args) > 0 and name == "device_facts":
                    given.append(node.args[0])
                if not given:
                    backends.add("opencl")
                for value in given:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        backends.add(value.value)
            if name == "serve_metrics":
                modules.add("prometheus_client")
        elif isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
    modules -= {Path(b.file).stem for b in PYTHON if b.page == block.page and b.file}
    why = [f"{b}: {unavailable(b)}" for b in sorted(backends) if unavailable(b)]
    why += [f"needs {m} (pip install '{EXTRAS.get(m, m)}')" for m in sorted(modules)
            if importlib.util.find_spec(m) is None]
    return why


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("RINGC_LOG", None)
    return env


def _run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, cwd=cwd, env=env or _env(), capture_output=True,
                              text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(args)} ran past {TIMEOUT} s\n{exc.stdout}\n{exc.stderr}")


def _script(block: Block, folder: Path) -> Path:
    """The block as a file in `folder`, beside the named blocks before it on its page."""
    for earlier in PYTHON:
        if earlier.page == block.page and earlier.line < block.line and earlier.file:
            (folder / earlier.file).write_text(earlier.code, encoding="utf-8")
    name = block.file or f"{block.page.stem.replace('-', '_')}_{block.line}.py"
    path = folder / name
    path.write_text(block.code, encoding="utf-8")
    return path


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_python_block_runs(block: Block, tmp_path: Path):
    why = needs(block)
    if why:
        pytest.skip("; ".join(why))
    path = _script(block, tmp_path)
    path.write_text(block.code + CHECK_KERNELS, encoding="utf-8")
    done = _run([sys.executable, path.name], tmp_path)
    assert done.returncode == 0, (
        f"{block.name} failed (exit {done.returncode}); lines are the block's own, "
        f"counted from the line after the fence\n{done.stdout}\n{done.stderr}")
    assert "[docs] compiled" in done.stdout


@pytest.mark.parametrize("block", [b for b in RUNNABLE if "__name__ ==" in b.code],
                         ids=lambda b: b.name)
def test_guarded_block_compiles_without_running(block: Block, tmp_path: Path):
    """`ringc compile` imports the file: behind its `__main__` guard, nothing launches."""
    path = _script(block, tmp_path)
    env = {**_env(), "RINGC_LOG": "info"}
    done = _run([sys.executable, "-m", "ringc.cli", "compile", path.name, "--target", "opencl",
                 "-o", "out"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "launched" not in done.stderr, f"{block.name} launched when imported"
    assert (tmp_path / "out" / f"{path.stem}.cl").is_file()


def test_every_python_block_is_runnable_or_a_fragment_with_a_reason():
    assert RUNNABLE, "no runnable block found"
    for block in PYTHON:
        assert block.fragment is None or block.fragment, f"{block.name}: a fragment needs a reason"
        assert not re.search(r"^>>> ", block.code, re.M), (
            f"{block.name}: a REPL transcript: make it a ```text block or a script")
        if block.fragment is None:
            ast.parse(block.code, block.name)


def test_markers_stand_before_python_blocks():
    """A marker before anything else (a typo'd fence, a ```sh block) marks nothing."""
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if FRAGMENT.match(line.strip()) or FILE.match(line.strip()):
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                assert FENCE.match(nxt) and FENCE.match(nxt).group(2) in ("python", "py"), (
                    f"{page.name}:{i + 1}: a marker not followed by a ```python fence")
            assert "<!-- fragment" not in line or FRAGMENT.match(line.strip()), (
                f"{page.name}:{i + 1}: write a fragment marker as <!-- fragment: reason -->")


def _options_table(heading: str) -> set[str]:
    """The option names of the table under `heading` in docs/options.md."""
    text = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, re.M))


def test_options_reference_names_every_kernel_option():
    from ringc.ir.nodes import KernelOptions

    documented = _options_table("## `@rc.ring_kernel(...)`")
    assert documented == {f.name for f in dataclasses.fields(KernelOptions)}


def test_options_reference_names_every_launch_option():
    from ringc import launcher
    from ringc.targets import all_targets

    documented = _options_table("## `rc.launch(")
    own = {name for t in all_targets() for name in t.launch_options}
    assert documented == {"backend", "device", *launcher._COMMON_OPTIONS, *own}


def test_options_reference_names_every_compile_option():
    import ringc as rc

    text = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    heading = next(line for line in text.splitlines() if line.startswith("## `rc.compile("))
    for name in inspect.signature(rc.compile).parameters:
        assert f"{name}=" in heading or name == "kernels", name


def test_options_reference_names_every_environment_variable():
    read = set()
    for folder in ("ringc", "backends"):
        for source in (ROOT / folder).rglob("*.py"):
            read.update(re.findall(r"""environ\)?\.get\(\s*["'](RINGC_\w+)["']""",
                                   source.read_text(encoding="utf-8")))
    assert {"RINGC_CACHE", "RINGC_LOG"} <= read           # the search finds what it should
    assert _options_table("## Environment variables") == read


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings."""
    found = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def _links(images: bool) -> list[tuple[Path, str]]:
    """(page, target) of every relative link (`images`: of every image) outside code."""
    found = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        text = re.sub(r"`[^`\n]*`", "", text)
        for bang, target in re.findall(r"(!?)\[[^\]]*\]\(([^)\s]+)\)", text):
            if not re.match(r"[a-z]+:", target) and bool(bang) == images:
                found.append((page, target))
    return found


def test_relative_links_resolve():
    broken = []
    for page, target in _links(images=False):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{page.name}: {target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_images_exist():
    missing = [f"{page.name}: {target}" for page, target in _links(images=True)
               if not (page.parent / target).is_file()]
    assert not missing, "\n".join(missing)


def test_every_block_names_its_language():
    """```python blocks run, ```sh and ```text ones do not: a bare fence says neither."""
    bare = [b.name for b in ALL if not b.lang]
    assert not bare, "give these blocks a language (python, sh, text, c): " + ", ".join(bare)


def test_nothing_points_to_a_design_md():
    """The docs are docs/*.md: a DESIGN.md was never shipped."""
    found = []
    for folder in ("ringc", "backends", "templates", "samples", "docs", "scripts", "bench"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".j2", ".h", ".c", ".txt", ".sh"):
                if "DESIGN.md" in path.read_text(encoding="utf-8", errors="replace"):
                    found.append(str(path.relative_to(ROOT)))
    for name in ("README.md", "setup.py", "pyproject.toml", "Makefile"):
        if "DESIGN.md" in (ROOT / name).read_text(encoding="utf-8"):
            found.append(name)
    assert not found
