"""`krake-controller scheduler` as users run it, against a `krake-api` process; and
the metric cache at work: N applications cost one provider fetch per metric."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from scheduling_support import (
    SQLITE_ONLY,
    add_app,
    add_cluster,
    add_metric,
    add_provider,
    bound_to,
    eventually,
    ref,
)

from krake_api import registry
from krake_controllers import scheduler
from krake_controllers.runtime.client import Client, connect
from krake_controllers.scheduler.settings import Settings
from krake_testing.api import ApiProcess
from krake_testing.metrics import FakePrometheus


@pytest.fixture
def api(tmp_path: pathlib.Path) -> Iterator[ApiProcess]:
    with ApiProcess(f"sqlite:///{tmp_path}/krake.db", bookmark_interval=1.0) as started:
        yield started


async def test_the_scheduler_process_binds_and_drains_on_sigterm(api: ApiProcess) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}
    command = [sys.executable, "-m", "krake_controllers", "scheduler", "--api", api.grpc]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with connect(api.grpc) as channel:
            client = Client(channel, timeout=30.0)
            await add_cluster(client, "proc", "only")
            await add_app(client, "proc", "web")
            await bound_to(client, "proc", "web", "only")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stderr is not None
        process.stderr.close()


@SQLITE_ONLY
async def test_many_apps_cost_one_fetch_per_metric(client: Client, ns: str) -> None:
    settings = Settings(metrics_ttl=60.0, reschedule_after=60.0)
    controller = scheduler.build(client, settings=settings, bookmark_interval=1.0)
    task = asyncio.create_task(controller.run())
    try:
        async with FakePrometheus({"m1": 0.2, "m2": 0.8}) as prometheus:
            await add_provider(client, "prom", {"prometheus": {"url": prometheus.url}})
            await add_metric(client, "m1", "prom")
            await add_metric(client, "m2", "prom")
            await add_cluster(client, ns, "one", metrics=[ref("m1")])
            await add_cluster(client, ns, "two", metrics=[ref("m2")])
            for i in range(20):
                await add_app(client, ns, f"app{i}")
            apps = client.kind(registry.KINDS["Application"])
            await eventually(
                lambda: apps.list(ns),
                lambda page: (
                    all(a.status.placement.chosen.name == "two" for a in page.items)
                    and len(page.items) == 20
                ),
            )
            assert prometheus.requests == 2  # one per metric, not one per app
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
