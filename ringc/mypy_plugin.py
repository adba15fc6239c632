"""ringc's mypy plugin: what `@rc.message` gives a class that `typing.dataclass_transform`
cannot say. Enable it in the project's mypy configuration:

    [tool.mypy]                       # pyproject.toml (mypy.ini: plugins = ringc.mypy_plugin)
    plugins = ["ringc.mypy_plugin"]

With it, a message class's constructor takes every field as optional (an omitted field is
zero, as at run time) and the class has `dtype` (a `numpy.dtype[numpy.void]`),
`to_record()` (a `numpy.void`) and `from_record(record)` (an instance). Without it, mypy
still reads `@rc.message` as a dataclass transform (keyword-only fields, each required)
and reports those three names as missing.

Other type checkers (pyright) take no plugins: they see the dataclass transform only.
Built on mypy's own dataclass plugin (`mypy.plugins.dataclasses`), an internal API: tested
with mypy 1.13 to 2.4.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.nodes import ARG_NAMED, ARG_NAMED_OPT, ARG_POS, Argument, FuncDef, Var
from mypy.plugin import ClassDefContext, Plugin
from mypy.plugins.common import add_attribute_to_class, add_method_to_class
from mypy.plugins.dataclasses import DataclassTransformer
from mypy.semanal_shared import find_dataclass_transform_spec
from mypy.types import AnyType, CallableType, Type, TypeOfAny
from mypy.typevars import fill_typevars

MESSAGE = "ringc.dsl.message"          # the decorator's full name, however it is imported


def _fields_optional(ctx: ClassDefContext) -> None:
    """Every field of the generated `__init__` optional (keyword-only still), and each
    field recorded as having a default (zero), as `@rc.message` makes them."""
    info = ctx.cls.info
    init = info.names.get("__init__")
    if init is not None and init.plugin_generated and isinstance(init.node, FuncDef):
        func = init.node
        for argument in func.arguments:
            if argument.kind == ARG_NAMED:
                argument.kind = ARG_NAMED_OPT
        func.arg_kinds = [argument.kind for argument in func.arguments]
        if isinstance(func.type, CallableType):
            func.type = func.type.copy_modified(arg_kinds=[
                ARG_NAMED_OPT if kind == ARG_NAMED else kind for kind in func.type.arg_kinds])
    for attribute in info.metadata.get("dataclass", {}).get("attributes", ()):
        attribute["has_default"] = True


def _named(ctx: ClassDefContext, fullname: str, args: list[Type] | None = None) -> Type:
    """A numpy type, or Any where numpy is not analysed (it always is: ringc imports it)."""
    found = ctx.api.named_type_or_none(fullname, args)
    return found if found is not None else AnyType(TypeOfAny.special_form)


def _message(ctx: ClassDefContext) -> bool:
    """The class decorator hook of `@rc.message`: the dataclass transform (returns False
    while a field's type is not ready: mypy calls it again), then the record API."""
    transform = find_dataclass_transform_spec(ctx.reason)
    if transform is None:             # not ringc's decorator after all: mypy's own rules
        return True
    if not DataclassTransformer(ctx.cls, ctx.reason, transform, ctx.api).transform():
        return False
    _fields_optional(ctx)
    if "dtype" in ctx.cls.info.names:        # added already: mypy may call the hook again
        return True
    void = _named(ctx, "numpy.void")
    add_attribute_to_class(ctx.api, ctx.cls, "dtype", _named(ctx, "numpy.dtype", [void]),
                           is_classvar=True)
    add_method_to_class(ctx.api, ctx.cls, "to_record", [], void)
    record = Argument(Var("record"), AnyType(TypeOfAny.explicit), None, ARG_POS)
    add_method_to_class(ctx.api, ctx.cls, "from_record", [record],
                        fill_typevars(ctx.cls.info), is_classmethod=True)
    return True


class RingcPlugin(Plugin):
    """Hooks `@rc.message` (`ringc.dsl.message`)."""

    def get_class_decorator_hook_2(
            self, fullname: str) -> Callable[[ClassDefContext], bool] | None:
        return _message if fullname == MESSAGE else None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point: the plugin class for mypy `version`."""
    return RingcPlugin
