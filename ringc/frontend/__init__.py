"""Frontend: Python `ast` of `@rc.ring_kernel` classes to the typed IR. Knows Python, not
targets: it never imports codegen, templates or backends."""

from .program import build_program, build_program_with_classes

__all__ = ["build_program", "build_program_with_classes"]
