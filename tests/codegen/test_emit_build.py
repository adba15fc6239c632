"""Emit hand-built IR for every target and build it with the real toolchains here:
OpenCL on PoCL (CL3.0 and CL1.2), CUDA with NVRTC to cubin (sm_80, sm_90), Metal with g++ and
the shim. The emitted layout asserts make each build a check of the struct layouts too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ringc.codegen import generate
from ringc.codegen.identifiers import Names
from ringc.errors import CompileError

from .programs import coverage_program, semantics_program
from .toolchains import build_cuda, build_opencl, check_metal


@pytest.fixture(scope="module")
def sources():
    return {t: generate(coverage_program(metal=t == "metal"), t).source
            for t in ("opencl", "cuda", "metal")}


@pytest.mark.parametrize("std", ["CL3.0", "CL1.2"])
def test_opencl_builds_on_pocl(sources, std):
    build_opencl(sources["opencl"], [f"-cl-std={std}", "-cl-fp32-correctly-rounded-divide-sqrt"])


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_builds_with_nvrtc(sources, arch):
    assert len(build_cuda(sources["cuda"], arch)) > 1000


def test_metal_passes_the_shim_syntax_check(sources):
    check_metal(sources["metal"])


def test_debug_build_prints_dead_letters():
    for target, build in (("opencl", build_opencl), ("cuda", build_cuda)):
        source = generate(semantics_program(), target, debug=True).source
        assert "printf(" in source
        build(source)
    assert "printf(" not in generate(semantics_program(), "opencl").source


@pytest.mark.parametrize("target", ["opencl", "cuda", "metal"])
def test_source_shape(sources, target):
    source = sources[target]
    assert "rc_main" in source and "rc_layout_check_" in source
    assert "printf" not in source
    assert re.search(r"// sample_kernels\.py:\d+\n", source)     # FILE:LINE comments
    # user names never appear bare where a target reserves them
    declared = re.findall(r"\b(?:[a-z]+ )+(switch|device|kernel|float4|int|thread|private|half)"
                          r"\b(?!_)\s*[;=,)\[]", source)
    assert declared == []
    assert "switch_" in source and "float4_" in source and "rc_x_" in source
    if target == "cuda":
        assert "#include" not in source and 'extern "C" __global__ void rc_main' in source
        assert "__fadd_rn(" in source and "__fsqrt_rn(" in source
    if target == "opencl":
        assert "#pragma OPENCL FP_CONTRACT OFF" in source
        assert "cl_khr_int64_base_atomics" in source and "cl_khr_fp64" in source
    if target == "metal":
        assert "#pragma METAL fp math_mode(safe)" in source and "precise::sqrt" in source
        assert "double" not in source


def test_template_names_never_take_a_user_prefix():
    """Identifiers derived from user names start with `rc_<kind>_` (`Names.KINDS`); the
    templates' and printer's own never do, so the two cannot collide."""
    root = Path(__file__).resolve().parents[2]
    texts = [p.read_text() for folder in ("templates", "backends")
             for p in (root / folder).rglob("*.j2")]
    texts += [(root / "ringc" / "codegen" / name).read_text()
              for name in ("printer.py", "helpers.py")]
    prefixes = tuple(f"rc_{kind}_" for kind in Names.KINDS)
    fixed = {i for text in texts for i in re.findall(r"\brc_[A-Za-z0-9_]*[A-Za-z0-9]", text)}
    assert {"rc_main", "rc_claim", "rc_publish", "rc_idx"} <= fixed
    assert sorted(i for i in fixed if i.startswith(prefixes)) == []


def test_metal_rejects_f64_and_64_bit_atomics_with_the_line():
    with pytest.raises(CompileError) as err:
        generate(semantics_program(metal=False), "metal")
    assert "f64" in str(err.value) and err.value.loc is not None
    assert err.value.loc.file.endswith("sample_kernels.py")


def test_targets_option_is_enforced():
    from dataclasses import replace
    program = semantics_program()
    calc = program.kernels[0]
    narrowed = replace(program, kernels=(replace(calc, options=replace(
        calc.options, targets=("cuda",))),) + program.kernels[1:])
    with pytest.raises(CompileError, match="not meant for opencl") as err:
        generate(narrowed, "opencl")
    assert err.value.loc == calc.loc
    generate(narrowed, "cuda")
    with pytest.raises(CompileError, match="unknown target"):
        generate(program, "vulkan")


def test_user_text_in_comments_cannot_break_the_source(user_module):
    """rc.fail reasons and file names reach `//` comments: a newline or a trailing
    backslash in them must not end the comment early or splice the next line in."""
    from ringc.compiler import compile
    from ringc.targets import check_all

    module = user_module("""
@rc.message
class M:
    a: i32

@rc.ring_kernel
class K:
    def on_m(self, m: M):
        if m.a < 0:
            rc.fail("two\\n lines")
        if m.a > 5:
            rc.fail("ends in a backslash\\\\")
""")
    for target in ("opencl", "cuda", "metal"):
        results = check_all({target: compile(module.K, target).source})
        assert all(r.ok is not False for r in results), [r.log for r in results]
