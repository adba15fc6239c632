"""The `ringc` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ringc.cli import main

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
    for verb in ("compile", "inspect", "check", "devices"):
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


def test_syntax_error_in_user_file(tmp_path, capsys):
    bad = tmp_path / "syntax.py"
    bad.write_text("import ringc as rc\n\ndef f(:\n    pass\n")
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:3:7: error: invalid syntax")


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
    for backend in ("opencl", "cuda", "metal", "sim"):
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
