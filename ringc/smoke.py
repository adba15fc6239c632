"""`ringc check --run FILE`: run FILE's program on backends that execute emitted source on
this machine (the executing shims, `cuda-shim` and `metal-shim`: docs/shims.md) and
compare what each did with the simulator.

The smoke exchange: every kernel that no other kernel of the program sends to (every
kernel, if each one is sent to) gets `count` messages of each type it handles, with field
values drawn from a fixed seed (integers -2..9, floats -10..10 in steps of 1/8, addresses
null), sent to instance 0. Each backend runs the same exchange in a fresh launch with one
work-group, drains it and shuts down; then the host output (as a multiset), the dead
letters (reason, kernel, message), each kernel's processed/dead-lettered/sent counters
and each instance's state must equal the simulator's.

Limits: a smoke exchange shows that the emitted program builds, runs and computes what the
simulator computes on these inputs, not on all inputs (the test suite's differential runs
cover more); the shims run on this CPU, so what they cannot show (the GPU memory model,
PCIe, warp scheduling, Metal's address spaces) is listed in docs/shims.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BackendUnavailable, CompileError, RingcError, ShimBuildError
from .ir.nodes import Intrinsic, Send, SendAfter
from .ir.walk import all_stmts, stmt_exprs, walk

__all__ = ["RunCheck", "smoke_inputs", "check_run"]

INT_RANGE = (-2, 10)                 # integers drawn from [-2, 10)
FLOAT_STEPS = 160                    # floats: -10 + k/8 for k in [0, 160)
DRAIN_SECONDS = 10.0


class _NotIdle(RingcError):
    """The exchange was still running when the drain's time was up."""


@dataclass(frozen=True)
class RunCheck:
    """One backend's result: `built` and `ran` (None: not tried), `agrees` with the
    simulator (None: not compared, `detail` says why), and what went wrong or differed."""
    backend: str
    built: bool | None
    ran: bool | None
    agrees: bool | None
    detail: str = ""

    @property
    def ok(self) -> bool | None:
        """True when it agrees, None when the backend cannot run here, else False."""
        if self.built is None and self.ran is None:
            return None
        return bool(self.built and self.ran and self.agrees is not False)

    @property
    def verdict(self) -> str:
        if self.ok is None:
            return "skipped"
        if not self.built:
            return "FAILED to build"
        if not self.ran:
            return "built, FAILED to run"
        if self.agrees is None:
            return "built, ran (not compared with the simulator)"
        if not self.agrees:
            return "built, ran, DIFFERS from the simulator"
        return "built, ran, agrees with the simulator"


def _entry_kernels(program) -> list:
    """The kernels no other kernel sends to (all of them when every one is sent to)."""
    sent_to = {s.kernel for k in program.kernels for fn in k.handlers + k.helpers
               for s in all_stmts(fn.body) if isinstance(s, (Send, SendAfter))
               and s.kernel != k.name}
    entries = [k for k in program.kernels if k.name not in sent_to]
    return entries or list(program.kernels)


def uses_time(program) -> bool:
    """Does the program read the clock or keep timers (its results then depend on when
    things happen, and no two runs need agree)?"""
    functions = [fn for k in program.kernels for fn in k.handlers + k.helpers]
    functions += list(program.functions)
    return any(k.timed for k in program.kernels) or any(
        isinstance(e, Intrinsic) and e.name == "now"
        for fn in functions for s in all_stmts(fn.body) for top in stmt_exprs(s)
        for e in walk(top))


def _fill(view: np.ndarray, rng: np.random.Generator) -> None:
    """Give every leaf of a structured array drawn values (addresses stay null)."""
    if view.dtype.names:
        for name in view.dtype.names:
            if name in ("queue", "correlation") and set(view.dtype.names) == {"queue",
                                                                            "correlation"}:
                return                      # an rc.Address: null
            _fill(view[name], rng)
    elif view.dtype.kind == "b":
        view[...] = rng.integers(0, 2, view.shape).astype(bool)
    elif view.dtype.kind == "u":
        view[...] = rng.integers(0, INT_RANGE[1], view.shape)
    elif view.dtype.kind == "i":
        view[...] = rng.integers(*INT_RANGE, view.shape)
    elif view.dtype.kind == "f":
        view[...] = -10.0 + rng.integers(0, FLOAT_STEPS, view.shape) / 8.0


def _canonical(records: np.ndarray) -> list[str]:
    """Each record's field values as text (padding left out; every NaN reads `nan`: IEEE
    754 leaves the sign and payload of an invalid operation's NaN open, and x86 and the
    simulator differ; -0.0 and 0.0 stay apart)."""
    return [repr(row) for row in np.asarray(records).tolist()]


def smoke_inputs(program, messages: dict, kernel_classes: dict, count: int = 32,
                 seed: int = 0) -> list[tuple[type, object]]:
    """(kernel class, message) pairs of the smoke exchange, in sending order: up to `count`
    of each message type an entry kernel handles, no more than its ring holds at once."""
    rng = np.random.default_rng(seed)
    inputs = []
    for k in _entry_kernels(program):
        kinds = list(dict.fromkeys(h.params[0].type.name for h in k.handlers if h.params))
        each = max(1, min(count, k.options.capacity // max(1, len(kinds))))
        for name in kinds:
            cls = messages[name]
            records = np.zeros(each, dtype=cls.dtype)
            _fill(records, rng)
            inputs += [(kernel_classes[k.name], cls.from_record(r)) for r in records]
    return inputs


def _outcome(path: Path, backend: str, inputs_of) -> dict:
    """Run the exchange on `backend`; what it did, in comparable form."""
    import ringc as rc

    from .launcher import _program

    program, messages, kernel_classes = _program(path)
    options = {} if backend == "sim" else {"groups": 1}
    with rc.launch(list(kernel_classes.values()), backend=backend, park_after=None,
                   **options) as rt:
        inputs = inputs_of(program, messages, kernel_classes)
        entries = list(dict.fromkeys(kernel for kernel, _ in inputs))
        for kernel in entries:           # everything queued before anything is handled
            rt.deactivate(kernel)
        for kernel, msg in inputs:
            rt.send(kernel, msg, timeout=10.0)
        for kernel in entries:
            rt.activate(kernel)
        if not rt.shutdown(drain=True, timeout=DRAIN_SECONDS):
            raise _NotIdle(f"the smoke exchange did not go idle on {backend} within "
                           f"{DRAIN_SECONDS:g} s")
        outputs: list[tuple[str, str]] = []
        while True:
            got = rt.receive_many(1 << 16, timeout=0)
            parts = got.items() if isinstance(got, dict) else [("", got)]
            rows = [(getattr(cls, "__name__", ""), row) for cls, records in parts
                    for row in _canonical(records)]
            if not rows:
                break
            outputs += rows
        counters = {}
        states = {}
        for name, kernel in kernel_classes.items():
            s = rt.status(kernel)
            counters[name] = (s.processed, s.dead_lettered, s.sent)
            states[name] = [_canonical(np.array([rt.checkpoint(kernel, i)]))[0]
                            for i in range(s.instances)]
        dead = Counter((d.reason, d.kernel, repr(d.message)) for d in rt.dead_letters())
    return {"output": Counter(outputs), "dead letters": dead,
            "counters": counters, "state": states}


def _differences(sim: dict, other: dict) -> list[str]:
    found = []
    for part in ("output", "dead letters", "counters", "state"):
        if sim[part] == other[part]:
            continue
        if part in ("output", "dead letters"):
            missing = sim[part] - other[part]
            extra = other[part] - sim[part]
            found.append(f"{part}: {sum(missing.values())} the simulator has and this does "
                         f"not (e.g. {next(iter(missing), '-')}), {sum(extra.values())} "
                         f"extra (e.g. {next(iter(extra), '-')})")
        elif part == "counters":
            differ = {k: (sim[part][k], other[part].get(k)) for k in sim[part]
                      if sim[part][k] != other[part].get(k)}
            found.append(f"counters (processed, dead-lettered, sent) simulator vs this: "
                         f"{differ}")
        else:
            kernels = [k for k in sim[part] if sim[part][k] != other[part].get(k)]
            found.append(f"state of {', '.join(kernels)} differs from the simulator's")
    return found


def check_run(path: Path, backends: list[str], count: int = 32) -> list[RunCheck]:
    """Run FILE's smoke exchange on each of `backends` and on the simulator; one
    `RunCheck` per backend. A CompileError in FILE itself propagates (it is the user's)."""
    def inputs_of(program, messages, kernel_classes):
        return smoke_inputs(program, messages, kernel_classes, count)

    from .launcher import _program

    why_not = "it reads the clock or keeps timers, so no two runs need agree" \
        if uses_time(_program(path)[0]) else None
    try:
        reference = _outcome(path, "sim", inputs_of)
    except _NotIdle:
        reference = None
        why_not = why_not or (f"on the simulator it was still running after "
                              f"{DRAIN_SECONDS:g} s (a program that runs on)")
    results = []
    for backend in backends:
        try:
            outcome = _outcome(path, backend, inputs_of)
        except BackendUnavailable as exc:
            results.append(RunCheck(backend, None, None, None, str(exc)))
            continue
        except _NotIdle as exc:
            if why_not is None:
                results.append(RunCheck(backend, True, False, None,
                                        f"{exc}, where the simulator did"))
                continue
            outcome = None
        except CompileError:
            raise
        except ShimBuildError as exc:
            results.append(RunCheck(backend, False, None, None, str(exc)))
            continue
        except RingcError as exc:
            results.append(RunCheck(backend, True, False, None, str(exc)))
            continue
        if why_not is not None or outcome is None or reference is None:
            results.append(RunCheck(backend, True, True, None, f"not compared: {why_not}"))
            continue
        differences = _differences(reference, outcome)
        results.append(RunCheck(backend, True, True, not differences, "\n".join(differences)))
    return results
