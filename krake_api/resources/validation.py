"""Validation of resource objects: every violation, with its path from the resource root.

`validate` checks the metadata every kind shares, then the spec through
`validation_kinds.CHECKS`, a table keyed by message full name. Global kinds
share their namespaced twin's spec message, so they share its checks too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from google.protobuf.message import Message

from krake.core.v1 import metadata_pb2
from krake_api import errors
from krake_api.resources import names, validation_kinds
from krake_api.storage import base

MAX_ANNOTATIONS_SIZE: Final = 256 * 1024
"""Largest total size of a resource's annotation keys and values, in bytes."""

REQUEST_FIELD: Final = "<request>"


def validate(obj: Message, *, namespaced: bool) -> list[errors.FieldViolation]:
    """Every violation in `obj`: its metadata, then its spec (empty list: valid)."""
    resource: Any = obj
    violations = list(check_metadata(resource.metadata, namespaced=namespaced))
    violations.extend(validation_kinds.check(resource.spec, "spec"))
    return violations


def check_size(data: bytes | int) -> None:
    """Refuse a request of more than `storage.base.MAX_VALUE_SIZE` bytes (1.5 MiB)."""
    size = data if isinstance(data, int) else len(data)
    if size > base.MAX_VALUE_SIZE:
        problem = f"request is {size} bytes, over the 1.5 MiB limit"
        raise errors.InvalidArgument([errors.FieldViolation(REQUEST_FIELD, problem)])


def check_metadata(
    metadata: metadata_pb2.Metadata, *, namespaced: bool
) -> Iterator[errors.FieldViolation]:
    yield from validation_kinds.problem("metadata.name", names.dns_subdomain(metadata.name))
    yield from _check_namespace(metadata.namespace, namespaced=namespaced)
    yield from _check_labels(metadata)
    yield from _check_annotations(metadata)
    for i, finalizer in enumerate(metadata.finalizers):
        path = f"metadata.finalizers[{i}]"
        yield from validation_kinds.problem(path, names.qualified_name(finalizer))
    for i, owner in enumerate(metadata.owners):
        yield from _check_owner(owner, f"metadata.owners[{i}]")


def _check_namespace(namespace: str, *, namespaced: bool) -> Iterator[errors.FieldViolation]:
    if namespaced:
        yield from validation_kinds.problem("metadata.namespace", names.dns_label(namespace))
    elif namespace:
        problem = f"must be empty for a global kind, is {namespace!r}"
        yield errors.FieldViolation("metadata.namespace", problem)


def _check_labels(metadata: metadata_pb2.Metadata) -> Iterator[errors.FieldViolation]:
    for key, value in sorted(metadata.labels.items()):
        path = f"metadata.labels[{_quote(key)}]"
        yield from validation_kinds.problem(path, _key_problem(key))
        yield from validation_kinds.problem(path, names.label_value(value))


def _check_annotations(metadata: metadata_pb2.Metadata) -> Iterator[errors.FieldViolation]:
    size = 0
    for key, value in sorted(metadata.annotations.items()):
        size += len(key.encode()) + len(value.encode())
        path = f"metadata.annotations[{_quote(key)}]"
        yield from validation_kinds.problem(path, _key_problem(key))
    if size > MAX_ANNOTATIONS_SIZE:
        problem = f"total size is {size} bytes, over the {MAX_ANNOTATIONS_SIZE} limit"
        yield errors.FieldViolation("metadata.annotations", problem)


def _key_problem(key: str) -> str | None:
    problem = names.qualified_name(key)
    return f"key: {problem}" if problem else None


def _check_owner(owner: metadata_pb2.ResourceRef, path: str) -> Iterator[errors.FieldViolation]:
    for field in ("api", "kind"):
        if not getattr(owner, field):
            yield errors.FieldViolation(f"{path}.{field}", "must not be empty")
    yield from validation_kinds.problem(f"{path}.name", names.dns_subdomain(owner.name))
    if owner.namespace:
        yield from validation_kinds.problem(f"{path}.namespace", names.dns_label(owner.namespace))


def _quote(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
