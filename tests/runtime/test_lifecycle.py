"""Lifecycle hooks (docs/language.md, "Lifecycle hooks"): on_start once per instance before
its first message, on_stop once per instance during shutdown(drain=True) with what it
emits delivered, on every backend present."""

from __future__ import annotations

import pytest

import ringc as rc

from .kernels import Ask, Batcher, Note, Starter


def _everything(rt) -> list:
    got = []
    while True:
        try:
            got.append(rt.receive(timeout=0))
        except (TimeoutError, rc.RingcError):
            return got


def test_on_start_runs_first_and_on_stop_flushes_at_shutdown(backend):
    with rc.launch(Batcher, backend=backend) as rt:
        for seq in range(7):
            rt.send(Batcher, Note(seq=seq), instance=seq % 2)
        assert rt.shutdown(drain=True, timeout=30.0)
    got = sorted((int(m.started), int(m.total), int(m.count)) for m in _everything(rt))
    assert got == [(100, -1, 0), (100, 6, 1), (100, 6, 3),       # 0+2+4, then 6 at stop
                   (101, -1, 0), (101, 0, 0), (101, 9, 3)]       # 1+3+5, then nothing
    for instance in (0, 1):
        assert rt.checkpoint(Batcher, instance)["count"] == 0    # flushed by on_stop


def test_without_a_drain_on_stop_does_not_run(backend):
    with rc.launch(Batcher, backend=backend) as rt:
        assert [rt.receive(timeout=30.0).total for _ in range(2)] == [-1, -1]
        rt.send(Batcher, Note(seq=5))
        rt.shutdown(drain=False)
    assert [m for m in _everything(rt) if m.count] == []     # no on_stop flush of seq 5


def test_hooks_of_an_event_driven_kernel_run_and_their_faults_are_logged(backend, caplog):
    with caplog.at_level("WARNING", logger="ringc"):
        with rc.launch(Starter, backend=backend) as rt:
            reply = rt.request(Starter, Ask(n=4), timeout=30.0)
            assert (reply.sender, reply.seq) == (1, 4)    # stored before the fault: kept
            assert rt.shutdown(drain=True, timeout=30.0)
        assert rt.status(Starter).dead_lettered == 0    # a hook's fault has no message
    assert "on_start of Starter[0] faulted (division_by_zero)" in caplog.text
    assert "on_stop of Starter[0] faulted (stop_hook)" in caplog.text


@pytest.mark.parametrize("source, message", [
    ("    def on_start(self, m: In):\n        pass\n", "on_start is a lifecycle hook: it takes "
     "only self"),
    ("    def on_stop(self) -> i32:\n        return 1\n", "on_stop is a lifecycle hook: it "
     "returns nothing"),
    ("    def on_in(self, m: In):\n        self.on_start()\n    def on_start(self):\n"
     "        pass\n", "has no helper method 'on_start'"),
])
def test_hook_misuse_is_one_located_error(user_kernels, source, message):
    from ringc.frontend import build_program
    header = "@rc.message\nclass In:\n    a: i32\n\n@rc.ring_kernel\nclass K:\n"
    handler = "    def on_in(self, m: In):\n        pass\n" if "on_in" not in source else ""
    with pytest.raises(rc.CompileError) as info:
        build_program(user_kernels(header + handler + source))
    assert message in info.value.message and info.value.line > 0


def test_a_parallel_kernel_has_no_hooks(user_kernels):
    from ringc.frontend import build_program
    with pytest.raises(rc.CompileError, match="lifecycle hooks need an ordered kernel"):
        build_program(user_kernels("""
@rc.message
class In:
    a: i32

@rc.ring_kernel(concurrency="parallel")
class K:
    def on_in(self, m: In):
        pass

    def on_start(self):
        pass
"""))


def test_hooks_build_for_every_target():
    from ringc.compiler import compile
    from ringc.targets import check_all
    sources = {t: compile([Batcher, Starter], t).source for t in ("opencl", "cuda", "metal")}
    built = [r for r in check_all(sources) if r.ok is not None]
    assert built
    for result in built:
        assert result.ok, f"{result.target} ({result.tool}):\n{result.log}"
