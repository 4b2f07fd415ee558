"""Put an application's objects on one member cluster and read back what runs.

`Deployer.deploy(app, target, force=...)` walks the manifest in apply order; for
each object it fills in the namespace (the application's, unless the object names
one or its kind is cluster-scoped), labels it, injects the hooks, and applies it
when `force` (the spec changed), when it is missing on the cluster, or when a field
its observer schema selects has drifted. Objects and fields outside the schema are
never a reason to apply. The result pairs every object with its live state.

Invalid input is an `InvalidManifest`: a kind the cluster does not serve (unless
a CRD of the same manifest defines it: its scope then places the objects, and
applying them waits, with retries, until the cluster serves the new type), or an
object the cluster refuses as Invalid/BadRequest (400, 422). Everything else propagates and is
retried with the work queue's backoff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from google.protobuf import struct_pb2

from krake_api.structs import to_dict, to_struct
from krake_controllers.kube.connection import KubeError
from krake_controllers.kubernetes_application import hooks, manifests, schemas
from krake_controllers.kubernetes_application.manifests import InvalidManifest, Ref
from krake_controllers.kubernetes_application.targets import Target, UnknownKind

log = structlog.get_logger(__name__)
INVALID: Final = frozenset({400, 422})
Structs = tuple[struct_pb2.Struct, struct_pb2.Struct | None]
Plan = list[tuple[Ref, dict[str, Any], Any, Structs]]


@dataclass(frozen=True, slots=True)
class Placed:
    """One manifest object as applied, with its observer schema and live state."""

    ref: Ref
    body: dict[str, Any]  # what is applied
    schema: Any  # None: the object is not observed
    live: dict[str, Any] | None
    structs: Structs  # body and schema as Structs, for the status


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


def defines(objects: Iterable[Mapping[str, Any]], api_version: str, kind: str) -> str | None:
    """The scope ("Namespaced" or "Cluster") of the CRD among `objects` that defines
    `kind` in `api_version`'s group, or None if none does."""
    group = api_version.rpartition("/")[0]
    for obj in objects:
        spec = obj.get("spec", {})
        if (
            obj["kind"] == "CustomResourceDefinition"
            and spec.get("group") == group
            and spec.get("names", {}).get("kind") == kind
        ):
            return str(spec.get("scope", "Namespaced"))
    return None


class Deployer:
    def __init__(self, hook_endpoint: str) -> None:
        self.hook_endpoint = hook_endpoint
        self._applied: dict[tuple[str, Ref], dict[str, Any]] = {}
        self._plans: dict[str, tuple[int, str, Plan]] = {}  # uid -> (generation, cluster, plan)

    async def deploy(self, app: Any, target: Target, *, force: bool) -> Deployed:
        deployed = Deployed()
        enabled = hooks.enabled(app)
        if enabled:
            await self._hook_secrets(app, target, enabled, deployed)
        for ref, body, schema, structs in await self._plan(app, target, enabled):
            live = self._fresher(target, ref, await target.live(ref))
            if force or self._needs_apply(body, live, schema, app.metadata.uid):
                if ref.namespace:
                    await self._namespace(target, ref.namespace, app)
                live = await self._apply(target, ref, body)
                if schema is not None and schemas.differs(body, live, schema):
                    live = await self._apply(target, ref, body, merge=True)
                deployed.applied += 1
            deployed.objects.append(Placed(ref, body, schema, live, structs))
        pods = await target.watch("v1", "Pod")
        deployed.pods = pods.of_uid(app.metadata.uid)
        return deployed

    async def _plan(self, app: Any, target: Target, enabled: list[hooks.Hook]) -> Plan:
        """(ref, body, schema) of every object in apply order; kept per application
        while its generation and cluster stay the same (bodies are never changed)."""
        uid, generation = app.metadata.uid, app.metadata.generation
        kept = self._plans.get(uid)
        if kept is not None and kept[:2] == (generation, target.key):
            return kept[2]
        objects = manifests.ordered(manifests.check(to_dict(m) for m in app.spec.manifest))
        custom = custom_schemas(app)
        plan: Plan = []
        for obj in objects:
            try:
                namespaced = (await target.resource(obj["apiVersion"], obj["kind"])).namespaced
            except UnknownKind as err:
                scope = defines(objects, obj["apiVersion"], obj["kind"])
                if scope is None:
                    raise InvalidManifest(str(err)) from None
                namespaced = scope == "Namespaced"  # its CRD comes first in the manifest
            body = manifests.placed(obj, app.metadata.namespace, namespaced)
            ref = Ref.of(body)
            if custom is None:
                schema: Any = schemas.with_identity(schemas.default(body))
            else:
                found = custom.get((ref.api_version, ref.kind, ref.name))
                schema = None if found is None else schemas.with_identity(found)
            manifests.labelled(body, uid)
            hooks.inject(body, enabled, self.hook_endpoint)
            structs = (to_struct(body), None if schema is None else to_struct(schema))
            plan.append((ref, body, schema, structs))
        self._plans[uid] = (generation, target.key, plan)
        return plan

    def forget(self, uid: str) -> None:
        self._plans.pop(uid, None)

    @staticmethod
    def _needs_apply(
        body: dict[str, Any], live: dict[str, Any] | None, schema: Any, uid: str
    ) -> bool:
        if live is None:
            return True
        if live.get("metadata", {}).get("labels", {}).get(manifests.APP_LABEL) != uid:
            return True
        return schema is not None and schemas.differs(body, live, schema)

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

    async def _namespace(self, target: Target, namespace: str, app: Any) -> None:
        """Create the namespace on the cluster, once, unless the manifest has it."""
        if namespace in target.namespaces:
            return
        plan = self._plans.get(app.metadata.uid, (0, "", []))[2]
        if not any(r.kind == "Namespace" and r.name == namespace for r, *_ in plan):
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
                await self._namespace(target, namespace, app)
                await target.apply(hooks.secret(hook, namespace, app.metadata.uid, token))
            deployed.digests[hook.name] = hooks.digest(token)
