"""Watch over HTTP: `?watch` on a List path streams NDJSON, one event per line."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest
from gateway_echo import EchoBackend
from gateway_support import DEADLINE
from google.protobuf import json_format

from krake_api import registry
from krake_api.watch.streams import WatchCaches
from krake_testing.examples import example

LINE = re.compile(r'^\{"type": "[A-Z]+", "object": \{.*\}\}\n$')
Event = tuple[str, dict[str, Any]]


async def read_events(
    response: aiohttp.ClientResponse, count: int, *, bookmarks: bool = False
) -> list[Event]:
    """The next `count` events (BOOKMARKs skipped unless asked for); every line must
    be exactly `{"type": ..., "object": {...}}`."""
    found: list[Event] = []
    async with asyncio.timeout(DEADLINE):
        while len(found) < count:
            line = (await response.content.readline()).decode()
            assert LINE.match(line), repr(line)
            event = json.loads(line)
            assert list(event) == ["type", "object"]
            if bookmarks or event["type"] != "BOOKMARK":
                found.append((event["type"], event["object"]))
    return found


async def until(condition: Any) -> None:
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.01)


def names(events: list[Event]) -> list[tuple[str, str]]:
    return [(kind, obj["metadata"]["name"]) for kind, obj in events]


class Apps:
    """Applications in one namespace, written over HTTP."""

    def __init__(self, http: aiohttp.ClientSession, gateway: str, namespace: str) -> None:
        self.http, self.namespace = http, namespace
        self.url = f"{gateway}/kubernetes/namespaces/{namespace}/applications"

    async def create(self, name: str, **labels: str) -> dict[str, Any]:
        obj: Any = example(registry.KINDS["Application"], name=name, namespace=self.namespace)
        obj.metadata.labels.update(labels)
        async with self.http.post(self.url, json=json_format.MessageToDict(obj)) as response:
            assert response.status == 200, await response.text()
            return await response.json()  # type: ignore[no-any-return]

    async def relabel(self, obj: dict[str, Any], **labels: str) -> dict[str, Any]:
        obj = {**obj, "metadata": {**obj["metadata"], "labels": labels}}
        async with self.http.put(f"{self.url}/{obj['metadata']['name']}", json=obj) as response:
            assert response.status == 200, await response.text()
            return await response.json()  # type: ignore[no-any-return]

    async def delete(self, name: str) -> None:
        async with self.http.delete(f"{self.url}/{name}") as response:
            assert response.status == 200, await response.text()


@pytest.fixture
async def apps(http: aiohttp.ClientSession, gateway: str, unique: str, caches: WatchCaches) -> Apps:
    """Applications in a namespace of their own. Their watch cache runs before the
    first write, as `krake-api` starts its caches: every later version can be watched from."""
    await caches.cache(registry.KINDS["Application"]).ready.wait()
    return Apps(http, gateway, unique)


async def test_watch_lists_then_streams_changes(http: aiohttp.ClientSession, apps: Apps) -> None:
    a = await apps.create("a")
    await apps.create("b")
    async with http.get(f"{apps.url}?watch") as response:
        assert response.status == 200
        assert response.content_type == "application/x-ndjson"
        assert response.headers["Transfer-Encoding"] == "chunked"
        first = await read_events(response, 2)
        await apps.create("c")
        await apps.relabel(a, tier="front")
        await apps.delete("b")
        rest = await read_events(response, 3)
    assert names(first + rest) == [
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("ADDED", "c"),
        ("UPDATED", "a"),
        ("DELETED", "b"),
    ]
    updated = rest[1][1]
    assert updated["metadata"]["labels"] == {"tier": "front"}
    assert set(updated) == {"api", "kind", "metadata", "spec"}  # status is empty: omitted


async def test_any_watch_parameter_selects_the_stream(
    http: aiohttp.ClientSession, apps: Apps
) -> None:
    await apps.create("a")
    queries = ("watch", "watch=", "watch=1", "watch=true", "watch=false", "label_selector=&watch")
    for query in queries:
        async with http.get(f"{apps.url}?{query}") as response:
            assert response.content_type == "application/x-ndjson", query
            assert names(await read_events(response, 1)) == [("ADDED", "a")]
    async with http.get(apps.url) as response:  # without it: the List
        assert response.content_type == "application/json"
        assert [i["metadata"]["name"] for i in (await response.json())["items"]] == ["a"]


async def test_resource_version_and_selectors_are_query_parameters(
    http: aiohttp.ClientSession, apps: Apps
) -> None:
    a = await apps.create("a", app="web")
    await apps.create("b", app="db")
    version = a["metadata"]["resource_version"]
    query = f"watch&resource_version={version}&label_selector=app%3Dweb"
    async with http.get(f"{apps.url}?{query}") as response:
        await apps.relabel(a, app="web", changed="1")
        await apps.create("c", app="web")
        events = await read_events(response, 2)
    assert names(events) == [("UPDATED", "a"), ("ADDED", "c")]  # nothing at or before it


async def test_idle_watches_get_bookmark_lines(
    http: aiohttp.ClientSession, apps: Apps, gateway: str
) -> None:
    elsewhere = await Apps(http, gateway, apps.namespace + "x").create("x")
    async with http.get(f"{apps.url}?watch") as response:
        ((kind, obj),) = await read_events(response, 1, bookmarks=True)
    assert kind == "BOOKMARK"
    assert int(obj["metadata"]["resource_version"]) >= int(
        elsewhere["metadata"]["resource_version"]
    )


async def test_all_namespaces_watch(http: aiohttp.ClientSession, gateway: str, unique: str) -> None:
    one, two = Apps(http, gateway, unique + "a"), Apps(http, gateway, unique + "b")
    await one.create("a", run=unique)
    url = f"{gateway}/kubernetes/applications?watch&label_selector=run%3D{unique}"
    async with http.get(url) as response:
        first = await read_events(response, 1)
        await two.create("b", run=unique)
        second = await read_events(response, 1)
    namespaces = [obj["metadata"]["namespace"] for _, obj in first + second]
    assert namespaces == [unique + "a", unique + "b"]


async def test_a_failing_stream_ends_with_an_error_line(
    http: aiohttp.ClientSession, apps: Apps
) -> None:
    """Errors arrive after the 200 and the headers: as a last line, as in Kubernetes."""
    async with http.get(f"{apps.url}?watch&resource_version=yesterday") as response:
        assert response.status == 200
        async with asyncio.timeout(DEADLINE):
            (last,) = (await response.content.read()).decode().splitlines(keepends=True)
    assert LINE.match(last)
    error = json.loads(last)
    assert error["type"] == "ERROR"
    assert set(error["object"]) == {"code", "message", "details"}
    assert error["object"]["code"] == 3
    (violation,) = error["object"]["details"][0]["field_violations"]
    assert violation["field"] == "resource_version"


async def test_closing_the_connection_cancels_the_watch(
    http: aiohttp.ClientSession, apps: Apps, caches: WatchCaches
) -> None:
    await apps.create("a")
    response = await http.get(f"{apps.url}?watch")
    await read_events(response, 1)
    assert caches.watchers() == 1
    response.close()
    await until(lambda: caches.watchers() == 0)


async def test_a_silent_stream_is_cancelled_as_soon_as_the_client_leaves(
    http: aiohttp.ClientSession, echo: str, echo_backend: EchoBackend
) -> None:
    """The fake stream writes nothing after its first message: only noticing the
    closed connection, not a failed write, can end it."""
    response = await http.get(f"{echo}/v1/echo/silent?watch&page_size=1")
    assert json.loads(await response.content.readline()) == {"name": "silent", "page_size": 1}
    assert echo_backend.open_streams == 1
    response.close()
    async with asyncio.timeout(DEADLINE):
        await echo_backend.closed.wait()
    assert echo_backend.open_streams == 0


async def test_streams_end_with_the_rpc(
    http: aiohttp.ClientSession, echo: str, echo_backend: EchoBackend
) -> None:
    async with http.get(f"{echo}/v1/echo/end?watch&page_size=2") as response:
        async with asyncio.timeout(DEADLINE):
            body = await response.content.read()
    assert body.decode().splitlines() == ['{"name": "end", "page_size": 2}'] * 2
    async with http.get(f"{echo}/v1/echo/broken?watch&page_size=1") as response:
        async with asyncio.timeout(DEADLINE):
            *_, last = (await response.content.read()).decode().splitlines()
    error = json.loads(last)
    assert error["type"] == "ERROR" and error["object"]["code"] == 14
    assert echo_backend.open_streams == 0
