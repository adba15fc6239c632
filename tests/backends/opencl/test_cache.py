"""The OpenCL build cache ringc gives PoCL: damaged entries are rebuilt, an unwritable
cache costs one log line and the cache, never a crash; a manifest naming paths outside the
cache deletes nothing; in-progress, interrupted and concurrent builds are not damage.

The end-to-end tests run each program in a fresh child process (PoCL reads its cache
settings when it starts); the others drive the manifest directly and need no OpenCL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ringc.backends.opencl import cache
from tests.backend_support import unavailable

needs_opencl = pytest.mark.skipif(unavailable("opencl") is not None,
                                  reason=f"opencl: {unavailable('opencl')}")

ROOT = Path(__file__).resolve().parents[3]
REQUEST = """
import ringc as rc
from tests.runtime.kernels import Summer, Work
with rc.launch(Summer, backend="opencl") as rt:
    print(rt.request(Summer, Work(id=7, data=[1, 2, 3, 4]), timeout=30.0).value)
"""


def run(cache_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RINGC_CACHE_DIR": str(cache_root)}
    env.pop("POCL_CACHE_DIR", None)
    env.pop("POCL_KERNEL_CACHE", None)
    return subprocess.run([sys.executable, "-c", REQUEST], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def pocl_dir(cache_root: Path) -> Path:
    return cache_root / "opencl" / "pocl"


@needs_opencl
def test_damaged_pocl_libraries_are_rebuilt_not_loaded(tmp_path):
    first = run(tmp_path)
    assert first.returncode == 0 and first.stdout.strip() == "10.0", first.stderr
    libraries = list(pocl_dir(tmp_path).rglob("*.so"))
    assert libraries, "PoCL cached no library where ringc told it to"
    for library in libraries:
        library.write_bytes(library.read_bytes()[:64])      # truncated behind PoCL's back
    second = run(tmp_path)
    assert second.returncode == 0 and second.stdout.strip() == "10.0", second.stderr
    assert second.stderr.splitlines() == [                  # one line, no file of ours
        f"removed 1 damaged program(s) from the OpenCL build cache "
        f"{pocl_dir(tmp_path)}; PoCL rebuilds them"]
    third = run(tmp_path)                                   # repaired: nothing to say
    assert third.returncode == 0 and third.stderr == ""


@needs_opencl
def test_an_unwritable_cache_warns_once_and_builds_without_one(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run(blocker / "cache")                         # cannot be a directory
    assert result.returncode == 0 and result.stdout.strip() == "10.0", result.stderr
    assert result.stderr.splitlines() == [
        f"the OpenCL build cache {pocl_dir(blocker / 'cache')} cannot be written "
        "(Not a directory); building without a cache"]


@needs_opencl
def test_a_manifest_naming_paths_outside_the_cache_deletes_nothing(tmp_path):
    keep = tmp_path / "keep.txt"
    keep.write_text("user data")
    pocl_dir(tmp_path).mkdir(parents=True)
    (pocl_dir(tmp_path) / "ringc-manifest.json").write_text(
        json.dumps({"../../zz": [1, 2], str(tmp_path / "x" / "y"): [1, 2]}))
    result = run(tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "10.0", result.stderr
    assert keep.read_text() == "user data"
    assert result.stderr.splitlines() == [
        f"dropped 2 manifest entry(ies) of the OpenCL build cache "
        f"{pocl_dir(tmp_path)} that name no file inside it"]
    assert run(tmp_path).stderr == ""                       # dropped for good


# ---- the manifest, driven directly ----------------------------------------------------

@pytest.fixture
def root(tmp_path, monkeypatch):
    """A PoCL cache directory `record()` writes the manifest of (no PoCL involved)."""
    where = pocl_dir(tmp_path)
    where.mkdir(parents=True)
    monkeypatch.setattr(cache, "configure", lambda: where)
    return where


def program(root: Path, name: str = "AB/CDEFGH") -> Path:
    """A cached program as PoCL leaves it: bitcode and one library."""
    directory = root / name
    (directory / "rc_main" / "1-1-1-goffs0-smallgrid").mkdir(parents=True)
    (directory / "program.bc").write_bytes(b"bitcode" * 100)
    (directory / "rc_main" / "1-1-1-goffs0-smallgrid" / "rc_main.so").write_bytes(b"\x7fELF" * 50)
    (directory / "last_accessed").write_text("")
    return directory


def manifest(root: Path) -> dict:
    return json.loads((root / "ringc-manifest.json").read_text())


def write_manifest(root: Path, entries: dict) -> None:
    (root / "ringc-manifest.json").write_text(json.dumps(entries))


def test_entries_leading_out_of_the_cache_are_dropped_and_nothing_is_deleted(root, caplog):
    victim = root.parent.parent / "victim"
    (victim / "x").mkdir(parents=True)
    (victim / "x" / "file").write_text("user data")
    (root.parent.parent / "keep.txt").write_text("user data")
    (root / "AB").symlink_to(victim)                        # a program dir out of the cache
    write_manifest(root, {"../../zz": [1, 2, "00"], "AB/x/file": [1, 2, "00"],
                          "CD/../../../victim/x/file": [1, 2, "00"],
                          str(victim / "x" / "file"): [1, 2, "00"]})
    cache._repair(root)
    assert (victim / "x" / "file").read_text() == "user data"
    assert (root.parent.parent / "keep.txt").read_text() == "user data"
    assert manifest(root) == {}
    assert [r.getMessage() for r in caplog.records] == [
        f"dropped 4 manifest entry(ies) of the OpenCL build cache {root} that name "
        "no file inside it"]


def test_an_absolute_entry_is_dropped_not_a_crash(root, caplog):
    outside = root.parent.parent / "x" / "y"
    outside.mkdir(parents=True)
    write_manifest(root, {str(outside / "file"): [1, 2]})
    cache._repair(root)
    assert outside.is_dir() and manifest(root) == {}
    assert "dropped 1 manifest entry(ies)" in caplog.text


def test_damaged_files_remove_their_program_only(root, caplog):
    damaged, intact = program(root), program(root, "EF/GHIJKL")
    cache.record()
    library = damaged / "rc_main" / "1-1-1-goffs0-smallgrid" / "rc_main.so"
    library.write_bytes(b"\x00" * library.stat().st_size)   # same size, other content
    cache._repair(root)
    assert not damaged.exists() and (intact / "program.bc").exists()
    assert sorted(manifest(root)) == ["EF/GHIJKL/program.bc",
                                      "EF/GHIJKL/rc_main/1-1-1-goffs0-smallgrid/rc_main.so"]
    assert [r.getMessage() for r in caplog.records] == [
        f"removed 1 damaged program(s) from the OpenCL build cache {root}; "
        "PoCL rebuilds them"]


def test_a_concurrent_build_of_the_same_program_is_not_damage(root, caplog):
    directory = program(root)
    temp = directory / "program.bc_Ab12Cd.temp"             # another process writing it
    temp.write_bytes((directory / "program.bc").read_bytes()[:10])
    cache.record()
    temp.write_bytes((directory / "program.bc").read_bytes())
    os.replace(temp, directory / "program.bc")              # the same content, renamed in
    os.utime(directory / "program.bc", ns=(1, 1))
    cache._repair(root)
    assert (directory / "program.bc").exists() and caplog.records == []
    assert manifest(root)["AB/CDEFGH/program.bc"][1] == 1   # re-signed, kept
    assert "AB/CDEFGH/program.bc_Ab12Cd.temp" not in manifest(root)


def test_an_interrupted_build_and_files_gone_are_not_damage(root, caplog):
    directory = program(root)
    temp = directory / "program.bc_Ab12Cd.temp"
    temp.write_bytes(b"part")
    cache.record()
    temp.write_bytes(b"part of a build that crashed")    # left behind, never renamed
    (directory / "rc_main" / "1-1-1-goffs0-smallgrid" / "rc_main.so").unlink()
    cache._repair(root)
    assert (directory / "program.bc").exists() and caplog.records == []
    assert list(manifest(root)) == ["AB/CDEFGH/program.bc"]


def test_a_recorded_file_now_a_fifo_is_damage_not_a_hang(root, caplog):
    directory = program(root)
    cache.record()
    (directory / "program.bc").unlink()
    os.mkfifo(directory / "program.bc")                     # reading it would block
    worker = threading.Thread(target=cache._repair, args=(root,), daemon=True)
    worker.start()
    worker.join(10.0)
    assert not worker.is_alive() and not directory.exists()
    assert "removed 1 damaged program(s)" in caplog.text


def test_a_manifest_that_cannot_be_replaced_leaves_no_temporary_file(root):
    program(root)
    (root / "ringc-manifest.json").mkdir()                 # not a file: never replaced
    cache.record()
    assert sorted(p.name for p in root.iterdir()) == ["AB", "ringc-manifest.json"]
