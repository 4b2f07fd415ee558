"""Deletion: finalizers, preconditions, garbage collection of dependents, CRD removal.

Invariants:
- an object with finalizers (a Namespace also counts its `spec.finalizers`) is not
  removed by DELETE: it gets `deletionTimestamp`, a generation bump (and a Namespace
  phase `Terminating`) and stays until a write leaves it without finalizers;
- when an object is removed, its dependents (objects whose `ownerReferences` name its
  uid) are deleted in turn unless another owner of theirs still exists; with
  `propagationPolicy: Orphan` they lose that owner reference instead. `Foreground` is
  treated as `Background`: the owner goes first, its dependents right after, within the
  same request (no `foregroundDeletion` finalizer);
- removing a CRD stops serving its types and removes all of their objects;
- the namespaces default, kube-system and kube-public cannot be deleted (403).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Final

from krake_testing.kube import errors, meta
from krake_testing.kube.kinds import Kind
from krake_testing.kube.store import Object, key_of

if TYPE_CHECKING:
    from krake_testing.kube.verbs import Api

PROPAGATIONS: Final = ("Background", "Foreground", "Orphan")
PROTECTED_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public"})
COLLECTOR: Final = "garbage-collector"


def delete(api: Api, kind: Kind, obj: Object, options: dict[str, Any], *, dry_run: bool) -> Object:
    """DELETE on a stored object; returns what the response carries."""
    name = obj["metadata"]["name"]
    if kind.kind == "Namespace" and name in PROTECTED_NAMESPACES:
        raise errors.Forbidden(
            f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        )
    _check_preconditions(kind, obj, options.get("preconditions") or {})
    propagation = options.get("propagationPolicy") or "Background"
    if propagation not in PROPAGATIONS:
        raise errors.BadRequest(f"unknown propagationPolicy {propagation!r}")
    if meta.finalizers(kind, obj):
        if "deletionTimestamp" in obj["metadata"]:
            return _served(kind, obj)
        meta.start_deletion(obj)
        if kind.kind == "Namespace" and not kind.group:
            obj.setdefault("status", {})["phase"] = "Terminating"
        return _served(kind, obj if dry_run else api.store.put(kind.resource, obj))
    if not dry_run:
        obj = remove(api, kind, obj, propagation)
    if kind.returns_deleted:
        return _served(kind, obj)
    meta_ = obj["metadata"]
    return errors.success(
        {"name": meta_["name"], "group": kind.group, "kind": kind.plural, "uid": meta_["uid"]}
    )


def remove(api: Api, kind: Kind, obj: Object, propagation: str) -> Object:
    """Remove `obj` from the store now, then collect what depended on it."""
    removed = api.store.remove(kind.resource, key_of(obj))
    if kind.kind == "CustomResourceDefinition" and kind.builtin:
        for row in api.kinds.remove_crd(removed["metadata"]["name"])[:1]:
            for instance in api.store.items(row.resource):
                api.store.remove(row.resource, key_of(instance))
    _collect(api, removed, propagation)
    return removed


def _served(kind: Kind, obj: Object) -> Object:
    obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
    return obj


def _check_preconditions(kind: Kind, obj: Object, preconditions: dict[str, Any]) -> None:
    for field in ("uid", "resourceVersion"):
        wanted, actual = preconditions.get(field), obj["metadata"].get(field)
        if wanted and wanted != actual:
            raise errors.Conflict(
                f"Precondition failed: {field} in precondition: {wanted}, "
                f"{field} in object meta: {actual}",
                details={"name": obj["metadata"]["name"], "kind": kind.plural},
            )


def _collect(api: Api, owner: Object, propagation: str) -> None:
    uid = owner["metadata"]["uid"]
    namespace = owner["metadata"].get("namespace") or None
    for resource in api.store.resources():
        kind = api.kinds.by_resource(resource)
        if kind is None:
            continue
        for dependent in api.store.items(resource, namespace):
            if uid in meta.owner_uids(dependent):
                _release(api, kind, dependent, uid, propagation)


def _release(api: Api, kind: Kind, dependent: Object, uid: str, propagation: str) -> None:
    current = api.store.get(kind.resource, key_of(dependent))
    if current is None:
        return
    others = meta.owner_uids(current) - {uid}
    if propagation == "Orphan":
        orphan = copy.deepcopy(current)
        refs = orphan["metadata"].get("ownerReferences") or []
        orphan["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
        api.update(kind, current, orphan, manager=COLLECTOR)
    elif not any(_exists(api, other) for other in others):
        delete(api, kind, current, {"propagationPolicy": "Background"}, dry_run=False)


def _exists(api: Api, uid: str) -> bool:
    return any(
        o["metadata"].get("uid") == uid
        for resource in api.store.resources()
        for o in api.store.items(resource)
    )
