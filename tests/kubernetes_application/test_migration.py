"""Migration when `scheduled_to` changes: the new cluster runs the application before
the old one loses it; a new cluster that never gets ready is rolled back."""

from __future__ import annotations

from app_support import (
    FAST,
    KINDS,
    State,
    add_cluster,
    app_state,
    bind,
    config_map,
    create_app,
    deployment,
    off_cluster,
    on_cluster,
    running,
    until,
)

from krake_controllers.kubernetes_application.reconciler import Settings
from krake_controllers.runtime.client import Client
from krake_testing.kube import FakeCluster


def ready(obj: dict) -> bool:  # type: ignore[type-arg]
    return bool(obj.get("status", {}).get("readyReplicas", 0) == obj["spec"]["replicas"])


async def test_rebinding_moves_the_application_without_downtime(
    client: Client, ns: str, cluster_a: FakeCluster, cluster_b: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    await add_cluster(client, ns, cluster_b)
    await create_app(client, ns, "app", [deployment(), config_map()])
    cluster_b.ready_delay = 0.5  # B takes a while: A must keep running meanwhile
    async with running(client):
        await bind(client, ns, "app", "a")
        await app_state(client, ns, "app", State.RUNNING)
        await bind(client, ns, "app", "b")
        await app_state(client, ns, "app", State.MIGRATING)

        async def moved() -> bool:
            on_a = cluster_a.get("Deployment", "web", ns)
            on_b = cluster_b.get("Deployment", "web", ns)
            serving = (on_a is not None and "deletionTimestamp" not in on_a["metadata"]) or (
                on_b is not None and ready(on_b)
            )
            assert serving, "neither cluster runs the application"
            return on_a is None

        await until(moved)
        await off_cluster(cluster_a, "ConfigMap", "settings", ns)
        app = await app_state(client, ns, "app", State.RUNNING)
        assert app.status.running_on.name == "b"
        assert cluster_b.get("ConfigMap", "settings", ns) is not None


async def test_migration_that_never_gets_ready_is_rolled_back(
    client: Client, ns: str, cluster_a: FakeCluster, cluster_b: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    await add_cluster(client, ns, cluster_b)
    await create_app(client, ns, "app", [deployment()])
    cluster_b.crash_loop("Deployment", "web", ns)
    # long enough for the test to see the attempt on B on a loaded machine
    settings = Settings(migration_timeout=5.0, deletion_recheck=0.2)
    async with running(client, settings):
        await bind(client, ns, "app", "a")
        await app_state(client, ns, "app", State.RUNNING)
        await bind(client, ns, "app", "b")
        await on_cluster(cluster_b, "Deployment", "web", ns)
        await off_cluster(cluster_b, "Deployment", "web", ns)

        async def rolled_back() -> object:
            app = await client.kind(KINDS["Application"]).get(ns, "app")
            return app if "migration to" in app.status.reason.message else None

        app = await until(rolled_back)
        assert app.status.running_on.name == "a"
        assert app.status.state == State.RUNNING
        assert ready(cluster_a.get("Deployment", "web", ns))
        assert FAST.migration_timeout > settings.migration_timeout
