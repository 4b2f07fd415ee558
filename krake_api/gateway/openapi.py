"""The OpenAPI 3.1 document of the gateway, generated from the same routes it serves.

Every route is an operation: path parameters from the template's variables,
query parameters for every scalar field the path and body leave (dotted for
nested fields, `explode`d arrays for repeated ones), the request body for
`body` rules, the response message, and the error responses of the status table.
A GET that is both a unary and a streaming route (List and Watch) is one
operation with a `watch` parameter and an `application/x-ndjson` response.

Path parameters are named by the last part of the field they set (`{name}` sets
`application.metadata.name` in `PUT /…/applications/{name}`, as its description
says). OpenAPI forbids two templated paths that differ only in their variable
names, so templates of the same shape share the names of the first one declared.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final

from google.protobuf.descriptor import Descriptor

from krake_api.gateway import shapes, watch
from krake_api.gateway.rules import Route, field_chain, is_map, is_repeated, overlaps
from krake_api.gateway.schemas import ANY, Schema, Schemas, ref
from krake_api.gateway.statuses import HTTP_STATUS
from krake_api.gateway.templates import Template

ERROR: Final = "Error"
ERROR_SCHEMA: Final[Schema] = {
    "type": "object",
    "description": "A google.rpc.Status: `code` is the gRPC status code.",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": ANY},
    },
}
ERROR_RESPONSES: Final = ("4XX", "5XX")
"""Every operation's error responses: status ranges, the table is in their description
(a status per operation would make the document, and its validation, twice as big)."""
MAX_DEPTH: Final = 4
"""How deep nested messages are unfolded into dotted query parameters."""


def document(routes: Sequence[Route], *, title: str, version: str) -> dict[str, Any]:
    schemas = Schemas()
    schemas.components[ERROR] = ERROR_SCHEMA
    names: dict[str, list[str]] = {}
    grouped: dict[tuple[str, str], list[Route]] = {}
    for route in routes:
        grouped.setdefault((route.template.shape, route.verb), []).append(route)
    paths: dict[str, dict[str, Any]] = {}
    operation_ids: dict[str, int] = {}
    for (shape, verb), group in grouped.items():
        template = group[0].template
        shared = names.setdefault(shape, _parameter_names(template))
        operation = _operation(group, shared, schemas)
        name = operation["operationId"]
        operation_ids[name] = count = operation_ids.get(name, 0) + 1
        if count > 1:  # an additional binding of the same RPC
            operation["operationId"] = f"{name}_{count}"
        paths.setdefault(template.openapi_path(shared), {})[verb.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "responses": {ERROR: _error_response()},
        },
    }


def _parameter_names(template: Template) -> list[str]:
    """The last name of each variable's field path (`application.metadata.name` ->
    `name`), unless two variables would then share one."""
    short = [v.field_path.rsplit(".", 1)[-1] for v in template.variables]
    if len(set(short)) == len(short):
        return short
    return [v.field_path for v in template.variables]


def _error_response() -> dict[str, Any]:
    table = ", ".join(
        f"{status} {code.name}" for code, status in HTTP_STATUS.items() if status != 200
    )
    description = (
        "The call failed. The HTTP status comes from the gRPC code in the body: "
        f"{table}; also 404 for an unknown path, 405 for a method the path does not "
        "have, 413 for a body over 1.5 MiB."
    )
    return {"description": description, "content": {"application/json": {"schema": ref(ERROR)}}}


def _operation(group: list[Route], names: list[str], schemas: Schemas) -> dict[str, Any]:
    unary = [r for r in group if not r.streaming]
    streams = [r for r in group if r.streaming]
    main = (unary or streams)[0]
    twin = streams[0] if unary and streams else None  # the stream `?watch` selects
    summary = main.method.full_name + (f" (?watch: {twin.method.full_name})" if twin else "")
    operation: dict[str, Any] = {
        "operationId": main.method.name,
        "tags": [main.method.containing_service.name],
        "summary": summary,
        "parameters": _path_parameters(main.template, names, main, schemas),
        "responses": {"200": _success(main, twin, schemas)},
    }
    query: dict[str, dict[str, Any]] = {}
    for route in (main, twin) if twin else (main,):
        query.update({p["name"]: p for p in _query_parameters(route, schemas)})
    if twin:
        query["watch"] = watch_parameter()
    operation["parameters"] += list(query.values())
    if main.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _body(main, schemas)}},
        }
    for status in ERROR_RESPONSES:
        operation["responses"][status] = {"$ref": "#/components/responses/" + ERROR}
    return operation


def watch_parameter() -> dict[str, Any]:
    return {
        "name": "watch",
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "description": "Present (with any value or none): stream changes as NDJSON.",
        "schema": {"type": "string"},
    }


def _path_parameters(
    template: Template, names: list[str], route: Route, schemas: Schemas
) -> list[dict[str, Any]]:
    found = []
    for variable, name in zip(template.variables, names, strict=True):
        field = field_chain(route.method.input_type, variable.field_path)[-1]
        found.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": f"Sets `{variable.field_path}`.",
                "schema": schemas.field(field),
            }
        )
    return found


def _query_parameters(route: Route, schemas: Schemas) -> list[dict[str, Any]]:
    if route.body == "*":
        return []
    taken = [*route.bound, *([route.body] if route.body else [])]
    return [
        {"name": path, "in": "query", "required": False, "schema": schema}
        for path, schema in _leaves(route.method.input_type, "", taken, schemas, 0)
    ]


def _leaves(
    descriptor: Descriptor, prefix: str, taken: list[str], schemas: Schemas, depth: int
) -> Iterator[tuple[str, Schema]]:
    """The fields a query parameter may set: scalar leaves the path and body leave."""
    for field in descriptor.fields:
        path = prefix + field.name
        message = field.message_type
        if is_map(field) or (message is not None and is_repeated(field)):
            continue
        if message is None or message.full_name in shapes.SPECIAL_JSON:
            if not any(overlaps(path, t) for t in taken):
                yield path, schemas.field(field)
        elif depth < MAX_DEPTH and not any(path == t or path.startswith(t + ".") for t in taken):
            yield from _leaves(message, path + ".", taken, schemas, depth + 1)


def _body(route: Route, schemas: Schemas) -> Schema:
    if route.body == "*":
        return schemas.message(route.method.input_type)
    return schemas.field(field_chain(route.method.input_type, route.body)[-1])


def _success(route: Route, twin: Route | None, schemas: Schemas) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if not route.streaming:
        content["application/json"] = {"schema": _response_schema(route, schemas)}
    stream = route if route.streaming else twin
    if stream is not None:
        error_line = {
            "type": "object",
            "required": ["type", "object"],
            "properties": {"type": {"const": "ERROR"}, "object": ref(ERROR)},
        }
        line = {"anyOf": [_response_schema(stream, schemas), error_line]}
        content[watch.CONTENT_TYPE] = {"schema": line}
    return {
        "description": "The response; a stream has one JSON document per line.",
        "content": content,
    }


def _response_schema(route: Route, schemas: Schemas) -> Schema:
    if route.response_body:
        return schemas.field(field_chain(route.method.output_type, route.response_body)[-1])
    return schemas.message(route.method.output_type)
