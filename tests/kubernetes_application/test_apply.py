"""Applying: manifests become objects on the bound cluster, in dependency order,
into the application's namespace, with CREATING -> RUNNING and RECONCILING on change."""

from __future__ import annotations

from app_support import (
    State,
    add_cluster,
    app_state,
    bind,
    config_map,
    create_app,
    deployment,
    running,
    service,
    states_of,
    until,
    update_app,
)

from krake_api.structs import to_dict
from krake_controllers.runtime.client import Client
from krake_testing.kube import FakeCluster


async def test_bound_application_runs_on_its_cluster(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    manifest = [deployment(), service(), config_map(color="blue")]
    await create_app(client, ns, "shop", manifest)
    async with running(client):
        await bind(client, ns, "shop", "a")
        app = await app_state(client, ns, "shop", State.RUNNING)
        assert app.status.running_on.name == "a"
        assert app.status.observed_generation == app.metadata.generation
        assert "kubernetes_resources_deletion" in app.metadata.finalizers
        assert {to_dict(s)["kind"] for s in app.status.last_applied_manifest} == {
            "Deployment",
            "Service",
            "ConfigMap",
        }
        assert app.status.container_health.desired == 2
        assert app.status.container_health.running == 2
        node_port = cluster_a.get("Service", "web", ns)["spec"]["ports"][0]["nodePort"]
        assert dict(app.status.services) == {"web": f"127.0.0.1:{node_port}"}
        assert cluster_a.get("ConfigMap", "settings", ns)["data"] == {"color": "blue"}
        order = [path for method, path in cluster_a.requests() if method == "PATCH"]
        kinds = [p.split("/")[-2] for p in order if f"/namespaces/{ns}/" in p]
        assert kinds.index("configmaps") < kinds.index("deployments")
        assert kinds.index("services") < kinds.index("deployments")

        def bump(app: object) -> None:
            app.spec.manifest[0]["spec"]["replicas"] = 3  # type: ignore[attr-defined]

        async with states_of(client, ns, "shop") as seen:
            await update_app(client, ns, "shop", bump)
            await until(lambda: _at(seen, [State.RUNNING, State.RECONCILING, State.RUNNING]))
        app = await app_state(client, ns, "shop", State.RUNNING)
        assert app.status.container_health.running == 3
        assert cluster_a.get("Deployment", "web", ns)["spec"]["replicas"] == 3


async def _at(seen: list[int], states: list[int]) -> bool:
    return seen[-len(states) :] == states
