"""Plain data from protobuf messages, with whole numbers restored (DESIGN.md §2).

`google.protobuf.Struct` keeps every number as a double, so `replicas: 1` comes back
as `1.0`, which a Kubernetes API server refuses for integer fields. Everything that
turns a message or a Struct back into JSON-like data (the gateway, krakectl, the
controllers applying manifests) goes through `whole_numbers`.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

SAFE_INTEGER: Final = 2**53
"""Doubles at or above this are not all whole numbers' exact images; they stay floats."""


def whole_numbers(value: Any) -> Any:
    """`value` with every float that is a whole number (below 2**53) made an int."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < SAFE_INTEGER else value
    if kind is dict:
        return {key: whole_numbers(item) for key, item in value.items()}
    if kind is list:
        return [whole_numbers(item) for item in value]
    return value


def to_data(message: Message) -> Any:
    """The message as JSON-ready data: proto field names, whole numbers as ints."""
    return whole_numbers(json_format.MessageToDict(message, preserving_proto_field_name=True))


def to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct (a manifest, an observer schema, a kubeconfig) as a plain dict."""
    data: dict[str, Any] = whole_numbers(json_format.MessageToDict(struct))
    return data


def to_struct(data: dict[str, Any]) -> struct_pb2.Struct:
    """A plain dict as a Struct (numbers become doubles; `to_dict` undoes that)."""
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct
