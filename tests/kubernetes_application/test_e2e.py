"""End to end on real processes: `krake-api`, `krake-controller kubernetes-application`
(and `kubernetes-cluster`, when that controller exists), two fake member clusters.
The workload side of the hooks is played by this test, over the API's HTTP gateway
with the URL and token the controller gave the pod."""

from __future__ import annotations

import base64
import contextlib
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import aiohttp.web
import pytest
from app_support import (
    KINDS,
    State,
    add_cluster,
    app_gone,
    app_state,
    bind,
    config_map,
    create_app,
    deployment,
    off_cluster,
    on_cluster,
    service,
    states_of,
    until,
    update_app,
)

from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.main import CONTROLLERS
from krake_controllers.runtime.client import Client, connect
from krake_testing.api import ApiProcess, free_port
from krake_testing.kube import FakeCluster

CLUSTER_CONTROLLER = "kubernetes-cluster" in CONTROLLERS
STARTUP = 180.0


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[FakeCluster, FakeCluster]]:
    with (
        FakeCluster("a", ready_delay=0.05, completion_delay=0.05) as a,
        FakeCluster("b", ready_delay=0.05, completion_delay=0.05) as b,
    ):
        yield a, b


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    path = tmp_path_factory.mktemp("e2e") / "krake.db"
    with ApiProcess(f"sqlite:///{path}", bookmark_interval=1.0) as started:
        yield started


@pytest.fixture(scope="module")
def controllers(api: ApiProcess) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRAKE_")}
    env["KRAKE_HOOK_ENDPOINT"] = f"http://{api.http}"
    names = ["kubernetes-application"] + (["kubernetes-cluster"] if CLUSTER_CONTROLLER else [])
    logs = pathlib.Path(api.storage.removeprefix("sqlite:///")).parent
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "krake_controllers", name, "--api", api.grpc],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(logs / f"{name}.log").open("wb"),
        )
        for name in names
    ]
    for name in names:  # started: imports alone take tens of seconds on a loaded machine
        _wait_for_line(logs / f"{name}.log", '"controller.synced"', STARTUP)
    yield started
    for process in started:
        process.terminate()
    for process in started:
        assert process.wait(30) == 0, f"{process.args} did not drain cleanly"


def _wait_for_line(path: pathlib.Path, text: str, deadline: float) -> None:
    give_up = time.monotonic() + deadline
    while text not in path.read_text():
        assert time.monotonic() < give_up, f"no {text} in {path} within {deadline} s"
        time.sleep(0.05)


@pytest.fixture
async def client(api: ApiProcess, controllers: Any) -> AsyncIterator[Client]:
    async with connect(api.grpc) as channel:
        yield Client(channel, timeout=10.0)


def env_of(cluster: FakeCluster, ns: str) -> dict[str, Any]:
    container = cluster.get("Deployment", "web", ns)["spec"]["template"]["spec"]["containers"][0]
    return {var["name"]: var for var in container.get("env", [])}


def secret_token(cluster: FakeCluster, ns: str, reference: dict[str, Any]) -> str:
    ref = reference["valueFrom"]["secretKeyRef"]
    return base64.b64decode(cluster.get("Secret", ref["name"], ns)["data"][ref["key"]]).decode()


async def call_hook(cluster: FakeCluster, ns: str, hook: str) -> None:
    """What the workload does: PUT its hook URL with the token from its Secret."""
    env = env_of(cluster, ns)
    url = env[f"KRAKE_{hook.upper()}_URL"]["value"]
    token = secret_token(cluster, ns, env[f"KRAKE_{hook.upper()}_TOKEN"])
    async with aiohttp.ClientSession() as session, session.put(url, json={"token": token}) as r:
        assert r.status == 200, await r.text()


async def test_application_lifecycle_across_two_clusters(
    client: Client, clusters: tuple[FakeCluster, FakeCluster]
) -> None:
    a, b = clusters
    ns = "e2e-life"
    await add_cluster(client, ns, a)
    await add_cluster(client, ns, b)
    if CLUSTER_CONTROLLER:
        online = kubernetes_pb2.Cluster.Status.ONLINE
        await until(lambda: _cluster_state(client, ns, "a", online))
    foreign = config_map("foreign", keep="me")
    foreign["metadata"]["namespace"] = ns
    await create_app(client, ns, "shop", [deployment(), service(), config_map(color="blue")])
    await bind(client, ns, "shop", "a")
    app = await app_state(client, ns, "shop", State.RUNNING)
    assert app.status.running_on.name == "a"
    assert a.get("ConfigMap", "settings", ns)["data"] == {"color": "blue"}
    a.create(foreign)

    # manifest update: RECONCILING, then RUNNING with the change on A
    def paint(app: Any) -> None:
        app.spec.manifest[2]["data"]["color"] = "green"
        app.spec.manifest[0]["spec"]["replicas"] = 3

    async with states_of(client, ns, "shop") as seen:
        await update_app(client, ns, "shop", paint)
        await until(lambda: _ends(seen, [State.RECONCILING, State.RUNNING]))
    assert a.get("ConfigMap", "settings", ns)["data"] == {"color": "green"}
    assert a.get("Deployment", "web", ns)["spec"]["replicas"] == 3

    # drift reverted, deleted Deployment recreated, foreign object untouched
    a.patch("Deployment", "web", {"spec": {"replicas": 1}}, ns)
    await on_cluster(a, "Deployment", "web", ns, lambda d: d["spec"]["replicas"] == 3)
    uid = a.get("Deployment", "web", ns)["metadata"]["uid"]
    a.delete("Deployment", "web", ns)
    await on_cluster(a, "Deployment", "web", ns, lambda d: d["metadata"]["uid"] != uid)
    await app_state(client, ns, "shop", State.RUNNING)
    assert a.get("ConfigMap", "foreign", ns)["data"] == {"keep": "me"}

    # rebinding moves the application to B
    await bind(client, ns, "shop", "b")
    await on_cluster(b, "Deployment", "web", ns)
    await off_cluster(a, "Deployment", "web", ns)
    await off_cluster(a, "ConfigMap", "settings", ns)

    async def on_b() -> Any:
        got = await client.kind(KINDS["Application"]).get(ns, "shop")
        running = got.status.running_on.name == "b" and got.status.state == State.RUNNING
        return got if running else None

    await until(on_b)
    assert a.get("ConfigMap", "foreign", ns) is not None

    # deletion removes the objects, then the application
    await client.kind(KINDS["Application"]).delete(ns, "shop")
    await app_gone(client, ns, "shop")
    for kind, name in (("Deployment", "web"), ("Service", "web"), ("ConfigMap", "settings")):
        assert b.get(kind, name, ns) is None

    if CLUSTER_CONTROLLER:
        offline = kubernetes_pb2.Cluster.Status.OFFLINE
        a.unreachable()
        try:
            await until(lambda: _cluster_state(client, ns, "a", offline), deadline=60)
        finally:
            a.reachable()
        await until(lambda: _cluster_state(client, ns, "a", online), deadline=60)


async def test_hooks_across_processes(
    client: Client, clusters: tuple[FakeCluster, FakeCluster]
) -> None:
    a, _ = clusters
    ns = "e2e-hooks"
    await add_cluster(client, ns, a)

    # complete: the workload calls the gateway with its token; the app is deleted
    await create_app(client, ns, "done", [deployment()], hooks={"complete": True})
    await bind(client, ns, "done", "a")
    app = await app_state(client, ns, "done", State.RUNNING)
    assert app.status.complete_token.startswith("sha256:")
    await call_hook(a, ns, "complete")
    await app_gone(client, ns, "done")
    assert a.get("Deployment", "web", ns) is None

    # shutdown: asked for before deletion, answered over the gateway
    port = free_port()
    calls: list[bool] = []

    async def shutdown(_: aiohttp.web.Request) -> aiohttp.web.Response:
        calls.append(a.get("Deployment", "web", ns) is not None)
        await call_hook(a, ns, "shutdown")
        return aiohttp.web.Response(text="stopping")

    manifest = [deployment(), service(port=port, kind="LoadBalancer")]
    await create_app(client, ns, "svc", manifest, hooks={"shutdown": True}, shutdown_grace_time=20)
    await bind(client, ns, "svc", "a")
    await app_state(client, ns, "svc", State.RUNNING)
    async with _serving(port, shutdown):
        await client.kind(KINDS["Application"]).delete(ns, "svc")
        await app_gone(client, ns, "svc")
    assert calls == [True]
    assert a.get("Deployment", "web", ns) is None


async def _cluster_state(client: Client, ns: str, name: str, state: int) -> bool:
    cluster = await client.kind(KINDS["Cluster"]).get(ns, name)
    return bool(cluster.status.state == state)


async def _ends(seen: list[int], states: list[int]) -> bool:
    return seen[-len(states) :] == states


@contextlib.asynccontextmanager
async def _serving(port: int, handler: Any) -> AsyncIterator[None]:
    app = aiohttp.web.Application()
    app.router.add_post("/shutdown", handler)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()
