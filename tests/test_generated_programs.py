"""Property tests over random well-typed programs written as Python source: the frontend
accepts them, the IR text round-trips, and every target's emitted source builds."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings

from ringc.compiler import compile
from ringc.errors import CompileError
from ringc.frontend import build_program
from ringc.frontend.files import import_file, kernels_in
from ringc.ir import parse_program, print_program, verify
from ringc.targets import check_all
from tests.conftest import PRELUDE
from tests.strategies import kernel_sources

_counter = itertools.count()
SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck))


def program_of(tmp_path_factory, source: str):
    path = tmp_path_factory.mktemp("gen") / f"gen_{next(_counter)}.py"
    path.write_text(PRELUDE + source)
    return build_program(kernels_in(import_file(path)))


@settings(max_examples=150, **SETTINGS)
@given(source=kernel_sources())
def test_frontend_ir_round_trips(tmp_path_factory, source):
    program = program_of(tmp_path_factory, source)
    verify(program)
    text = print_program(program)
    assert parse_program(text) == program
    assert print_program(parse_program(text)) == text


@pytest.mark.parametrize("target", ["opencl", "cuda", "metal"])
@settings(max_examples=6, **SETTINGS)
@given(source=kernel_sources())
def test_generated_programs_build(tmp_path_factory, target, source):
    if target == "metal":          # Metal has no f64: the same programs in single precision
        source = source.replace("f64", "f32")
    program = program_of(tmp_path_factory, source)
    try:
        emitted = compile(program, target).source
    except CompileError as err:    # a 64-bit int met a float literal: f64, which Metal lacks
        assume("f64" not in err.message)
        raise
    results = check_all({target: emitted})
    for result in results:
        if result.ok is None:
            pytest.skip(f"{result.tool}: {result.log}")
        assert result.ok, result.log
