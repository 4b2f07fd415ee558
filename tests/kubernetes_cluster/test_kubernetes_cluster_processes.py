"""The cluster controller as users run it: `krake-controller kubernetes-cluster`
beside a `krake-api` process, and `krake up --demo` with its two fake clusters."""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from cluster_support import DEADLINE, State, clusters, in_state, node_conditions, register, until

from krake_controllers.runtime.client import Client, connect
from krake_testing.api import ApiProcess
from krake_testing.kube import FakeCluster


@pytest.fixture
def api(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    with ApiProcess(f"sqlite:///{tmp_path}/krake.db", bookmark_interval=1.0) as started:
        yield started


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}


async def stopped(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, DEADLINE)


async def test_the_controller_process_follows_a_member_cluster(api: ApiProcess) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "krake_controllers", "kubernetes-cluster", "--api", api.grpc],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with FakeCluster("proc") as member, connect(api.grpc) as channel:
            client = Client(channel)
            await register(client, "procs", "a", member.kubeconfig)
            online = await until(in_state(client, "procs", "a", State.ONLINE), 2 * DEADLINE)
            assert set(node_conditions(online)) == set(member.node_names)
            member.set_node_condition("Ready", False)
            await until(in_state(client, "procs", "a", State.NOTREADY))
        assert await stopped(process) == 0
    finally:
        process.kill()
        process.wait()


async def test_krake_up_demo_serves_two_clusters_that_go_online(tmp_path: pathlib.Path) -> None:
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from krake_cli.launcher import main; main()", "up"),
            *("--demo", "--storage", f"sqlite:///{tmp_path}/krake.db"),
            *("--grpc-address", "127.0.0.1:0", "--http-address", "127.0.0.1:0", "--grace", "2"),
        ],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        lines = []
        while not lines or "controllers" not in lines[-1]:
            line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), DEADLINE)
            assert line, lines
            lines.append(line.decode())
        address = re.search(r"API on (\S+) \(gRPC\)", lines[0])
        assert address, lines
        kubeconfigs = [pathlib.Path(m) for m in re.findall(r"kubeconfig (\S+)\)", "".join(lines))]
        assert len(kubeconfigs) == 2 and all(k.is_file() for k in kubeconfigs), lines
        async with connect(address[1]) as channel:
            client = Client(channel)
            for name in ("demo-a", "demo-b"):
                online = await until(in_state(client, "default", name, State.ONLINE))
                assert [n.name for n in online.status.nodes] == [f"{name}-node-1"]
            assert len((await clusters(client).list("default")).items) == 2
        assert await stopped(process) == 0
        assert process.stdout.read().decode().splitlines()[-1] == "krake: stopped"
        assert not any(k.exists() for k in kubeconfigs)  # the temporary directory is gone
    finally:
        process.kill()
        process.wait()
