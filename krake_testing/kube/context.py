"""What the simulated controllers share: the verbs, the timing knobs, the injected
faults, per-pod clocks, and small helpers to find, create and update objects.

Controllers write through `verbs.Api` like any client (manager
`kube-controller-manager`), so every change they make is versioned and watchable.
A helper that writes only does so when the object would change: a sweep over a
converged cluster writes nothing.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from krake_testing.kube import errors, meta
from krake_testing.kube.faults import Faults
from krake_testing.kube.kinds import Kind
from krake_testing.kube.store import Object
from krake_testing.kube.verbs import Api

MANAGER: Final = "kube-controller-manager"


@dataclass
class Timing:
    """Delays of the simulation, in seconds; changes apply to the next sweep."""

    ready_delay: float = 0.1  # bound pod -> containers running and Ready
    completion_delay: float = 0.1  # batch pod running -> Succeeded
    restart_interval: float = 1.0  # a crash-looping container restarts this often


@dataclass
class PodClock:
    """When the kubelet first saw a pod bound, and when each state was first reached."""

    seen: float  # loop time
    marks: dict[str, str] = field(default_factory=dict)  # state -> RFC 3339 time
    crashing_since: float | None = None  # loop time the current crash loop began
    restarts: int = 0  # restarts counted before the current crash loop

    def mark(self, state: str) -> str:
        return self.marks.setdefault(state, meta.timestamp())


def condition(
    existing: list[Mapping[str, Any]] | None,
    type_: str,
    status: bool,
    reason: str = "",
    message: str = "",
    *,
    update_time: bool = False,
) -> Object:
    """A condition that keeps the previous transition time when its status is unchanged."""
    old = next((c for c in existing or [] if c.get("type") == type_), {})
    value = "True" if status else "False"
    unchanged = old.get("status") == value
    made: Object = {"type": type_, "status": value}
    if update_time:
        same = unchanged and old.get("reason") == reason and old.get("message") == message
        made["lastUpdateTime"] = old.get("lastUpdateTime") if same else meta.timestamp()
    made["lastTransitionTime"] = old.get("lastTransitionTime") if unchanged else meta.timestamp()
    if reason:
        made["reason"] = reason
    if message:
        made["message"] = message
    return made


def controller_ref(kind: Kind, owner: Object) -> Object:
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def deleting(obj: Mapping[str, Any]) -> bool:
    return "deletionTimestamp" in obj.get("metadata", {})


def drop_zeros(status: Object, *names: str) -> Object:
    """Leave out integer fields that Go marks `omitempty` when they are 0."""
    return {k: v for k, v in status.items() if not (k in names and v == 0)}


class Context:
    def __init__(
        self, api: Api, timing: Timing, faults: Faults, clock: Callable[[], float], host: str
    ) -> None:
        self.api = api
        self.host = host
        self.timing = timing
        self.faults = faults
        self.clock = clock
        self.wakeups: list[float] = []
        self.pods: dict[str, PodClock] = {}
        self.addresses = itertools.count(2)

    def kind(self, name: Kind | str) -> Kind:
        return name if isinstance(name, Kind) else self.api.kinds.find(name)

    def wake_at(self, when: float) -> None:
        """Ask for another sweep at loop time `when`."""
        self.wakeups.append(when)

    def items(self, kind_name: Kind | str, namespace: str | None = None) -> list[Object]:
        return self.api.store.items(self.kind(kind_name).resource, namespace)

    def owned(self, kind_name: str, owner: Object) -> list[Object]:
        """Objects of `kind_name` in the owner's namespace that name it as an owner."""
        uid = owner["metadata"]["uid"]
        found = self.items(kind_name, owner["metadata"].get("namespace"))
        return [o for o in found if uid in meta.owner_uids(o)]

    def owner_chain(self, obj: Object) -> Iterator[tuple[str, str, str]]:
        """(kind, namespace, name) of `obj` and of its controllers, nearest first."""
        namespace = obj["metadata"].get("namespace", "")
        current: Object | None = obj
        for _ in range(5):
            if current is None:
                return
            yield (current.get("kind", ""), namespace, current["metadata"]["name"])
            refs = current["metadata"].get("ownerReferences") or []
            ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
            current = self._lookup(ref, namespace) if ref else None

    def _lookup(self, ref: Mapping[str, Any], namespace: str) -> Object | None:
        kind = self.api.kinds.by_type(ref.get("apiVersion", ""), ref.get("kind", ""))
        if kind is None:
            return None
        found = self.api.store.get(
            kind.resource, (namespace if kind.namespaced else "", ref["name"])
        )
        return {**found, "kind": kind.kind} if found else None

    def create(self, kind_name: Kind | str, namespace: str | None, obj: Object) -> Object | None:
        """Create, or None when the API refuses (e.g. the namespace is terminating)."""
        try:
            return self.api.create(self.kind(kind_name), namespace, obj, manager=MANAGER)
        except errors.ApiError:
            return None

    def delete(self, kind_name: Kind | str, obj: Object) -> None:
        meta_ = obj["metadata"]
        with contextlib.suppress(errors.NotFound):
            self.api.delete(self.kind(kind_name), meta_.get("namespace"), meta_["name"])

    def _fresh(self, kind: Kind, obj: Object) -> bool:
        """Whether `obj` is still the stored version; if not, sweep again soon."""
        meta_ = obj["metadata"]
        key = (meta_.get("namespace", ""), meta_["name"])
        stored = self.api.store.get(kind.resource, key)
        fresh = (
            stored is not None and stored["metadata"]["resourceVersion"] == meta_["resourceVersion"]
        )
        if not fresh:
            self.wake_at(self.clock())
        return fresh

    def update(self, kind_name: Kind | str, old: Object, new: Object) -> None:
        """Write `new` over `old`, unless equal or `old` is stale."""
        kind = self.kind(kind_name)
        if new != old and self._fresh(kind, old):
            self.api.update(kind, old, new, manager=MANAGER)

    def set_status(self, kind_name: Kind | str, obj: Object, status: Object) -> None:
        """Replace the status of `obj` (status subresource), unless equal or stale."""
        kind = self.kind(kind_name)
        if obj.get("status") != status and self._fresh(kind, obj):
            new = copy.deepcopy(obj)
            new["status"] = status
            self.api.update(kind, obj, new, status=True)
