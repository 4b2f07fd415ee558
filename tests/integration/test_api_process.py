"""`krake-api` as users run it: a process configured by a YAML file, serving gRPC and
HTTP, writing JSON logs, counting calls in /metrics, and draining on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import aiohttp
import grpc
import grpc.aio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from krake.kubernetes.v1 import kubernetes_service_pb2 as api
from krake.kubernetes.v1 import kubernetes_service_pb2_grpc
from krake_api import registry
from krake_testing.examples import example

DEADLINE = 30.0
LISTENING = re.compile(r"gRPC on (\S+), HTTP on (\S+),")


@pytest.fixture
def process(tmp_path: pathlib.Path) -> Iterator[subprocess.Popen[bytes]]:
    config = tmp_path / "krake-api.yaml"
    config.write_text(
        f"storage: sqlite:///{tmp_path}/krake.db\n"
        "grpc_address: 127.0.0.1:0\n"  # both spellings of a key are accepted
        "http-address: 127.0.0.1:0\n"
        "grace: 5\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}
    started = subprocess.Popen(
        [sys.executable, "-m", "krake_api", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    yield started
    started.kill()
    started.wait()


async def addresses(process: subprocess.Popen[bytes]) -> tuple[str, str]:
    assert process.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), DEADLINE)
    found = LISTENING.search(line.decode())
    assert found, line
    return found[1], found[2]


def samples(text: str, name: str, **labels: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The values of metric samples `name` whose labels include `labels`."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    }


def json_lines(text: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.decode().splitlines() if line.strip()]


async def test_configured_process_serves_logs_counts_and_drains(
    process: subprocess.Popen[bytes],
) -> None:
    grpc_at, http_at = await addresses(process)
    async with grpc.aio.insecure_channel(grpc_at) as channel:
        stub = kubernetes_service_pb2_grpc.KubernetesServiceStub(channel)
        app = example(registry.KINDS["Application"], name="web", namespace="testing")
        call = stub.CreateApplication(
            api.CreateApplicationRequest(namespace="testing", application=app),
            metadata=(("x-request-id", "req-create-1"),),
            timeout=DEADLINE,
        )
        await call
        assert ("x-request-id", "req-create-1") in list(await call.trailing_metadata())
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetApplication(
                api.GetApplicationRequest(namespace="testing", name="nope"), timeout=DEADLINE
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    async with aiohttp.ClientSession(f"http://{http_at}") as http:
        async with http.get("/healthz") as health:
            assert (health.status, await health.text()) == (200, "ok\n")
        async with http.get("/kubernetes/namespaces/testing/applications/web") as got:
            assert got.status == 200  # the JSON gateway, in the same process
            assert (await got.json())["metadata"]["name"] == "web"
        async with http.get("/metrics") as scraped:
            metrics = await scraped.text()
    service = "krake.kubernetes.v1.KubernetesService"
    assert samples(metrics, "krake_api_requests_total", service=service) == {
        (("code", "OK"), ("method", "CreateApplication"), ("service", service)): 1.0,
        (("code", "OK"), ("method", "GetApplication"), ("service", service)): 1.0,
        (("code", "NOT_FOUND"), ("method", "GetApplication"), ("service", service)): 1.0,
    }
    assert samples(metrics, "krake_api_watchers", kind="Application") == {
        (("kind", "Application"),): 0.0
    }
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, DEADLINE) == 0
    assert process.stderr is not None
    lines = json_lines(process.stderr.read())  # every line is a JSON object
    create = [line for line in lines if line.get("request_id") == "req-create-1"]
    assert {(line["event"], line.get("code"), line.get("user")) for line in create} == {
        ("audit", None, "system:anonymous"),
        ("rpc", "OK", "system:anonymous"),
    }
    assert any(line.get("code") == "NOT_FOUND" for line in lines if line["event"] == "rpc")
    assert lines[-1]["event"] == "api.stopped"
    assert all({"timestamp", "level"} <= line.keys() for line in lines)
