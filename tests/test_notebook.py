"""Kernels, messages and device functions defined in Jupyter/IPython cells (ringc/source.py,
docs/notebooks.md): first with cells simulated in this process (IPython's way: the cell's
text in `linecache` under the cell's file name, run in a `__main__` without `__file__`),
then a real notebook (tests/notebooks/ping.ipynb) executed headless with nbclient."""

from __future__ import annotations

import itertools
import json
import linecache
import os
import re
import sys
import textwrap
import types
import zlib
from pathlib import Path

import pytest

import ringc as rc
from tests.backend_support import unavailable

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "notebooks" / "ping.ipynb"
_cells = itertools.count(1)


class Shell:
    """A stand-in for an IPython shell: a `__main__` module without `__file__`, and cells
    cached in `linecache` (no modification time) before they run, as IPython does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.main = types.ModuleType("__main__")
        self.files: list[str] = []
        monkeypatch.setitem(sys.modules, "__main__", self.main)
        self.run("import ringc as rc\nfrom ringc import *\n")

    def cache(self, text: str, file: str | None = None) -> str:
        """Put `text` in linecache as a cell (an `<ipython-input-N-...>` file by default)."""
        file = file or f"<ipython-input-{next(_cells)}-{zlib.crc32(text.encode()):08x}>"
        lines = text.splitlines(keepends=True)
        linecache.cache[file] = (len(text), None, lines, file)
        self.files.append(file)
        return file

    def run(self, text: str, file: str | None = None) -> str:
        """Cache and run a cell; returns its file name."""
        text = textwrap.dedent(text)
        file = self.cache(text, file)
        exec(compile(text, file, "exec"), self.main.__dict__)
        return file

    def __getitem__(self, name: str):
        return self.main.__dict__[name]


@pytest.fixture
def shell(monkeypatch):
    sh = Shell(monkeypatch)
    yield sh
    for file in sh.files:
        linecache.cache.pop(file, None)


MESSAGES = """
@rc.message
class Ping:
    id: i32
    x: f32


@rc.message
class Pong:
    id: i32
    y: f32
"""

KERNEL = """
@rc.ring_kernel(capacity=16)
class Doubler:
    seen: i64

    def on_ping(self, m: Ping) -> Pong:
        self.seen += 1
        return Pong(id=m.id, y=twice(m.x))
"""

DEVICE = """
@rc.device
def twice(x: f32) -> f32:
    return x * 2.0
"""


def _ask(kernel: type, message) -> object:
    with rc.launch(kernel, backend="sim") as rt:
        return rt.request(kernel, message, timeout=30.0)


def test_classes_and_device_functions_in_cells_compile_and_run(shell):
    shell.run(MESSAGES)
    shell.run(DEVICE)
    shell.run(KERNEL)
    assert "Doubler" in rc.compile(shell["Doubler"], target="opencl").source
    reply = _ask(shell["Doubler"], shell["Ping"](id=3, x=1.5))
    assert (reply.id, reply.y) == (3, 3.0)


def test_a_mistake_in_a_cell_is_located_at_the_cells_line(shell):
    shell.run(MESSAGES)
    file = shell.run("""
        @rc.ring_kernel
        class Broken:
            total: i32

            def on_ping(self, m: Ping) -> None:
                self.total = totl + 1
        """)
    with pytest.raises(rc.CompileError) as info:
        rc.compile(shell["Broken"], target="opencl")
    err = info.value
    assert (err.file, err.line, err.col) == (file, 7, 22)
    assert err.source_line == "        self.total = totl + 1"


def test_a_bad_option_of_a_cells_kernel_points_at_its_decorator(shell):
    shell.run(MESSAGES)
    file = shell.cache(textwrap.dedent(KERNEL).replace("capacity=16", "capacity=16, colour=1"))
    with pytest.raises(rc.CompileError, match="unknown ring_kernel option 'colour'") as info:
        exec(compile("".join(linecache.getlines(file)), file, "exec"), shell.main.__dict__)
    assert (info.value.file, info.value.line) == (file, 2)


def test_a_class_nested_in_a_function_of_a_cell(shell):
    shell.run(MESSAGES)
    shell.run("""
        def make():
            @rc.message
            class Inner:
                v: i32

            @rc.ring_kernel
            class Echo:
                def on_inner(self, m: Inner) -> Pong:
                    return Pong(id=m.v, y=0.5)
            return Inner, Echo

        Inner, Echo = make()
        """)
    reply = _ask(shell["Echo"], shell["Inner"](v=7))
    assert (reply.id, reply.y) == (7, 0.5)


def _defined_at(message: type) -> tuple[str, int]:
    loc = message._ringc_message.loc
    return loc.file, loc.line


def test_a_redefinition_in_a_later_cell_is_the_one_read(shell):
    first = shell.run(MESSAGES)
    assert _defined_at(shell["Ping"]) == (first, 3)
    shell.run(DEVICE)
    shell.run(KERNEL)
    later = shell.run("\n\n" + MESSAGES.replace("x: f32", "x: f64"))   # same fields
    assert _defined_at(shell["Ping"]) == (later, 5)
    assert shell["Ping"].dtype["x"] == "f8"
    kernel = shell.run(KERNEL.replace("seen: i64", "seen: i64\n    other: i32"))
    reply = _ask(shell["Doubler"], shell["Ping"](id=2, x=0.25))
    assert (reply.id, reply.y) == (2, 0.5)
    assert "other" in rc.compile(shell["Doubler"], target="opencl").source
    assert shell["Doubler"]._ringc_kernel.loc.file == kernel


def test_a_redefinition_with_a_bad_field_is_located_in_its_own_cell(shell):
    shell.run(MESSAGES)
    with pytest.raises(rc.CompileError, match="field 'x' of message 'Ping'") as info:
        shell.run("\n" + MESSAGES.replace("x: f32", "x: list"))
    assert (info.value.file, info.value.line) == (shell.files[-1], 6)
    assert info.value.source_line == "    x: list"


def test_a_cells_message_with_a_method_is_told_where(shell):
    file = shell.cache("@rc.message\nclass Chatty:\n    x: i32\n\n    def hello(self):\n"
                       "        pass\n")
    with pytest.raises(rc.CompileError, match="message 'Chatty' defines method 'hello'") as info:
        exec(compile("".join(linecache.getlines(file)), file, "exec"), shell.main.__dict__)
    assert (info.value.file, info.value.line) == (file, 5)


def test_cells_without_counts_go_by_linecache_order(shell):
    """ipykernel names a cell by a hash of its text: no execution count in the name."""
    shell.run(MESSAGES, "/tmp/ipykernel_0/101.py")
    shell.run(MESSAGES.replace("x: f32", "x: i32"), "/tmp/ipykernel_0/102.py")
    assert _defined_at(shell["Ping"]) == ("/tmp/ipykernel_0/102.py", 3)


def test_only_a_definition_with_the_classs_fields_is_taken(shell):
    """Without execution counts, a rerun of an earlier cell is told apart from a later
    cell's class of the same name by its fields."""
    a, b = "/tmp/ipykernel_0/151.py", "/tmp/ipykernel_0/152.py"
    shell.run(MESSAGES, a)
    shell.run(MESSAGES.replace("x: f32", "x: f32\n    z: f32"), b)
    assert _defined_at(shell["Ping"]) == (b, 3)
    shell.run(MESSAGES, a)
    assert _defined_at(shell["Ping"]) == (a, 3)


def test_a_class_made_by_a_function_of_an_earlier_cell_is_read_there(shell):
    """`make.<locals>.Ping` is not the later cell's top-level `Ping`."""
    maker = shell.run("""
        def make():
            @rc.message
            class Ping:
                id: i32
                x: f32
            return Ping
        """)
    shell.run(MESSAGES)
    shell.run("Made = make()")
    assert _defined_at(shell["Made"]) == (maker, 4)


def test_a_rerun_cell_is_newer_by_the_shells_execution_count(shell, monkeypatch):
    """Cell A, then cell B (both define Ping), then A again: ipykernel's file name for A
    is unchanged (earlier in linecache), but its execution count is the newest."""
    a, b = "/tmp/ipykernel_0/201.py", "/tmp/ipykernel_0/202.py"
    counts = {a: 1, b: 2}
    ipython = types.ModuleType("IPython")
    fake_shell = types.SimpleNamespace(compile=types.SimpleNamespace(_filename_map=counts))
    ipython.get_ipython = lambda: fake_shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    shell.run(MESSAGES, a)
    shell.run("\n" + MESSAGES.replace("x: f32", "x: i32"), b)
    assert _defined_at(shell["Ping"]) == (b, 4)
    counts[a] = 3
    shell.run(MESSAGES, a)
    assert _defined_at(shell["Ping"]) == (a, 3)
    assert shell["Ping"].dtype["x"] == "f4"


def test_an_ipython_input_name_carries_its_count(shell):
    """`<ipython-input-N-...>` names rank by N, not by their order in linecache."""
    newer = shell.cache(MESSAGES, "<ipython-input-90001-0a>")
    shell.run("\n" + MESSAGES, "<ipython-input-90000-0b>")   # cached after, counted before
    exec(compile(MESSAGES, newer, "exec"), shell.main.__dict__)
    assert _defined_at(shell["Ping"]) == (newer, 3)


def test_a_same_named_class_in_mains_file_is_not_taken_for_the_cells(shell, tmp_path):
    """`inspect` looks in `__main__.__file__` for a class of that name; the class whose
    body holds the methods is the one read."""
    script = tmp_path / "script.py"
    script.write_text("class Doubler:\n    pass\n")
    shell.main.__file__ = str(script)
    shell.run(MESSAGES)
    shell.run(DEVICE)
    shell.run(KERNEL)
    reply = _ask(shell["Doubler"], shell["Ping"](id=1, x=2.0))
    assert (reply.id, reply.y) == (1, 4.0)


def test_exec_of_a_string_keeps_the_located_error(shell):
    with pytest.raises(rc.CompileError, match="cannot read the source of class 'Lost'") as info:
        exec("@rc.message\nclass Lost:\n    x: i32\n", shell.main.__dict__)
    assert "exec() of a string" in info.value.hint
    shell.run(MESSAGES)
    with pytest.raises(rc.CompileError,
                       match="cannot read the source of class 'Hidden'") as info:
        exec("@rc.ring_kernel\nclass Hidden:\n\n    def on_ping(self, m: Ping) -> None:\n"
             "        pass\n", shell.main.__dict__)
    assert (info.value.file, info.value.line) == ("<string>", 4)
    assert info.value.hint and str(info.value).startswith("<string>:4:1: error:")


# -- a real notebook, headless -------------------------------------------------------------

def _kernel_manager(kernels: Path):
    """A KernelManager for this interpreter's ipykernel, from a kernelspec written under
    `kernels` (no user-level kernelspec is needed or used)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec = kernels / "ringc-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ringc tests", "language": "python"}))
    return KernelManager(kernel_name="ringc-test",
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))


def _stream(cell) -> str:
    """What an executed cell printed (stdout and stderr)."""
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.parametrize("backend", ["sim", "opencl"])
def test_a_notebook_runs_headless(backend, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient")
    pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel")
    why = unavailable(backend)
    if why:
        pytest.skip(f"{backend}: {why}")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = f"BACKEND = {backend!r}"
    client = nbclient.NotebookClient(nb, km=_kernel_manager(tmp_path / "kernels"),
                                     timeout=60, resources={"metadata": {"path": str(ROOT)}})
    client.execute()                     # a failing cell raises CellExecutionError
    printed = [_stream(c) for c in nb.cells if c.cell_type == "code"]
    assert "3 3.0\n" in printed
    assert "4 4.5\n" in printed
    assert "True 7 26 name 'totl' is not defined\n" in printed


# -- docs/getting-started.md, followed in a notebook ----------------------------------------

GETTING_STARTED = ROOT / "docs" / "getting-started.md"
INSTALLING = ("python3 -m venv", ". ", "pip install")   # done already: this is the install


def _getting_started_notebook(nbformat, page_blocks: list) -> tuple[object, list]:
    """The page as a notebook a reader would make of it: each ```python block a cell (a
    block the page saves as a file is first written there with %%writefile, then run in
    the notebook itself), each ```sh block a %%bash cell (without the install commands),
    `set -e` so a failing command fails its cell. Returns the notebook and, for each
    ```text block that follows a cell, that block's lines."""
    cells, expected = [], []
    for block in page_blocks:
        if block.lang == "python":
            if block.file:
                cells.append(nbformat.v4.new_code_cell(f"%%writefile {block.file}\n"
                                                       + block.code))
            cells.append(nbformat.v4.new_code_cell(block.code))
        elif block.lang == "sh":
            commands = [line for line in block.code.splitlines()
                        if line.strip() and not line.startswith(INSTALLING)]
            if commands:
                cells.append(nbformat.v4.new_code_cell("%%bash\nset -e\n"
                                                       + "\n".join(commands)))
        elif block.lang == "text" and cells:
            expected.append(block.code.splitlines())
    return nbformat.v4.new_notebook(cells=cells), expected


def _printed(cell) -> list[str]:
    return _stream(cell).splitlines()


def _shown(expected: list[list[str]], first: str) -> list[str]:
    """The page's ```text block that starts with `first`."""
    return next(lines for lines in expected if lines[0].startswith(first))


def test_getting_started_runs_in_a_notebook(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient")
    pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel")
    from tests.test_docs import blocks

    why = unavailable("opencl")
    if why:
        pytest.skip(f"the page runs its program on OpenCL: {why}")
    scripts = Path(sys.executable).parent
    if not (scripts / "ringc").exists():
        pytest.skip(f"the page's shell commands need the `ringc` command beside "
                    f"{sys.executable} (pip install -e .)")
    monkeypatch.setenv("PATH", f"{scripts}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    page = blocks(GETTING_STARTED)
    nb, expected = _getting_started_notebook(nbformat, page)
    client = nbclient.NotebookClient(nb, km=_kernel_manager(tmp_path / "kernels"),
                                     timeout=120, resources={"metadata": {"path": str(tmp_path)}})
    client.execute()                     # a failing cell raises CellExecutionError

    def printed_by(command: str) -> list[str]:
        (cell,) = [c for c in nb.cells if c.source.startswith("%%bash") and command in c.source]
        return _printed(cell)

    # `ringc devices`: the page's targets lines, and its backends in the order printed
    devices, shown = printed_by("ringc devices"), _shown(expected, "targets")
    for line in shown[:shown.index("")]:
        assert line.strip() == "..." or line in devices, line
    backends = [line.split()[0] for line in shown[shown.index(""):] if line[:1].isalnum()]
    assert [line.split()[0] for line in devices if line[:1].isalnum()][1:] == backends

    # the program's output, both in the notebook and from `python counter.py`, is the page's
    shown = _shown(expected, "Total(key=3")
    (in_cell,) = [_printed(c) for c in nb.cells
                  if c.source.startswith("import ringc") and "rc.launch(Totals)" in c.source]
    for printed in (in_cell, printed_by("python counter.py")):
        assert printed[:3] == shown[:3]
        assert [re.sub(r"uptime=[\d.]+", "", line) for line in printed[3:]] == \
            [re.sub(r"uptime=[\d.]+", "", line) for line in shown[3:]]

    # `ringc check`: the page's targets, each ok (or skipped where its tool is missing)
    check, shown = printed_by("ringc check"), _shown(expected, "opencl  ok")
    assert {line.split()[0] for line in check} == {line.split()[0] for line in shown}
    assert all(line.split()[1] in ("ok", "skipped") for line in check), check
    assert check[0].split()[:2] == ["opencl", "ok"]

    # the handler the page shows is the one written to counter.cl, line for line
    (shown_c,) = [b.code for b in page if b.lang == "c"]
    emitted = (tmp_path / "counter.cl").read_text().splitlines()
    for line in shown_c.splitlines():
        assert line.strip() == "..." or line in emitted, line
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        ["counter.cl", "counter.cu", "counter.metal"]
