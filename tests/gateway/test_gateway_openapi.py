"""`/openapi.json`: a valid OpenAPI 3.1 document of every path the gateway serves,
whose schemas the gateway's real responses satisfy."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import jsonschema
import pytest
import referencing
import referencing.jsonschema
from aiohttp import web
from gateway_echo import EchoBackend
from gateway_support import SQLITE_ONLY, Serve
from google.protobuf import json_format
from openapi_spec_validator import validate

from krake_api import registry
from krake_api.gateway import add_routes
from krake_testing.examples import example

KINDS = sorted(registry.KINDS.values(), key=lambda k: k.name)
WITH_STATUS = {b.kind.name for b in registry.bind().values() if b.verb == "update_status"}


async def fetch(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(f"{base}/openapi.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        return await response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def document(http: aiohttp.ClientSession, serve: Serve) -> dict[str, Any]:
    """The document of Krake's services (the backend is never called for it)."""
    app = web.Application()
    add_routes(app, EchoBackend())
    return await fetch(http, await serve(app))


def test_the_document_validates(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_path_and_method_of_every_kind(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for kind in KINDS:
        where = "namespaces/{namespace}/" if kind.namespaced else ""
        collection = f"/{kind.group}/{where}{kind.resource}"
        assert set(paths[collection]) == {"get", "post"}, collection
        assert set(paths[collection + "/{name}"]) == {"get", "put", "delete"}
        if kind.name in WITH_STATUS:
            assert set(paths[collection + "/{name}/status"]) == {"put"}
        if kind.namespaced:  # the additional binding: every namespace
            assert set(paths[f"/{kind.group}/{kind.resource}"]) == {"get"}
        listing = paths[collection]["get"]
        assert "watch" in [p["name"] for p in listing["parameters"]]
        assert set(listing["responses"]["200"]["content"]) == {
            "application/json",
            "application/x-ndjson",
        }
        update = paths[collection + "/{name}"]["put"]
        path_parameters = [p for p in update["parameters"] if p["in"] == "path"]
        assert {p["name"] for p in path_parameters} == (
            {"namespace", "name"} if kind.namespaced else {"name"}
        )
        assert update["requestBody"]["required"] is True


def test_parameters_enums_and_errors(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    delete = document["paths"]["/kubernetes/namespaces/{namespace}/applications/{name}"]["delete"]
    parameters = {p["name"]: p for p in delete["parameters"]}
    assert parameters["propagation"]["in"] == "query"
    assert parameters["propagation"]["schema"] == {
        "$ref": "#/components/schemas/krake.core.v1.Propagation"
    }
    assert "FOREGROUND" in schemas["krake.core.v1.Propagation"]["enum"]
    for status in ("4XX", "5XX"):
        assert delete["responses"][status] == {"$ref": "#/components/responses/Error"}
    errors = document["components"]["responses"]["Error"]["description"]
    for mapping in ("404 NOT_FOUND", "409 ABORTED", "410 OUT_OF_RANGE", "412 FAILED_PRECONDITION"):
        assert mapping in errors
    assert schemas["Error"]["required"] == ["code", "message", "details"]
    metadata = schemas["krake.core.v1.Metadata"]["properties"]
    assert metadata["created"] == {"type": "string", "format": "date-time"}
    assert metadata["labels"]["additionalProperties"] == {"type": "string"}


class Checker:
    """Validates instances against schemas whose `$ref`s point into the document."""

    URI = "urn:krake:openapi"

    def __init__(self, document: dict[str, Any]) -> None:
        resource = referencing.Resource(document, referencing.jsonschema.DRAFT202012)
        self.registry = referencing.Registry().with_resource(self.URI, resource).crawl()

    def validate(self, schema: dict[str, Any], instance: Any) -> None:
        wrapped = {"$id": "urn:krake:instance", "allOf": [_absolute(schema, self.URI)]}
        jsonschema.Draft202012Validator(wrapped, registry=self.registry).validate(instance)


def _absolute(schema: Any, uri: str) -> Any:
    """`schema` with its document-local `$ref`s ("#/...") made absolute."""
    if isinstance(schema, dict):
        return {
            k: (uri + v if k == "$ref" and v.startswith("#") else _absolute(v, uri))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute(item, uri) for item in schema]
    return schema


@SQLITE_ONLY
async def test_real_responses_satisfy_the_schemas(
    http: aiohttp.ClientSession, gateway: str, unique: str
) -> None:
    document = await fetch(http, gateway)
    listing = document["paths"]["/kubernetes/namespaces/{namespace}/applications"]
    created_schema = listing["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    content = listing["get"]["responses"]["200"]["content"]
    base = f"{gateway}/kubernetes/namespaces/{unique}/applications"
    obj: Any = example(registry.KINDS["Application"], name=unique, namespace=unique)
    obj.metadata.labels["app"] = "web"
    checker = Checker(document)
    async with http.post(base, json=json_format.MessageToDict(obj)) as response:
        checker.validate(created_schema, await response.json())
    async with http.get(base) as response:
        checker.validate(content["application/json"]["schema"], await response.json())
    async with http.get(f"{base}?watch") as response:
        event = json.loads(await response.content.readline())
    checker.validate(content["application/x-ndjson"]["schema"], event)
    async with http.get(f"{base}/missing") as response:
        checker.validate({"$ref": "#/components/schemas/Error"}, await response.json())
    with pytest.raises(jsonschema.ValidationError):  # the schemas do refuse things
        checker.validate(created_schema, {"metadata": {"lables": {}}})
