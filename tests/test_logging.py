"""ringc's logging (docs/logging.md): the launch's info record, a refused launch's warning,
the debug records of builds and caches, the OpenCL compiler's log, and `RINGC_LOG`."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

import ringc as rc
from ringc.log import FORMAT, configure_from_env
from tests.backend_support import unavailable
from tests.runtime.kernels import Summer, Work

ROOT = Path(__file__).resolve().parent.parent
needs_opencl = pytest.mark.skipif(unavailable("opencl") is not None,
                                  reason=f"opencl: {unavailable('opencl')}")


def _records(caplog, name: str, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == name and r.levelno == level]


def _summed(backend: str, **options) -> tuple[float, str]:
    """Launch Summer, ask it once; (the reply's value, the device's name)."""
    with rc.launch(Summer, backend=backend, **options) as rt:
        value = rt.request(Summer, Work(id=1, data=[1, 2, 3, 4]), timeout=30.0).value
        return value, rt.device.name


@pytest.fixture
def ringc_logger():
    """The "ringc" logger, its handlers and level put back after the test."""
    logger = logging.getLogger("ringc")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers[:]:
        if handler not in handlers:
            logger.removeHandler(handler)
    logger.setLevel(level)


# ---- the launch's info record -----------------------------------------------------------

@pytest.mark.parametrize("backend", ["sim", pytest.param("opencl", marks=needs_opencl)])
def test_a_launch_logs_one_info_record_naming_kernels_backend_and_device(backend, caplog):
    with caplog.at_level(logging.INFO, logger="ringc"):
        value, name = _summed(backend)
    assert value == 10.0
    (record,) = _records(caplog, "ringc.launch", logging.INFO)
    text = record.getMessage()
    assert text.startswith(f"launched Summer on {backend}, device ")
    assert name in text and "compile, build and load took" in text
    if backend == "sim":
        assert text.endswith("(nothing built: the backend runs the IR)")


@needs_opencl
def test_opencl_launches_say_where_source_and_build_came_from(tmp_path, monkeypatch,
                                                              caplog):
    from ringc.backends.opencl import loader

    monkeypatch.setenv("RINGC_CACHE_DIR", str(tmp_path))
    loader._built.cache_clear()                  # no program built earlier in this process
    with caplog.at_level(logging.DEBUG, logger="ringc"):
        for _ in range(2):
            assert _summed("opencl", output_capacity=64)[0] == 10.0
    first, second = (r.getMessage() for r in _records(caplog, "ringc.launch", logging.INFO))
    assert first.endswith("(source generated, built from the source)")
    assert second.endswith("(source from the cache, build reused from an earlier launch)")
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert sum(m.startswith("generated the opencl source in ") for m in debug) == 1
    assert sum(m.startswith("read the opencl source from the cache") for m in debug) == 1
    assert sum(m.startswith("built the OpenCL program for ") and " from the source in "
               in m for m in debug) == 1


# ---- refused launches -------------------------------------------------------------------

def test_a_launch_refused_before_compiling_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ringc"):
        with pytest.raises(rc.BackendUnavailable) as refused:
            rc.launch(Summer, backend="metal")
    (record,) = _records(caplog, "ringc.launch", logging.WARNING)
    assert record.getMessage() == f"a launch of Summer on metal was refused: {refused.value}"


def test_a_launch_the_loader_refuses_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ringc"):
        with pytest.raises(rc.BackendUnavailable, match="no such device"):
            rc.launch(Summer, backend="cuda-shim", device="no such device")
    (record,) = _records(caplog, "ringc.launch", logging.WARNING)
    assert record.getMessage().startswith("a launch of Summer on cuda-shim was refused: ")
    assert "no such device" in record.getMessage()


@needs_opencl
def test_an_opencl_device_that_is_not_there_logs_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="ringc"):
        with pytest.raises(rc.BackendUnavailable):
            rc.launch(Summer, backend="opencl", device="no such device")
    (record,) = _records(caplog, "ringc.launch", logging.WARNING)
    assert record.getMessage().startswith("a launch of Summer on opencl was refused: no "
                                          "OpenCL device matches 'no such device'")


# ---- the OpenCL compiler's log ----------------------------------------------------------

@needs_opencl
def test_the_opencl_compilers_warnings_are_logged_not_warned(caplog):
    import pyopencl as cl

    from ringc.backends.opencl import toolchain

    context = toolchain._context()[0]
    device = context.devices[0]
    # PoCL keys its cache on the preprocessed source, and gives a cached program the log
    # of the build that stored it: a body of its own, so this build's log is the one read
    source = ("#warning ringc-says-hello\n__kernel void k(__global int *x) "
              f"{{ x[0] = {random.randrange(1 << 30)}; }}\n")
    with caplog.at_level(logging.WARNING, logger="ringc"), warnings.catch_warnings():
        warnings.simplefilter("error")          # a warning that escaped would raise here
        toolchain.logged_build(lambda: cl.Program(context, source).build(cache_dir=False),
                               device)
    (record,) = _records(caplog, "ringc.opencl", logging.WARNING)
    assert "ringc-says-hello" in record.getMessage()
    assert "tempfile_" not in record.getMessage()


def test_other_warnings_raised_during_an_opencl_build_still_reach_the_filter():
    pytest.importorskip("pyopencl")
    from ringc.backends.opencl import toolchain

    class Program:
        def get_build_info(self, *args):
            return ""

    def build():
        warnings.warn("not the compiler's", DeprecationWarning, stacklevel=1)
        return Program()

    with pytest.warns(DeprecationWarning, match="not the compiler's"):
        toolchain.logged_build(build, device=None)


# ---- RINGC_LOG --------------------------------------------------------------------------

LAUNCH = """
import ringc as rc
from tests.runtime.kernels import Summer, Work
with rc.launch(Summer, backend="sim") as rt:
    print(rt.request(Summer, Work(id=1, data=[1, 2, 3, 4]), timeout=30.0).value)
"""


def _run(level: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RINGC_LOG"}
    if level is not None:
        env["RINGC_LOG"] = level
    return subprocess.run([sys.executable, "-c", LAUNCH], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_ringc_log_shows_records_on_stderr_and_nothing_without_it():
    shown, quiet = _run("DEBUG"), _run(None)
    assert shown.returncode == quiet.returncode == 0, shown.stderr + quiet.stderr
    assert shown.stdout == quiet.stdout == "10.0\n"
    assert "ringc INFO ringc.launch: launched Summer on sim, device ringc simulator" \
        in shown.stderr
    assert quiet.stderr == ""


def test_a_bogus_ringc_log_warns_and_configures_nothing(ringc_logger):
    before = list(ringc_logger.handlers)
    with pytest.warns(UserWarning, match="debug, info, warning, error"):
        assert configure_from_env({"RINGC_LOG": "loud"}) is None
    assert ringc_logger.handlers == before


def test_configuring_twice_adds_one_handler(ringc_logger):
    before = list(ringc_logger.handlers)
    assert configure_from_env({}) is None and ringc_logger.handlers == before
    first = configure_from_env({"RINGC_LOG": "Info"})
    assert ringc_logger.level == logging.INFO
    second = configure_from_env({"RINGC_LOG": "debug"})
    assert first is second and ringc_logger.handlers == [*before, first]
    assert ringc_logger.level == logging.DEBUG
    assert first.formatter._fmt == FORMAT and first.stream is sys.stderr


def test_a_launch_prints_nothing(capsys):
    assert _summed("sim")[0] == 10.0
    assert capsys.readouterr().out == ""


def test_a_relaunch_storm_is_logged_at_info(monkeypatch, caplog):
    """An event-driven program launched once per message: past the storm threshold in a
    window (1000 in 10 s; here 5 in 0.2 s), one info record says so."""
    from ringc.runtime import runtime
    from tests.runtime.kernels import Ask, Feeder

    monkeypatch.setattr(runtime, "_STORM", 5)
    monkeypatch.setattr(runtime, "_STORM_WINDOW", 0.2)
    with rc.launch(Feeder, backend="sim") as rt, \
            caplog.at_level("INFO", logger="ringc.runtime"):
        for _ in range(12):                       # each send finds no launch running
            rt.send(Feeder, Ask(n=0))
            time.sleep(0.03)
    storms = [r for r in caplog.records if "times in" in r.getMessage()]
    assert storms and "it parks and wakes often" in storms[0].getMessage()

