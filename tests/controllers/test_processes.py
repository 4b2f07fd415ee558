"""The controller processes as users run them: `krake-controller garbage-collector`
replicas electing a leader (and failing over when it is killed), and `krake up`."""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from krake.core.v1 import metadata_pb2
from krake_api import registry
from krake_controllers.runtime.client import Client, connect
from krake_testing.api import ApiProcess
from krake_testing.examples import example

KINDS = registry.KINDS
DEADLINE = 60.0


@pytest.fixture
def api(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    with ApiProcess(f"sqlite:///{tmp_path}/krake.db", bookmark_interval=1.0) as started:
        yield started


def controller(api: ApiProcess, identity: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "krake_controllers", "garbage-collector", "--api", api.grpc),
            *("--leader-elect", "true", "--identity", identity, "--lease-namespace", "system"),
            *("--lease-duration", "2", "--renew-deadline", "1.5", "--retry-period", "0.25"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def until(check: Any) -> Any:
    async with asyncio.timeout(DEADLINE):
        while not (found := await check()):
            await asyncio.sleep(0.05)
    return found


async def owned_pair(client: Client, ns: str) -> tuple[Any, Any]:
    root: Any = await client.kind(KINDS["Cluster"]).create(example(KINDS["Cluster"], "root", ns))
    app: Any = example(KINDS["Application"], "app", ns)
    app.metadata.owners.add(kind="Cluster", api="kubernetes", name="root", uid=root.metadata.uid)
    return root, await client.kind(KINDS["Application"]).create(app)


async def gone(client: Client, obj: Any) -> bool:
    try:
        await client.kind(KINDS[obj.kind]).get(obj.metadata.namespace, obj.metadata.name)
    except grpc.aio.AioRpcError as err:
        return err.code() == grpc.StatusCode.NOT_FOUND
    return False


async def test_replicas_elect_one_leader_and_fail_over_when_it_is_killed(api: ApiProcess) -> None:
    replicas = {name: controller(api, name) for name in ("one", "two")}
    try:
        async with connect(api.grpc) as channel:
            client = Client(channel)
            leases = client.kind(KINDS["Lease"])

            async def holder() -> str:
                try:
                    return str((await leases.get("system", "garbage-collector")).spec.holder)
                except grpc.aio.AioRpcError:
                    return ""

            leader = await until(holder)
            replicas[leader].kill()
            other = "two" if leader == "one" else "one"
            await until(lambda: holds(holder, other))
            _, app = await owned_pair(client, "testing")
            await client.kind(KINDS["Cluster"]).delete("testing", "root")
            await until(lambda: gone(client, app))  # collected by the new leader
    finally:
        for process in replicas.values():
            process.kill()
            process.wait()


async def holds(holder: Any, expected: str) -> bool:
    return bool(await holder() == expected)


async def test_krake_up_runs_the_api_and_the_controllers_in_one_process(
    tmp_path: pathlib.Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from krake_cli.launcher import main; main()", "up"),
            *("--storage", f"sqlite:///{tmp_path}/krake.db", "--grpc-address", "127.0.0.1:0"),
            *("--http-address", "127.0.0.1:0", "--grace", "2"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), DEADLINE)
        address = re.search(r"API on (\S+) \(gRPC\)", first.decode())
        assert address, first
        async with connect(address[1]) as channel:
            client = Client(channel)
            _, app = await owned_pair(client, "demo")
            await client.kind(KINDS["Cluster"]).delete(
                "demo", "root", propagation=metadata_pb2.BACKGROUND
            )
            await until(lambda: gone(client, app))
        process.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(process.wait, DEADLINE) == 0
        assert process.stdout.read().decode().splitlines()[-1] == "krake: stopped"
    finally:
        process.kill()
        process.wait()
