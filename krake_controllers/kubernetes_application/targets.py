"""One member cluster as the application controller uses it.

Objects are written with server-side apply (field manager `krake`, conflicts
forced): one idempotent PATCH per object creates it or converges it, without a
GET first and without resourceVersion conflicts; the server merges only the
fields the manifest sets, so fields other managers own (defaults, an HPA's
replicas, a mutating webhook's sidecar) stay theirs, and a field removed from
the manifest is removed from the object, because Krake owned it. Forcing
conflicts makes drift reverts win over whoever changed an observed field.

Server-side apply cannot take away what other managers added (an extra list
element, say): when an applied object still differs from the manifest in an
observed field, a JSON merge patch of the manifest object follows, replacing the
observed lists wholesale.

Reads come from the member watches (`MemberWatch` caches), never from a GET.
Discovery answers which resource serves (apiVersion, kind); a kind the cluster
does not serve (after one refresh of discovery) is an `UnknownKind`.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
from typing import Any, Final

import kubernetes.dynamic
import kubernetes.dynamic.exceptions

from krake_controllers.kube.connection import Connection, KubeError
from krake_controllers.kubernetes_application.manifests import Ref
from krake_controllers.kubernetes_application.members import MemberWatch, MemberWatches

FIELD_MANAGER: Final = "krake"
NOT_FOUND: Final = 404
SYNC_TIMEOUT: Final = 10.0


class UnknownKind(Exception):
    """The cluster serves no resource of this apiVersion and kind."""


class Target:
    def __init__(
        self, key: str, connection: Connection, watches: MemberWatches, cache_dir: pathlib.Path
    ) -> None:
        self.key, self.connection, self.watches = key, connection, watches
        self.cache_dir = cache_dir
        self.version = ""  # the Cluster's resource_version this target was checked at
        self.warm = False  # connected ahead of need (Reconciler.warm)
        self._resources: dict[tuple[str, str], Any] = {}
        self.namespaces: set[str] = set()  # known to exist on the cluster
        self._discovery = asyncio.Lock()
        self._dynamic: Any = None

    async def dynamic(self) -> Any:
        """A dynamic client, built once (its discovery is not thread-safe), whose
        discovery cache file is the controller's own (the client's default, one file
        per server address in /tmp, is shared by every process and races)."""
        if self._dynamic is None:
            async with self._discovery:
                if self._dynamic is None:
                    self._dynamic = await self.connection.call(
                        kubernetes.dynamic.DynamicClient,
                        self.connection.api_client,
                        cache_file=str(self.cache_dir / f"{self.connection.fingerprint}.json"),
                    )
        return self._dynamic

    async def resource(self, api_version: str, kind: str) -> Any:
        cached = self._resources.get((api_version, kind))
        if cached is not None:
            return cached
        dynamic = await self.dynamic()
        async with self._discovery:  # the discovery cache is not thread-safe
            try:
                found = await self.connection.call(
                    dynamic.resources.get, api_version=api_version, kind=kind
                )
            except kubernetes.dynamic.exceptions.ResourceNotFoundError:
                raise UnknownKind(f"{self.key} serves no {kind} in {api_version}") from None
        self._resources[(api_version, kind)] = found
        return found

    async def watch(self, api_version: str, kind: str) -> MemberWatch:
        """The synced watch of this resource type (started if need be)."""
        resource = await self.resource(api_version, kind)
        watch = self.watches.ensure(self.key, self.connection, await self.dynamic(), resource)
        if not watch.synced.is_set():
            try:
                async with asyncio.timeout(SYNC_TIMEOUT):
                    await watch.synced.wait()
            except TimeoutError:
                raise KubeError(0, "Unsynced", watch.failing or "watch not synced") from None
        return watch

    async def live(self, ref: Ref) -> dict[str, Any] | None:
        watch = await self.watch(ref.api_version, ref.kind)
        return watch.get(ref.namespace, ref.name)

    async def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        resource = await self.resource(body["apiVersion"], body["kind"])
        dynamic = await self.dynamic()
        response = await self.connection.call(
            dynamic.server_side_apply,
            resource,
            body=body,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
            serialize=False,
        )
        result: dict[str, Any] = json.loads(response.data)
        return result

    async def merge_patch(self, body: dict[str, Any]) -> dict[str, Any]:
        """JSON merge patch (RFC 7386) as `krake`: lists are replaced wholesale, so
        elements other managers added go too, which server-side apply keeps."""
        resource = await self.resource(body["apiVersion"], body["kind"])
        dynamic = await self.dynamic()
        response = await self.connection.call(
            dynamic.patch,
            resource,
            body=body,
            content_type="application/merge-patch+json",
            field_manager=FIELD_MANAGER,
            serialize=False,
        )
        result: dict[str, Any] = json.loads(response.data)
        return result

    async def delete(self, ref: Ref) -> None:
        """Delete the object (its dependents in the background); gone already is fine."""
        resource = await self.resource(ref.api_version, ref.kind)
        dynamic = await self.dynamic()
        try:
            await self.connection.call(
                dynamic.delete,
                resource,
                name=ref.name,
                namespace=ref.namespace or None,
                body={"propagationPolicy": "Background"},
                serialize=False,
            )
        except KubeError as err:
            if err.status != NOT_FOUND:
                raise
