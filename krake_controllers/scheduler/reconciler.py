"""The scheduler's reconciler: one pass over one Application or Cluster.

Application: rank the clusters of its namespace (`placement.evaluate`), bind when
unbound or when `placement.decide` says move, record the explanation in
`status.placement` when it changed materially, and come back after
`reschedule_after` seconds. Cluster, Cloud, GlobalCloud: keep the metric health
in `status` (health.py). A cluster to be created (no kubeconfig, a TOSCA template) and not yet
bound is bound to the best Cloud/GlobalCloud and inherits from it as asked.
Writes are compare-and-swap on the cached resource_version: a conflict raises,
and the runtime retries with the fresher object.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from krake.core.v1 import metadata_pb2, placement_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_controllers.runtime.client import Client
from krake_controllers.runtime.controller import Result
from krake_controllers.scheduler import filters, gathering, health, inheritance, placement, views
from krake_controllers.scheduler.caches import Caches, Key
from krake_controllers.scheduler.providers.cache import Fetcher
from krake_controllers.scheduler.readings import Reading
from krake_controllers.scheduler.settings import Settings
from krake_controllers.scheduler.snapshots import Snapshots

log = structlog.get_logger(__name__)
Cluster = kubernetes_pb2.Cluster
NO_SUITABLE: Final = metadata_pb2.Reason.NO_SUITABLE_RESOURCE


def copy(obj: Any) -> Any:
    new = type(obj)()
    new.CopyFrom(obj)
    return new


def outline(found: placement_pb2.Placement) -> tuple[object, ...]:
    """What makes two placements materially different (not the time, not score noise)."""
    return (
        views.ref_key(found.chosen),
        tuple(
            (
                views.ref_key(c.ref),
                c.eligible,
                round(c.score, 2),
                tuple(v.passed for v in c.verdicts),
            )
            for c in found.candidates
        ),
    )


class Scheduler:
    def __init__(
        self, client: Client, caches: Caches, snapshots: Snapshots, settings: Settings
    ) -> None:
        self.client, self.caches, self.settings = client, caches, settings
        self.snapshots = snapshots
        self.fetcher = Fetcher(ttl=settings.metrics_ttl, timeout=settings.fetch_timeout)
        # Application key -> the inputs of its last completed evaluation: the same
        # inputs give the same placement, so the next pass has nothing to do.
        self.evaluated: dict[Key, tuple[int, int, tuple[Reading, ...]]] = {}

    async def close(self) -> None:
        await self.fetcher.close()

    async def reconcile(self, key: Key) -> Result:
        obj = self.caches.get(key.kind, key.namespace, key.name)
        if obj is None or obj.metadata.HasField("deleted"):
            self.evaluated.pop(key, None)
            return Result()
        if key.kind == "Application":
            await self.schedule_application(key, obj)
        elif key.kind == "Cluster":
            await self.check_cluster(obj)
        else:  # Cloud, GlobalCloud
            await self.check_health(obj, copy(obj), views.cloud_target(obj), health.CLOUD)
        return Result(requeue_after=self.settings.reschedule_after)

    async def rank(
        self, subject: views.Subject, targets: list[views.Target], checks: Sequence[filters.Filter]
    ) -> list[placement.Evaluation]:
        keys = (w.key for target in targets for w in target.metrics)
        readings = await gathering.read(keys, self.caches, self.fetcher)
        return placement.evaluate(
            subject, targets, readings, checks, stickiness=self.settings.stickiness
        )

    async def schedule_application(self, key: Key, app: kubernetes_pb2.Application) -> None:
        snapshot = self.snapshots.clusters(app.metadata.namespace)
        readings = await gathering.read(snapshot.keys, self.caches, self.fetcher)
        version = int(app.metadata.resource_version)
        inputs = (version, snapshot.version, snapshot.fingerprint(readings))
        seen = self.evaluated.get(key)
        if seen is not None and (version < seen[0] or seen == inputs):
            return  # the cache has not caught up with our own write yet, or nothing changed
        subject = views.application_subject(app)
        judged = snapshot.judged(subject, readings, filters.CLUSTER_FILTERS)
        ranked = placement.rank(subject, judged, stickiness=self.settings.stickiness)
        decision = placement.decide(subject, ranked)
        found = placement.explain(
            ranked,
            chosen=placement.chosen(decision, app.status.scheduled_to),
            now=datetime.now(UTC),
            limit=self.settings.recorded_candidates,
        )
        current = app
        if decision.target is not None:
            current = await self.bind(app, decision.target.ref)
            log.info("scheduler.bound", app=subject.key, to=decision.target.key, why=decision.why)
        unsuitable = not subject.current and decision.target is None
        current = await self.record(current, found, unsuitable=unsuitable)
        # Bound or not, evaluating again with these inputs changes nothing.
        self.evaluated[key] = (int(current.metadata.resource_version), *inputs[1:])

    async def record(
        self, app: kubernetes_pb2.Application, found: placement_pb2.Placement, *, unsuitable: bool
    ) -> kubernetes_pb2.Application:
        """`app` with `found` recorded (written only when it changed materially)."""
        new = copy(app)
        new.status.placement.CopyFrom(found)
        if unsuitable:
            new.status.reason.CopyFrom(
                metadata_pb2.Reason(code=NO_SUITABLE, message="no cluster passes every filter")
            )
        elif new.status.reason.code == NO_SUITABLE:
            new.status.ClearField("reason")
        if (
            outline(app.status.placement) == outline(found)
            and new.status.reason == app.status.reason
        ):
            return app
        written: kubernetes_pb2.Application = await self.client.kind(
            registry.KINDS["Application"]
        ).update_status(new)
        return written

    async def bind(self, obj: Any, ref: metadata_pb2.ResourceRef) -> Any:
        kind = registry.KINDS[obj.DESCRIPTOR.name]
        binding = self.client.binding(kind, "bind")
        (field,) = [
            f.name
            for f in binding.method.input_type.fields
            if f.message_type is not None and f.message_type.name == "ResourceRef"
        ]
        request = self.client.request(
            kind, "bind", namespace=obj.metadata.namespace, name=obj.metadata.name, **{field: ref}
        )
        return await self.client.unary(kind, "bind")(
            request, timeout=self.client.timeout, metadata=self.client.metadata
        )

    async def check_cluster(self, cluster: Cluster) -> None:
        current = cluster
        found = None
        if views.needs_cloud(cluster) and not cluster.status.scheduled_to.name:
            current, found = await self.place_cluster(cluster)
        await self.record_cluster(current, found)

    async def place_cluster(self, cluster: Cluster) -> tuple[Cluster, placement_pb2.Placement]:
        subject = views.cluster_subject(cluster)
        clouds = {views.ref_key(views.ref_of(c)): c for c in self.caches.clouds_for(
            cluster.metadata.namespace
        )}  # fmt: skip
        ranked = await self.rank(
            subject, [views.cloud_target(c) for c in clouds.values()], filters.CLOUD_FILTERS
        )
        decision = placement.decide(subject, ranked)
        found = placement.explain(
            ranked,
            chosen=placement.chosen(decision, cluster.status.scheduled_to),
            now=datetime.now(UTC),
            limit=self.settings.recorded_candidates,
        )
        if decision.target is None:
            return cluster, found
        cloud = clouds[decision.target.key]
        current = await self.bind(cluster, decision.target.ref)
        log.info("scheduler.cluster_bound", cluster=subject.key, to=decision.target.key)
        changed = inheritance.inherited(current, cloud)
        if changed is not None:
            current = await self.client.kind(registry.KINDS["Cluster"]).update(changed)
        return current, found

    async def record_cluster(self, cluster: Cluster, found: placement_pb2.Placement | None) -> None:
        """The cluster's metric health (and cloud placement, when one was made)."""
        new = copy(cluster)
        if found is not None and outline(found) != outline(cluster.status.placement):
            new.status.placement.CopyFrom(found)
        await self.check_health(cluster, new, views.cluster_target(cluster), health.CLUSTER)

    async def check_health(
        self, obj: Any, new: Any, target: views.Target, states: health.States
    ) -> None:
        """Write `new` with the metric health of `target` when `obj`'s status differs."""
        readings = await gathering.read((w.key for w in target.metrics), self.caches, self.fetcher)
        health.apply(new.status, health.reasons(target, readings), states)
        if new.status != obj.status:
            kind = registry.KINDS[obj.DESCRIPTOR.name]
            await self.client.kind(kind).update_status(new)
            log.info("scheduler.metrics_health", object=str(Key.of(obj)),
                     failing=sorted(new.status.metrics_reasons))  # fmt: skip
