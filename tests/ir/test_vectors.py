"""Vectors in the IR: `f32x4` types, `(vector ...)`, `(vector_at ...)`, components as
`member`, `(math dot ...)` and `(math fma ...)`: printed, parsed back equal, verified."""

from __future__ import annotations

import pytest

from ringc.ir import nodes as ir
from ringc.ir.parser import parse_program
from ringc.ir.printer import print_program
from ringc.ir.types import F32, I32, VECTOR_TYPES
from ringc.ir.verify import IRVerifyError, verify

TEXT = """
message In #1 @"k.py":1:1 { v: f32x4  w: f32x2  i: i32x4  arr: f32[8] }

kernel K @"k.py":5:1 {
  options { }
  state acc: f32x4
  state u: u32x4
  handler on_in(m: In) @"k.py":8:5 {
    local v: f32x4
    local d: f32
    assign (local v:f32x4) = (add:f32x4 (member v:f32x4 (local m:In))
        (vector:f32x4 (const 1.0:f32) (const 2.0:f32) (const 3.0:f32) (const 4.0:f32)))
        @"k.py":9:9
    assign (member y:f32 (local v:f32x4)) = (math fma:f32 (member x:f32 (local v:f32x4))
        (const 2.0:f32) (member y:f32 (member w:f32x2 (local m:In)))) @"k.py":10:9
    assign (state acc:f32x4) =
        (neg:f32x4 (div:f32x4 (local v:f32x4) (vector:f32x4 (const 3.0:f32)))) @"k.py":11:9
    assign (local d:f32) = (math dot:f32 (local v:f32x4)
        (vector_at:f32x4 (member arr:f32[8] (local m:In)) (const 4:i32))) @"k.py":12:9
    assign (vector_at:f32x4 (member arr:f32[8] (local m:In)) (const 0:i32)) =
        (state acc:f32x4) @"k.py":13:9
  }
}
"""


def test_vector_text_parses_verifies_and_round_trips():
    program = parse_program(TEXT)
    verify(program)
    text = print_program(program)
    assert "(vector_at:f32x4 (member arr:f32[8] (local m:In)) (const 0:i32))" in text
    assert parse_program(text) == program and print_program(parse_program(text)) == text
    handler = program.kernels[0].handlers[0]
    store = handler.body[-1]
    assert isinstance(store.target, ir.VectorAt) and store.target.type == VECTOR_TYPES["f32x4"]


def test_a_message_named_like_a_vector_type_is_quoted():
    program = ir.Program((ir.MessageDef("f32x4", 1, (), ir.Loc("k.py", 1, 1)),), (), ())
    text = print_program(program)
    assert 'message "f32x4"' in text or "message f32x4" in text
    assert parse_program(text) == program


def _replace(old: str, new: str) -> str:
    assert old in TEXT
    return TEXT.replace(old, new, 1)


@pytest.mark.parametrize("text, message", [
    (_replace("(member y:f32 (local v:f32x4))", "(member z:f32 (member w:f32x2 (local m:In)))"),
     "a f32x2 has no component 'z'"),
    (_replace("(add:f32x4 (member v:f32x4 (local m:In))",
              "(add:f32x4 (member i:i32x4 (local m:In))"),
     "operand of 'add' must be f32x4, not i32x4"),
    (_replace("(vector:f32x4 (const 3.0:f32))", "(vector:f32x4 (const 3.0:f32) (const 3.0:f32))"),
     "a f32x4 takes 4 values or one"),
    (_replace("(vector_at:f32x4 (member arr:f32[8] (local m:In)) (const 4:i32))",
              "(vector_at:f32x4 (member w:f32x2 (local m:In)) (const 4:i32))"),
     "is read from an array of at least 4 f32"),
    (_replace("(math dot:f32 (local v:f32x4)", "(math dot:f64 (local v:f32x4)"),
     "dot gives f32, typed f64"),
    (TEXT.replace("state u: u32x4", "state u: u32x4[2]"), "an array cannot hold vectors"),
])
def test_malformed_vector_ir_is_refused(text, message):
    with pytest.raises(IRVerifyError, match=message.replace("(", r"\(").replace("[", r"\[")):
        verify(parse_program(text))


def test_vector_types():
    v = VECTOR_TYPES["f32x4"]
    assert (v.elem, v.lanes, v.size, v.align) == (F32, 4, 16, 16)
    assert v.components == ("x", "y", "z", "w")
    w = VECTOR_TYPES["f32x2"]
    assert (w.size, w.align, w.components) == (8, 8, ("x", "y"))
    assert VECTOR_TYPES["i32x4"].elem == I32
    assert set(VECTOR_TYPES) == {"f32x2", "f32x4", "i32x4", "u32x4"}
