"""The typed IR: nodes, their textual form (".rir") and the verifier.

`print_program` writes a Program as text, `parse_program` reads it back to an equal
Program, and `verify` checks a Program is well-formed, well-typed IR. Passes handle nodes
by kind through `dispatch.Dispatch`; `walk` knows what each kind holds. This package
imports nothing else of ringc.
"""

from .nodes import *  # noqa: F401,F403
from .nodes import __all__ as _node_names
from .parser import RirSyntaxError, parse_program
from .printer import print_program
from .verify import IRVerifyError, verify, verify_names

__all__ = [*_node_names, "print_program", "parse_program", "RirSyntaxError", "verify",
           "verify_names", "IRVerifyError"]
