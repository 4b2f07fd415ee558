"""Routes read from the `google.api.http` rules of the service descriptors.

One `Route` per rule and per `additional_bindings` entry: nothing here is written
per method. `routes()` checks every rule at start-up (the template parses, each
variable names a singular scalar field of the request, the body names a field)
and raises `InvalidRule` naming the method otherwise, so a bad annotation stops
the server instead of answering 500 later.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import (
    Descriptor,
    FieldDescriptor,
    MethodDescriptor,
    ServiceDescriptor,
)
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from krake_api.gateway.templates import Template, TemplateError


class InvalidRule(ValueError):
    """An http rule the gateway cannot serve."""


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP binding of one RPC."""

    verb: str  # "GET"
    template: Template
    body: str  # "" (no body), "*" (the whole request) or a field path of the request
    response_body: str  # "" (the whole response) or a field path of the response
    method: MethodDescriptor

    @property
    def rpc(self) -> str:
        """The gRPC path: "/krake.kubernetes.v1.KubernetesService/GetApplication"."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def request_class(self) -> type[Message]:
        return GetMessageClass(self.method.input_type)

    @property
    def bound(self) -> frozenset[str]:
        """Field paths of the request the URL path sets."""
        return frozenset(v.field_path for v in self.template.variables)


def field_chain(descriptor: Descriptor, path: str) -> list[FieldDescriptor]:
    """The fields along a dotted path of proto (or JSON) names; KeyError if one is missing."""
    chain: list[FieldDescriptor] = []
    for name in path.split("."):
        field = fields_by_any_name(descriptor).get(name)
        if field is None:
            raise KeyError(name)
        chain.append(field)
        if field.message_type is not None:
            descriptor = field.message_type
    return chain


@functools.cache
def fields_by_any_name(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """A message's fields by proto name and by JSON name (both spellings are accepted)."""
    found = {f.json_name: f for f in descriptor.fields}
    found.update(descriptor.fields_by_name)
    return found


def is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def map_value(field: FieldDescriptor) -> FieldDescriptor:
    """The value field of a map field's entry."""
    assert field.message_type is not None
    return field.message_type.fields_by_name["value"]


def overlaps(path: str, other: str) -> bool:
    """Whether two field paths share fields: equal, or one inside the other."""
    return path == other or path.startswith(other + ".") or other.startswith(path + ".")


def is_repeated(field: FieldDescriptor) -> bool:
    return field.is_repeated


def _bindings(rule: http_pb2.HttpRule) -> Iterator[http_pb2.HttpRule]:
    yield rule
    yield from rule.additional_bindings  # nested additional_bindings are ignored, per spec


def _route(method: MethodDescriptor, rule: http_pb2.HttpRule) -> Route:
    pattern = rule.WhichOneof("pattern")
    if pattern is None:
        raise InvalidRule(f"{method.full_name}: http rule without a pattern")
    if pattern == "custom":
        verb, source = rule.custom.kind.upper(), rule.custom.path
    else:
        verb, source = pattern.upper(), getattr(rule, pattern)
    try:
        template = Template.parse(source)
    except TemplateError as err:
        raise InvalidRule(f"{method.full_name}: {err}") from None
    route = Route(verb, template, rule.body, rule.response_body, method)
    _check(route)
    return route


def _check(route: Route) -> None:
    where = f"{route.method.full_name} ({route.verb} {route.template.source})"
    for path in route.bound:
        chain = _chain_or_fail(route.method.input_type, path, where)
        if any(is_repeated(f) for f in chain) or chain[-1].message_type is not None:
            raise InvalidRule(f"{where}: {path!r} is not a singular scalar field")
    if route.body not in ("", "*"):
        _chain_or_fail(route.method.input_type, route.body, where)
    if route.response_body:
        _chain_or_fail(route.method.output_type, route.response_body, where)


def _chain_or_fail(descriptor: Descriptor, path: str, where: str) -> list[FieldDescriptor]:
    try:
        return field_chain(descriptor, path)
    except KeyError as err:
        raise InvalidRule(f"{where}: {descriptor.full_name} has no field {err}") from None


def routes(services: Iterable[ServiceDescriptor]) -> list[Route]:
    """Every HTTP binding of every RPC, in declaration order."""
    found: list[Route] = []
    for service in services:
        for method in service.methods:
            options = method.GetOptions()
            if options.HasExtension(annotations_pb2.http):
                rule = options.Extensions[annotations_pb2.http]
                found.extend(_route(method, binding) for binding in _bindings(rule))
    return found
