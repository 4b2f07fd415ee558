"""JSON Schemas (OpenAPI 3.1 dialect) of protobuf messages, as the gateway writes them.

Messages and enums become components named by their full proto name
(`krake.kubernetes.v1.Application`) and are referenced with `$ref`; properties
use the proto field names; unknown properties are not allowed (the gateway
refuses them). Well-known types are inlined in their JSON form: a Timestamp is an
RFC 3339 string, a Struct any object. 64-bit integers are written as strings
and read as strings or numbers, as the proto3 JSON mapping says.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from krake_api.gateway.rules import is_map, is_repeated, map_value

Schema = dict[str, Any]
PREFIX: Final = "#/components/schemas/"
_INT64: Final[Schema] = {"type": ["string", "integer"], "pattern": "^-?[0-9]+$"}
_UINT64: Final[Schema] = {"type": ["string", "integer"], "pattern": "^[0-9]+$", "minimum": 0}
_SCALARS: Final[dict[int, Schema]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_UINT32: {"type": "integer", "minimum": 0},
    FieldDescriptor.TYPE_FIXED32: {"type": "integer", "minimum": 0},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}
_WRAPPERS: Final = {
    "DoubleValue": FieldDescriptor.TYPE_DOUBLE,
    "FloatValue": FieldDescriptor.TYPE_FLOAT,
    "Int64Value": FieldDescriptor.TYPE_INT64,
    "UInt64Value": FieldDescriptor.TYPE_UINT64,
    "Int32Value": FieldDescriptor.TYPE_INT32,
    "UInt32Value": FieldDescriptor.TYPE_UINT32,
    "BoolValue": FieldDescriptor.TYPE_BOOL,
    "StringValue": FieldDescriptor.TYPE_STRING,
    "BytesValue": FieldDescriptor.TYPE_BYTES,
}
ANY: Final[Schema] = {
    "type": "object",
    "properties": {"@type": {"type": "string"}},
    "required": ["@type"],
}
_WELL_KNOWN: Final[dict[str, Schema]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Any": ANY,
    **{f"google.protobuf.{name}": _SCALARS[kind] for name, kind in _WRAPPERS.items()},
}


def ref(name: str) -> Schema:
    return {"$ref": PREFIX + name}


class Schemas:
    """The component schemas collected while describing messages."""

    def __init__(self) -> None:
        self.components: dict[str, Schema] = {}

    def message(self, descriptor: Descriptor) -> Schema:
        """The schema of a message: a `$ref`, or inline for a well-known type."""
        if descriptor.full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[descriptor.full_name])
        if descriptor.full_name not in self.components:
            self.components[descriptor.full_name] = {}  # placeholder: recursion ends here
            properties = {field.name: self.field(field) for field in descriptor.fields}
            self.components[descriptor.full_name] = {
                "type": "object",
                "properties": properties,
                "additionalProperties": False,
            }
        return ref(descriptor.full_name)

    def enum(self, descriptor: EnumDescriptor) -> Schema:
        if descriptor.full_name not in self.components:
            names = [value.name for value in descriptor.values]
            self.components[descriptor.full_name] = {"type": "string", "enum": names}
        return ref(descriptor.full_name)

    def field(self, field: FieldDescriptor) -> Schema:
        """The schema of a field's JSON value, repeated and map fields included."""
        if is_map(field):
            value = map_value(field)
            return {"type": "object", "additionalProperties": self.single(value)}
        if is_repeated(field):
            return {"type": "array", "items": self.single(field)}
        return self.single(field)

    def single(self, field: FieldDescriptor) -> Schema:
        """The schema of one value of the field (an item, if it is repeated)."""
        if field.message_type is not None:
            return self.message(field.message_type)
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        return dict(_SCALARS[field.type])
