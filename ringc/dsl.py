"""The decorators users write: `@rc.message`, `@rc.ring_kernel(...)`, `@rc.device`.

Decorating records what the frontend needs later and checks what can be checked at once
(field types, kernel options), raising `CompileError` at the decorator's line. Handler bodies
are compiled by `rc.compile` / `rc.launch`, not here, so a kernel may name kernels defined
further down its module.
"""

from __future__ import annotations

import ast
import functools
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from .errors import CompileError, Loc
from .ir.nodes import MAX_GROUP_SIZE, OPTION_CHOICES, KernelOptions
from .ir.types import MAX_STRUCT_BYTES, array_shape, leaf_type, unknown_vector
from .source import loc_of, source_of
from .targets import compile_targets
from .types import (
    MESSAGE_ALIGN,
    Address,
    AddressType,
    ArrayType,
    ContainerType,
    FieldType,
    MessageType,
    ScalarType,
    SharedArray,
    VectorType,
    resolve_type,
    struct_dtype,
    struct_layout,
)

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
elif TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_kwargs: object) -> Callable[[_F], _F]:
        """typing.dataclass_transform before Python 3.11 (type checkers read the branch
        above): marks nothing at run time."""
        return lambda fn: fn

# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MessageSpec:
    """What `@rc.message` records: the fields in order, the dtype, where it was defined,
    and its record type (`type`: what annotations and `Array[...]` of the class name)."""
    name: str
    fields: tuple[tuple[str, FieldType], ...]
    dtype: np.dtype
    loc: Loc
    type: MessageType


@dataclass_transform(kw_only_default=True, eq_default=True)
def message(cls: type[_T]) -> type[_T]:
    """Make `cls` a message: typed fields, a numpy `dtype` with the device layout (natural
    alignment, padded to 16 bytes), keyword construction with omitted fields zero, value
    equality, and conversion to and from numpy records.

    To a type checker it is a `typing.dataclass_transform` (keyword-only fields, value
    equality): `Work(id=1, data=[...])` checks each field's type. What that cannot say,
    ringc's mypy plugin (`plugins = ["ringc.mypy_plugin"]`) adds: every field may be
    omitted (it is zero), and the class's `dtype`, `to_record()` and `from_record()`."""
    file, node = source_of(cls)
    annotation_nodes = {stmt.target.id: stmt for stmt in node.body
                        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)}
    declared: list[tuple[str, FieldType]] = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        where = loc_of(file, annotation_nodes[name]) if name in annotation_nodes else None
        evaluated = _evaluated(annotation, cls)
        if isinstance(evaluated, SharedArray):
            raise CompileError(f"field '{name}' of message '{cls.__name__}' is a shared array "
                               f"({evaluated}): a message cannot hold one", where,
                               hint="rc.Shared arrays are locals of a cooperative kernel's "
                                    f"handler or helper; use {evaluated.array!r} here")
        ftype = _field_type(evaluated)
        if ftype is None:
            raise CompileError(
                f"field '{name}' of message '{cls.__name__}' has type {_describe(annotation)}, "
                "which a message cannot hold", where,
                hint=unknown_vector(str(annotation).rsplit(".", 1)[-1]) or
                "use a scalar (bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64), a vector "
                "(f32x2 f32x4 i32x4 u32x4), Array[T, n], rc.Address or a message class "
                "(a record)")
        if isinstance(ftype, ContainerType):
            raise CompileError(f"field '{name}' of message '{cls.__name__}' is a container "
                               f"({ftype}), which a message cannot hold", where,
                               hint="containers are kernel state: declare it in the kernel")
        if name in cls.__dict__:
            raise CompileError(f"message field '{name}' cannot have a default value", where,
                               hint="fields not given at construction are zero")
        declared.append((name, ftype))
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef):
            raise CompileError(f"message '{cls.__name__}' defines method '{stmt.name}'",
                               loc_of(file, stmt),
                               hint="messages hold data only; put behaviour in a kernel")
    size = struct_layout(declared, pad_to=MESSAGE_ALIGN)[1]
    if size > MAX_STRUCT_BYTES:
        raise CompileError(f"message '{cls.__name__}' would take {size} bytes (at most "
                           f"{MAX_STRUCT_BYTES})", loc_of(file, node),
                           hint="make its arrays smaller")
    dtype = struct_dtype(declared, pad_to=MESSAGE_ALIGN)
    record = MessageType(cls.__name__, tuple(declared))
    spec = MessageSpec(cls.__name__, tuple(declared), dtype, loc_of(file, node), record)
    namespace = {
        "__slots__": tuple(n for n, _ in declared),
        "__eq__": _message_eq,
        "__hash__": None,
        "__repr__": _message_repr,
        "to_record": _to_record,
        "from_record": classmethod(_record_reader(spec)),
        "_ringc_message": spec,
        "dtype": dtype,
        "__module__": cls.__module__,
        "__qualname__": cls.__qualname__,
        "__doc__": cls.__doc__,
    }
    made = type(cls.__name__, (), namespace)
    made.__init__ = _fast_init(made, spec)
    _RECORD_CLASSES[id(record)] = made
    return made


def _evaluated(annotation, cls: type):
    """A string annotation (`from __future__ import annotations`) evaluated where `cls` was
    defined, as typing.get_type_hints does; left as it is when it names nothing there."""
    if not isinstance(annotation, str):
        return annotation
    module = sys.modules.get(cls.__module__)
    try:
        return eval(annotation, dict(vars(module)) if module else {}, dict(vars(cls)))
    except Exception:
        return annotation


def _field_type(annotation) -> FieldType | None:
    try:
        return resolve_type(annotation)
    except TypeError:
        return None


def _describe(annotation) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def record_class(t: MessageType) -> type:
    """The `@rc.message` class of a record type made by `resolve_type` or `Array[...]`."""
    return _RECORD_CLASSES[id(t)]


_RECORD_CLASSES: weakref.WeakValueDictionary[int, type] = weakref.WeakValueDictionary()


def _on_host(ftype: FieldType) -> FieldType:
    """The type whose host value a field holds: a vector's is a 1-d numpy array of its
    lanes (`Array[f32, 4]` for an f32x4: the same bytes, without the alignment)."""
    return ArrayType(ftype.elem, ftype.lanes) if isinstance(ftype, VectorType) else ftype


def _host_value(what: str, ftype: FieldType, value):
    """A host value for a field, checked as numpy checks a Python scalar (no silent wrap):
    a numpy scalar, an rc.Address, a message object (a record), a numpy array (arrays of
    scalars, nested too, and vectors) or a list (arrays of addresses or records)."""
    ftype = _on_host(ftype)
    if isinstance(ftype, ScalarType):
        if ftype.is_int and isinstance(value, (float, np.floating)):
            raise TypeError(f"{what}: a float for an integer field")
        converted = ftype.np_dtype.type(value)
        if np.ndim(converted) != 0:             # np.int32([1, 2]) is an array
            raise TypeError(f"{what}: a sequence for a scalar field")
        return converted
    if isinstance(ftype, AddressType):
        if not isinstance(value, Address):
            raise TypeError(f"{what}: {value!r} is not an rc.Address")
        return value
    if isinstance(ftype, MessageType):
        cls = record_class(ftype)
        if not isinstance(value, cls):
            raise TypeError(f"{what}: {value!r} is not a {ftype.name}")
        return value
    leaf = leaf_type(ftype)
    if isinstance(leaf, ScalarType):
        values = np.asarray(value)
        if leaf.is_int and values.dtype.kind == "f" and not isinstance(value, np.ndarray):
            exact = np.asarray(value, dtype=object)     # ints past int64 made numpy pick float
            if all(isinstance(v, (int, np.integer)) for v in exact.flat):
                values = exact
        if values.shape != array_shape(ftype):
            raise ValueError(f"{what}: shape {values.shape}, not {array_shape(ftype)}")
        if leaf.is_int and values.dtype.kind == "f":
            raise TypeError(f"{what}: floats for an integer array")
        converted = np.zeros(values.shape, leaf.np_dtype)
        for index in np.ndindex(values.shape):
            converted[index] = leaf.np_dtype.type(values[index].item()
                                                  if values.dtype.kind != "O" else values[index])
        return converted
    values = list(value)
    if len(values) != ftype.length:
        raise ValueError(f"{what}: {len(values)} values for {ftype}")
    return [_host_value(f"{what}[{i}]", ftype.elem, v) for i, v in enumerate(values)]


def _host_zero(ftype: FieldType):
    ftype = _on_host(ftype)
    if isinstance(ftype, ScalarType):
        return ftype.np_dtype.type(0)
    if isinstance(ftype, AddressType):
        return Address()
    if isinstance(ftype, MessageType):
        return record_class(ftype)()
    if isinstance(leaf_type(ftype), ScalarType):
        return np.zeros(array_shape(ftype), leaf_type(ftype).np_dtype)
    return [_host_zero(ftype.elem) for _ in range(ftype.length)]


def _host_equal(ftype: FieldType, a, b) -> bool:
    ftype = _on_host(ftype)
    if isinstance(ftype, ArrayType):
        if isinstance(leaf_type(ftype), ScalarType):
            return np.array_equal(a, b, equal_nan=leaf_type(ftype).is_float)
        return all(_host_equal(ftype.elem, x, y) for x, y in zip(a, b, strict=True))
    if isinstance(ftype, ScalarType) and ftype.is_float:
        return bool(a == b or (np.isnan(a) and np.isnan(b)))
    return a == b


def _host_repr(ftype: FieldType, value):
    ftype = _on_host(ftype)
    if isinstance(ftype, ArrayType) and isinstance(leaf_type(ftype), ScalarType):
        return value.tolist()
    if isinstance(ftype, ScalarType):
        return value.item()
    return value


def _to_numpy(ftype: FieldType, value):
    """A host value as numpy stores it in a record field of `ftype`."""
    ftype = _on_host(ftype)
    if isinstance(ftype, AddressType):
        return (value.queue, 0, value.correlation)
    if isinstance(ftype, MessageType):
        return value.to_record()
    if isinstance(ftype, ArrayType) and not isinstance(leaf_type(ftype), ScalarType):
        return [_to_numpy(ftype.elem, v) for v in value]
    return value


def _from_numpy(ftype: FieldType, raw):
    """The host value of a numpy record field of `ftype` that holds addresses or records
    (`_record_reader` reads scalars and arrays of them)."""
    if isinstance(ftype, AddressType):
        return Address(int(raw["queue"]), int(raw["correlation"]))
    if isinstance(ftype, MessageType):
        return record_class(ftype).from_record(raw)
    return [_from_numpy(ftype.elem, v) for v in raw]


def _message_init(self, *args, **kwargs) -> None:
    """The generic constructor, field by field through `_host_value`: the contract the
    generated `__init__` (`_fast_init`) keeps, and what raises its errors."""
    spec: MessageSpec = type(self)._ringc_message
    if args:
        raise TypeError(f"{spec.name} takes its fields by name: "
                        f"{spec.name}({', '.join(f'{n}=...' for n, _ in spec.fields)})")
    known = dict(spec.fields)
    for key in kwargs:
        if key not in known:
            raise TypeError(f"{spec.name} has no field '{key}' (fields: {', '.join(known)})")
    for name, ftype in spec.fields:
        if name in kwargs:
            try:
                value = _host_value(name, ftype, kwargs[name])
            except (TypeError, ValueError, OverflowError) as exc:
                raise TypeError(f"{spec.name}.{name}: cannot hold {kwargs[name]!r} "
                                f"({exc})") from None
        else:
            value = _host_zero(ftype)
        object.__setattr__(self, name, value)


_MISSING = object()                 # a field not given to a generated __init__


def _fast_init(cls: type, spec: MessageSpec):
    """The `__init__` of message class `cls`, generated once: one keyword-only parameter
    per field, each value converted straight to the field's (a scalar with its numpy type:
    the same call `_host_value` makes, a field taking a Python int (a float field also a
    float, a bool field a bool) or a scalar of its own type that way; arrays of scalars by
    `_array_converter`; an address or record of exactly its class kept as it is),
    omitted fields given a zero (numpy scalars made once and shared, being immutable;
    arrays, addresses and records new each time).

    Any other value goes through `_host_value`. A call not by field name, or one that
    raises anywhere, is done again by `_message_init`, which raises the error it raises
    (or builds the object, where only the shortcut failed): errors are the generic
    path's, word for word."""
    names = [name for name, _ in spec.fields]
    prefix = "_rc_"                 # helper names: no field (a parameter) may shadow one
    while any(name.startswith(prefix) for name in names):
        prefix = "_" + prefix
    me = f"{prefix}self"
    helpers: dict[str, object] = {f"{prefix}missing": _MISSING,
                                  f"{prefix}generic": _message_init}
    body = []
    for i, (name, ftype) in enumerate(spec.fields):
        ftype = _on_host(ftype)
        h = f"{prefix}{i}_"
        given = f"{name} is {prefix}missing"
        if isinstance(ftype, ScalarType):
            make = ftype.np_dtype.type
            helpers.update({h + "make": make, h + "zero": make(0)})
            body += [f"if {given}:", f"    {me}.{name} = {h}zero"]
            # the Python values taken straight; anything else (a float for an integer
            # field, a sequence) is checked by _host_value
            quick = ("int",) if ftype.is_int else ("bool", "int") if \
                ftype.np_dtype.kind == "b" else ("float", "int")
            helpers[h + "host"] = functools.partial(_host_value, name, ftype)
            body += [f"elif {' or '.join(f'{name}.__class__ is {q}' for q in quick)} "
                     f"or {name}.__class__ is {h}make:",
                     f"    {me}.{name} = {h}make({name})",
                     "else:", f"    {me}.{name} = {h}host({name})"]
        elif isinstance(ftype, (AddressType, MessageType)):
            kind = Address if isinstance(ftype, AddressType) else record_class(ftype)
            helpers.update({h + "kind": kind,
                            h + "host": functools.partial(_host_value, name, ftype)})
            body += [f"if {given}:", f"    {me}.{name} = {h}kind()",
                     f"elif {name}.__class__ is {h}kind:", f"    {me}.{name} = {name}",
                     "else:", f"    {me}.{name} = {h}host({name})"]
        elif isinstance(leaf_type(ftype), ScalarType):
            helpers.update({h + "zeros": np.zeros, h + "shape": array_shape(ftype),
                            h + "dtype": leaf_type(ftype).np_dtype,
                            h + "host": _array_converter(name, ftype)})
            body += [f"if {given}:", f"    {me}.{name} = {h}zeros({h}shape, {h}dtype)",
                     "else:", f"    {me}.{name} = {h}host({name})"]
        else:
            helpers.update({h + "zero": functools.partial(_host_zero, ftype),
                            h + "host": functools.partial(_host_value, name, ftype)})
            body += [f"if {given}:", f"    {me}.{name} = {h}zero()",
                     "else:", f"    {me}.{name} = {h}host({name})"]
    params = "".join(f", {name}={prefix}missing" for name in names)
    given_pairs = "".join(f"({name!r}, {name}), " for name in names)
    source = "\n".join([
        f"def __init__({me}, /, *{prefix}args{params}, **{prefix}extra):",
        f"    if {prefix}args or {prefix}extra:",
        f"        return {prefix}generic({me}, *{prefix}args, **{prefix}extra)",
        "    try:",
        *[f"        {line}" for line in body or ["pass"]],
        "    except Exception:",
        f"        {prefix}generic({me}, **{{k: v for k, v in ({given_pairs}) "
        f"if v is not {prefix}missing}})",
    ])
    exec(source, helpers)           # field names are identifiers: the class compiled
    init = helpers["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


def _array_converter(what: str, ftype: ArrayType):
    """`_host_value` for an array of scalars, with one numpy call for the common values: an
    array of the field's dtype and shape (copied), or for a 1-d field a list, tuple or
    array of its length whose items are Python bools, ints or floats (no floats into an
    integer field, bools only into a bool field), which numpy converts as `_host_value`
    does item by item. Anything else, failures included, goes to `_host_value`."""
    leaf = leaf_type(ftype)
    dtype, shape, generic = leaf.np_dtype, array_shape(ftype), functools.partial(
        _host_value, what, ftype)
    ok = {bool} if leaf.is_bool else {bool, int} if leaf.is_int else {bool, int, float}
    flat = len(shape) == 1

    def convert(value):
        if value.__class__ is np.ndarray:
            if value.dtype is dtype and value.shape == shape:
                return value.copy()
            items = value.tolist() if flat and value.ndim == 1 else None
        else:
            items = value if flat and value.__class__ in (list, tuple) else None
        if items is not None and len(items) == shape[0] and set(map(type, items)) <= ok:
            return np.array(items, dtype)
        return generic(value)
    return convert


def _message_eq(self, other) -> bool:
    if type(self) is not type(other):
        return NotImplemented
    return all(_host_equal(ftype, getattr(self, name), getattr(other, name))
               for name, ftype in self._ringc_message.fields)


def _message_repr(self) -> str:
    parts = [f"{name}={_host_repr(ftype, getattr(self, name))!r}"
             for name, ftype in self._ringc_message.fields]
    return f"{self._ringc_message.name}({', '.join(parts)})"


def _to_record(self) -> np.void:
    """This message as one numpy record of `dtype`."""
    rec = np.zeros((), dtype=self.dtype)
    for name, ftype in self._ringc_message.fields:
        rec[name] = _to_numpy(ftype, getattr(self, name))
    return rec[()]


def _record_reader(spec: MessageSpec):
    """`from_record` of a message class: scalars made with their numpy type and arrays of
    scalars copied with `np.array`, those looked up once here rather than per record;
    addresses and records by `_from_numpy`."""
    readers = []
    for name, ftype in spec.fields:
        ftype = _on_host(ftype)
        if isinstance(ftype, ScalarType):
            readers.append((name, ftype.np_dtype.type))
        elif isinstance(ftype, ArrayType) and isinstance(leaf_type(ftype), ScalarType):
            readers.append((name, functools.partial(np.array, dtype=leaf_type(ftype).np_dtype)))
        else:
            readers.append((name, functools.partial(_from_numpy, ftype)))

    def from_record(cls, record) -> object:
        """The message a numpy record of `cls.dtype` holds."""
        obj = cls.__new__(cls)
        for name, read in readers:
            object.__setattr__(obj, name, read(record[name]))
        return obj
    return from_record


def is_message(obj) -> bool:
    return isinstance(obj, type) and isinstance(getattr(obj, "_ringc_message", None), MessageSpec)


# ---------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------

DEFAULT_GROUP_SIZE = 128      # lanes of a cooperative kernel without group_size


@dataclass(frozen=True)
class KernelSpec:
    """What `@rc.ring_kernel` records: validated options and where the decorator stands."""
    name: str
    options: KernelOptions
    loc: Loc


@overload
def ring_kernel(cls: type[_T], /) -> type[_T]: ...
@overload
def ring_kernel(cls: None = None, /, **options: Any) -> Callable[[type[_T]], type[_T]]: ...


def ring_kernel(cls: type | None = None, /, **options: Any) -> Any:
    """Make a class a ring kernel. Options (unknown ones are an error): mode, capacity,
    instances, concurrency, group_size, backpressure, max_batch, domain, targets,
    bounds_check, fast_math, timers; `ringc docs options` says what each does."""
    if cls is not None:
        if not isinstance(cls, type):
            caller = sys._getframe(1)
            raise CompileError("@rc.ring_kernel takes keyword options only",
                               Loc(caller.f_code.co_filename, caller.f_lineno, 1),
                               hint="write @rc.ring_kernel(capacity=1024)")
        return _make_kernel(cls, {})

    def decorate(kernel_cls: type) -> type:
        return _make_kernel(kernel_cls, options)
    return decorate


def _make_kernel(cls: type, options: dict) -> type:
    file, node = source_of(cls)
    decorator = node.decorator_list[0] if node.decorator_list else node
    keyword_nodes = {kw.arg: kw for kw in getattr(decorator, "keywords", [])}

    def where(key: str | None) -> Loc:
        return loc_of(file, keyword_nodes.get(key, decorator))

    known = {f.name for f in fields(KernelOptions)}
    values = {}
    for key, value in options.items():
        if key not in known:
            raise CompileError(f"unknown ring_kernel option '{key}'", where(key),
                               hint="options are " + ", ".join(sorted(known)))
        values[key] = _check_option(key, value, where(key))
    if "max_batch" not in values and "capacity" in values:
        values["max_batch"] = min(KernelOptions.max_batch, values["capacity"])
    if values.get("concurrency") == "cooperative":
        values.setdefault("group_size", DEFAULT_GROUP_SIZE)
    elif "group_size" in values:
        raise CompileError(f"group_size={values['group_size']} needs "
                           "concurrency='cooperative'", where("group_size"),
                           hint="only a cooperative kernel handles a message with a group of "
                                "lanes: add concurrency='cooperative', or remove group_size")
    opts = replace(KernelOptions(), **values)
    if opts.max_batch > opts.capacity:
        raise CompileError(f"max_batch={opts.max_batch} exceeds capacity={opts.capacity}",
                           where("max_batch"), hint="take at most a queue's worth per iteration")
    cls._ringc_kernel = KernelSpec(cls.__name__, opts, loc_of(file, decorator))
    return cls


def _check_option(key: str, value, loc: Loc):
    def fail(expected: str):
        raise CompileError(f"ring_kernel option {key}={value!r} is invalid", loc,
                           hint=f"{key} must be {expected}")
    if key in OPTION_CHOICES:
        if value not in OPTION_CHOICES[key]:
            fail("one of " + ", ".join(repr(c) for c in OPTION_CHOICES[key]))
        return value
    if key in ("capacity", "instances", "max_batch", "timers"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail("a positive int")
        if key == "capacity" and (value & (value - 1) or not 2 <= value <= 1 << 24):
            fail("a power of two from 2 to 16777216 (a ring's slots tell free from full "
                 "by their sequence numbers, which needs two slots or more)")
        if key == "instances" and value > 65536:
            fail("at most 65536")
        return value
    if key == "group_size":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 \
                or value & (value - 1) or value > MAX_GROUP_SIZE:
            fail(f"a power of two from 1 to {MAX_GROUP_SIZE} (the lanes of one work-group: "
                 "CUDA's thread block holds at most 1024)")
        return value
    if key in ("bounds_check", "fast_math"):
        if not isinstance(value, bool):
            fail("True or False")
        return value
    if key == "targets":
        known = ", ".join(repr(t) for t in compile_targets())
        items = (value,) if isinstance(value, str) else value
        try:
            items = tuple(items)
        except TypeError:
            fail(f"a sequence of {known}")
        if not items or any(t not in compile_targets() for t in items):
            fail(f"a non-empty sequence of {known}")
        return tuple(dict.fromkeys(items))
    raise AssertionError(key)


def is_kernel(obj) -> bool:
    return isinstance(obj, type) and isinstance(getattr(obj, "_ringc_kernel", None), KernelSpec)


# ---------------------------------------------------------------------------------------
# Device functions
# ---------------------------------------------------------------------------------------

def device(fn: _F) -> _F:
    """Mark a module-level function as callable from handlers. Parameters and the return
    value must be annotated with scalar types; it cannot touch kernel state or send."""
    if not callable(fn) or not hasattr(fn, "__code__"):
        raise CompileError("@rc.device decorates a function")
    fn._ringc_device = True
    return fn


def is_device_function(obj) -> bool:
    return callable(obj) and getattr(obj, "_ringc_device", False) is True
