"""The typed IR: nodes, their textual form (".rir") and the verifier.

`print_program` writes a Program as text, `parse_program` reads it back to an equal
Program, and `verify` checks a Program is well-formed, well-typed IR. Passes handle nodes
by kind through `dispatch.Dispatch`; `walk` knows what each kind holds. This package
imports nothing else of ringc.
"""

from .nodes import *  # noqa: F401,F403
from .nodes import __all__ as _node_names
from .printer import print_program
from .verify import IRVerifyError, verify, verify_names


def __getattr__(name: str):
    """The parser (and lark under it) loads when first asked for: most programs never
    read a .rir file."""
    if name in ("parse_program", "RirSyntaxError"):
        from . import parser
        return getattr(parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# and, loaded on first use, `parse_program` and `RirSyntaxError` (ringc.ir.parser)
__all__ = [*_node_names, "print_program", "verify", "verify_names", "IRVerifyError"]
