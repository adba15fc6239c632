"""What makes a new process start fast: `import ringc` loads no compiler, every public name
still resolves (on first use), and `rc.launch`'s caches of emitted source (codegen) and of
built OpenCL binaries hit, miss on any change, and shrug off damaged entries.

Structural tests only: what is imported and what is read or written, never how long it
takes (bench/launch_bench.py measures that)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import ringc as rc
from ringc import codegen
from ringc.backends import toolchain
from ringc.compiler import to_program
from tests.backend_support import unavailable

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """
@rc.message
class Ping:
    n: i32

@rc.message
class Pong:
    n: i32

@rc.ring_kernel(capacity=16)
class Echo:
    def on_ping(self, m: Ping) -> Pong:
        return Pong(n=m.n + {step})
"""


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_ringc_loads_no_compiler_runtime_or_toolchain():
    loaded = _modules_after("import ringc")
    heavy = ("ringc.compiler", "ringc.codegen", "ringc.frontend", "ringc.launcher",
             "ringc.runtime", "jinja2", "lark", "pyopencl")
    assert not {m for m in loaded for h in heavy if m == h or m.startswith(h + ".")}


def test_every_public_name_resolves_and_loads_on_first_use():
    loaded = _modules_after(
        "import ringc\n"
        "assert 'ringc.launcher' not in __import__('sys').modules\n"
        "missing = [n for n in ringc.__all__ if getattr(ringc, n, None) is None]\n"
        "assert not missing, missing\n"
        "from ringc.launcher import launch\n"
        "from ringc.compiler import compile\n"
        "assert ringc.launch is launch and ringc.compile is compile\n"
        "assert set(ringc.__all__) <= set(dir(ringc))")
    assert {"ringc.launcher", "ringc.compiler", "ringc.runtime"} <= loaded


def test_submodules_are_attributes_and_unknown_names_are_not():
    assert rc.codegen is codegen
    assert rc.Runtime.__module__ == "ringc.runtime.runtime"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        rc.nothing_here  # noqa: B018


def test_star_import_gives_every_public_name():
    names: dict = {}
    exec("from ringc import *", names)
    assert set(rc.__all__) <= set(names)


# ---- the emitted-source cache (codegen.generate_cached) ------------------------------------

@pytest.fixture
def cache_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("RINGC_CACHE_DIR", str(root))
    return root


def _program(user_kernels, step: int = 1):
    return to_program(user_kernels(PROGRAM.format(step=step)))


def _entries(root: Path) -> list[Path]:
    return sorted((root / "opencl" / "source").glob("*.cl"))


def test_a_hit_returns_what_a_fresh_codegen_emits(user_kernels, cache_root, monkeypatch):
    program = _program(user_kernels)
    fresh = codegen.generate(program, "opencl")
    first = codegen.generate_cached(program, "opencl")
    assert len(_entries(cache_root)) == 1
    monkeypatch.setattr(codegen, "generate", lambda *a, **k: pytest.fail("not a hit"))
    hit = codegen.generate_cached(program, "opencl")
    assert first.source == hit.source == fresh.source
    assert hit.layout == fresh.layout and hit.reasons == fresh.reasons
    assert hit.target == "opencl"


def test_the_entry_is_under_the_cache_directory_asked_for(user_kernels, cache_root):
    codegen.generate_cached(_program(user_kernels), "opencl")
    (entry,) = _entries(cache_root)
    assert entry.parent == toolchain.cache_dir("opencl") / "source"
    assert cache_root in entry.parents


def test_a_changed_program_or_option_gets_its_own_entry(user_kernels, cache_root):
    one, two = _program(user_kernels, 1), _program(user_kernels, 2)
    sources = {codegen.generate_cached(one, "opencl").source,
               codegen.generate_cached(two, "opencl").source,
               codegen.generate_cached(one, "opencl", debug=True).source,
               codegen.generate_cached(one, "opencl", output_capacity=64).source}
    assert len(sources) == 4 and len(_entries(cache_root)) == 4
    assert codegen.generate_cached(two, "opencl").source == codegen.generate(
        two, "opencl").source


@pytest.mark.parametrize("damage", ["truncated", "edited", "empty", "not utf-8", "no digest"])
def test_a_damaged_entry_is_ignored_and_written_again(user_kernels, cache_root, damage):
    program = _program(user_kernels)
    fresh = codegen.generate(program, "opencl").source
    codegen.generate_cached(program, "opencl")
    (entry,) = _entries(cache_root)
    good = entry.read_bytes()
    damaged = {"truncated": good[:len(good) // 2],
               "edited": good.replace(b"rc_main", b"rc_mein", 1),
               "empty": b"",
               "not utf-8": hashlib.sha256(b"\xff\xfe").hexdigest().encode()
               + b"\n\xff\xfe",
               "no digest": fresh.encode()}[damage]
    entry.write_bytes(damaged)
    assert codegen.generate_cached(program, "opencl").source == fresh
    assert entry.read_bytes() == good


def test_a_cache_that_cannot_be_written_still_generates(user_kernels, tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("RINGC_CACHE_DIR", str(blocker))
    program = _program(user_kernels)
    assert codegen.generate_cached(program, "opencl").source == codegen.generate(
        program, "opencl").source


def test_a_kernel_not_meant_for_the_target_is_refused_with_or_without_cache(
        user_kernels, cache_root):
    program = to_program(user_kernels(PROGRAM.format(step=1).replace(
        "capacity=16", "capacity=16, targets=['cuda']")))
    for _ in range(2):
        with pytest.raises(rc.CompileError, match="not meant for opencl"):
            codegen.generate_cached(program, "opencl")
    assert _entries(cache_root) == []


def test_entries_hold_their_digest_and_leave_no_temporary_files(tmp_path):
    path = tmp_path / "deep" / "entry.bin"
    toolchain.write_entry(path, b"payload\nwith lines")
    assert toolchain.read_entry(path) == b"payload\nwith lines"
    assert toolchain.read_entry(tmp_path / "missing") is None
    assert [p.name for p in path.parent.iterdir()] == ["entry.bin"]


# ---- the OpenCL binary cache (backends/opencl/cache.build) ---------------------------------

KERNEL = "__kernel void k(__global int *x) { x[0] = %d; }\n"


@pytest.mark.skipif(unavailable("opencl") is not None,
                    reason=f"opencl: {unavailable('opencl')}")
def test_opencl_binaries_are_stored_reused_and_rebuilt_when_damaged(cache_root):
    import numpy as np

    from ringc.backends.opencl import cache
    from ringc.backends.opencl.toolchain import _context

    context = _context()[0]
    device = context.devices[0]
    import pyopencl as cl
    queue = cl.CommandQueue(context)

    def runs(program) -> int:
        out = np.zeros(1, np.int32)
        buffer = cl.Buffer(context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                           hostbuf=out)
        program.k(queue, (1,), (1,), buffer)
        cl.enqueue_copy(queue, out, buffer)
        return int(out[0])

    options = ("-cl-std=CL1.2",)
    assert runs(cache.build(context, device, KERNEL % 7, options)) == 7
    (entry,) = (cache_root / "opencl" / "binary").glob("*.bin")
    stored = entry.read_bytes()
    assert runs(cache.build(context, device, KERNEL % 7, options)) == 7     # from the binary
    assert runs(cache.build(context, device, KERNEL % 8, options)) == 8     # a new key
    assert len(list(entry.parent.glob("*.bin"))) == 2
    for damaged in (stored[:100], hashlib.sha256(b"junk").hexdigest().encode()
                    + b"\njunk"):
        entry.write_bytes(damaged)
        assert runs(cache.build(context, device, KERNEL % 7, options)) == 7
        assert toolchain.read_entry(entry)


# ---- the check of PoCL's cache every launch pays (backends/opencl/cache) -------------------

def test_an_intact_pocl_cache_is_checked_from_metadata_alone(tmp_path, monkeypatch):
    from ringc.backends.opencl import cache

    for thread in threading.enumerate():        # an earlier launch's record, still walking,
        if thread.name == "ringc-cache-record":  # would meet the patches below
            thread.join()
    root = tmp_path / "pocl"
    library = root / "AB" / "CDEFGH" / "rc_main" / "1-1-1-goffs0-smallgrid" / "rc_main.so"
    library.parent.mkdir(parents=True)
    library.write_bytes(b"\x7fELF" * 50)
    (root / "AB" / "CDEFGH" / "program.bc").write_bytes(b"bitcode" * 100)
    monkeypatch.setattr(cache, "configure", lambda: root)
    cache.record()
    recorded = (root / "ringc-manifest.json").read_bytes()
    monkeypatch.setattr(cache, "_signature", lambda *a: pytest.fail("a file was read"))
    monkeypatch.setattr(cache, "_write", lambda *a: pytest.fail("the manifest was rewritten"))
    cache._repair(root)
    cache.record()
    assert (root / "ringc-manifest.json").read_bytes() == recorded
    library.write_bytes(b"\x00" * 200)                     # damage is still found
    os.utime(library, ns=(1, 1))
    monkeypatch.undo()
    cache._repair(root)
    assert not (root / "AB" / "CDEFGH").exists()
