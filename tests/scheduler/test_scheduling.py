"""The scheduler against a real API server over gRPC, replaying the first Krake's
scheduling scenarios: label constraints, metrics (namespaced and global), providers
unreachable, metrics missing, clusters not online, tenants, migration (on
constraint updates, disabled, stickiness, offline and deleted clusters)."""

from __future__ import annotations

from typing import Any

import pytest
from scheduling_support import (
    KINDS,
    OFFLINE,
    ONLINE,
    SQLITE_ONLY,
    add_app,
    add_cluster,
    add_metric,
    add_provider,
    app_reader,
    bound_to,
    candidates,
    cluster_reader,
    eventually,
    ref,
    set_state,
)

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.runtime.client import Client
from krake_testing.metrics import FakePrometheus

pytestmark = [SQLITE_ONLY, pytest.mark.usefixtures("running")]
Reason = metadata_pb2.Reason
FAILING_METRICS = kubernetes_pb2.Cluster.Status.FAILING_METRICS


async def static_metrics(client: Client, values: dict[str, float], ns: str = "") -> None:
    """One static provider holding `values` and a metric per value ([0, 1])."""
    await add_provider(client, "static", {"static": {"metrics": values}}, ns)
    for name in values:
        await add_metric(client, name, "static", ns=ns)


async def test_label_constraints_choose_the_matching_cluster_and_explain(
    client: Client, ns: str
) -> None:
    await add_cluster(client, ns, "in-a", labels={"zone": "a"})
    await add_cluster(client, ns, "in-b", labels={"zone": "b"})
    await add_app(client, ns, "web", labels=["zone is b"])
    app = await bound_to(client, ns, "web", "in-b")
    found = candidates(app.status.placement)
    assert set(found) == {"in-a", "in-b"} and found["in-b"].eligible
    (label,) = [v for v in found["in-a"].verdicts if v.filter == "label_constraints"]
    assert not label.passed and "zone is b" in label.message
    assert app.status.placement.candidates[0].ref.name == "in-b"


async def test_namespaced_and_global_metrics_rank_clusters(client: Client, ns: str) -> None:
    await static_metrics(client, {"green": 0.9}, ns)  # namespaced Metric + provider
    async with FakePrometheus({"heat": 0.4}) as prometheus:
        await add_provider(client, "prom", {"prometheus": {"url": prometheus.url}})
        await add_metric(client, "heat", "prom", high=2.0)  # global, normalized 0.2
        await add_cluster(client, ns, "global", metrics=[ref("heat")])
        await add_cluster(client, ns, "local", metrics=[ref("green", namespaced=True)])
        await add_cluster(client, ns, "bare")
        await add_app(client, ns, "web")
        app = await bound_to(client, ns, "web", "local")
        order = [c.ref.name for c in app.status.placement.candidates]
        assert order == ["local", "global", "bare"]  # with metrics above without
        heat = candidates(app.status.placement)["global"].terms[0]
        assert (heat.metric, heat.value, heat.normalized) == ("heat", 0.4, 0.2)


async def test_one_provider_unreachable_leaves_the_other_metrics_in_use(
    client: Client, ns: str
) -> None:
    async with FakePrometheus({"m": 0.5}) as dead:
        await add_provider(client, "dead", {"prometheus": {"url": dead.url}})
    await add_metric(client, "lost", "dead")
    await static_metrics(client, {"ok": 0.3, "better": 0.6})
    await add_cluster(client, ns, "mixed", metrics=[ref("lost", 5), ref("ok")])
    await add_cluster(client, ns, "plain", metrics=[ref("better")])
    await add_app(client, ns, "web")
    app = await bound_to(client, ns, "web", "plain")
    mixed = candidates(app.status.placement)["mixed"]
    assert mixed.eligible and mixed.score == pytest.approx(0.3)  # only "ok" counts
    lost = next(t for t in mixed.terms if t.metric == "lost")
    assert lost.reason.code == Reason.UNREACHABLE_METRICS_PROVIDER
    cluster = await eventually(
        cluster_reader(client, ns, "mixed"), lambda c: c.status.state == FAILING_METRICS
    )
    assert dict(cluster.status.metrics_reasons).keys() == {"lost"}
    assert cluster.status.metrics_reasons["lost"].code == Reason.UNREACHABLE_METRICS_PROVIDER
    plain = await cluster_reader(client, ns, "plain")()
    assert plain.status.state == ONLINE and not plain.status.metrics_reasons


async def test_all_providers_unreachable_still_schedules(client: Client, ns: str) -> None:
    async with FakePrometheus() as gone:
        url = gone.url
    await add_provider(client, "gone", {"prometheus": {"url": url}})
    await add_metric(client, "m1", "gone")
    await add_metric(client, "m2", "gone")
    await add_cluster(client, ns, "one", metrics=[ref("m1")])
    await add_cluster(client, ns, "two", metrics=[ref("m2")])
    await add_app(client, ns, "web")
    app = await eventually(app_reader(client, ns, "web"), lambda a: a.status.placement.chosen.name)
    assert app.status.scheduled_to.name in {"one", "two"}
    for candidate in app.status.placement.candidates:
        assert candidate.eligible
        assert [t.reason.code for t in candidate.terms] == [Reason.UNREACHABLE_METRICS_PROVIDER]
    for name in ("one", "two"):
        await eventually(
            cluster_reader(client, ns, name), lambda c: c.status.state == FAILING_METRICS
        )


async def test_missing_metric_and_invalid_value(client: Client, ns: str) -> None:
    await static_metrics(client, {"fine": 0.5})
    await add_provider(client, "wild", {"static": {"metrics": {"big": 7.0}}})
    await add_metric(client, "big", "wild", high=5.0)  # 7 is outside [0, 5]
    await add_cluster(client, ns, "unknown", metrics=[ref("nonexistent"), ref("fine")])
    await add_cluster(client, ns, "invalid", metrics=[ref("big")])
    await add_cluster(client, ns, "good", metrics=[ref("fine")])
    await add_app(client, ns, "web", metrics=["fine >= 0.5"])
    await add_app(client, ns, "picky", metrics=["nonexistent > 0"])
    app = await eventually(app_reader(client, ns, "web"), lambda a: a.status.placement.chosen.name)
    found = candidates(app.status.placement)
    unknown = next(t for t in found["unknown"].terms if t.metric == "nonexistent")
    assert unknown.reason.code == Reason.UNKNOWN_METRIC
    assert found["invalid"].terms[0].reason.code == Reason.INVALID_METRIC
    assert not found["invalid"].eligible  # its constraint cannot be checked
    invalid = await eventually(
        cluster_reader(client, ns, "invalid"), lambda c: c.status.state == FAILING_METRICS
    )
    assert invalid.status.metrics_reasons["big"].code == Reason.INVALID_METRIC
    assert "outside [0, 5]" in invalid.status.metrics_reasons["big"].message
    picky = await eventually(
        app_reader(client, ns, "picky"),
        lambda a: a.status.reason.code == Reason.NO_SUITABLE_RESOURCE,
    )
    assert not picky.status.scheduled_to.name and not picky.status.placement.chosen.name


async def test_clusters_not_online_are_skipped_until_they_are(client: Client, ns: str) -> None:
    await static_metrics(client, {"great": 1.0})
    offline = await add_cluster(client, ns, "offline", metrics=[ref("great")], state=OFFLINE)
    await add_cluster(client, ns, "pending", state=kubernetes_pb2.Cluster.Status.PENDING)
    await add_app(client, ns, "web")
    app = await eventually(
        app_reader(client, ns, "web"),
        lambda a: a.status.reason.code == Reason.NO_SUITABLE_RESOURCE,
    )
    online = [
        v for v in candidates(app.status.placement)["offline"].verdicts if v.filter == "online"
    ]
    assert not online[0].passed and "OFFLINE" in online[0].message
    await set_state(client, offline, ONLINE)
    app = await bound_to(client, ns, "web", "offline")
    assert not app.status.reason.code  # the scheduler's reason is cleared


async def test_tenants_never_see_each_others_clusters(client: Client, ns: str) -> None:
    other = f"{ns}-other"
    await add_cluster(client, other, "theirs")
    await add_app(client, ns, "web")
    await add_app(client, other, "their-app")
    await bound_to(client, other, "their-app", "theirs")
    app = await eventually(
        app_reader(client, ns, "web"),
        lambda a: a.status.reason.code == Reason.NO_SUITABLE_RESOURCE,
    )
    assert not app.status.placement.candidates and not app.status.scheduled_to.name
    await add_cluster(client, ns, "mine")
    await bound_to(client, ns, "web", "mine")


async def update_constraints(client: Client, ns: str, name: str, labels: list[str]) -> None:
    api = client.kind(KINDS["Application"])
    app = await api.get(ns, name)
    del app.spec.constraints.cluster.labels[:]
    app.spec.constraints.cluster.labels.extend(labels)
    await api.update(app)


async def test_constraint_update_migrates_the_app(client: Client, ns: str) -> None:
    await add_cluster(client, ns, "in-a", labels={"zone": "a"})
    await add_cluster(client, ns, "in-b", labels={"zone": "b"})
    await add_app(client, ns, "web", labels=["zone is a"])
    await bound_to(client, ns, "web", "in-a")
    await update_constraints(client, ns, "web", ["zone in (b, c)"])
    await bound_to(client, ns, "web", "in-b")


async def test_no_migration_when_disabled(client: Client, ns: str, running: Any) -> None:
    await add_cluster(client, ns, "in-a", labels={"zone": "a"})
    await add_cluster(client, ns, "in-b", labels={"zone": "b"})
    await add_app(client, ns, "web", labels=["zone is a"], migration=False)
    await bound_to(client, ns, "web", "in-a")
    await update_constraints(client, ns, "web", ["zone is b"])
    app = await eventually(  # re-evaluated and explained: in-b would do, in-a no longer
        app_reader(client, ns, "web"),
        lambda a: not candidates(a.status.placement)["in-a"].eligible,
    )
    assert candidates(app.status.placement)["in-b"].eligible
    assert app.status.scheduled_to.name == app.status.placement.chosen.name == "in-a"
    await set_state(client, await cluster_reader(client, ns, "in-a")(), OFFLINE)
    offline = await eventually(
        app_reader(client, ns, "web"),
        lambda a: "OFFLINE" in candidates(a.status.placement)["in-a"].verdicts[1].message,
    )
    assert offline.status.scheduled_to.name == offline.status.placement.chosen.name == "in-a"


async def test_stickiness_then_periodic_rescheduling_on_metric_values(
    client: Client, ns: str
) -> None:
    async with FakePrometheus({"here": 0.5, "there": 0.3}) as prometheus:
        await add_provider(client, "prom", {"prometheus": {"url": prometheus.url}})
        await add_metric(client, "here", "prom")
        await add_metric(client, "there", "prom")
        await add_cluster(client, ns, "here", metrics=[ref("here")])
        await add_cluster(client, ns, "there", metrics=[ref("there")])
        await add_app(client, ns, "web")
        await bound_to(client, ns, "web", "here")
        prometheus.values["there"] = 0.58  # better, but by less than the stickiness
        app = await eventually(
            app_reader(client, ns, "web"),
            lambda a: candidates(a.status.placement)["there"].score == pytest.approx(0.58),
        )
        assert app.status.scheduled_to.name == "here"
        assert candidates(app.status.placement)["here"].score == pytest.approx(0.6)
        prometheus.values["there"] = 0.65  # better by more than the stickiness
        await bound_to(client, ns, "web", "there")


async def test_offline_or_deleted_clusters_lose_their_apps(client: Client, ns: str) -> None:
    await static_metrics(client, {"high": 0.9, "mid": 0.5, "low": 0.1})
    first = await add_cluster(client, ns, "first", metrics=[ref("high")])
    await add_cluster(client, ns, "second", metrics=[ref("mid")])
    await add_cluster(client, ns, "third", metrics=[ref("low")])
    await add_app(client, ns, "web")
    await bound_to(client, ns, "web", "first")
    await set_state(client, first, OFFLINE)
    await bound_to(client, ns, "web", "second")
    await client.kind(KINDS["Cluster"]).delete(ns, "second")
    app = await bound_to(client, ns, "web", "third")
    assert not app.metadata.HasField("deleted")  # moved, not deleted
