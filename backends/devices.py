"""What a target can run on here: `DeviceInfo`, one per device or one saying why there is
none; `DeviceFacts`, what a program can use of one; and `choose_device`, the one way
`rc.launch(device=...)` picks among them.

Each target folder lists its own devices (its `devices` module, named by its record);
`ringc.targets.list_devices()` asks every target in turn. Discovery only asks: it builds
nothing and launches nothing, so a device listed may still fail to run a program (e.g. a
driver older than the compiler that made the cubin).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

__all__ = ["DeviceFacts", "DeviceInfo", "choose_device", "default_groups", "yes_no"]


@dataclass(frozen=True)
class DeviceFacts:
    """What a device can do, in the terms a kernel's choices need (docs/runtime.md, "The
    device"): `rt.device` of a running program, `rc.device_facts(...)` before one is
    compiled. `compute_units` are what runs work-groups at once (multiprocessors, cores);
    `max_group_size` is the device's largest work-group (a program's own limit may be
    lower, and a cooperative kernel larger than that is refused at launch); `fp64` and
    `int64_atomics` say whether `f64` and 64-bit atomics compile and run there."""
    name: str
    backend: str
    compute_units: int
    max_group_size: int
    fp64: bool
    int64_atomics: bool

    def __str__(self) -> str:
        return (f"{self.name} ({self.backend}): {self.compute_units} compute unit(s), "
                f"work-groups up to {self.max_group_size}, fp64 {yes_no(self.fp64)}, "
                f"64-bit atomics {yes_no(self.int64_atomics)}")


@dataclass
class DeviceInfo:
    """One device of a backend (`device` its name) or, with `device=None`, the backend's
    reason for having none. `details` holds what discovery found (type, compute units,
    versions, compile tools...), as display strings."""
    backend: str
    device: str | None
    details: dict[str, str] = field(default_factory=dict)
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.device is not None

    def describe(self) -> str:
        """Two or more lines for `ringc devices`: the backend and device, then details."""
        head = f"{self.backend:10} {self.device if self.available else '(no device)'}"
        lines = [head] + ([f"        {self.reason}"] if self.reason else [])
        lines += [f"        {key}: {value}" for key, value in self.details.items()]
        return "\n".join(lines)


Device = TypeVar("Device")


def choose_device(found: Sequence[Device], wanted: str | int | None,
                  name_of: Callable[[Device], str], text_of: Callable[[Device], str],
                  kind: str, kinds: str) -> Device:
    """The device `rc.launch(device=wanted)` means among a backend's `found` (in `ringc
    devices`' order): the first for None, the `wanted`-th for an int, else the first whose
    `text_of` contains `wanted` (case-insensitive). Anything else is BackendUnavailable
    naming what is here, e.g. "no GPU matches 'A100' (GPUs here: 0: NVIDIA H100)"."""
    from ringc.errors import BackendUnavailable

    if wanted is None:
        return found[0]
    if isinstance(wanted, (int, np.integer)) and not isinstance(wanted, bool):
        if 0 <= wanted < len(found):
            return found[int(wanted)]
    elif isinstance(wanted, str):
        for device in found:
            if wanted.lower() in text_of(device).lower():
                return device
    names = "; ".join(f"{i}: {name_of(d)}" for i, d in enumerate(found))
    raise BackendUnavailable(f"no {kind} matches {wanted!r} ({kinds} here: {names})")


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def default_groups(units: int, is_cpu: bool, queues: int) -> int:
    """Work-groups (CUDA: blocks) when `groups` is not given (docs/runtime.md,
    "Work-groups"): as many as the device runs at once (`units`), one fewer on a CPU device
    (its last core is the host's), at least one, and no more than the program's input
    queues."""
    return max(1, min(units - 1 if is_cpu else units, queues))
