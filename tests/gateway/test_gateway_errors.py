"""Errors over HTTP: the gRPC code -> HTTP status table, the error body, and the
gateway's own refusals (404, 405, 413, bad JSON, unknown fields)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from gateway_echo import RecordingBackend
from gateway_support import SQLITE_ONLY
from google.protobuf import json_format
from google.rpc import status_pb2

from krake_api import errors, registry
from krake_api.gateway import MAX_BODY
from krake_api.gateway.backend import status_of
from krake_testing.examples import example

# DESIGN.md §6, written out again as the test's oracle
EXPECTED = {
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "FAILED_PRECONDITION": 412,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "OUT_OF_RANGE": 410,
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "DATA_LOSS": 500,
    "DEADLINE_EXCEEDED": 504,
    "CANCELLED": 499,
}


@pytest.mark.parametrize(("code", "status"), EXPECTED.items())
async def test_every_grpc_code_has_its_http_status_and_body(
    http: aiohttp.ClientSession, echo: str, code: str, status: int
) -> None:
    async with http.get(f"{echo}/v1/fail/{code}") as response:
        assert response.status == status
        assert response.content_type == "application/json"
        body = await response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == grpc.StatusCode[code].value[0]
    assert body["message"] == f"failed with {code}"
    if code == "INVALID_ARGUMENT":
        assert body["details"] == [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "field_violations": [{"field": "name", "description": "bad"}],
            }
        ]


@pytest.fixture
async def app_url(http: aiohttp.ClientSession, gateway: str, unique: str) -> AsyncIterator[str]:
    """The URL of a new Application `unique` in namespace `unique`."""
    obj: Any = example(registry.KINDS["Application"], name=unique, namespace=unique)
    obj.metadata.finalizers.append("test/hold")
    base = f"{gateway}/kubernetes/namespaces/{unique}/applications"
    async with http.post(base, json=json_format.MessageToDict(obj)) as response:
        assert response.status == 200, await response.text()
    yield f"{base}/{unique}"


@SQLITE_ONLY
async def test_server_errors_map_through_the_table(
    http: aiohttp.ClientSession, app_url: str, unique: str
) -> None:
    base = app_url.rsplit("/", 1)[0]
    again = example(registry.KINDS["Application"], name=unique, namespace=unique)
    async with http.post(base, json=json_format.MessageToDict(again)) as response:
        assert (response.status, (await response.json())["code"]) == (409, 6)  # ALREADY_EXISTS
    async with http.get(f"{base}/missing") as response:
        assert (response.status, (await response.json())["code"]) == (404, 5)
    async with http.delete(f"{app_url}?resource_version=1") as response:
        assert (response.status, (await response.json())["code"]) == (409, 10)  # ABORTED
    async with http.delete(f"{app_url}?propagation=FOREGROUND") as response:
        assert response.status == 200, await response.text()
        deleted = await response.json()
    assert deleted["metadata"]["deleted"]  # kept: it has finalizers
    assert "foregroundDeletion" in deleted["metadata"]["finalizers"]  # the enum by name
    deleted["metadata"]["labels"] = {"changed": "yes"}
    async with http.put(app_url, json=deleted) as response:
        assert (response.status, (await response.json())["code"]) == (412, 9)  # FAILED_PRECONDITION
    async with http.get(f"{base}?page_token=bm9wZQ") as response:
        assert response.status == 400


@SQLITE_ONLY
async def test_invalid_objects_name_the_field(
    http: aiohttp.ClientSession, gateway: str, unique: str
) -> None:
    base = f"{gateway}/kubernetes/namespaces/{unique}/applications"
    async with http.post(base, json={"metadata": {"name": "Bad_Name"}}) as response:
        assert response.status == 400
        body = await response.json()
    (detail,) = body["details"]
    assert "metadata.name" in [v["field"] for v in detail["field_violations"]]
    async with http.post(base, json={"metadata": {"name": "x", "lables": {}}}) as response:
        assert response.status == 400
        body = await response.json()
    (violation,) = body["details"][0]["field_violations"]
    assert violation["field"] == "metadata.lables" and "unknown field" in violation["description"]
    headers = {"Content-Type": "application/json"}
    async with http.post(base, data=b"{not json", headers=headers) as response:
        assert response.status == 400
        assert "invalid JSON" in (await response.json())["message"]


@SQLITE_ONLY
async def test_the_path_and_the_body_must_agree(
    http: aiohttp.ClientSession, app_url: str, unique: str
) -> None:
    other = app_url.rsplit("/", 1)[0] + "/other"
    async with http.put(other, json={"metadata": {"name": unique}}) as response:
        assert response.status == 400
        (violation,) = (await response.json())["details"][0]["field_violations"]
    assert violation["field"] == "metadata.name"


async def test_unknown_paths_are_404_and_wrong_methods_405(
    http: aiohttp.ClientSession, offline: str, recorder: RecordingBackend
) -> None:
    gateway = offline
    paths = ("/nope", "/kubernetes/namespaces/a/nopes", "/kubernetes/applications/x/y/z", "/a%0A")
    for path in paths:
        async with http.get(gateway + path) as response:
            assert response.status == 404, path
            assert (await response.json())["code"] == 5
    async with http.patch(f"{gateway}/kubernetes/namespaces/a/applications/b") as response:
        assert response.status == 405
        assert set(response.headers["Allow"].split(", ")) == {"GET", "PUT", "DELETE"}
        assert (await response.json())["code"] == 12
    async with http.post(f"{gateway}/kubernetes/applications", json={}) as response:
        assert (response.status, response.headers["Allow"]) == (405, "GET")
    assert recorder.calls == []
    async with http.get(f"{gateway}/kubernetes/namespaces/a%0Ab/applications/c") as response:
        assert response.content_type == "application/json"  # transcoded (then UNAVAILABLE)
    assert recorder.calls == ["/krake.kubernetes.v1.KubernetesService/GetApplication"]


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start : start + 64 * 1024]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_bodies_over_the_limit_are_413_before_parsing(
    http: aiohttp.ClientSession, offline: str, recorder: RecordingBackend, chunked: bool
) -> None:
    base = f"{offline}/kubernetes/namespaces/n/applications"
    # not even JSON: refused for its size, so it was never parsed
    data = b"{" + b" " * MAX_BODY + b"}"
    async with http.post(base, data=_chunks(data) if chunked else data) as response:
        assert response.status == 413
        body = await response.json()
    assert body["code"] == 3 and "1.5 MiB" in body["message"]
    assert recorder.calls == []
    async with http.post(base, data=b"{}") as response:  # a small one is passed on
        assert response.status == 503
    assert recorder.calls == ["/krake.kubernetes.v1.KubernetesService/CreateApplication"]


@SQLITE_ONLY
async def test_bodies_under_the_limit_reach_the_server(
    http: aiohttp.ClientSession, gateway: str, unique: str
) -> None:
    """1.4 MiB: more than aiohttp's default client_max_size, under Krake's limit."""
    obj: Any = example(registry.KINDS["Application"], name=unique, namespace=unique)
    obj.metadata.annotations["big"] = "x" * (MAX_BODY - 100 * 1024)
    base = f"{gateway}/kubernetes/namespaces/{unique}/applications"
    async with http.post(base, json=json_format.MessageToDict(obj)) as response:
        assert response.status == 400  # the server's 256 KiB annotation limit, not 413
        body = await response.json()
    assert body["details"][0]["field_violations"][0]["field"] == "metadata.annotations"


@SQLITE_ONLY
async def test_many_violations_still_make_a_400(
    http: aiohttp.ClientSession, gateway: str, unique: str
) -> None:
    """Found by schemathesis: their status outgrew gRPC's metadata limit (the loopback
    call failed RESOURCE_EXHAUSTED and the gateway said 500). The server now keeps the
    first violations and counts the rest."""
    obj: Any = example(registry.KINDS["Application"], name=unique, namespace=unique)
    for index in range(300):
        obj.metadata.labels[f"not a label key {index:03} " + "x" * 40] = "v"
    base = f"{gateway}/kubernetes/namespaces/{unique}/applications"
    async with http.post(base, json=json_format.MessageToDict(obj)) as response:
        assert response.status == 400
        body = await response.json()
    violations = body["details"][0]["field_violations"]
    assert len(violations) == errors.InvalidArgument.MAX_VIOLATIONS + 1
    assert (
        violations[-1]["description"]
        == f"and {300 - len(violations) + 1} more violations not listed"
    )


def test_trailers_that_contradict_the_code_do_not_make_a_500() -> None:
    detail = status_pb2.Status(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message="bad")
    trailers = grpc.aio.Metadata(("grpc-status-details-bin", detail.SerializeToString()))
    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    err = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailers, details="too big")
    assert status_of(err) == status_pb2.Status(code=code.value[0], message="too big")
