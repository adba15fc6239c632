"""Errors a user can catch, and the located compile error every stage reports through.

A `CompileError` prints the way compilers do::

    kernels.py:12:9: error: name 'totl' is not defined
        self.total = totl + 1
                     ^
    hint: did you mean 'total'?

Its first line always reads ``FILE:LINE:COL: error: MESSAGE``. Nothing of the compiler's own
call stack is attached: the frontend raises it with ``from None`` so a user sees their line,
not ours.
"""

from __future__ import annotations

import linecache

from .ir.types import Loc

__all__ = ["Loc", "RingcError", "CompileError", "QueueFull", "BackendUnavailable"]


class RingcError(Exception):
    """Base of every error ringc raises on purpose."""


class CompileError(RingcError):
    """A user program ringc cannot compile: located, with the source line and a hint."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None,
                 source_line: str | None = None):
        self.message = message
        self.loc = loc
        self.hint = hint
        if source_line is None and loc is not None:
            source_line = linecache.getline(loc.file, loc.line).rstrip("\n") or None
        self.source_line = source_line
        super().__init__(self.render())

    @property
    def file(self) -> str | None:
        return self.loc.file if self.loc else None

    @property
    def line(self) -> int | None:
        return self.loc.line if self.loc else None

    @property
    def col(self) -> int | None:
        return self.loc.col if self.loc else None

    def render(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        lines = [f"{where}error: {self.message}"]
        if self.source_line is not None and self.loc is not None:
            text = self.source_line.expandtabs(4)
            lines.append(f"    {text}")
            lines.append("    " + " " * max(self.loc.col - 1, 0) + "^")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class QueueFull(RingcError):
    """A host-side send found no room before its timeout; `accepted` says how many went in."""

    def __init__(self, message: str, accepted: int = 0):
        self.accepted = accepted
        super().__init__(message)


class Closed(RingcError):
    """A host send to a kernel whose input `Runtime.close_input` closed (or to a program
    that is shutting down)."""


class BackendUnavailable(RingcError):
    """The backend or device asked for does not exist here; the message says why in one sentence."""


class DeadLettered(RingcError):
    """`Runtime.request`'s message was dead-lettered instead of answered; `dead_letter`
    says where and why (a `ringc.DeadLetter`)."""

    def __init__(self, dead_letter):
        self.dead_letter = dead_letter
        where = dead_letter.kernel if dead_letter.instance < 0 else (
            f"{dead_letter.kernel}[{dead_letter.instance}]")
        super().__init__(f"the request was dead-lettered at {where}: {dead_letter.reason}")


class ShimBuildError(RingcError):
    """An executing shim (docs/shims.md) could not build an emitted program: the message
    names the builtin the shim lacks, or gives the compiler's first error and the emitted
    line it points at."""
