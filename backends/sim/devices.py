"""The simulator in `ringc devices`: always here."""

from __future__ import annotations

from ..devices import DeviceInfo

__all__ = ["devices"]


def devices() -> list[DeviceInfo]:
    return [DeviceInfo("sim", "Python simulator", {
        "runs": "the program's IR in Python over the same queues, one work-group",
        "use": "the oracle device backends are tested against; a debugger's backend"})]
