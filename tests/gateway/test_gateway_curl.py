"""The seed's own example, verbatim, with the real curl binary at a terminal:

    $ curl http://localhost:8080/kubernetes/namespaces/testing/applications?watch
    {"type": "UPDATED", "object": {"metadata": …, "spec": …, "status": …}}

(only the port differs). curl runs on a pseudo-terminal, as in the example, so it
writes what it receives as it receives it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import shutil
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yarl
from gateway_support import DEADLINE
from google.protobuf import json_format

from krake_api import registry
from krake_testing.examples import example

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="no curl binary")


@contextlib.asynccontextmanager
async def terminal_command(*argv: str) -> AsyncIterator[asyncio.StreamReader]:
    """Run `argv` with its output on a pseudo-terminal; yields what it writes there."""
    loop = asyncio.get_running_loop()
    controller, terminal = pty.openpty()
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.DEVNULL
    )
    os.close(terminal)
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(controller, "rb", buffering=0)
    )
    try:
        yield reader
    finally:
        process.terminate()
        await process.wait()
        transport.close()


async def test_the_seed_curl_command_streams_one_event_per_line(
    http: aiohttp.ClientSession, gateway: str, unique: str
) -> None:
    base = f"{gateway}/kubernetes/namespaces/testing/applications"
    obj = example(registry.KINDS["Application"], name=unique, namespace="testing")
    async with http.post(base, json=json_format.MessageToDict(obj)) as response:
        assert response.status == 200, await response.text()
        created = await response.json()
    port = yarl.URL(gateway).port
    command = f"curl http://localhost:{port}/kubernetes/namespaces/testing/applications?watch"
    seen: list[str] = []
    async with terminal_command(*command.split()) as output:
        async with asyncio.timeout(DEADLINE):
            while seen != ["ADDED", "UPDATED"]:
                line = (await output.readline()).decode()
                assert line.endswith("\n"), repr(line)  # one whole event per line
                event: dict[str, Any] = json.loads(line)
                assert list(event) == ["type", "object"]
                if event["object"]["metadata"].get("name") != unique:
                    continue  # a BOOKMARK
                seen.append(event["type"])
                if event["type"] == "ADDED":
                    assert set(event["object"]) == {"api", "kind", "metadata", "spec"}
                    created["metadata"]["labels"] = {"seen": "yes"}
                    async with http.put(f"{base}/{unique}", json=created) as response:
                        assert response.status == 200
    assert seen == ["ADDED", "UPDATED"]
