"""The registry of targets: one `Target` record per folder of `ringc.backends`.

A target folder (`backends/<name>/`) holds a module `target.py` whose `TARGET` is its
record (`ringc.backends.record.Target`); a folder of backends that run other targets'
source (`backends/shim/`) has `RUNNERS` instead, each named `<source target>-<folder>`.
The registry finds every such folder when first asked, and nothing else in ringc lists
target names. A record is data: what the target is
called, how its programs are spelled (dialect and template, for targets that compile), how
its toolchain checks a program, how devices are found and how a program is loaded and
launched. The pieces are named as "module:attribute" references, relative to the target's
package, and imported only when used, so listing targets imports no driver.
docs/architecture.md says what a new target adds.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache

from . import backends
from .backends.record import Target

__all__ = ["Target", "all_targets", "target", "compile_targets",
           "run_targets", "check_all", "list_devices"]


@cache
def _discovered() -> tuple[Target, ...]:
    found = []
    for info in pkgutil.iter_modules(backends.__path__):
        if not info.ispkg:
            continue
        package = f"{backends.__name__}.{info.name}"
        try:
            module = importlib.import_module(f"{package}.target")
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.target":
                continue                   # a folder that is not a target
            raise
        record: Target | None = getattr(module, "TARGET", None)
        if record is not None and record.name != info.name:
            raise ImportError(f"{package}.target names its target {record.name!r}: a "
                              f"target is named after its folder")
        for runner in getattr(module, "RUNNERS", ()):
            if runner.runs_source_of is None or \
                    runner.name != f"{runner.runs_source_of}-{info.name}":
                raise ImportError(f"{package}.target's runner {runner.name!r} must name the "
                                  f"target it runs and be called <target>-{info.name}")
        records = ([record] if record else []) + list(getattr(module, "RUNNERS", ()))
        for each in records:
            if each.runs and each.facts is None:
                raise ImportError(f"{package}.target's {each.name!r} runs programs, so it "
                                  f"must say what its devices can do (facts=)")
        found += [replace(r, package=package) for r in records]
    return tuple(sorted(found, key=lambda t: (t.order, t.name)))


def all_targets() -> tuple[Target, ...]:
    """Every target, in listing order."""
    return _discovered()


def compile_targets() -> tuple[str, ...]:
    """Names of the targets ringc emits source for (`rc.compile`, `--target`)."""
    return tuple(t.name for t in _discovered() if t.compiles)


def run_targets() -> tuple[str, ...]:
    """Names of the targets `rc.launch` knows (some may refuse to run here)."""
    return tuple(t.name for t in _discovered() if t.runs or t.cannot_run)


def target(name: str, kind: str = "target") -> Target:
    """The target called `name`; ValueError naming the known ones otherwise. `kind`
    ("target" or "backend") only words the error."""
    for record in _discovered():
        if record.name == name:
            return record
    names = compile_targets() if kind == "target" else run_targets()
    raise ValueError(f"unknown {kind} {name!r} ({kind}s: {', '.join(names)})")


def check_all(sources: Mapping[str, str]):
    """Build each target's source with the tools present here: a list of
    `ringc.backends.toolchain.CheckResult`, one per build; a target whose tool is missing
    gives a skipped result with the reason. An unknown target raises ValueError."""
    from .backends.toolchain import ToolchainUnavailable, skipped

    builds: list[tuple[str, str, Callable]] = []
    for name, source in sources.items():
        record = target(name)
        builds += [(name, tool, build) for tool, build in record.resolve(record.builds)(source)]
    results = []
    for name, tool, build in builds:
        try:
            results.append(build())
        except ToolchainUnavailable as exc:
            results.append(skipped(name, tool, str(exc)))
    return results


def list_devices():
    """Every target with its devices, or why it has none here: a list of
    `ringc.backends.devices.DeviceInfo`."""
    return [info for record in _discovered() for info in record.resolve(record.devices)()]
