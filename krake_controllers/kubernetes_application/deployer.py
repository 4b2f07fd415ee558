"""Put an application's objects on one member cluster and read back what runs.

`Deployer.deploy(app, target, force=...)` walks the manifest in apply order; for
each object it fills in the namespace (the application's, unless the object names
one or its kind is cluster-scoped), labels it, injects the hooks, and applies it
when `force` (the spec changed), when it is missing on the cluster, or when a field
its observer schema selects has drifted. Objects and fields outside the schema are
never a reason to apply. The result pairs every object with its live state.

Invalid input is an `InvalidManifest`: a kind the cluster does not serve (unless
a CRD of the same manifest is about to define it), or an object the cluster
refuses as Invalid/BadRequest (400, 422). Everything else propagates and is
retried with the work queue's backoff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from krake_api.structs import to_dict
from krake_controllers.kube.connection import KubeError
from krake_controllers.kubernetes_application import hooks, manifests, schemas
from krake_controllers.kubernetes_application.manifests import InvalidManifest, Ref
from krake_controllers.kubernetes_application.targets import Target, UnknownKind

log = structlog.get_logger(__name__)
INVALID: Final = frozenset({400, 422})


@dataclass(frozen=True, slots=True)
class Placed:
    """One manifest object as applied, with its observer schema and live state."""

    ref: Ref
    body: dict[str, Any]  # what is applied
    schema: Any  # None: the object is not observed
    live: dict[str, Any] | None


@dataclass(slots=True)
class Deployed:
    objects: list[Placed] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # hook -> token digest
    applied: int = 0


def custom_schemas(app: Any) -> dict[tuple[str, str, str], Any] | None:
    """The user's observer schemas by (apiVersion, kind, name); None: observe by default."""
    if not app.spec.observer_schema:
        return None
    found = {}
    for struct in app.spec.observer_schema:
        schema = to_dict(struct)
        name = (schema.get("metadata") or {}).get("name", "")
        found[(schema.get("apiVersion", ""), schema.get("kind", ""), name)] = schema
    return found


def defines(objects: Iterable[Mapping[str, Any]], api_version: str, kind: str) -> bool:
    """Whether a CRD among `objects` defines `kind` in `api_version`'s group."""
    group = api_version.rpartition("/")[0]
    return any(
        obj["kind"] == "CustomResourceDefinition"
        and obj.get("spec", {}).get("group") == group
        and obj.get("spec", {}).get("names", {}).get("kind") == kind
        for obj in objects
    )


class Deployer:
    def __init__(self, hook_endpoint: str) -> None:
        self.hook_endpoint = hook_endpoint
        self._applied: dict[tuple[str, Ref], dict[str, Any]] = {}

    async def deploy(self, app: Any, target: Target, *, force: bool) -> Deployed:
        objects = manifests.ordered(manifests.check(to_dict(m) for m in app.spec.manifest))
        custom = custom_schemas(app)
        deployed = Deployed()
        enabled = hooks.enabled(app)
        if enabled:
            await self._hook_secrets(app, target, enabled, deployed)
        for obj in objects:
            try:
                resource = await target.resource(obj["apiVersion"], obj["kind"])
            except UnknownKind as err:
                if defines(objects, obj["apiVersion"], obj["kind"]):
                    raise  # its CRD is not served yet: retry
                raise InvalidManifest(str(err)) from None
            placed = manifests.placed(obj, app.metadata.namespace, resource.namespaced)
            ref = Ref.of(placed)
            if custom is None:
                schema: Any = schemas.with_identity(schemas.default(obj))
            else:
                found = custom.get((ref.api_version, ref.kind, ref.name))
                schema = None if found is None else schemas.with_identity(found)
            body = hooks.inject(
                manifests.labelled(placed, app.metadata.uid), enabled, self.hook_endpoint
            )
            live = self._fresher(target, ref, await target.live(ref))
            if force or self._needs_apply(placed, live, schema, app.metadata.uid):
                if ref.namespace:
                    await self._namespace(target, ref.namespace, objects)
                live = await self._apply(target, ref, body)
                if schema is not None and schemas.differs(placed, live, schema):
                    live = await self._apply(target, ref, body, merge=True)
                deployed.applied += 1
            deployed.objects.append(Placed(ref, body, schema, live))
        pods = await target.watch("v1", "Pod")
        deployed.pods = pods.of_uid(app.metadata.uid)
        return deployed

    @staticmethod
    def _needs_apply(
        placed: dict[str, Any], live: dict[str, Any] | None, schema: Any, uid: str
    ) -> bool:
        if live is None:
            return True
        if live.get("metadata", {}).get("labels", {}).get(manifests.APP_LABEL) != uid:
            return True
        return schema is not None and schemas.differs(placed, live, schema)

    def _fresher(self, target: Target, ref: Ref, cached: dict[str, Any] | None) -> Any:
        """The watch cache's object, unless our own last apply is newer than it."""
        applied = self._applied.get((target.key, ref))
        if cached is None or applied is None:
            return cached
        generation = cached.get("metadata", {}).get("generation", 0)
        return applied if generation < applied["metadata"].get("generation", 0) else cached

    async def _apply(
        self, target: Target, ref: Ref, body: dict[str, Any], *, merge: bool = False
    ) -> dict[str, Any]:
        try:
            live = await (target.merge_patch(body) if merge else target.apply(body))
        except KubeError as err:
            if err.status in INVALID:
                raise InvalidManifest(f"{ref}: {err.message}") from None
            raise
        self._applied[(target.key, ref)] = live
        log.debug("object.applied", cluster=target.key, object=str(ref))
        return live

    async def _namespace(
        self, target: Target, namespace: str, objects: Iterable[Mapping[str, Any]]
    ) -> None:
        """Create the namespace on the cluster, once, unless the manifest has it."""
        if namespace in target.namespaces:
            return
        if not any(
            o["kind"] == "Namespace" and o["metadata"]["name"] == namespace for o in objects
        ):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            await target.apply(body)
        target.namespaces.add(namespace)

    async def _hook_secrets(
        self, app: Any, target: Target, enabled: list[hooks.Hook], deployed: Deployed
    ) -> None:
        secrets = await target.watch("v1", "Secret")
        namespace = app.metadata.namespace
        for hook in enabled:
            existing = secrets.get(namespace, hook.secret_name)
            token = hooks.token_of(existing)
            if token is None or existing is None:
                token = hooks.new_token()
                await self._namespace(target, namespace, ())
                await target.apply(hooks.secret(hook, namespace, app.metadata.uid, token))
            deployed.digests[hook.name] = hooks.digest(token)
