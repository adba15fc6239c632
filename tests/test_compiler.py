"""`rc.compile` as users call it: kernels, a .py path or a .rir path in; .ir, .source and
.target out; user errors raised as located CompileErrors without ringc's frames."""

from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest

import ringc as rc
from ringc.ir import parse_program


def line_of(module, text: str) -> int:
    """The 1-based line of `text` in a user module's file."""
    lines = Path(module.__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)

SUMMER = """
@rc.message
class Work:
    id: i32
    data: Array[f32, 4]
    ts: i64

@rc.message
class Sum:
    id: i32
    value: f32

@rc.ring_kernel(capacity=1024)
class Summer:
    processed: i64

    def on_work(self, m: Work) -> Sum:
        self.processed += 1
        s = 0.0
        for i in range(4):
            s += m.data[i]
        return Sum(id=m.id, value=s)
"""


@pytest.mark.parametrize("target, marker", [("opencl", "__kernel"), ("cuda", "__global__"),
                                            ("metal", "kernel void rc_main")])
def test_compile_kernel_classes(user_module, target, marker):
    mod = user_module(SUMMER)
    result = rc.compile(mod.Summer, target)
    assert result.target == target
    assert marker in result.source
    assert "rc_msg_Work" in result.source and "rc_state_Summer" in result.source
    assert f"// {Path(mod.__file__).name}:{line_of(mod, 's += m.data[i]')}\n" in result.source
    assert parse_program(result.ir) == result.program
    assert result.layout.message("Work").dtype == mod.Work.dtype


def test_compile_a_file_and_its_ir(tmp_path, user_module):
    mod = user_module(SUMMER)
    from_file = rc.compile(mod.__file__, "opencl")
    rir = tmp_path / "summer.rir"
    rir.write_text(from_file.ir)
    from_ir = rc.compile(str(rir), "opencl")
    assert from_ir.source == from_file.source


def test_metal_lacks_f64_and_says_where(user_module):
    mod = user_module(SUMMER.replace("value: f32", "value: f64"))
    rc.compile(mod.Summer, "cuda")                  # fine elsewhere
    with pytest.raises(rc.CompileError) as info:
        rc.compile(mod.Summer, "metal")
    assert "f64" in info.value.message
    assert info.value.file == mod.__file__


def test_targets_option_restricts_compilation(user_module):
    mod = user_module(SUMMER.replace("capacity=1024", "capacity=1024, targets=['cuda']"))
    rc.compile(mod.Summer, "cuda")
    with pytest.raises(rc.CompileError, match="opencl"):
        rc.compile(mod.Summer, "opencl")


def test_unknown_target():
    with pytest.raises(rc.CompileError, match="unknown target 'vulkan'"):
        rc.compile([], "vulkan")


def test_not_a_kernel():
    with pytest.raises(rc.CompileError, match="is not a @rc.ring_kernel class"):
        rc.compile(int, "opencl")


def test_user_error_carries_no_ringc_frames(user_module):
    mod = user_module(SUMMER.replace("s += m.data[i]", "s += m.dta[i]"))
    with pytest.raises(rc.CompileError) as info:
        rc.compile(mod.Summer, "opencl")
    err = info.value
    assert (err.line, err.col) == (line_of(mod, "m.dta"), 18)
    frames = traceback.extract_tb(err.__traceback__)
    assert not [f for f in frames if "/ringc/frontend/" in f.filename]
    assert err.__cause__ is None and err.__suppress_context__


def test_the_domain_label_is_carried_to_inspect_and_the_emitted_source(user_module):
    mod = user_module(SUMMER.replace("capacity=1024", "capacity=1024, domain='actor'"))
    source = rc.compile(mod.Summer, "opencl").source
    assert "// state of kernel Summer (persistent, ordered, domain actor):" in source


def test_one_slot_rings_are_refused_where_they_are_asked_for(user_module, tmp_path):
    """The per-slot sequence protocol cannot tell a one-slot ring's free slot from its full
    one: capacity 1 is refused, with the place, for every ring a user sizes."""
    with pytest.raises(rc.CompileError) as info:
        user_module(SUMMER.replace("capacity=1024", "capacity=1"))
    assert "capacity=1 is invalid" in str(info.value) and "from 2 to" in info.value.hint
    mod = user_module(SUMMER)
    for option in ("output_capacity", "dead_letter_capacity"):
        with pytest.raises(rc.CompileError, match=f"{option} must be a power of two from 2 "
                                                  "to 16777216, not 1 .a ring of one slot"):
            rc.compile(mod.Summer, "opencl", **{option: 1})
        with pytest.raises(ValueError, match=f"{option} must be a power of two"):
            rc.launch(mod.Summer, backend="sim", **{option: 1})
        with pytest.raises(ValueError, match=f"{option} must be a power of two from 2 to "
                                             "16777216, not 1099511627776$"):
            rc.launch(mod.Summer, backend="sim", **{option: 2**40})
    rir = tmp_path / "one.rir"
    rir.write_text(rc.compile(mod.Summer, "opencl").ir.replace("capacity=1024", "capacity=1"))
    with pytest.raises(rc.CompileError, match=r"\.py:\d+:\d+: error: invalid IR: kernel "
                                              r"'Summer': option capacity=1 must be a power"):
        rc.compile(str(rir), "opencl")


INJECTED = 'x"); _Pragma("message(1)")\n#error injected'


@pytest.mark.parametrize("pattern", [r"\bSummer\b", r"\bWork\b", r"\bprocessed\b",
                                     r"(?<=local )s\b"])
def test_names_that_are_not_identifiers_never_reach_emitted_source(user_module, tmp_path,
                                                                   pattern):
    """A .rir may quote any name; codegen takes identifiers only (one check for .py and
    .rir input alike), so no name can inject a line into a comment or a string."""
    mod = user_module(SUMMER)
    quoted = '"' + INJECTED.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n") + '"'
    rir = tmp_path / "injected.rir"
    rir.write_text(re.sub(pattern, lambda _: quoted, rc.compile(mod.Summer, "opencl").ir))
    with pytest.raises(rc.CompileError) as info:
        rc.compile(str(rir), "opencl")
    assert "is not an identifier" in info.value.message, info.value
    assert info.value.loc is not None


def test_a_class_renamed_before_decorating_is_refused(user_module):
    mod = user_module(SUMMER.replace("@rc.ring_kernel(capacity=1024)\nclass Summer:",
                                     "class Summer:").replace(
        'return Sum(id=m.id, value=s)\n',
        'return Sum(id=m.id, value=s)\n\nSummer.__name__ = ' + repr(INJECTED) +
        '\nSummer = rc.ring_kernel(capacity=1024)(Summer)\n'))
    with pytest.raises(rc.CompileError, match="kernel name .* is not an identifier"):
        rc.compile(mod.Summer, "cuda")


def _chain(terms: int) -> str:
    return f"""
@rc.message
class In:
    x: i32

@rc.ring_kernel
class Chain:
    def on_in(self, m: In) -> In:
        return In(x={' + '.join(['m.x'] * terms)})
"""


def test_long_flat_expressions_build_up_to_the_limit_and_are_refused_beyond(user_module):
    from ringc.targets import check_all

    source = rc.compile(user_module(_chain(97)).Chain, "opencl").source
    results = check_all({"opencl": source, "cuda": rc.compile(
        user_module(_chain(97)).Chain, "cuda").source})
    assert all(r.ok is not False for r in results), [r.log for r in results]
    for terms in (130, 400):                  # clang's bracket limit; Python's recursion
        with pytest.raises(rc.CompileError) as info:
            rc.compile(user_module(_chain(terms)).Chain, "opencl")
        assert "nests more than 100 levels deep" in info.value.message
        assert info.value.hint == "split it into steps with local variables"


def test_compile_options_have_their_types(user_module):
    mod = user_module(SUMMER)
    with pytest.raises(TypeError, match="debug must be True or False, not 5"):
        rc.compile(mod.Summer, "opencl", debug=5)
