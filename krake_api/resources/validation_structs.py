"""Checks of the Struct-typed fields: Kubernetes objects and kubeconfigs.

A Struct is read field by field (`struct.fields`), never converted as a whole:
only strings and lists are inspected here, so Struct's numbers-as-doubles do
not matter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from google.protobuf import struct_pb2

from krake_api import errors
from krake_api.resources import names

Violations = Iterator[errors.FieldViolation]

KUBECONFIG_SECTIONS: Final = ("contexts", "users", "clusters")


def kubernetes_object(obj: struct_pb2.Struct, path: str) -> Violations:
    """A manifest or observer schema item: apiVersion, kind and metadata.name set."""
    for key in ("apiVersion", "kind"):
        if not string_at(obj, key):
            yield errors.FieldViolation(f"{path}.{key}", "must be a non-empty string")
    if not string_at(obj, "metadata", "name"):
        yield errors.FieldViolation(f"{path}.metadata.name", "must be a non-empty string")


def kubeconfig(config: struct_pb2.Struct, path: str) -> Violations:
    """Exactly one context, user and cluster; the context names both; an http(s) server."""
    entries: dict[str, struct_pb2.Struct] = {}
    for section in KUBECONFIG_SECTIONS:
        items = list_at(config, section)
        if len(items) != 1:
            problem = f"must have exactly one entry, has {len(items)}"
            yield errors.FieldViolation(f"{path}.{section}", problem)
        else:
            entries[section] = struct_of(items[0])
    if len(entries) == len(KUBECONFIG_SECTIONS):
        yield from _kubeconfig_entries(entries, path)


def _kubeconfig_entries(entries: dict[str, struct_pb2.Struct], path: str) -> Violations:
    context = entries["contexts"]
    for section, key in (("clusters", "cluster"), ("users", "user")):
        name = string_at(entries[section], "name")
        if not name:
            yield errors.FieldViolation(f"{path}.{section}[0].name", "must be a non-empty string")
        elif (ref := string_at(context, "context", key)) != name:
            mismatch = f"is {ref!r}, must be {name!r}, the name of the kubeconfig's {key}"
            yield errors.FieldViolation(f"{path}.contexts[0].context.{key}", mismatch)
    server = string_at(entries["clusters"], "cluster", "server")
    if problem := names.http_url(server):
        yield errors.FieldViolation(f"{path}.clusters[0].cluster.server", problem)


def value_at(struct: struct_pb2.Struct, *keys: str) -> struct_pb2.Value | None:
    """The value under the nested `keys`, or None where a key or an object is missing."""
    value: struct_pb2.Value | None = None
    for key in keys:
        if value is not None:
            if value.WhichOneof("kind") != "struct_value":
                return None
            struct = value.struct_value
        if key not in struct.fields:
            return None
        value = struct.fields[key]
    return value


def string_at(struct: struct_pb2.Struct, *keys: str) -> str:
    """The string under the nested `keys`; "" if it is missing or not a string."""
    value = value_at(struct, *keys)
    if value is None or value.WhichOneof("kind") != "string_value":
        return ""
    return value.string_value


def list_at(struct: struct_pb2.Struct, key: str) -> Sequence[struct_pb2.Value]:
    """The list under `key`; empty if it is missing or not a list."""
    value = value_at(struct, key)
    if value is None or value.WhichOneof("kind") != "list_value":
        return ()
    return value.list_value.values


def struct_of(value: struct_pb2.Value) -> struct_pb2.Struct:
    """The object in `value`; an empty one if `value` is not an object."""
    return value.struct_value if value.WhichOneof("kind") == "struct_value" else struct_pb2.Struct()
