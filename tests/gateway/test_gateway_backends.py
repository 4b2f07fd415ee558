"""Both gateway backends answer alike: the in-process one `krake-api` uses and the
loopback gRPC channel (for a gateway in another process)."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
from aiohttp import web
from gateway_support import DEADLINE, Serve
from google.protobuf import json_format

from krake_api import registry
from krake_api.gateway import ChannelBackend, add_routes
from krake_api.gateway.inprocess import InProcessBackend
from krake_testing.examples import example

APP = registry.KINDS["Application"]


async def exchange(base: str, ns: str) -> list[tuple[int, Any]]:
    """Create, get, a conflict, a bad request and a watch's first event."""
    body = json_format.MessageToDict(example(APP, "web", ns), preserving_proto_field_name=True)
    path = f"{base}/kubernetes/namespaces/{ns}/applications"
    seen: list[tuple[int, Any]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE)) as http:
        for method, url, payload in (
            ("POST", path, body),
            ("GET", f"{path}/web", None),
            ("POST", path, body),
            ("POST", path, {**body, "metadata": {"name": "Bad Name"}}),
        ):
            async with http.request(method, url, json=payload) as response:
                seen.append((response.status, await response.json()))
        async with http.get(f"{path}?watch") as response:
            line = await response.content.readline()
            seen.append((response.status, json.loads(line)))
    return seen


def comparable(answer: tuple[int, Any]) -> tuple[int, Any]:
    """Without the values that differ per object (uid, times, versions)."""
    status, body = answer
    text = json.dumps(body, sort_keys=True)
    for field in ("uid", "created", "modified", "resource_version"):
        text = _blank(text, field)
    return status, json.loads(text)


def _blank(text: str, field: str) -> str:
    return re.sub(rf'"{field}": "[^"]*"', f'"{field}": ""', text)


async def test_in_process_and_loopback_answer_alike(
    backend: InProcessBackend, loopback: ChannelBackend, serve: Serve, unique: str
) -> None:
    answers = []
    for index, chosen in enumerate((backend, loopback)):
        app = web.Application()
        add_routes(app, chosen)
        answers.append(await exchange(await serve(app), f"{unique}-{index}"))
    inproc, loop = ([comparable(a) for a in answer] for answer in answers)
    assert [status for status, _ in inproc] == [200, 200, 409, 400, 200]
    for (status_a, body_a), (status_b, body_b) in zip(inproc, loop, strict=True):
        assert status_a == status_b
        assert json.dumps(body_a).replace(f"{unique}-0", "NS") == json.dumps(body_b).replace(
            f"{unique}-1", "NS"
        )
