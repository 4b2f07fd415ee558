"""The JSON shape every field of a message accepts, checked before conversion.

`check(data, descriptor)` lists, with its path in the document
(`metadata.lables`, `spec.manifest[0]`, `inner.labels[k]`), every field the
message does not have (an unknown field is an error, never silently dropped) and
every value of the wrong JSON type: an object for a message or map, an array for
a repeated field, a string, number, boolean or enum name for a scalar. The
protobuf parser would refuse most of these too, but with Python's words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from krake_api.errors import FieldViolation
from krake_api.gateway.rules import fields_by_any_name, is_map, is_repeated, map_value

SPECIAL_JSON: Final = frozenset(
    f"google.protobuf.{name}"
    for name in (
        *("Any", "Timestamp", "Duration", "FieldMask", "Struct", "Value", "ListValue"),
        *("DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value"),
        *("UInt32Value", "BoolValue", "StringValue", "BytesValue"),
    )
)
"""Well-known types whose JSON form is not an object of their fields."""

_T = FieldDescriptor
_SCALARS: Final[dict[int, tuple[tuple[type, ...], str]]] = {
    # field type: (accepted JSON types, what the value must be); bool is never a number
    **dict.fromkeys((_T.TYPE_STRING, _T.TYPE_BYTES), ((str,), "a string")),
    _T.TYPE_BOOL: ((bool,), "true or false"),
    **dict.fromkeys(
        (
            *(_T.TYPE_INT32, _T.TYPE_SINT32, _T.TYPE_SFIXED32, _T.TYPE_UINT32, _T.TYPE_FIXED32),
            *(_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64, _T.TYPE_UINT64, _T.TYPE_FIXED64),
        ),
        ((int, float, str), "an integer"),
    ),
    **dict.fromkeys((_T.TYPE_DOUBLE, _T.TYPE_FLOAT), ((int, float, str), "a number")),
}


def check(data: Any, descriptor: Descriptor, prefix: str = "") -> list[FieldViolation]:
    """Every unknown field and every value of the wrong JSON type in `data`, a JSON
    document for a `descriptor` message, with its path."""
    return list(_message(data, descriptor, prefix))


def check_field(value: Any, field: FieldDescriptor, path: str) -> list[FieldViolation]:
    """As `check`, for the JSON value of one field."""
    return list(_field(value, field, path))


def _message(data: Any, descriptor: Descriptor, prefix: str) -> Iterator[FieldViolation]:
    if descriptor.full_name in SPECIAL_JSON:
        return
    if not isinstance(data, dict):
        yield FieldViolation(prefix or "<body>", "must be a JSON object")
        return
    names = fields_by_any_name(descriptor)
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        field = names.get(key)
        if field is None:
            yield FieldViolation(path, f"unknown field: {descriptor.name} has no field {key!r}")
        elif value is not None:
            yield from _field(value, field, path)


def _field(value: Any, field: FieldDescriptor, path: str) -> Iterator[FieldViolation]:
    if is_map(field):
        if not isinstance(value, dict):
            yield FieldViolation(path or "<body>", "must be a JSON object")
            return
        for key, item in value.items():
            yield from _single(item, map_value(field), f"{path}[{key}]")
    elif is_repeated(field):
        if not isinstance(value, list):
            yield FieldViolation(path or "<body>", "must be a JSON array")
            return
        for index, item in enumerate(value):
            yield from _single(item, field, f"{path}[{index}]")
    else:
        yield from _single(value, field, path)


def _single(value: Any, field: FieldDescriptor, path: str) -> Iterator[FieldViolation]:
    if field.message_type is not None:
        yield from _message(value, field.message_type, path)
        return
    problem = _enum(value, field) if field.enum_type is not None else _scalar(value, field)
    if problem:
        yield FieldViolation(path or "<body>", problem)


def _enum(value: Any, field: FieldDescriptor) -> str | None:
    assert field.enum_type is not None
    names = field.enum_type.values_by_name
    if (isinstance(value, str) and value in names) or (
        isinstance(value, int) and not isinstance(value, bool)
    ):
        return None
    return f"must be one of {', '.join(names)}"


def _scalar(value: Any, field: FieldDescriptor) -> str | None:
    accepted, what = _SCALARS[field.type]
    if isinstance(value, accepted) and (field.type == _T.TYPE_BOOL or not isinstance(value, bool)):
        return None
    return f"must be {what}"
