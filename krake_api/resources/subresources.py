"""Subresource verbs: the scheduler's binding and the Application hooks.

- `bind` (UpdateApplicationBinding, UpdateClusterBinding): records the scheduler's
  decision, the request's one ResourceRef, in `status.scheduled_to` with the time
  in `status.scheduled`.
- `complete` / `shutdown` (CompleteApplication, ShutdownApplication): called by the
  workload with the token Krake gave it, only when `spec.hooks.<hook>` is on.
  `status.<hook>_token` holds the token, or only its digest `sha256:<hex>` (what
  the application controller writes: the token itself stays in a Secret on the
  member cluster). `complete` means the workload is done: the object's
  deletion starts (as a delete without finalizers would). `shutdown` means the
  workload has shut down gracefully: `status.state` becomes READY_FOR_ACTION, so
  the controller that asked for the shutdown (to delete or to migrate) goes on.
All are read-modify-CAS through `verbs.modify`, so they change nothing on error.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final

from google.protobuf.message import Message

from krake_api import errors
from krake_api.identity import SYSTEM, Caller
from krake_api.registry import Kind
from krake_api.resources import names, verbs
from krake_api.storage.base import Store

DIGEST: Final = "sha256:"


def _digest(token: str) -> str:
    return DIGEST + hashlib.sha256(token.encode()).hexdigest()


def _start_deletion(obj: Any) -> None:
    if not obj.metadata.HasField("deleted"):
        obj.metadata.deleted.FromDatetime(verbs.now())


def _ready_for_action(obj: Any) -> None:
    obj.status.state = obj.status.State.READY_FOR_ACTION


HOOK_EFFECTS: Final[Mapping[str, Callable[[Any], None]]] = {
    "complete": _start_deletion,
    "shutdown": _ready_for_action,
}


def _reference(kind: Kind, namespace: str, name: str) -> Message:
    reference: Any = kind.message()
    reference.metadata.name = name
    reference.metadata.namespace = namespace
    return reference  # type: ignore[no-any-return]


async def bind(
    store: Store, kind: Kind, namespace: str, name: str, target: Any, *, caller: Caller = SYSTEM
) -> Message:
    """Record `target` (a ResourceRef) as where the object is scheduled."""
    problems = [
        errors.FieldViolation(f"ref.{field}", "is required")
        for field in ("api", "kind", "name")
        if not getattr(target, field)
    ]
    if target.name and (why := names.dns_subdomain(target.name)):
        problems.append(errors.FieldViolation("ref.name", why))
    if problems:
        raise errors.InvalidArgument(problems)

    def change(current: Any, _: Message) -> Message:
        new = type(current)()
        new.CopyFrom(current)
        new.status.scheduled_to.CopyFrom(target)
        new.status.scheduled.FromDatetime(verbs.now())
        return new  # type: ignore[no-any-return]

    reference = _reference(kind, namespace, name)
    return await verbs.modify(
        store, kind, reference, change, version_field="resource_version", verb="bind", caller=caller
    )


async def hook(
    store: Store,
    kind: Kind,
    namespace: str,
    name: str,
    *,
    which: str,
    token: str,
    caller: Caller = SYSTEM,
) -> Message:
    """The workload's call of hook `which` ("complete" or "shutdown") with `token`."""

    def change(current: Any, _: Message) -> Message:
        what = verbs.describe(kind, namespace, name)
        if not getattr(current.spec.hooks, which):
            raise errors.FailedPrecondition(f"{what} has no {which} hook")
        expected = getattr(current.status, f"{which}_token")
        presented = _digest(token) if expected.startswith(DIGEST) else token
        if not expected or not hmac.compare_digest(expected.encode(), presented.encode()):
            raise errors.PermissionDenied(f"wrong {which} token for {what}")
        new = type(current)()
        new.CopyFrom(current)
        HOOK_EFFECTS[which](new)
        return new  # type: ignore[no-any-return]

    reference = _reference(kind, namespace, name)
    return await verbs.modify(
        store, kind, reference, change, version_field="resource_version", verb=which, caller=caller
    )
