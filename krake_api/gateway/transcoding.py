"""An HTTP request -> the RPC's request message, by the route's http rule.

The three sources are applied in this order, each to the fields the rule gives it:
1. the body: the whole request (`body: "*"`), one field (`body: "application"`),
   or nothing (a non-empty body is then refused rather than ignored);
2. the query: every parameter is a field path of proto or JSON names
   (`?label_selector=app%3Dweb&page_size=50`, `?inner.tags=a&inner.tags=b`);
   a repeated field takes the parameter repeated; a parameter may not name a
   field the path or body sets, nor a message or map field, and `watch` only
   selects a streaming route;
3. the path variables, which must agree with the body where both set a field
   (`PUT .../applications/a` with `metadata.name: "b"` in the body is refused).
Every problem is INVALID_ARGUMENT with one field violation per bad field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from krake_api.errors import FieldViolation
from krake_api.gateway import json_codec, shapes
from krake_api.gateway.routing import WATCH
from krake_api.gateway.rules import Route, field_chain, is_map, is_repeated, overlaps
from krake_api.gateway.statuses import StatusError


def request(
    route: Route,
    variables: Mapping[str, str],
    query: Iterable[tuple[str, str]],
    body: bytes,
) -> Message:
    message = route.request_class()
    _apply_body(route, message, body)
    _apply_query(route, message, query)
    _apply_path(route, message, variables)
    return message


def _nest(chain: list[FieldDescriptor], value: Any) -> dict[str, Any]:
    """`{"a": {"b": value}}` for the chain of fields a.b, by proto names."""
    for field in reversed(chain[1:]):
        value = {field.name: value}
    return {chain[0].name: value}


def _apply_body(route: Route, message: Message, body: bytes) -> None:
    empty = not body.strip()
    if not route.body:
        if not empty:
            problem = f"{route.verb} {route.template.source} takes no request body"
            raise StatusError.invalid([FieldViolation("<body>", problem)])
        return
    if empty:
        return
    data = json_codec.loads(body)
    if route.body == "*":
        problems = shapes.check(data, route.method.input_type)
        if problems:
            raise StatusError.invalid(problems)
        json_codec.merge(data, message)
        return
    chain = field_chain(route.method.input_type, route.body)
    problems = shapes.check_field(data, chain[-1], "")
    if problems:
        raise StatusError.invalid(problems)
    json_codec.merge(_nest(chain, data), message, strip=route.body + ".")


def _apply_query(route: Route, message: Message, query: Iterable[tuple[str, str]]) -> None:
    values: dict[str, list[str]] = {}
    chains: dict[str, list[FieldDescriptor]] = {}
    problems: list[FieldViolation] = []
    for key, value in query:
        if route.streaming and key == WATCH:
            continue
        try:
            chain = field_chain(route.method.input_type, key)
        except KeyError:
            problems.append(FieldViolation(key, "unknown query parameter"))
            continue
        path = ".".join(f.name for f in chain)
        problem = _query_problem(route, chain, path)
        if problem:
            problems.append(FieldViolation(key, problem))
            continue
        chains[path] = chain
        values.setdefault(path, []).append(value)
    for path, given in values.items():
        leaf = chains[path][-1]
        if not is_repeated(leaf) and len(given) > 1:
            problems.append(FieldViolation(path, "is given more than once"))
    if problems:
        raise StatusError.invalid(problems)
    for path, given in values.items():
        chain = chains[path]
        converted = [_scalar(chain[-1], v) for v in given]
        single = converted if is_repeated(chain[-1]) else converted[0]
        json_codec.merge(_nest(chain, single), message, where=path)


def _query_problem(route: Route, chain: list[FieldDescriptor], path: str) -> str | None:
    if route.body == "*":
        return "this method takes every field from the request body"
    if route.body and overlaps(path, route.body):
        return "is set by the request body"
    if any(overlaps(path, bound) for bound in route.bound):
        return "is set by the URL path"
    if any(is_map(f) for f in chain) or any(is_repeated(f) for f in chain[:-1]):
        return "cannot be set from a query parameter"
    leaf = chain[-1].message_type
    if leaf is not None and leaf.full_name not in shapes.SPECIAL_JSON:
        return "is a message: give its fields (field.subfield=value)"
    return None


def _scalar(field: FieldDescriptor, text: str) -> Any:
    """The JSON value for a query string: proto JSON takes numbers, enums and
    Timestamps as strings already; only booleans need converting."""
    boolean = field.type == FieldDescriptor.TYPE_BOOL or (
        field.message_type is not None
        and field.message_type.full_name == "google.protobuf.BoolValue"
    )
    if boolean:
        return {"true": True, "1": True, "false": False, "0": False}.get(text.lower(), text)
    return text


def _apply_path(route: Route, message: Message, variables: Mapping[str, str]) -> None:
    wanted = route.request_class()
    problems = []
    for path, value in variables.items():
        chain = field_chain(route.method.input_type, path)
        json_codec.merge(_nest(chain, value), wanted, where=path)
        given, sent = _leaf(message, chain), _leaf(wanted, chain)
        if given and given != sent:
            where = path.removeprefix(route.body + ".") if route.body != "*" else path
            problems.append(
                FieldViolation(where, f"is {given!r} in the body but {value!r} in the URL")
            )
    if problems:
        raise StatusError.invalid(problems)
    message.MergeFrom(wanted)


def _leaf(message: Message, chain: list[FieldDescriptor]) -> Any:
    value: Any = message
    for field in chain:
        value = getattr(value, field.name)
    return value
