"""The `ringc` command as a user runs it."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ringc as rc
from ringc.cli import main
from ringc.errors import CompileError

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "samples" / "pipeline.py"

BROKEN = """\
import ringc as rc
from ringc import i32

@rc.message
class M:
    a: i32

@rc.ring_kernel
class K:
    total: i32

    def on_m(self, m: M):
        self.total = totl + m.a
"""


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for verb in ("compile", "inspect", "check", "devices", "samples", "docs", "cache"):
        assert verb in out


def test_compile_all_targets_then_check_the_ir_file(tmp_path, capsys):
    assert main(["compile", str(PIPELINE), "--target", "all", "-o", str(tmp_path)]) == 0
    for ext in (".cu", ".cl", ".metal"):
        text = (tmp_path / f"pipeline{ext}").read_text()
        assert "rc_main" in text and "pipeline.py:" in text
    assert main(["compile", str(PIPELINE), "--emit", "ir", "-o", str(tmp_path)]) == 0
    rir = tmp_path / "pipeline.rir"
    assert rir.read_text().strip()
    capsys.readouterr()
    assert main(["check", str(rir), "--target", "opencl"]) == 0
    assert "opencl  ok" in capsys.readouterr().out
    for ext, target in ((".cu", "cuda"), (".cl", "opencl"), (".metal", "metal")):
        assert main(["check", str(tmp_path / f"pipeline{ext}")]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{target:7} ") and "FAILED" not in out


def test_check_reports_a_broken_emitted_program(tmp_path, capsys):
    broken = tmp_path / "broken.cl"
    broken.write_text("__kernel void rc_main(__global uchar* a) { oops }\n")
    assert main(["check", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "opencl  FAILED" in out and "oops" in out


def test_compile_to_stdout(capsys):
    assert main(["compile", str(PIPELINE), "--target", "opencl"]) == 0
    assert "__kernel" in capsys.readouterr().out


def test_user_error_is_one_located_message(tmp_path, capsys):
    bad = tmp_path / "broken.py"
    bad.write_text(BROKEN)
    assert main(["compile", str(bad)]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first == f"{bad}:13:22: error: name 'totl' is not defined"
    assert "hint: did you mean 'self.total'?" in err
    assert "Traceback" not in err


def test_syntax_error_in_user_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "syntax.py").write_text("import ringc as rc\n\ndef f(:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert main(["inspect", "syntax.py"]) == 1
    assert capsys.readouterr().err == ("syntax.py:3:7: error: invalid syntax\n"
                                       "    def f(:\n"
                                       "          ^\n")


def test_missing_file_and_unknown_kernel(tmp_path, capsys):
    assert main(["compile", str(tmp_path / "nope.py")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["compile", str(PIPELINE), "--kernel", "Nope"]) == 1
    assert "has no kernel named Nope" in capsys.readouterr().err


def test_bad_target_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compile", str(PIPELINE), "--target", "vulkan"])
    assert info.value.code == 2


def test_inspect_shows_layouts_and_queues(capsys):
    assert main(["inspect", str(ROOT / "samples" / "scatter_gather.py")]) == 0
    out = capsys.readouterr().out
    assert "Coordinator" in out and "Worker" in out
    assert "instances=4" in out
    assert "values" in out and "offset" in out
    assert "queue" in out


def test_devices_lists_backends(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    for backend in ("opencl", "cuda", "metal", "sim", "cuda-shim", "metal-shim"):
        assert backend in out


def test_console_script_runs_as_a_user_would(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text(BROKEN)
    result = subprocess.run([sys.executable, "-m", "ringc.cli", "check", str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bad}:13:22: error:")
    assert "Traceback" not in result.stderr


def test_unwritable_outputs_and_unreadable_files_are_one_line_errors(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("")
    assert main(["compile", str(PIPELINE), "-o", str(a_file)]) == 1
    assert capsys.readouterr().err == (f"ringc: error: -o {a_file} names a file; give a "
                                       "directory to write into\n")
    assert main(["compile", str(PIPELINE), "-o", "/proc/no/such/dir"]) == 1
    assert capsys.readouterr().err.startswith("ringc: error: cannot write pipeline.")
    binary = tmp_path / "bad.rir"
    binary.write_bytes(b"\xff\xfe not text")
    assert main(["compile", str(binary)]) == 1
    assert capsys.readouterr().err == (f"error: {binary} is not UTF-8 text (byte 0): a .rir "
                                       "file is what `ringc compile --emit ir` writes\n")


class FullStdout:
    """A stdout whose every write fails as a full disk's does."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        pass


EMITTED = "__kernel void k(__global int* a) { a[0] = 1; }\n"


@pytest.mark.parametrize("command", [
    ["compile", str(PIPELINE), "--target", "opencl"],
    ["compile", str(PIPELINE), "--emit", "ir"],
    ["inspect", str(PIPELINE)],
    ["devices"],
    ["check", "emitted.cl"],
])
def test_a_full_stdout_is_one_line_error(command, tmp_path, monkeypatch, capsys):
    (tmp_path / "emitted.cl").write_text(EMITTED)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", FullStdout())
    assert main(command) == 1
    assert capsys.readouterr().err == ("ringc: error: cannot write output: "
                                       "No space left on device\n")


def ringc(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ringc.cli", *args], stderr=subprocess.PIPE,
                          text=True, timeout=120, **kwargs)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", [["compile", str(PIPELINE), "--target", "opencl"],
                                     ["devices"]])
def test_dev_full_as_a_user_sees_it(command):
    with open("/dev/full", "w") as full:
        result = ringc(*command, stdout=full)
    assert (result.returncode, result.stderr) == (
        1, "ringc: error: cannot write output: No space left on device\n")


def test_closed_stdout_is_one_line_error():
    result = subprocess.run(["sh", "-c", 'exec "$0" -m ringc.cli devices >&-', sys.executable],
                            stderr=subprocess.PIPE, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (
        1, "ringc: error: cannot write output: standard output is closed\n")


@pytest.mark.parametrize("lines_read", [0, 1])
def test_a_reader_that_leaves_ends_ringc_quietly(lines_read):
    """`ringc compile ... | head -1`: status 141 as for SIGPIPE, nothing on stderr (not even
    Python's "Exception ignored" at exit)."""
    process = subprocess.Popen([sys.executable, "-m", "ringc.cli", "compile", str(PIPELINE),
                                "--target", "all"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    for _ in range(lines_read):
        process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=120) == 141
    assert process.stderr.read() == b""
    process.stderr.close()


def test_check_of_an_emitted_program_that_is_not_text_or_a_directory(tmp_path, capsys):
    binary = tmp_path / "bin.cl"
    binary.write_bytes(b"\xff\xfe not text")
    assert main(["check", str(binary)]) == 1
    assert capsys.readouterr().err == (f"error: {binary} is not UTF-8 text (byte 0): "
                                       "`ringc check` reads a .cl file as emitted opencl "
                                       "source\n")
    directory = tmp_path / "dird.cl"
    directory.mkdir()
    assert main(["check", str(directory)]) == 1
    assert capsys.readouterr().err == f"error: {directory} is a directory, not a file\n"


@pytest.mark.parametrize("text", ["", "  // nothing here\n"])
@pytest.mark.parametrize("command", ["compile", "inspect", "check"])
def test_an_rir_file_without_kernels_is_an_error(text, command, tmp_path, capsys):
    empty = tmp_path / "empty.rir"
    empty.write_text(text)
    assert main([command, str(empty)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{empty}:1:1: error: {empty} defines no kernel\n")
    assert err.endswith("hint: a .rir file is what `ringc compile --emit ir` writes\n")


def test_rc_compile_of_no_kernels_is_an_error():
    with pytest.raises(CompileError, match="rc.compile got no kernels"):
        rc.compile([])


@pytest.mark.parametrize("code", [0, 3])
def test_a_file_that_exits_while_imported_is_an_error(code, tmp_path, capsys):
    program = tmp_path / "exits.py"
    program.write_text(PIPELINE.read_text() + f"\nimport sys\nsys.exit({code})\n")
    line = program.read_text().count("\n")
    assert main(["compile", str(program), "--emit", "ir"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{program}:{line}:1: error: importing the file raised SystemExit "
                          f"with exit code {code}\n")


def test_what_a_file_prints_while_imported_goes_to_stderr(tmp_path, capsys):
    program = tmp_path / "chatty.py"
    program.write_text('print("HELLO")\n' + PIPELINE.read_text())
    assert main(["compile", str(program), "--target", "opencl"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("// Generated by ringc") and "HELLO" not in out
    assert err == "HELLO\n"


def test_an_unknown_option_is_reported_against_its_subcommand(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compile", "--bogus", str(PIPELINE)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: ringc compile ")
    assert err.endswith("ringc compile: error: unrecognized arguments: --bogus\n")


def test_samples_are_listed_located_and_run(capsys):
    assert main(["samples"]) == 0
    listing = capsys.readouterr().out
    assert "circuit_breaker" in listing and "pipeline" in listing
    assert main(["samples", "path", "circuit_breaker"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "circuit_breaker.py" and path.is_file()
    assert main(["samples", "run", "simd_vectorization", "sim"]) == 0
    assert "length 32: 4 vector step(s) of 8" in capsys.readouterr().out
    assert main(["samples", "run", "no_such_sample"]) == 1
    assert "no sample called 'no_such_sample' (ringc samples lists them)" in \
        capsys.readouterr().err
    assert main(["samples", "path"]) == 1                      # a NAME is needed
    assert "needs a sample NAME" in capsys.readouterr().err


def test_cache_info_and_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["cache", "info"]) == 0
    assert "no cache at" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0                       # nothing there: says so, 0
    assert "nothing to clear" in capsys.readouterr().out
    (tmp_path / "cache" / "opencl" / "binary").mkdir(parents=True)
    (tmp_path / "cache" / "opencl" / "binary" / "a.bin").write_bytes(b"x" * 2048)
    (tmp_path / "cache" / "cuda").mkdir()
    (tmp_path / "cache" / "cuda" / "b.cubin").write_bytes(b"y" * 10)
    assert main(["cache", "info"]) == 0
    info = capsys.readouterr().out
    assert "opencl" in info and "1 file(s)" in info and "2.0 KiB" in info
    assert main(["cache", "clear"]) == 0
    assert "removed 2 file(s), 2.0 KiB" in capsys.readouterr().out
    assert list((tmp_path / "cache").iterdir()) == []


def test_cache_info_says_when_the_caches_are_off(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RINGC_CACHE", "off")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("the caches are off (RINGC_CACHE=off)") and "no cache at" in out


def test_docs_lists_and_prints_the_pages(capsys):
    assert main(["docs"]) == 0
    listing = capsys.readouterr().out
    assert "getting-started  Getting started" in listing
    assert "options          Options reference" in listing
    assert main(["docs", "options"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Options reference\n") and "`RINGC_CACHE`" in printed
    assert main(["docs", "--path", "docs/options.md"]) == 0
    assert Path(capsys.readouterr().out.strip()).read_text().startswith("# Options reference")
    assert main(["docs", "--path"]) == 0
    assert (Path(capsys.readouterr().out.strip()) / "getting-started.md").is_file()
    assert main(["docs", "no-such-page"]) == 1
    err = capsys.readouterr().err
    assert "no page called 'no-such-page' (ringc docs lists them: " in err and "runtime" in err


def test_python_dash_m_ringc_is_the_command(tmp_path):
    import subprocess
    import sys

    import ringc
    run = subprocess.run([sys.executable, "-m", "ringc", "--version"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == f"ringc {ringc.__version__}"
    run = subprocess.run([sys.executable, "-m", "ringc", "docs", "nope"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path)
    assert run.returncode == 1 and "no page called 'nope'" in run.stderr
