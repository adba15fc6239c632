"""The host's side of a running program: `Runtime`, its reports, and the host's ring code.
Knows queues and devices (through the arena), not Python syntax."""

from .reports import DeadLetter, Health, Metrics, Status
from .runtime import Device, Runtime

__all__ = ["Runtime", "Device", "Status", "Metrics", "Health", "DeadLetter"]
