"""The API verbs over plain JSON objects, written once for every kind: get, list,
create, replace, patch (merge, strategic, JSON, apply) and delete.

Invariants:
- each verb runs to completion without yielding the event loop, so verbs are atomic
  with respect to each other and to watches;
- a write that changes nothing (same object, same managedFields) stores nothing and
  keeps the resourceVersion;
- a write whose body carries `metadata.resourceVersion` different from the stored one
  fails with 409 Conflict (optimistic concurrency); an empty one is unconditional;
- namespaced objects can only be created in an existing namespace that is not
  terminating (404 / 403 otherwise);
- once `deletionTimestamp` is set, no finalizer can be added, and the object is removed
  by the write that leaves it without finalizers.
The deletion paths (finalizers, garbage collection, CRD removal) live in `deletion`.
"""

from __future__ import annotations

import builtins
import copy
import json
from collections.abc import Callable, Mapping
from typing import Any, Final

import yaml

from krake_testing.kube import (
    apply,
    crds,
    defaults,
    deletion,
    errors,
    meta,
    pages,
    patches,
    selectors,
    strategic,
    validation,
)
from krake_testing.kube.kinds import Kind, Kinds
from krake_testing.kube.store import Object, Store

MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_PATCH: Final = "application/strategic-merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
APPLY_PATCH: Final = "application/apply-patch+yaml"

TYPE_FIELDS: Final = ("apiVersion", "kind")

PATCHERS: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    MERGE_PATCH: patches.merge_patch,
    STRATEGIC_PATCH: strategic.strategic_merge,
    JSON_PATCH: patches.json_patch,
}


def not_found(kind: Kind, name: str) -> errors.NotFound:
    return errors.NotFound(
        f'{kind.qualified} "{name}" not found',
        details={"name": name, "group": kind.group, "kind": kind.plural},
    )


def present(kind: Kind, obj: Object) -> Object:
    """`obj` as served at `kind`'s version."""
    obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
    return obj


class Allocations:
    """Service cluster IPs and node ports, unique among the stored Services."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _services(self) -> list[Object]:
        return self.store.items(("", "services"))

    def cluster_ip(self) -> str:
        used = {s.get("spec", {}).get("clusterIP") for s in self._services()}
        index = next(i for i in range(65_000) if f"10.96.{i // 250}.{i % 250 + 1}" not in used)
        return f"10.96.{index // 250}.{index % 250 + 1}"

    def node_port(self) -> int:
        used = {p.get("nodePort") for s in self._services() for p in s["spec"].get("ports", [])}
        return next(p for p in range(30000, 32768) if p not in used)


class Api:
    """The verbs of one fake cluster. Callers pass Kinds resolved from URLs or names."""

    def __init__(self, store: Store, kinds: Kinds) -> None:
        self.store = store
        self.kinds = kinds
        self.allocations = Allocations(store)

    # Reads.

    def get(self, kind: Kind, namespace: str | None, name: str) -> Object:
        return present(kind, self._existing(kind, namespace, name))

    def list(
        self,
        kind: Kind,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        token: str = "",
    ) -> Object:
        """A `<Kind>List`, sorted by (namespace, name); `limit` pages with `continue`."""
        by_labels = selectors.labels(label_selector)
        by_fields = selectors.fields(kind, field_selector)
        items = self.store.items(kind.resource, namespace)
        items = [o for o in items if by_labels(o) and by_fields(o)]
        served, listed = pages.page(items, self.store.revision, limit, token)
        return {
            "apiVersion": kind.api_version,
            "kind": f"{kind.kind}List",
            "metadata": listed,
            "items": [present(kind, o) for o in served],
        }

    # Writes.

    def create(
        self,
        kind: Kind,
        namespace: str | None,
        body: Any,
        *,
        manager: str = "",
        dry_run: bool = False,
    ) -> Object:
        obj = self._decode(kind, body, namespace)
        return self._create(kind, namespace, obj, manager=manager, dry_run=dry_run)

    def replace(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        manager: str = "",
        dry_run: bool = False,
        status: bool = False,
    ) -> Object:
        old = self._existing(kind, namespace, name)
        new = self._decode(kind, body, namespace)
        if new["metadata"].get("name", name) != name:
            raise errors.BadRequest(
                f"the name of the object ({new['metadata']['name']}) does not match "
                f"the name on the URL ({name})"
            )
        self._check_version(kind, old, new)
        return self.update(kind, old, new, manager=manager, dry_run=dry_run, status=status)

    def patch(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        content_type: str,
        body: bytes,
        *,
        manager: str = "",
        force: bool = False,
        dry_run: bool = False,
        status: bool = False,
    ) -> tuple[Object, bool]:
        """Patch (or, for apply, possibly create); returns (object, created)."""
        if content_type == APPLY_PATCH:
            return self._apply(kind, namespace, name, body, manager, force, dry_run)
        patcher = PATCHERS.get(content_type)
        if patcher is None or (content_type == STRATEGIC_PATCH and not kind.builtin):
            accepted = ", ".join((*PATCHERS, APPLY_PATCH))
            raise errors.UnsupportedMediaType(
                "the body of the request was in an unknown format - "
                f"accepted media types include: {accepted}"
            )
        document = _parse(body, json.loads)
        old = self._existing(kind, namespace, name)
        patched = patcher(copy.deepcopy(old), document)
        if not isinstance(patched, dict):
            raise errors.Invalid("the patched document is not an object")
        self._check_version(kind, old, patched)
        return self.update(
            kind, old, patched, manager=manager, dry_run=dry_run, status=status
        ), False

    def delete(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        *,
        options: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Object:
        """Delete (or start deleting, when finalizers hold the object)."""
        obj = self._existing(kind, namespace, name)
        return deletion.delete(self, kind, obj, dict(options or {}), dry_run=dry_run)

    def update(
        self,
        kind: Kind,
        old: Object,
        new: Object,
        *,
        manager: str | None = "",
        dry_run: bool = False,
        status: bool = False,
    ) -> Object:
        """Store `new` in place of `old` (both full objects). `status` keeps all but the
        status of `old`; otherwise `old`'s status is kept for kinds with a status
        subresource. `manager` None: `new` carries its managedFields already."""
        if status:
            new = {**copy.deepcopy(old), "status": new.get("status", {})}
        elif kind.has_status:
            new["status"] = copy.deepcopy(old.get("status", {}))
        meta.carry_over(kind, old, new)
        added = set(meta.finalizers(kind, new)) - set(meta.finalizers(kind, old))
        if "deletionTimestamp" in old["metadata"] and added:
            raise errors.Invalid(
                f'{kind.kind} "{old["metadata"]["name"]}" is invalid: metadata.finalizers: '
                "Forbidden: no new finalizers can be added if the object is being deleted"
            )
        if not status:
            self._prepare(kind, new, old)
            if manager is not None:
                apply.record_update(kind, old, new, manager)
        if new == old:
            return present(kind, new)
        if dry_run:
            return present(kind, new)
        if "deletionTimestamp" in new["metadata"] and not meta.finalizers(kind, new):
            return present(kind, deletion.remove(self, kind, new, "Background"))
        stored = self.store.put(kind.resource, new)
        if kind.kind == "CustomResourceDefinition" and kind.builtin:
            self.kinds.add_crd(stored)
        return present(kind, stored)

    # Steps shared by the writes.

    def _create(
        self,
        kind: Kind,
        namespace: str | None,
        obj: Object,
        *,
        manager: str,
        dry_run: bool,
        managed: builtins.list[Object] | None = None,
    ) -> Object:
        meta.stamp_new(kind, obj, namespace)
        if kind.has_status:
            obj["status"] = copy.deepcopy(defaults.INITIAL_STATUS.get(kind.kind, {}))
        self._namespace_open(kind, namespace)
        self._prepare(kind, obj, None)
        if self.store.get(kind.resource, _key(kind, namespace, obj["metadata"]["name"])):
            name = obj["metadata"]["name"]
            raise errors.AlreadyExists(
                f'{kind.qualified} "{name}" already exists',
                details={"name": name, "group": kind.group, "kind": kind.plural},
            )
        if managed is None:
            apply.record_update(kind, None, obj, manager)
        else:
            obj["metadata"]["managedFields"] = managed
        if kind.kind == "CustomResourceDefinition" and kind.builtin:
            obj["status"] = crds.established_status(obj)
        if dry_run:
            return present(kind, obj)
        stored = self.store.put(kind.resource, obj)
        if kind.kind == "CustomResourceDefinition" and kind.builtin:
            self.kinds.add_crd(stored)
        return present(kind, stored)

    def _apply(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        body: bytes,
        manager: str,
        force: bool,
        dry_run: bool,
    ) -> tuple[Object, bool]:
        if not manager:
            raise errors.BadRequest("PATCH, fieldManager is required for apply requests")
        document = _parse(body, yaml.safe_load)
        if not isinstance(document, Mapping) or not all(document.get(f) for f in TYPE_FIELDS):
            raise errors.BadRequest("apiVersion and kind must be set in an apply configuration")
        config = self._decode(kind, document, namespace)
        if config["metadata"].setdefault("name", name) != name:
            raise errors.BadRequest(
                f"the name of the object ({config['metadata']['name']}) does not match "
                f"the name on the URL ({name})"
            )
        live = self.store.get(kind.resource, _key(kind, namespace, name))
        merged = apply.apply(kind, live, config, manager, force)
        if live is None:
            managed = merged["metadata"].pop("managedFields")
            created = self._create(
                kind, namespace, merged, manager=manager, dry_run=dry_run, managed=managed
            )
            return created, True
        self._check_version(kind, live, merged)
        return self.update(kind, live, merged, manager=None, dry_run=dry_run), False

    def _existing(self, kind: Kind, namespace: str | None, name: str) -> Object:
        found = self.store.get(kind.resource, _key(kind, namespace, name))
        if found is None:
            raise not_found(kind, name)
        return found

    def _decode(self, kind: Kind, body: Any, namespace: str | None) -> Object:
        if not isinstance(body, Mapping):
            raise errors.BadRequest("the request body must be a JSON object")
        obj = copy.deepcopy(dict(body))
        if (
            obj.get("apiVersion", kind.api_version) != kind.api_version
            or obj.get("kind", kind.kind) != kind.kind
        ):
            raise errors.BadRequest(
                f"the API version in the data ({obj.get('apiVersion')}) and kind "
                f"({obj.get('kind')}) do not match the expected {kind.api_version} {kind.kind}"
            )
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.BadRequest("metadata must be an object")
        sent = metadata.get("namespace")
        if kind.namespaced and sent and namespace and sent != namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent "
                "on the request"
            )
        if kind.builtin:
            validation.check_integers(obj)
        return obj

    def _prepare(self, kind: Kind, obj: Object, old: Object | None) -> None:
        if kind.builtin:
            defaults.apply_defaults(kind.kind, obj, old, self.allocations)
        validation.validate(kind, obj)

    def _namespace_open(self, kind: Kind, namespace: str | None) -> None:
        if not kind.namespaced:
            return
        found = self.store.get(("", "namespaces"), ("", namespace or ""))
        if found is None:
            raise errors.NotFound(
                f'namespaces "{namespace}" not found',
                details={"name": namespace, "kind": "namespaces"},
            )
        if "deletionTimestamp" in found["metadata"]:
            raise errors.Forbidden(
                f"{kind.plural} is forbidden: unable to create new content in namespace "
                f"{namespace} because it is being terminated"
            )

    def _check_version(self, kind: Kind, old: Object, new: Object) -> None:
        wanted = new.get("metadata", {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            name = old["metadata"]["name"]
            raise errors.Conflict(
                f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object '
                "has been modified; please apply your changes to the latest version and try again",
                details={"name": name, "group": kind.group, "kind": kind.plural},
            )


def _key(kind: Kind, namespace: str | None, name: str) -> tuple[str, str]:
    return ((namespace or "") if kind.namespaced else "", name)


def _parse(body: bytes, loads: Callable[[bytes], Any]) -> Any:
    try:
        return loads(body)
    except (ValueError, yaml.YAMLError) as error:
        raise errors.BadRequest(f"invalid request body: {error}") from None
