"""The record a target folder fills in (`backends/<name>/target.py`), and what a target's
loader is handed. The registry that finds the records is `ringc.targets`."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Target", "LoadRequest"]


@dataclass(frozen=True)
class Target:
    """One target. `order` sorts listings. A target that compiles has `extension`,
    `dialect` (a `CFamilyDialect`) and `template` (a file in its folder extending
    templates/common.j2); `builds` makes the toolchain checks of a source. A target that
    runs programs has `load` (a `LoadRequest` -> the runtime's `Device`) and `facts` (the
    user's `device` and the launch settings -> the `DeviceFacts` of the device a launch
    would use: `rc.device_facts`), and may have `prepare` (the same arguments -> what
    `load` gets as `request.prepared`, checked before anything is compiled); a target
    without `load` says why in `cannot_run`. `launch_options` are its own `rc.launch`
    options with defaults; `devices` lists what it can run on here (`ringc devices`). A
    backend that runs another target's emitted source (an executing shim,
    `backends/shim/`) names that target in `runs_source_of` and has no dialect of its own:
    it is a backend, never a compile target."""
    name: str
    order: int
    description: str
    devices: str
    extension: str | None = None
    dialect: str | None = None
    template: str | None = None
    builds: str | None = None
    load: str | None = None
    prepare: str | None = None
    facts: str | None = None
    cannot_run: str | None = None
    launch_options: Mapping[str, Any] = field(default_factory=dict)
    runs_source_of: str | None = None
    package: str = ""                  # filled in by the registry: ringc.backends.<name>

    @property
    def compiles(self) -> bool:
        return self.dialect is not None

    @property
    def source_target(self) -> str | None:
        """The target whose source this backend runs: its own, another's, or None (the
        simulator runs the IR)."""
        return self.runs_source_of or (self.name if self.compiles else None)

    @property
    def runs(self) -> bool:
        return self.load is not None

    @property
    def folder(self) -> Path:
        return Path(importlib.import_module(self.package).__file__).parent

    def resolve(self, reference: str) -> Any:
        """The object a "module:attribute" reference names, inside this target's package."""
        module, _, attribute = reference.partition(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), attribute)


@dataclass(frozen=True)
class LoadRequest:
    """What a target's `load` gets: the program, its layout and `rc.fail` reasons, the
    emitted source (None for a target that runs the IR itself), a fresh arena image, the
    user's `device` choice, the launch settings (common and the target's own) and what
    `prepare` returned."""
    program: Any
    layout: Any
    reasons: tuple[str, ...]
    source: str | None
    image: Any
    device: Any
    settings: Mapping[str, Any]
    prepared: Any = None

    @property
    def parallel(self) -> bool:
        """Does the program have a parallel kernel (work-groups of more than one item)?"""
        return any(k.concurrency == "parallel" for k in self.layout.kernels)

    @property
    def group_size(self) -> int:
        """The work-items a work-group needs for the program's cooperative kernels: their
        largest `group_size` (1 without one)."""
        return self.layout.group_size

    @property
    def fast_math(self) -> bool:
        return any(k.options.fast_math for k in self.program.kernels)
