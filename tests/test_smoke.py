"""`ringc check --run` (ringc/smoke.py): each executing shim builds, runs and agrees with
the simulator on a sample; a program that reads the clock or never goes idle is run but
not compared; a backend that computes something else is reported as differing; and
--run's misuse is a one-line error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import ringc.smoke as smoke
from ringc.cli import main
from ringc.launcher import _program

ROOT = Path(__file__).resolve().parent.parent
needs_compiler = pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("clang++") is None,
    reason="the executing shims need g++ or clang++")


@needs_compiler
def test_check_run_builds_runs_and_agrees_on_a_sample(capsys):
    assert main(["check", "--run", str(ROOT / "samples/pipeline.py")]) == 0
    out = capsys.readouterr().out
    assert "cuda-shim  built, ran, agrees with the simulator" in out
    assert "metal-shim built, ran, agrees with the simulator" in out


@needs_compiler
def test_one_target_runs_through_its_own_shim_only(capsys):
    assert main(["check", "--run", "--target", "cuda",
                 str(ROOT / "samples/kv_store.py")]) == 0
    out = capsys.readouterr().out
    assert "cuda-shim  built, ran, agrees" in out and "metal-shim" not in out


def test_the_smoke_inputs_feed_the_entry_kernels_within_their_rings():
    program, messages, kernels = _program(ROOT / "samples/pipeline.py")
    inputs = smoke.smoke_inputs(program, messages, kernels, count=8)
    assert {k.__name__ for k, _ in inputs} == {"Clean"}      # Score, Aggregate are fed by it
    assert len(inputs) == 8
    assert smoke.smoke_inputs(program, messages, kernels, count=8) == inputs   # a fixed seed
    timed, _, _ = _program(ROOT / "samples/patterns/circuit_breaker.py")
    assert smoke.uses_time(timed) and not smoke.uses_time(program)


def test_a_backend_that_computes_otherwise_differs(monkeypatch):
    """The comparison itself: a backend whose outcome is the simulator's with one output
    changed is reported as differing, naming the part."""
    real = smoke._outcome

    def tampered(path, backend, inputs_of):
        outcome = real(path, "sim", inputs_of)
        if backend != "sim":
            outcome["output"][("Summary", "tampered")] += 1
        return outcome

    monkeypatch.setattr(smoke, "_outcome", tampered)
    [result] = smoke.check_run(ROOT / "samples/pipeline.py", ["cuda-shim"])
    assert (result.built, result.ran, result.agrees) == (True, True, False)
    assert result.verdict == "built, ran, DIFFERS from the simulator"
    assert "output: 0 the simulator has and this does not" in result.detail
    assert "1 extra" in result.detail and result.ok is False


def test_a_program_on_the_clock_runs_but_is_not_compared(monkeypatch):
    monkeypatch.setattr(smoke, "_outcome", lambda path, backend, inputs_of: {})
    [result] = smoke.check_run(ROOT / "samples/patterns/circuit_breaker.py", ["cuda-shim"])
    assert result.verdict == "built, ran (not compared with the simulator)"
    assert "reads the clock" in result.detail and result.ok is True


def test_run_misuse_is_a_one_line_error(tmp_path, capsys):
    emitted = tmp_path / "pipeline.cu"
    assert main(["compile", str(ROOT / "samples/pipeline.py"), "--target", "cuda",
                 "-o", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["check", "--run", str(emitted)]) == 1
    err = capsys.readouterr().err
    assert "--run runs a program from its .py file" in err and "Traceback" not in err
    assert main(["check", "--run", "--target", "opencl",
                 str(ROOT / "samples/pipeline.py")]) == 1
    assert "no executing shim runs opencl programs" in capsys.readouterr().err
