"""The application reconciler: one application key in, its clusters converged.

    deleted set           -> shutdown hook, remove every object, then the finalizer
    not scheduled         -> nothing (the scheduler decides)
    scheduled, not yet    -> the finalizer first, then converge on scheduled_to
    running_on == target  -> converge: apply what changed, drifted or went missing,
                             delete what left the manifest, write the status
    running_on != target  -> migrate (migrations.py)

Only an invalid manifest is terminal (FAILED with the reason); every other
failure raises and is retried with the work queue's per-key backoff.
"""

from __future__ import annotations

import pathlib
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import grpc
import grpc.aio
import structlog
from kubernetes.config.config_exception import ConfigException

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_api.config import tunable
from krake_api.structs import to_dict, to_struct
from krake_controllers.kube.connection import Connections, KubeError
from krake_controllers.kubernetes_application import schemas, statuses
from krake_controllers.kubernetes_application.deployer import Deployed, Deployer
from krake_controllers.kubernetes_application.manifests import InvalidManifest, Ref, rank
from krake_controllers.kubernetes_application.members import MemberWatches
from krake_controllers.kubernetes_application.migrations import Migrations
from krake_controllers.kubernetes_application.shutdown import Shutdowns
from krake_controllers.kubernetes_application.targets import Target, UnknownKind
from krake_controllers.runtime.client import Client, unless_gone
from krake_controllers.runtime.controller import Result, Terminal
from krake_controllers.runtime.informer import Informer

log = structlog.get_logger(__name__)
State = kubernetes_pb2.Application.Status.State
FINALIZER: Final = "kubernetes_resources_deletion"
DEFAULT_HOOK_ENDPOINT: Final = "http://127.0.0.1:8080"
Reason = metadata_pb2.Reason


def copy(obj: Any) -> Any:
    new = type(obj)()
    new.CopyFrom(obj)
    return new


def _revision(app: Any) -> int:
    """The resource_version as a number (the API's are store revisions)."""
    version: str = app.metadata.resource_version
    return int(version) if version.isdigit() else 0


def _inputs(app: Any, target: Target, deployed: Deployed) -> tuple[Any, ...]:
    """Everything the status is computed from, besides the application itself."""

    def version(obj: dict[str, Any] | None) -> str:
        return "" if obj is None else str(obj["metadata"].get("resourceVersion", ""))

    return (
        target.key,
        tuple(version(p.live) for p in deployed.objects),
        tuple(version(pod) for pod in deployed.pods),
        tuple(sorted(deployed.digests.items())),
    )


def cluster_key(ref: Any, namespace: str) -> str:
    return f"{ref.namespace or namespace}/{ref.name}"


@dataclass(frozen=True, slots=True)
class Settings:
    hook_endpoint: str = tunable(
        DEFAULT_HOOK_ENDPOINT, "the API gateway's URL as workloads reach it (complete hook)"
    )
    migration_timeout: float = tunable(
        300.0, "seconds the new cluster gets to run a migrating app before rollback"
    )
    deletion_recheck: float = tunable(5.0, "seconds between checks while objects are going")


class Reconciler:
    def __init__(
        self,
        client: Client,
        apps: Informer,
        clusters: Informer,
        watches: MemberWatches,
        settings: Settings,
    ) -> None:
        self.client, self.apps, self.clusters, self.watches = client, apps, clusters, watches
        self.settings = settings
        self.api = client.kind(registry.KINDS["Application"])
        self.connections = Connections()
        self.deployer = Deployer(settings.hook_endpoint)
        self.shutdowns = Shutdowns()
        self.targets: dict[str, Target] = {}
        self.written: dict[str, Any] = {}  # key -> the application as we last wrote it
        self.unchanged: dict[str, tuple[Any, str]] = {}  # uid -> (inputs, resource_version)
        self.discovery = tempfile.TemporaryDirectory(prefix="krake-discovery-")
        self.migrations = Migrations(self, settings.migration_timeout)

    async def close(self) -> None:
        await self.watches.close()
        await self.connections.close()
        await self.shutdowns.close()
        self.discovery.cleanup()

    def current(self, key: str) -> Any:
        """The informer's copy of the application, or our own last write if newer
        (the informer may not have seen it yet: a write from it would be refused)."""
        cached, written = self.apps.get(key), self.written.get(key)
        if cached is None or written is None:
            self.written.pop(key, None)
            return cached
        if _revision(written) > _revision(cached):
            return written
        del self.written[key]
        return cached

    async def reconcile(self, key: str) -> Result:
        app = self.current(key)
        if app is None:
            return Result()
        if app.metadata.HasField("deleted"):
            return await self.delete(app)
        if not app.status.scheduled_to.name:
            return Result()
        if FINALIZER not in app.metadata.finalizers:
            app = copy(app)
            app.metadata.finalizers.append(FINALIZER)
            app = self.remember(await self.api.update(app))
        wanted = self.migrations.destination(app)
        running = app.status.running_on
        if running.name and cluster_key(running, app.metadata.namespace) != wanted:
            return await self.migrations.migrate(app, wanted)
        target = self.target(wanted)
        if target is None:
            return Result(requeue_after=self.settings.deletion_recheck)
        return await self.converge(app, target)

    def target(self, key: str) -> Target | None:
        """The member cluster `key` ("namespace/name"), or None if it has no kubeconfig."""
        cluster = self.clusters.get(key)
        if cluster is None or not cluster.spec.kubeconfig.fields:
            log.info("cluster.unknown", cluster=key)
            return None
        target = self.targets.get(key)
        version = cluster.metadata.resource_version
        if target is not None and target.version == version:
            return target  # the Cluster is unchanged: so is its kubeconfig
        connection = self.connections.get(key, to_dict(cluster.spec.kubeconfig))
        if target is None or target.connection is not connection:
            target = Target(key, connection, self.watches, pathlib.Path(self.discovery.name))
            self.targets[key] = target
        target.version = version
        return target

    async def deploy(self, app: Any, target: Target, *, force: bool) -> Deployed:
        """Deploy, turning an invalid manifest into FAILED and `Terminal`."""
        try:
            return await self.deployer.deploy(app, target, force=force)
        except InvalidManifest as err:
            await self.write(app, self.failed(app, str(err)))
            raise Terminal(str(err)) from None

    async def converge(self, app: Any, target: Target, *, state: int | None = None) -> Result:
        changed = app.status.observed_generation != app.metadata.generation
        deployed = await self.deploy(app, target, force=changed)
        if changed:  # otherwise last_applied_manifest is this very manifest
            current = {placed.ref for placed in deployed.objects}
            await self.remove(target, [r for r in self.applied_refs(app) if r not in current])
        inputs = _inputs(app, target, deployed)
        if self.unchanged.get(app.metadata.uid) == (inputs, app.metadata.resource_version):
            return Result()  # the same application seen with the same objects: same status
        written = await self.write(app, self.status(app, target, deployed, state))
        if written is not None:
            self.unchanged[app.metadata.uid] = (inputs, written.metadata.resource_version)
        return Result()

    def status(self, app: Any, target: Target, deployed: Deployed, state: int | None = None) -> Any:
        """The new status after `deployed` on `target` (state derived unless given)."""
        observed = statuses.Observed.of([p.live for p in deployed.objects], deployed.pods)
        status = copy(app.status)
        first = app.status.observed_generation == 0
        changed = app.status.observed_generation != app.metadata.generation
        status.state = (
            statuses.state(app.status.state, changed, first, observed) if state is None else state
        )
        if status.state in (State.RUNNING, State.COMPLETED, State.CREATING, State.RECONCILING):
            status.ClearField("reason")
        elif status.state == State.DEGRADED and not status.reason.message:
            status.reason.code = Reason.RECONCILE_FAILED
            status.reason.message = "not every workload is ready"
        if (held_back := self.migrations.held_back(app)) is not None:
            status.reason.code = Reason.RECONCILE_FAILED
            status.reason.message = held_back
        status.observed_generation = app.metadata.generation
        status.running_on.CopyFrom(self.cluster_ref(app, target))
        status.ClearField("last_applied_manifest")
        status.last_applied_manifest.extend(p.structs[0] for p in deployed.objects)
        status.ClearField("last_observed_manifest")
        status.last_observed_manifest.extend(
            to_struct(schemas.observe(p.live, p.schema))
            for p in deployed.objects
            if p.schema is not None and p.live is not None
        )
        status.ClearField("mangled_observer_schema")
        status.mangled_observer_schema.extend(
            p.structs[1] for p in deployed.objects if p.structs[1] is not None
        )
        status.container_health.CopyFrom(observed.container_health())
        status.ClearField("services")
        status.services.update(
            statuses.services([p.live for p in deployed.objects], self.host(target))
        )
        status.complete_token = deployed.digests.get("complete", "")
        status.shutdown_token = deployed.digests.get("shutdown", "")
        return status

    def cluster_ref(self, app: Any, target: Target) -> Any:
        namespace, _, name = target.key.partition("/")
        cluster = self.clusters.get(target.key)
        return metadata_pb2.ResourceRef(
            api="kubernetes",
            kind="Cluster",
            namespace=namespace,
            name=name,
            uid=cluster.metadata.uid if cluster is not None else "",
        )

    def host(self, target: Target) -> str:
        return urlsplit(target.connection.api_client.configuration.host).hostname or ""

    def failed(self, app: Any, message: str) -> Any:
        status = copy(app.status)
        status.state = State.FAILED
        status.reason.code = Reason.INVALID_RESOURCE
        status.reason.message = message
        status.observed_generation = app.metadata.generation
        return status

    async def write(self, app: Any, status: Any) -> Any:
        """Write `status` unless unchanged; precondition: `app`'s resource_version.
        None when the application is gone, or changed meanwhile (ABORTED): its
        newer version is on its way to the informer and queues the key again."""
        if status == app.status:
            return app
        new = copy(app)
        new.status.CopyFrom(status)
        try:
            written = await unless_gone(self.api.update_status(new))
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.ABORTED:
                raise
            log.debug("app.status_conflict", app=app.metadata.name)
            return None
        log.info("app.status", app=app.metadata.name, state=State.Name(status.state))
        return self.remember(written)

    def remember(self, app: Any) -> Any:
        if app is not None:
            self.written[f"{app.metadata.namespace}/{app.metadata.name}"] = app
        return app

    def applied_refs(self, app: Any) -> list[Ref]:
        refs = []
        for applied in app.status.last_applied_manifest:
            meta = applied.fields["metadata"].struct_value.fields
            namespace = meta["namespace"].string_value if "namespace" in meta else ""
            name = meta["name"].string_value
            refs.append(Ref(applied["apiVersion"], applied["kind"], namespace, name))
        return refs

    async def refs_on(self, app: Any, target: Target) -> list[Ref]:
        """Everything of `app` that may be on `target`: last applied, manifest, hook Secrets."""
        refs = set(self.applied_refs(app))
        for struct in app.spec.manifest:
            obj = to_dict(struct)
            try:
                resource = await target.resource(obj["apiVersion"], obj["kind"])
            except (UnknownKind, KeyError):
                continue
            namespace = obj.get("metadata", {}).get("namespace", app.metadata.namespace)
            refs.add(
                Ref(
                    obj["apiVersion"],
                    obj["kind"],
                    namespace if resource.namespaced else "",
                    obj.get("metadata", {}).get("name", ""),
                )
            )
        secrets = await target.watch("v1", "Secret")
        for secret in secrets.of_uid(app.metadata.uid):
            refs.add(Ref.of({"apiVersion": "v1", "kind": "Secret", **secret}))
        return sorted(refs, key=lambda r: -rank({"kind": r.kind}))

    async def remove(self, target: Target, refs: Iterable[Ref]) -> int:
        """Delete each object of `refs` still on `target`; how many are still there."""
        present = 0
        for ref in sorted(refs, key=lambda r: -rank({"kind": r.kind})):
            try:
                live = await target.live(ref)
            except UnknownKind:
                continue
            if live is None:
                continue
            present += 1
            if not live["metadata"].get("deletionTimestamp"):
                log.info("object.delete", cluster=target.key, object=str(ref))
                await target.delete(ref)
        return present

    async def delete(self, app: Any) -> Result:
        if FINALIZER not in app.metadata.finalizers:
            return Result()
        if not self.shutdowns.done(app):
            return await self.shut_down(app)
        present = 0
        clusters = {
            cluster_key(r, app.metadata.namespace)
            for r in (app.status.running_on, app.status.scheduled_to)
            if r.name
        }
        for key in sorted(clusters):
            target = self.target(key)
            if target is None:
                log.warning("app.cluster_gone", app=app.metadata.name, cluster=key)
                continue
            present += await self.remove(target, await self.refs_on(app, target))
        if present:
            status = copy(app.status)
            status.state = State.DELETING
            await self.write(app, status)
            return Result(requeue_after=self.settings.deletion_recheck)
        new = copy(app)
        new.metadata.ClearField("finalizers")
        new.metadata.finalizers.extend(f for f in app.metadata.finalizers if f != FINALIZER)
        await unless_gone(self.api.update(new))
        log.info("app.deleted", app=app.metadata.name)
        return Result()

    async def shut_down(self, app: Any) -> Result:
        """Ask the workload to shut down (state WAITING_FOR_CLEANING first, so that its
        answer, READY_FOR_ACTION, comes after); DEGRADED if it will not and we give up."""
        step = self.shutdowns.next_step(app)
        if step.action == "give_up":
            status = copy(app.status)
            status.state = State.DEGRADED
            status.reason.code = Reason.DELETE_FAILED
            status.reason.message = f"shutdown hook: {step.why}"
            await self.write(app, status)
            return Result()
        if step.action == "proceed":
            return Result(requeue_after=0.001)
        if step.action == "call":
            if app.status.state != State.WAITING_FOR_CLEANING:
                status = copy(app.status)
                status.state = State.WAITING_FOR_CLEANING
                app = await self.write(app, status)
                if app is None:
                    return Result()  # changed meanwhile: its next version comes back here
            await self.shutdowns.call(app)
        return Result(requeue_after=step.wait)

    async def warm(self, key: str) -> None:
        """Connect to the cluster before an application needs it: discovery, and the
        watch on Pods that every application with workloads uses."""
        try:
            target = self.target(key)
            if target is None or target.warm:
                return
            target.warm = True
            await target.watch("v1", "Pod")
        except (KubeError, UnknownKind, ConfigException) as err:  # reconciles will retry
            log.info("cluster.warm_failed", cluster=key, error=str(err))

    async def drop_cluster(self, key: str) -> None:
        """The Cluster is gone: stop watching it and close its connection."""
        self.targets.pop(key, None)
        await self.watches.stop(key)
        await self.connections.drop(key)

    def forget(self, uid: str) -> None:
        """The application is gone: drop what was kept about it."""
        self.shutdowns.forget(uid)
        self.migrations.forget(uid)
        self.deployer.forget(uid)
        self.unchanged.pop(uid, None)
