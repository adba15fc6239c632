"""One program's messages to and from the bytes of its queues' slots: `MessageCodec`.

What a user sends a kernel becomes (type id, payload): one `@rc.message` object's bytes,
packed with `struct` (a few hundred ns where a numpy record takes 3-5 µs: the one-message
paths, `send` of one object and `request`), or a 1-d array of records of the message's
dtype. A slot's payload becomes the message object again: its scalars struct-unpacked and
its arrays copied with `np.frombuffer` for a reply, through its numpy record otherwise.

Messages of scalars and 1-d arrays of scalars are packed field by field in memory order by
an encoder and decoder generated once per message, the padding written as zeros; a message
holding an `rc.Address` or a nested array goes through its numpy record.
"""

from __future__ import annotations

import struct

import numpy as np

from ..arena import KernelLayout, Layout

__all__ = ["MessageCodec", "struct_layout", "struct_decoder", "struct_encoder", "record_bytes"]

_STRUCT_CODES = {"b1": "?", "i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I",
                 "i8": "q", "u8": "Q", "f4": "f", "f8": "d"}


def struct_layout(dtype: np.dtype, scalars_only: bool = False):
    """(struct.Struct, [(field, numpy scalar type, array length or 0)]) of a message dtype
    of scalars and arrays of scalars, in memory order with the padding skipped; None for
    other fields (addresses). `scalars_only`: the struct reads the arrays as padding."""
    fields = sorted((dtype.fields[n][1], n, dtype.fields[n][0]) for n in dtype.names)
    fmt, at, parts = "<", 0, []
    for offset, name, ftype in fields:
        base, shape = ftype.subdtype if ftype.subdtype else (ftype, ())
        code = _STRUCT_CODES.get(base.str[1:])
        if code is None or len(shape) > 1:
            return None
        count = shape[0] if shape else 0
        if not (count and scalars_only):
            fmt += "x" * (offset - at) + (f"{count}{code}" if count else code)
            at = offset + ftype.itemsize
        parts.append((name, base.type, count))
    return struct.Struct(fmt + "x" * (dtype.itemsize - at)), parts


def struct_decoder(cls, dtype: np.dtype):
    """A function (buffer, offset) -> message object, or None (no class, addresses).

    Generated once per message: one struct unpack for the scalars, each made the field's
    numpy scalar type, and one `np.frombuffer` copy per array (bool arrays compared with
    zero). The buffer (bytes, bytearray, memoryview...) must hold the whole message at
    `offset` (struct.error otherwise)."""
    found = struct_layout(dtype, scalars_only=True) if cls is not None else None
    if found is None:
        return None
    scalars, parts = found
    helpers: dict[str, object] = {
        "unpack": scalars.unpack_from,
        "new": cls.__new__, "cls": cls, "frombuffer": np.frombuffer,
        "u1": np.dtype(np.uint8)}
    values = [f"v{i}" for i, (_, _, count) in enumerate(parts) if not count]
    lines = [f"    ({', '.join(values)},) = unpack(buffer, offset)" if values
             else "    unpack(buffer, offset)", "    obj = new(cls)"]
    for i, (name, make, count) in enumerate(parts):
        at = dtype.fields[name][1]
        if not count:
            helpers[f"make{i}"] = make
            lines.append(f"    obj.{name} = make{i}(v{i})")
        elif make is np.bool_:              # any nonzero byte is True, as struct reads one
            lines.append(f"    obj.{name} = frombuffer(buffer, u1, {count}, offset + {at}) != 0")
        else:
            helpers[f"dtype{i}"] = np.dtype(make)
            lines.append(f"    obj.{name} = frombuffer(buffer, dtype{i}, {count}, "
                         f"offset + {at}).copy()")
    exec("\n".join(["def decode(buffer, offset):", *lines, "    return obj"]), helpers)
    return helpers["decode"]


def record_bytes(msg) -> bytes:
    return msg.to_record().tobytes()


def struct_encoder(spec):
    """A function message -> bytes, or None (addresses).

    Generated once per message: one struct pack of the fields in memory order, arrays by
    `.tolist()`. It raises (struct.error, AttributeError...) for a field set to something
    its struct code refuses, a list or an array of another length; `MessageCodec.encode`
    then goes through the numpy record."""
    found = struct_layout(spec.dtype)
    if found is None:
        return None
    layout, parts = found
    args = ", ".join(f"*msg.{name}.tolist()" if count else f"msg.{name}"
                     for name, _, count in parts)
    helpers: dict[str, object] = {"pack": layout.pack}
    exec(f"def encode(msg):\n    return pack({args})", helpers)
    return helpers["encode"]


class MessageCodec:
    """The messages of one program (`layout`), as objects of their `@rc.message` classes
    (`classes`, by message name; a message without one is a numpy record) and as payloads.

    Encoders are built once per message class and decoders once per type id, on first use.
    Takes no lock: the caches only grow, and two threads that build the same entry at once
    build equal ones."""

    def __init__(self, layout: Layout, classes: dict[str, type]):
        self._layout = layout
        self._classes = classes
        self._handled = {k.name: {h.message: h.type_id for h in k.handlers}
                         for k in layout.kernels}
        self._encoders: dict[type, object] = {}
        self._decoders: dict[int, object] = {}

    def encode(self, kernel: KernelLayout, msg, type_name=None) -> tuple[int, np.ndarray | bytes]:
        """(type id, payload) of a message for `kernel`: one message object's bytes, or a
        1-d array of records of the message's dtype (one record, `array[i]`, is an array
        of one) (`type_name`, a class or a name, picks
        the message where several that the kernel handles share the array's dtype).
        Raises TypeError for what the kernel has no handler for, or cannot be sent."""
        handled = self._handled[kernel.name]
        spec = getattr(type(msg), "_ringc_message", None)
        if spec is not None:
            if spec.name not in handled:
                raise TypeError(f"{kernel.name} has no handler for {spec.name} (it handles "
                                f"{', '.join(handled) or 'nothing'})")
            encode = self._encoders.get(type(msg))
            if encode is None:
                encode = self._encoders[type(msg)] = struct_encoder(spec) or record_bytes
            try:
                return handled[spec.name], encode(msg)
            except (struct.error, AttributeError, TypeError, ValueError, OverflowError):
                try:                            # a field set to a list, or out of range
                    return handled[spec.name], record_bytes(msg)
                except (TypeError, ValueError, OverflowError) as exc:
                    raise TypeError(f"this {spec.name} cannot be sent: {exc}") from None
        if isinstance(msg, np.void) and msg.dtype.names is not None:
            msg = np.array(msg).reshape(1)       # one record of an array: `data[i]`
        if not isinstance(msg, np.ndarray) or msg.dtype.names is None:
            raise TypeError(f"send takes an @rc.message object or a numpy structured array, "
                            f"not {type(msg).__name__}")
        if type_name is not None:
            names = [getattr(type_name, "__name__", type_name)]
            if names[0] not in handled:
                raise TypeError(f"{kernel.name} has no handler for {names[0]} (it handles "
                                f"{', '.join(handled) or 'nothing'})")
        else:
            names = [m for m in handled if self._layout.message(m).dtype == msg.dtype]
        if len(names) != 1:
            what = "no message" if not names else "several messages (" + ", ".join(
                names) + "); say which with type="
            raise TypeError(f"an array of dtype {msg.dtype} matches {what} that "
                            f"{kernel.name} handles")
        dtype = self._layout.message(names[0]).dtype
        records = msg.reshape(-1)
        if records.dtype != dtype:
            if set(records.dtype.names) != set(dtype.names):
                raise TypeError(f"an array for {names[0]} needs the fields "
                                f"{', '.join(dtype.names)}")
            converted = np.zeros(len(records), dtype)
            for name in dtype.names:
                converted[name] = fitted(records[name], dtype.fields[name][0], len(records),
                                         f"field {name!r} of the array for {names[0]}")
            records = converted
        return handled[names[0]], records

    def decode(self, type_id: int, buffer: bytes, offset: int):
        """The message object in `buffer` at `offset`: by `struct_decoder` where every
        field is a scalar or a 1-d array of them (a reply's latency path), else through
        numpy."""
        decode = self._decoders.get(type_id)
        if decode is None:
            msg = self._layout.message_by_id(type_id)
            decode = self._decoders[type_id] = struct_decoder(
                self._classes.get(msg.name), msg.dtype) or (
                lambda buf, at, t=type_id, d=msg.dtype: self.message(
                    t, np.frombuffer(buf, d, count=1, offset=at)[0]))
        return decode(buffer, offset)

    def message(self, type_id: int, record: np.void):
        """The message object of a numpy record (a copy of the record where the host has no
        class for the message)."""
        cls = self._classes.get(self._layout.message_by_id(type_id).name)
        return cls.from_record(record) if cls is not None else record.copy()

    def message_class(self, type_id: int) -> type | str:
        """The message's class, or its name where the host has none."""
        name = self._layout.message_by_id(type_id).name
        return self._classes.get(name, name)

    def type_id(self, message) -> int:
        """The type id of a message named by its class or its name; TypeError for one the
        program does not have."""
        name = getattr(message, "__name__", message)
        for m in self._layout.messages:
            if m.name == name:
                return m.type_id
        raise TypeError(f"{name!r} is not a message of this program (messages: "
                        f"{', '.join(m.name for m in self._layout.messages)})")


def fitted(values, field: np.dtype, count: int | None, what: str) -> np.ndarray:
    """`values` converted to a record field of dtype `field` (`count` records of it, or one
    value when None) by the rules of message construction: the shape must match,
    conversions follow numpy's `same_kind` casting (no float into an integer field), and
    integers must fit the field. TypeError or ValueError naming `what` otherwise."""
    values = np.asarray(values)
    base, shape = field.base, field.shape
    want = shape if count is None else (count, *shape)
    if values.shape != want:
        raise TypeError(f"{what} has shape {values.shape}, not {want}")
    if base.names is not None or values.dtype.names is not None:
        if values.dtype != base:
            raise TypeError(f"{what} is {values.dtype}, not {base}")
        return values
    if not np.can_cast(values.dtype, base, "same_kind"):
        raise TypeError(f"{what} is {values.dtype}, which {base} cannot hold without a "
                        f"cast (write it with .astype({base.name!r}) to convert)")
    if base.kind in "iu" and values.dtype.kind in "iub" and values.size:
        info = np.iinfo(base)
        low, high = values.min(), values.max()
        if low < info.min or high > info.max:
            raise ValueError(f"{what} holds {low if low < info.min else high}, outside "
                             f"{base.name}'s range {info.min}..{info.max}")
    return values.astype(base)
