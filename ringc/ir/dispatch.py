"""Handling nodes by kind: the one way a pass chooses what to do with an IR node.

A pass declares a `Dispatch` and registers one handler per node class with `on`:

    class Printer:
        statement = Dispatch()

        @statement.on(Break, Continue)
        def jump(self, s: Break | Continue) -> None: ...

        def block(self, stmts) -> None:
            for s in stmts:
                self.statement(s)        # calls Printer.jump(self, s) for a Break

As a class attribute it calls its handlers as methods of the instance it is read from; at
module level it calls them as plain functions (`operands(e)`). Finding the handler is one
dict lookup on the node's class, so a pass can dispatch per node at run time.

A node of a kind without a handler goes to the pass's `otherwise` handler when it has one
(the verifier turns it into an `IRVerifyError`, the frontend into "not supported");
without one it raises `UnhandledNode`, naming the pass and the kind. Nothing is ever
skipped silently.

Limits: dispatch is on the exact class (IR nodes are never subclassed; a subclass of a
registered class is unhandled), and the handlers are the functions registered, so a
subclass of a pass that overrides a handler method must register the override too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

__all__ = ["Dispatch", "UnhandledNode"]

Handler = TypeVar("Handler", bound=Callable[..., Any])


class UnhandledNode(TypeError):
    """A pass met a node of a kind it has no handler for. `node` is that node."""

    def __init__(self, dispatch: str, node: object):
        self.node = node
        super().__init__(f"{dispatch} has no handler for {type(node).__name__}: {node!r}")


class Dispatch:
    """A table from node class to the handler of that kind (see the module docstring).
    `name` appears in `UnhandledNode` messages; as a class attribute it defaults to
    `Class.attribute`."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._handlers: dict[type, Callable[..., Any]] = {}
        self._otherwise: Callable[..., Any] | None = None

    def __set_name__(self, owner: type, attribute: str) -> None:
        if not self.name:
            self.name = f"{owner.__qualname__}.{attribute}"

    def on(self, *kinds: type) -> Callable[[Handler], Handler]:
        """Decorator: the function handles nodes of `kinds`; it is returned unchanged."""
        def register(handler: Handler) -> Handler:
            for kind in kinds:
                if kind in self._handlers:
                    raise ValueError(f"two handlers for {kind.__name__} in "
                                     f"{self.name or 'one dispatch'}")
                self._handlers[kind] = handler
            return handler
        return register

    def otherwise(self, handler: Handler) -> Handler:
        """Decorator: the function handles every kind without a handler of its own."""
        self._otherwise = handler
        return handler

    @property
    def kinds(self) -> frozenset[type]:
        """The node classes with a handler of their own."""
        return frozenset(self._handlers)

    def __call__(self, node: Any, *args: Any) -> Any:
        handler = self._handlers.get(type(node)) or self._fallback(node)
        return handler(node, *args)

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return partial(self._call_method, instance)

    def _call_method(self, instance: object, node: Any, *args: Any) -> Any:
        handler = self._handlers.get(type(node)) or self._fallback(node)
        return handler(instance, node, *args)

    def _fallback(self, node: object) -> Callable[..., Any]:
        if self._otherwise is None:
            raise UnhandledNode(self.name or "a dispatch", node)
        return self._otherwise
