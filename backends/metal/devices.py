"""Metal in `ringc devices`: no device here, and whether MSL can at least be checked."""

from __future__ import annotations

import platform

from ..devices import DeviceInfo
from .toolchain import available

__all__ = ["devices"]


def devices() -> list[DeviceInfo]:
    """Why Metal runs nothing here, and whether the shim check can run."""
    why = available()
    check = "MSL is syntax-checked here with the shim" if why is None else (
        f"MSL cannot be syntax-checked here either: {why}")
    if platform.system() == "Darwin":
        return [DeviceInfo("metal", None, reason=f"ringc has no Metal loader yet; {check}")]
    return [DeviceInfo("metal", None, reason=f"Metal runs only on macOS; {check}")]
