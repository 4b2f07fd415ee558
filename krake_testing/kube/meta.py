"""Server-set metadata: what a create stamps and what an update carries over.

Invariants:
- `uid`, `creationTimestamp`, `deletionTimestamp` and `generation` are the server's:
  clients cannot set or change them (their values in a request are ignored);
- `generation` starts at 1 and grows by one whenever anything outside `metadata`
  changes (outside `metadata` and `status` for kinds with a status subresource), and
  when deletion starts;
- `resourceVersion` is written by the store, never here.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import string
import uuid
from typing import Any, Final

from krake_testing.kube.kinds import Kind

Object = dict[str, Any]

SERVER_FIELDS: Final = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
    "managedFields",
    "selfLink",
)
CARRIED: Final = tuple(f for f in SERVER_FIELDS if f != "managedFields")  # see apply.py
SUFFIX_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"  # as Kubernetes' rand.String


def timestamp(moment: datetime.datetime | None = None) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes serialises `metav1.Time`."""
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(length))


def short_hash(text: str) -> str:
    """A stable, DNS-safe 10-character digest (for pod-template-hash and friends)."""
    digest = hashlib.sha256(text.encode()).digest()
    alphabet = string.digits + string.ascii_lowercase
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


def spec_view(kind: Kind, obj: Object) -> Object:
    """The part of `obj` whose change bumps `generation`."""
    skipped = {"metadata", "apiVersion", "kind"} | ({"status"} if kind.has_status else set())
    return {k: v for k, v in obj.items() if k not in skipped}


def stamp_new(kind: Kind, obj: Object, namespace: str | None) -> Object:
    """Give a new object its identity: name (from generateName), uid, times, generation."""
    meta = obj.setdefault("metadata", {})
    for name in SERVER_FIELDS:
        meta.pop(name, None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = f"{meta['generateName']}{random_suffix()}"
    if kind.namespaced:
        meta["namespace"] = namespace or meta.get("namespace", "")
    else:
        meta.pop("namespace", None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = timestamp()
    meta["generation"] = 1
    obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
    return obj


def carry_over(kind: Kind, old: Object, new: Object) -> Object:
    """Make `new` (a client's replacement of `old`) keep the server-set metadata."""
    meta, before = new.setdefault("metadata", {}), old["metadata"]
    for name in CARRIED:
        meta.pop(name, None)
        if name in before:
            meta[name] = before[name]
    meta["name"] = before["name"]
    if "namespace" in before:
        meta["namespace"] = before["namespace"]
    if spec_view(kind, new) != spec_view(kind, old):
        meta["generation"] = before.get("generation", 1) + 1
    new["apiVersion"], new["kind"] = kind.api_version, kind.kind
    return new


def start_deletion(obj: Object) -> Object:
    """Mark `obj` as being deleted (it stays until its finalizers are gone)."""
    meta = obj["metadata"]
    if "deletionTimestamp" not in meta:
        meta["deletionTimestamp"] = timestamp()
        meta["deletionGracePeriodSeconds"] = 0
        meta["generation"] = meta.get("generation", 1) + 1
    return obj


def finalizers(kind: Kind, obj: Object) -> list[str]:
    """What still holds a deleted object: metadata.finalizers, and for a Namespace the
    `spec.finalizers` the namespace controller clears once the namespace is empty."""
    held = list(obj["metadata"].get("finalizers") or [])
    if kind.kind == "Namespace" and not kind.group:
        held += obj.get("spec", {}).get("finalizers") or []
    return held


def owner_uids(obj: Object) -> set[str]:
    return {ref.get("uid", "") for ref in obj["metadata"].get("ownerReferences") or []}
