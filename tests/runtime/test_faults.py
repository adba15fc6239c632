"""Faults as exceptions (docs/language.md, "Faults"): try/except rc.Fault/else/finally, raise
rc.Fault, a bare raise, f.reason, break and continue out of a try, on every backend present,
against the same logic written in plain Python."""

from __future__ import annotations

import numpy as np
import pytest

import ringc as rc

from .kernels import Breaker, Call, Outcome


class BreakerModel:
    """Breaker in Python: ZeroDivisionError and IndexError are the device's faults."""

    REASONS = {ZeroDivisionError: "division_by_zero", IndexError: "index_out_of_range"}

    def __init__(self) -> None:
        self.failures, self.open, self.table, self.log = 0, False, [0] * 4, 0

    def reason(self, exc: Exception) -> str:
        return exc.reason if isinstance(exc, rc.Fault) else self.REASONS[type(exc)]

    def risky(self, n, d) -> int:
        n, d = int(n), int(d)                       # Python ints: n // 0 raises
        if n < 0:
            raise rc.Fault("negative")
        return n // d

    def call(self, m: Call):
        how, value, tries = 0, -1, 0
        for attempt in range(3):
            tries += 1
            try:
                value = self.risky(m.n, m.d - attempt)
                index = int(m.n) % 8
                if index >= 4:
                    raise IndexError
                self.table[index] += 1
                how = 1
                break
            except (rc.Fault, ZeroDivisionError, IndexError) as exc:
                reason = self.reason(exc)
                if reason == "division_by_zero":
                    how = 2
                    continue
                elif reason == "index_out_of_range":
                    how = 3
                    self.failures += 1
                    break
                elif reason != "negative":
                    how = 9
                return reason                         # raised again: dead-lettered
            finally:
                self.log += 1
        if how == 3 and self.failures >= 2:
            self.open = True
        how += 100 if m.n == 99 else 10
        return Outcome(value=value, how=how, tries=tries)

    def outcome(self, m: Outcome) -> Outcome:
        try:
            value = self.risky(m.how, m.tries) + 1000
        except (rc.Fault, ZeroDivisionError):
            return Outcome(value=m.value, how=-1, tries=m.tries)
        return Outcome(value=value, how=0, tries=m.tries)


CALLS = [(8, 2), (9, 1), (3, 0), (1, 1), (6, 3), (5, 1), (-1, 1), (99, 1), (2, 2), (0, 1)]
OUTCOMES = [(7, 5, 2), (7, 5, 0), (7, -5, 1)]


def test_faults_are_caught_told_apart_and_raised_again_as_in_python(backend):
    model = BreakerModel()
    with rc.launch(Breaker, backend=backend) as rt:
        for n, d in CALLS:
            want = model.call(Call(n=n, d=d))
            try:
                got = rt.request(Breaker, Call(n=n, d=d), timeout=30.0)
            except rc.DeadLettered as exc:
                got = exc.dead_letter.reason
            assert got == want, (n, d)
        for value, how, tries in OUTCOMES:
            m = Outcome(value=value, how=how, tries=tries)
            assert rt.request(Breaker, m, timeout=30.0) == model.outcome(m)
        state = rt.checkpoint(Breaker)
        status = rt.status(Breaker)
    assert (int(state["failures"]), bool(state["open"]), int(state["log"])) == (
        model.failures, model.open, model.log)
    assert list(state["table"]) == model.table
    assert status.dead_lettered == 1                  # only the fault raised again
    assert status.processed == len(CALLS) + len(OUTCOMES) - 1


def test_try_builds_for_every_target_and_round_trips_as_text():
    from ringc.compiler import compile
    from ringc.frontend import build_program
    from ringc.ir.parser import parse_program
    from ringc.ir.printer import print_program
    from ringc.targets import check_all

    program = build_program(Breaker)
    text = print_program(program)
    assert "} except f {" in text and "(fault_is f \"division_by_zero\")" in text
    assert parse_program(text) == program and print_program(parse_program(text)) == text
    sources = {t: compile(program, t).source for t in ("opencl", "cuda", "metal")}
    assert "goto" not in sources["metal"]           # Metal has no goto
    built = [r for r in check_all(sources) if r.ok is not None]
    assert built
    for result in built:
        assert result.ok, f"{result.target} ({result.tool}):\n{result.log}"


@pytest.mark.parametrize("body, message, hint", [
    ("try:\n    pass\nexcept ValueError:\n    pass", "except ValueError: only rc.Fault",
     "except rc.Fault as f"),
    ("try:\n    pass\nexcept:\n    pass", "a bare except", "except rc.Fault as f"),
    ("try:\n    pass\nexcept rc.Fault:\n    pass\nexcept rc.Fault:\n    pass",
     "a try has one except block", "f.reason"),
    ("raise ValueError('x')", "only rc.Fault(\"reason\") can be raised", "rc.Fault"),
    ("raise rc.Fault(m.a)", "one non-empty string literal reason", "rc.Fault"),
    ("raise", "a bare raise outside an except block", "rc.Fault"),
    ("try:\n    pass\nfinally:\n    return", "return in a finally block", "after the try"),
    ("try:\n    return\nfinally:\n    pass", "return inside a try statement that has a "
     "finally block", "after the try"),
    ("for i in range(3):\n    try:\n        pass\n    finally:\n        break",
     "break out of a finally block is not supported", "break after the try"),
    ("while m.a > 0:\n    try:\n        pass\n    finally:\n        continue",
     "continue out of a finally block", "continue after the try"),
    ("try:\n    pass\nexcept rc.Fault as f:\n    x = f.reason", "a caught fault is only "
     "tested", "f.reason =="),
    ("try:\n    pass\nexcept rc.Fault as f:\n    x = f.reason == m.a", "is compared with a "
     "string literal", "f.reason =="),
])
def test_misuse_of_faults_is_one_located_error(user_kernels, body, message, hint):
    import textwrap

    from ringc.frontend import build_program
    source = f"""
@rc.message
class In:
    a: i32

@rc.ring_kernel
class K:
    def on_in(self, m: In):
{textwrap.indent(body, " " * 8)}
"""
    with pytest.raises(rc.CompileError) as info:
        build_program(user_kernels(source))
    err = info.value
    assert message in err.message and hint in err.hint
    assert err.line > 0 and err.source_line


def test_plain_python_cannot_raise_a_device_fault_by_accident():
    fault = rc.Fault("timeout")
    assert fault.reason == "timeout" and isinstance(fault, Exception)
    assert np.issubdtype(Outcome.dtype["value"], np.int32)
