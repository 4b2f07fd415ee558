"""The generic verbs, written once for every kind (DESIGN.md §3).

Invariants:
- Nothing is written when a verb fails: validation and preconditions are checked
  before the one storage write, which is itself a compare-and-swap on the
  revision that was read.
- The server owns uid, created, modified, generation, resource_version and (on
  create) status; `generation` changes exactly when `spec` changes.
- `resource_version` is the storage mod_revision of the object; it is not stored
  in the value but set on every object read.
- An object with finalizers is not removed by delete: `metadata.deleted` is set and
  it goes when an update removes the last finalizer. FOREGROUND and ORPHAN
  propagation are recorded, as in Kubernetes, as the finalizers
  `foregroundDeletion` and `orphan` for the garbage collector to act on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from uuid import uuid4

import structlog
from google.protobuf.message import Message

from krake.core.v1 import metadata_pb2
from krake_api import errors
from krake_api.identity import SYSTEM, Caller
from krake_api.registry import Kind
from krake_api.resources import selectors, validation
from krake_api.resources.pagination import PageToken, page_size
from krake_api.storage import base as storage

M = TypeVar("M", bound=Message)
PROPAGATION_FINALIZERS: Final = {
    metadata_pb2.FOREGROUND: "foregroundDeletion",
    metadata_pb2.ORPHAN: "orphan",
}
audit_log = structlog.get_logger("krake.audit")
RETRIES: Final = 5
"""Read-modify-write attempts when no resource_version was given and a concurrent
writer won the compare-and-swap."""


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[Message]
    next_page_token: str
    resource_version: str


def now() -> datetime:
    return datetime.now(UTC)


def translate(err: storage.StorageError, what: str) -> errors.KrakeError:
    """THE mapping of storage errors to API errors; `what` names the object."""
    if isinstance(err, storage.KeyExists):
        return errors.AlreadyExists(f"{what} already exists")
    if isinstance(err, storage.KeyNotFound):
        return errors.NotFound(f"{what} not found")
    if isinstance(err, storage.RevisionMismatch):
        return errors.StaleResourceVersion(f"{what} was changed meanwhile: read it again")
    if isinstance(err, storage.Compacted | storage.FutureRevision):
        return errors.WatchTooOld(f"{what}: {err}; list again")
    if isinstance(err, storage.TooLarge):
        return errors.InvalidArgument([errors.FieldViolation("<request>", str(err))])
    return errors.ServiceUnavailable(f"storage did not answer for {what}: {err}")


def describe(kind: Kind, namespace: str, name: str) -> str:
    return f"{kind.name} {namespace + '/' if kind.namespaced else ''}{name!r}"


def load(kind: Kind, entry: storage.Entry) -> Message:
    obj = kind.message.FromString(entry.value)
    obj.metadata.resource_version = str(entry.mod_revision)  # type: ignore[attr-defined]
    return obj


def dump(obj: Message) -> bytes:
    stored = type(obj)()
    stored.CopyFrom(obj)
    stored.metadata.ClearField("resource_version")  # type: ignore[attr-defined]
    return stored.SerializeToString()


def audit(verb: str, caller: Caller, kind: Kind, obj: Any, revision: int) -> None:
    """One line per successful write: who did what to which object."""
    audit_log.info(
        "audit",
        verb=verb,
        user=caller.user,
        kind=kind.name,
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        resource_version=revision,
    )


def check(obj: Message, kind: Kind, violations: list[errors.FieldViolation]) -> None:
    violations = violations + validation.validate(obj, namespaced=kind.namespaced)
    if violations:
        raise errors.InvalidArgument(violations)


def expected_revision(value: str, field: str) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        raise errors.InvalidArgument([errors.FieldViolation(field, "is not a resource version")])
    return int(value)


async def create(
    store: storage.Store, kind: Kind, namespace: str, obj: M, *, caller: Caller = SYSTEM
) -> M:
    new = type(obj)()
    new.CopyFrom(obj)
    meta: Any = new.metadata  # type: ignore[attr-defined]
    violations = claim(kind, new)
    if kind.namespaced and meta.namespace and namespace and meta.namespace != namespace:
        violations.append(
            errors.FieldViolation("metadata.namespace", f"differs from the request's {namespace!r}")
        )
    if kind.namespaced:
        meta.namespace = meta.namespace or namespace
    check(new, kind, violations)
    stamp = now()
    meta.uid = str(uuid4())
    meta.created.FromDatetime(stamp)
    meta.modified.FromDatetime(stamp)
    meta.generation = 1
    meta.ClearField("deleted")
    new.ClearField("status")
    what = describe(kind, meta.namespace, meta.name)
    try:
        revision = await store.create(kind.key(meta.namespace, meta.name), dump(new))
    except storage.StorageError as err:
        raise translate(err, what) from None
    meta.resource_version = str(revision)
    audit("create", caller, kind, new, revision)
    return new


def claim(kind: Kind, obj: Message) -> list[errors.FieldViolation]:
    """Fill `api` and `kind`; complain when the client sent other ones."""
    found: list[errors.FieldViolation] = []
    for field, value in (("api", kind.group), ("kind", kind.name)):
        sent = getattr(obj, field)
        if sent and sent != value:
            found.append(errors.FieldViolation(field, f"must be {value!r}, not {sent!r}"))
        setattr(obj, field, value)
    return found


async def read(store: storage.Store, kind: Kind, namespace: str, name: str) -> storage.Entry:
    try:
        entry = await store.get(kind.key(namespace, name))
    except storage.StorageError as err:
        raise translate(err, describe(kind, namespace, name)) from None
    if entry is None:
        raise errors.NotFound(f"{describe(kind, namespace, name)} not found")
    return entry


async def get(store: storage.Store, kind: Kind, namespace: str, name: str) -> Message:
    return load(kind, await read(store, kind, namespace, name))


async def list_(
    store: storage.Store,
    kind: Kind,
    namespace: str,
    *,
    label_selector: str = "",
    field_selector: str = "",
    size: int = 0,
    token: str = "",
) -> Listing:
    """One page of the kind's objects (in `namespace`, or all), filtered by selectors;
    every page of one listing is read at the first page's revision."""
    labels = selectors.LabelSelector.parse(label_selector)
    fields = selectors.FieldSelector.parse(field_selector, kind.message.DESCRIPTOR)
    limit = page_size(size)
    start = PageToken.decode(token) if token else PageToken(0, "")
    revision, after = start.revision, start.after
    items: list[Message] = []
    more = True
    while more and len(items) < limit:
        try:
            page = await store.range(
                kind.prefix(namespace), start_after=after, limit=limit, revision=revision
            )
        except storage.StorageError as err:
            raise translate(err, f"{kind.plural} at revision {revision}") from None
        revision, more = page.revision, page.more
        for index, entry in enumerate(page.entries):
            after = entry.key
            obj = load(kind, entry)
            if labels.matches(obj.metadata.labels) and fields.matches(obj):  # type: ignore[attr-defined]
                items.append(obj)
                if len(items) == limit:
                    more = more or index < len(page.entries) - 1
                    break
    following = PageToken(revision, after).encode() if more else ""
    return Listing(items, following, str(revision))


Change = Callable[[Message, Message], Message]


async def modify(
    store: storage.Store,
    kind: Kind,
    obj: Message,
    change: Change,
    *,
    version_field: str,
    verb: str,
    caller: Caller,
) -> Message:
    """Read, change and compare-and-swap the object `obj` names, retrying lost races
    unless the caller gave a resource_version; remove it once deleted and final."""
    meta: Any = obj.metadata  # type: ignore[attr-defined]
    namespace = meta.namespace if kind.namespaced else ""
    expected = expected_revision(meta.resource_version, version_field)
    what = describe(kind, namespace, meta.name)
    for _ in range(RETRIES):
        entry = await read(store, kind, namespace, meta.name)
        if expected is not None and expected != entry.mod_revision:
            raise errors.StaleResourceVersion(
                f"{what} is at resource_version {entry.mod_revision}, not {expected}"
            )
        new = change(load(kind, entry), obj)
        new.metadata.modified.FromDatetime(now())  # type: ignore[attr-defined]
        try:
            revision = await write(store, kind, new, entry)
        except storage.RevisionMismatch:
            if expected is not None:
                raise errors.StaleResourceVersion(f"{what} was changed meanwhile") from None
            continue
        except storage.StorageError as err:
            raise translate(err, what) from None
        new.metadata.resource_version = str(revision)  # type: ignore[attr-defined]
        audit(verb, caller, kind, new, revision)
        return new
    raise errors.StaleResourceVersion(f"{what} keeps changing: try again")


async def write(store: storage.Store, kind: Kind, new: Message, entry: storage.Entry) -> int:
    meta: Any = new.metadata  # type: ignore[attr-defined]
    if meta.HasField("deleted") and not meta.finalizers:
        return await store.delete(entry.key, expect=entry.mod_revision)
    return await store.replace(entry.key, dump(new), expect=entry.mod_revision)


def apply_update(kind: Kind) -> Change:
    def change(current: Any, sent: Any) -> Message:
        violations = claim(kind, sent)
        if sent.metadata.uid and sent.metadata.uid != current.metadata.uid:
            violations.append(errors.FieldViolation("metadata.uid", "is immutable"))
        new = type(current)()
        new.CopyFrom(current)
        new.spec.CopyFrom(sent.spec)
        for field in ("labels", "annotations", "finalizers", "owners"):
            new.metadata.ClearField(field)
        new.metadata.labels.update(sent.metadata.labels)
        new.metadata.annotations.update(sent.metadata.annotations)
        new.metadata.finalizers.extend(sent.metadata.finalizers)
        new.metadata.owners.extend(sent.metadata.owners)
        if current.metadata.HasField("deleted"):
            only_finalizers_removed(current, new)
        if new.spec != current.spec:
            new.metadata.generation = current.metadata.generation + 1
        check(new, kind, violations)
        return new  # type: ignore[no-any-return]

    return change


def only_finalizers_removed(current: Any, new: Any) -> None:
    before, after = current.metadata, new.metadata
    unchanged = (
        new.spec == current.spec
        and before.labels == after.labels
        and before.annotations == after.annotations
        and list(before.owners) == list(after.owners)
        and set(after.finalizers) <= set(before.finalizers)
    )
    if not unchanged:
        raise errors.FailedPrecondition(
            f"{current.kind} {current.metadata.name!r} is being deleted: "
            "an update may only remove finalizers"
        )


def apply_status(current: Any, sent: Any) -> Message:
    new = type(current)()
    new.CopyFrom(current)
    new.status.CopyFrom(sent.status)
    return new  # type: ignore[no-any-return]


async def update(
    store: storage.Store, kind: Kind, obj: Message, *, caller: Caller = SYSTEM
) -> Message:
    field = f"{kind.field}.metadata.resource_version"
    change = apply_update(kind)
    return await modify(store, kind, obj, change, version_field=field, verb="update", caller=caller)


async def update_status(
    store: storage.Store, kind: Kind, obj: Message, *, caller: Caller = SYSTEM
) -> Message:
    field = f"{kind.field}.metadata.resource_version"
    return await modify(
        store, kind, obj, apply_status, version_field=field, verb="update_status", caller=caller
    )


async def delete(
    store: storage.Store,
    kind: Kind,
    namespace: str,
    name: str,
    *,
    resource_version: str = "",
    propagation: int = metadata_pb2.PROPAGATION_UNSPECIFIED,
    caller: Caller = SYSTEM,
) -> Message:
    """Remove the object now, or mark it deleted while finalizers remain."""
    reference = kind.message()
    reference.metadata.name = name  # type: ignore[attr-defined]
    reference.metadata.namespace = namespace  # type: ignore[attr-defined]
    reference.metadata.resource_version = resource_version  # type: ignore[attr-defined]

    def mark(current: Any, _: Message) -> Message:
        new = type(current)()
        new.CopyFrom(current)
        finalizer = PROPAGATION_FINALIZERS.get(propagation)  # type: ignore[call-overload]
        if finalizer and finalizer not in new.metadata.finalizers:
            new.metadata.finalizers.append(finalizer)
        if not new.metadata.HasField("deleted"):
            new.metadata.deleted.FromDatetime(now())
        return new  # type: ignore[no-any-return]

    return await modify(
        store, kind, reference, mark, version_field="resource_version", verb="delete", caller=caller
    )
