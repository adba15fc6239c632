"""The pattern samples (samples/patterns/, mapped to the guide in docs/patterns.md): each
builds for every target with the toolchains present, and each one's `main(backend)` runs on
the simulator and on OpenCL and shows what its docstring says it shows."""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import pytest

import ringc as rc
from ringc.compiler import compile, load_file
from ringc.frontend.files import import_file, kernels_in
from ringc.targets import check_all
from tests.backend_support import unavailable

PATTERNS = Path(__file__).resolve().parent.parent / "samples" / "patterns"
SAMPLES = sorted(PATTERNS.glob("*.py"))

BACKENDS = [pytest.param(name, marks=pytest.mark.skipif(
    unavailable(name) is not None, reason=f"{name}: {unavailable(name)}"))
    for name in ("sim", "opencl")]


def kernel_names(path: Path) -> list[str]:
    """The names of the kernels a sample file defines."""
    return [k.__name__ for k in kernels_in(import_file(path))]


@functools.cache
def sample(name: str):
    """The sample's module, imported as `ringc` imports a user's file."""
    return import_file(PATTERNS / f"{name}.py")


# kernels of a sample that a target cannot build, by design: (sample, target) -> kernels
LACKING = {("device_precision", "metal"): ["Series64"]}       # Metal has no f64


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_pattern_builds_for_every_target(path):
    sources = {}
    for target in ("opencl", "cuda", "metal"):
        lacking = LACKING.get((path.stem, target), [])
        for name in lacking:
            with pytest.raises(rc.CompileError, match="has no f64"):
                compile(load_file(path, [name]), target)
        kept = [k for k in kernel_names(path) if k not in lacking]
        sources[target] = compile(load_file(path, kept), target).source
    results = check_all(sources)
    built = [r for r in results if r.ok is not None]
    assert built, "no toolchain ran: " + "; ".join(r.log for r in results)
    for result in built:
        assert result.ok, f"{result.target} ({result.tool}):\n{result.log}"


def expect_circuit_breaker(result, out):
    assert result["up"] == (["answered"] * 3, "closed")
    assert result["unknown_item"] == "index_out_of_range"
    assert result["down"] == (["failed"] * 5 + ["rejected"] * 3, "open")
    assert result["first_wait"] == ("half-open", True)                # moved by its timer
    assert result["still_down"] == (["failed", "rejected"], "open")     # the trial failed
    assert result["second_wait"] == ("half-open", True)
    assert result["back_up"] == (["answered"] * 3, "closed")            # the trial passed
    assert result["rejected"] == 4 and result["openings"] == 2
    assert "breaker untouched" in out
    assert out.count("its timer fired              breaker half-open, after 0.2 s open") == 2
    assert "4 calls rejected without touching the backend; the breaker opened 2 times" in out


def expect_message_batching(result, out):
    assert result == {"batches": [("full", 32), ("full", 32), ("waited too long", 6),
                                  ("waited too long", 1), ("shutdown", 5)],
                      "readings": 76, "in_order": True, "waited_ok": True}
    assert "batch of  6 readings (waited too long), total 199.5" in out
    assert "batch of  5 readings (shutdown), total 182.5" in out
    assert "76 readings reached the host in 5 messages; each exactly once, in order: yes" in out


def expect_persistent_state(result, out):
    assert result == {"checkpoints": [250, 500, 750], "resumed_from": 750, "matches": True,
                      "users": 47, "users_match": True}
    assert "holding 19, 31, 42 users" in out
    assert "the checkpoint's map held 42 users; the replay added 5 new ones: 47 users" in out
    assert "all 8 sensors match an uninterrupted run: yes" in out
    assert "all 47 users in the map match an uninterrupted run: yes" in out


def expect_memory_pool(result, out):
    assert result == {"free_after_jobs": 8, "one_too_many": "pool_exhausted",
                      "empty_close": "empty_job", "free_after_fault": 1, "free_at_end": 8}
    assert "job 3: 64 values in buffer 5, mean 94.5, peak 189" in out


def expect_lock_free_stack(result, out):
    assert result["exactly_once"]
    assert result["raced_found"] + result["raced_empty"] == 1000
    assert result["raced_found"] + result["drained"] == 2000
    assert "every value came back exactly once: yes" in out


def expect_dead_letter_retry(result, out):
    assert result == {
        "outcomes": {1: "done after 1 attempt(s), balance 10",
                     2: "done after 2 attempt(s), balance 80",
                     3: "done after 3 attempt(s), balance 210",
                     4: "dead-lettered (retries_exhausted)",
                     5: "dead-lettered (invalid_amount)",
                     6: "done after 1 attempt(s), balance 60",
                     7: "dead-lettered (invalid_amount)",
                     8: "dead-lettered (retries_exhausted)",
                     9: "dead-lettered (invalid_amount)",
                     10: "done after 2 attempt(s), balance 180"},
        "collected": [[7, 9, 4], [8]],          # job 5, the oldest of five, was evicted
        "evicted": 1, "transient": 10,
        "backoff_ms": {2: [5.0], 3: [5.0, 10.0], 4: [5.0, 10.0], 8: [5.0, 10.0], 10: [5.0]},
        "delays_ok": True, "runtime_dead_letters": 0}
    assert "10 transient failures (busy); 8 retries" in out
    assert "each waited at least that: yes; 5 dead-letter alerts" in out
    assert ("batch 1: #2 job 7 (invalid_amount, 1 attempt(s)); #3 job 9 (invalid_amount, "
            "1 attempt(s)); #4 job 4 (retries_exhausted, 3 attempt(s))") in out
    assert "batch 2: #5 job 8 (retries_exhausted, 3 attempt(s))" in out
    assert "keeps 4: 1 evicted (the oldest)" in out


def expect_producer_consumer(result, out):
    assert result == {"items": 50, "wanted": 50, "handled": 50, "in_order": True,
                      "correct": True, "rate_ok": True, "stopped": True, "dead_letters": 0}
    assert "the producer made 50 items (50 wanted: 0.5 s at one per 10 ms)" in out
    assert "each once, in production order: yes; results correct: yes" in out
    assert "stopped cleanly (shutdown(drain=True) waited for the last scheduled tick): yes" in out
    assert "% of one core" in out


def expect_coordinator(result, out):
    assert result == {"registered": 4, "done": 208, "once": True, "right": True,
                      "did_first_batch": [0, 2], "went_down": [3], "reassigned": 50,
                      "rebalanced": True, "came_back": [3], "stale": 50,
                      "second_per_worker": [2, 2, 2, 2], "up_at_end": 4,
                      "in_flight_at_end": 0, "held_at_end": 0,
                      "dead_letters": ["key_not_found"]}
    assert "4 workers registered themselves from on_start" in out
    assert "worker 1 held, worker 3 silent; 200 tasks: 200 done, by workers [0, 2]" in out
    assert "health check: worker(s) [3] marked down, 50 tasks reassigned" in out
    assert "rebalance: worker 1's queue moved to others: yes" in out
    assert "worker 3 reactivated: back up [3]; 50 stale results dropped" in out
    assert "208 tasks done; each once: yes; results right: yes" in out


def expect_lru_cache(result, out):
    assert result == {"evicted": [3, 4, 5], "hit": True, "miss": True, "hits": 4,
                      "misses": 1, "evictions": 3}
    assert "each making room: yes; evicted [3, 4, 5] (least recently used)" in out
    assert "get 1: hit 1.5; get 3: miss" in out
    assert "8 of 8 entries held; hits 4, misses 1, evictions 3" in out


def expect_barrier_sync(result, out):
    assert result == {"supersteps": 12, "out_of_step": 0, "matches": True}
    assert "the same as the host's supersteps: yes" in out


def expect_request_reply(result, out):
    assert result == {"matched": 10, "pending_after": [],
                      "waiting_for": [11, 12, 13, 14, 15, 16],
                      "late_matched": 6, "pending_at_end": [],
                      "dead_letters": [(4, "unknown_request"), (999, "unknown_request")],
                      "unknown": 2}
    assert "the client waits for requests [11, 12, 13, 14, 15, 16]" in out
    assert "2 counted unknown" in out


def expect_scatter_gather(result, out):
    assert result == {"held": (6, 26), "resent": "job_in_flight", "after": (0, 0),
                      "jobs": {10: (3, 650.0), 11: (8, 12528.0), 12: (2, 135.0),
                               13: (5, 4310.0), 14: (1, 110.0), 15: (7, 11385.0)},
                      "correct": True, "per_worker": [7, 7, 6, 6]}
    assert "the coordinator holds 6 jobs, 26 fragments out" in out
    assert "job 10: 12 values, sum of squares 30 + 174 + 446 = 650" in out


def expect_dead_letter_processing(result, out):
    assert result == {
        "stories": {1: ["done on attempt 1"],
                    2: ["busy, retried", "done on attempt 2"],
                    3: ["busy, retried", "busy, retried", "done on attempt 3"],
                    4: ["invalid_amount, dropped"],
                    5: ["busy, retried", "busy, retried", "busy, dropped after 3 attempts"],
                    6: ["done on attempt 1"],
                    7: ["invalid_amount, dropped"],
                    8: ["busy, retried", "done on attempt 2"]},
        "retried": 6, "dropped": 3, "left": 0, "evicted": 0, "total": 200,
        "retries_waited": True, "runtime_dead_letters": 0}
    assert "order 3: busy, retried -> busy, retried -> done on attempt 3" in out
    assert "every retry came at least 50 ms after its failure: yes" in out
    assert "retried 6 and dropped 3 dead letters; 0 left, 0 evicted" in out


def expect_cooperative_reduction(result, out):
    assert result == {"sums": 8, "close": True, "exact": True}
    assert "8 arrays of 1024 values summed by 128 lanes each; float sums match numpy's to " \
           "rounding: yes; integer sums exact: yes" in out
    assert out.count("array ") == 8


def expect_device_precision(result, out, backend):
    precision = "float32" if backend == "metal-shim" else "float64"
    assert result["precision"] == precision and result["equal"] == [True] * 4
    assert result["error"] < (1e-13 if precision == "float64" else 1e-5)
    assert f"4 of 4 replies equal numpy's {precision} sum bit for bit" in out
    assert ("fp64 no" if backend == "metal-shim" else "fp64 yes") in out


def test_device_precision_takes_f32_where_the_device_has_no_f64(capsys):
    """The Metal executing shim reports fp64=False: the sample launches its f32 kernel."""
    if unavailable("metal-shim"):
        pytest.skip(f"metal-shim: {unavailable('metal-shim')}")
    result = sample("device_precision").main("metal-shim", terms=20_000)
    expect_device_precision(result, capsys.readouterr().out, "metal-shim")


def expect_threadgroup_filter(result, out):
    assert result == {"equal": [True] * 4, "blurred": 4}
    assert "corner point : sum   16.000 ->   16.000, corner 9.0000; equals numpy's blur bit " \
           "for bit: yes" in out
    assert "4 images blurred by 256 lanes each through threadgroup memory" in out


def test_threadgroup_filter_runs_the_emitted_metal(capsys):
    """The Metal program itself (threadgroup memory, threadgroup_barrier), on this CPU."""
    if unavailable("metal-shim"):
        pytest.skip(f"metal-shim: {unavailable('metal-shim')}")
    expect_threadgroup_filter(sample("threadgroup_filter").main("metal-shim"),
                              capsys.readouterr().out)


def expect_graceful_shutdown(result, out):
    n = result["processed"][0]
    assert result == {"refused": True, "drained": True, "processed": (n, n), "left": 0,
                      "exact": True}
    assert "a new send is refused (the input of Parse is closed (close_input)" in out
    assert "every reading sent before the close is in it: yes" in out


def expect_health_monitoring(result, out):
    assert result == {"serving": "healthy", "deactivated": "degraded", "drained": "healthy",
                      "stalled": "unhealthy", "recovered": "healthy"}
    assert "- Worker's input is 97% full" in out
    assert "- Worker is inactive with 62 message(s) waiting" in out
    assert "- Worker[0] has been inside one handler for more than 0.25 s" in out
    assert "jobs/s with 62 waiting (under 1,000)" in out


def expect_metrics_collection(result, out):
    burst = result["burst"]
    assert result["scrapes"] == [{"processed": {"Scorer": burst * n, "Record": burst * n},
                                  "requests": burst * n, "agree": True} for n in (1, 2, 3)]
    assert f"after burst 3: processed Scorer {3 * burst:,}, Record {3 * burst:,}; " \
           f"{3 * burst:,} request latencies in the histogram; equal to rt.status(): yes" in out


def expect_simd_vectorization(result, out):
    # (vector steps, outputs equal to numpy's, outputs the guide's loop would leave unwritten)
    assert result == {0: (0, True, 0), 5: (0, True, 0), 8: (1, True, 8), 24: (3, True, 8),
                      27: (3, True, 0), 32: (4, True, 8)}
    assert "length 32: 4 vector step(s) of 8 + 0 one at a time; outputs equal numpy" in out


EXPECTATIONS = {name.removeprefix("expect_"): expect for name, expect in globals().items()
                if name.startswith("expect_")}


def test_every_pattern_sample_has_a_docstring_a_main_and_expectations():
    assert {p.stem for p in SAMPLES} == set(EXPECTATIONS)
    for path in SAMPLES:
        module = sample(path.stem)
        assert module.__doc__ and callable(module.main), path.name
        assert 'if __name__ == "__main__":' in path.read_text(), path.name


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_pattern_runs(name, backend, capsys):
    result = sample(name).main(backend)
    expect = EXPECTATIONS[name]
    if "backend" in inspect.signature(expect).parameters:
        expect(result, capsys.readouterr().out, backend)
    else:
        expect(result, capsys.readouterr().out)


def test_lock_free_stack_with_two_work_groups():
    """Two work-groups run handlers at the same time: the CAS loops really race."""
    if unavailable("opencl"):
        pytest.skip(f"opencl: {unavailable('opencl')}")
    try:
        result = sample("lock_free_stack").main("opencl", groups=2)
    except rc.BackendUnavailable as exc:           # a device with one compute unit
        pytest.skip(str(exc))
    assert result["exactly_once"] and result["raced_found"] + result["drained"] == 2000
