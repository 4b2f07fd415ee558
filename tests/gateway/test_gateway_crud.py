"""Every verb of every kind over HTTP, as curl would call it, on both backends.

URLs are written from the layout of DESIGN.md §3 (not from the gateway's rules):
`/{group}/namespaces/{namespace}/{plural}[/{name}[/status]]`, a global kind without
`namespaces/{namespace}/`.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest
from gateway_support import SQLITE_ONLY
from google.protobuf import json_format

from krake_api import registry
from krake_api.registry import Kind
from krake_testing.examples import changed_spec, example

KINDS = sorted(registry.KINDS.values(), key=lambda k: k.name)
WITH_STATUS = sorted({b.kind.name for b in registry.bind().values() if b.verb == "update_status"})
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def collection(kind: Kind, namespace: str) -> str:
    where = f"namespaces/{namespace}/" if kind.namespaced else ""
    return f"/{kind.group}/{where}{kind.resource}"


def camel(message: Any) -> dict[str, Any]:
    """The message as JSON with lowerCamelCase names: the other accepted spelling."""
    return json_format.MessageToDict(message)


async def check_status_subresource(http: aiohttp.ClientSession, url: str, obj: Any) -> None:
    """PUT .../status replaces the status only; its enum is written by name."""
    state = obj.status.DESCRIPTOR.fields_by_name["state"].enum_type.values[1].name
    body = {"metadata": {"name": obj.metadata.name}, "status": {"state": state}}
    body["status"]["observed_generation"] = 2
    async with http.put(f"{url}/status", json=body) as response:
        assert response.status == 200, await response.text()
        changed = await response.json()
    assert changed["status"] == {"state": state, "observed_generation": "2"}
    assert changed["metadata"]["generation"] == "2"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
async def test_every_verb_of_every_kind(
    http: aiohttp.ClientSession, gateway: str, kind: Kind, unique: str
) -> None:
    obj: Any = example(kind, name=unique, namespace=unique)
    base = gateway + collection(kind, unique)
    async with http.post(base, json=camel(obj)) as response:
        assert response.status == 200, await response.text()
        created = await response.json()
    meta = created["metadata"]
    assert (created["api"], created["kind"], meta["name"]) == (kind.group, kind.name, unique)
    assert meta["generation"] == "1" and meta["uid"] and int(meta["resource_version"]) > 0
    assert RFC3339.match(meta["created"]), meta["created"]
    async with http.get(f"{base}/{unique}") as response:
        assert (response.status, await response.json()) == (200, created)
    async with http.get(f"{base}?field_selector=metadata.name%3D{unique}") as response:
        listing = await response.json()
    assert listing["items"] == [created] and int(listing["resource_version"]) > 0

    obj.spec.CopyFrom(changed_spec(kind))
    obj.metadata.resource_version = meta["resource_version"]
    async with http.put(f"{base}/{unique}", json=json_format.MessageToDict(obj)) as response:
        assert response.status == 200, await response.text()
        updated = await response.json()
    assert updated["metadata"]["generation"] == "2"
    async with http.put(f"{base}/{unique}", json=json_format.MessageToDict(obj)) as response:
        assert response.status == 409  # the same resource_version again: stale (ABORTED)
        assert (await response.json())["code"] == 10
    if kind.name in WITH_STATUS:
        await check_status_subresource(http, f"{base}/{unique}", obj)

    async with http.delete(f"{base}/{unique}") as response:
        assert response.status == 200, await response.text()
    async with http.get(f"{base}/{unique}") as response:
        assert response.status == 404
        assert (await response.json())["code"] == 5


@SQLITE_ONLY
async def test_both_spellings_in_and_snake_case_out(
    http: aiohttp.ClientSession, gateway: str, unique: str
) -> None:
    base = f"{gateway}/kubernetes/namespaces/{unique}/applications"
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    manifest["spec"] = {"replicas": 3, "ratio": 0.5}
    sent = {
        "metadata": {"name": unique, "labels": {"app": "web"}},
        "spec": {"manifest": [manifest], "backoffLimit": 2, "backoff_delay": 5},
    }
    async with http.post(base, json=sent) as response:
        assert response.status == 200, await response.text()
        text = await response.text()
    created = await response.json()
    assert created["spec"]["backoff_limit"] == 2 and created["spec"]["backoff_delay"] == 5
    assert "backoffLimit" not in text and "resourceVersion" not in text
    assert created["spec"]["manifest"] == [manifest]  # Struct as plain JSON
    assert '"replicas": 3' in text and '"replicas": 3.0' not in text


@SQLITE_ONLY
async def test_the_binding_subresource_takes_the_whole_request(
    http: aiohttp.ClientSession, gateway: str, unique: str
) -> None:
    base = f"{gateway}/kubernetes/namespaces/{unique}/applications"
    obj = example(registry.KINDS["Application"], name=unique, namespace=unique)
    async with http.post(base, json=json_format.MessageToDict(obj)) as response:
        assert response.status == 200
    cluster = {"api": "kubernetes", "kind": "Cluster", "namespace": unique, "name": "c1"}
    async with http.put(f"{base}/{unique}/binding", json={"cluster": cluster}) as response:
        assert response.status == 200, await response.text()
        bound = await response.json()
    assert bound["status"]["scheduled_to"] == cluster
    assert RFC3339.match(bound["status"]["scheduled"])
