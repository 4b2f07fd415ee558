"""The ownership graph of every kind, read from the informers' caches.

An owner reference names its owner by kind, namespace and name (the namespace of
a namespaced owner defaults to the dependent's); when it carries a uid, only the
object with that uid is the owner (a new object of the same name is not). Each
informer indexes its objects by the owners they name (`OWNER_INDEX`), so the
dependents of an object are a lookup per kind, not a scan.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from krake_api import registry
from krake_api.registry import Kind
from krake_controllers.runtime.informer import Informer

OWNER_INDEX: Final = "owner"
GONE_KEPT: Final = 100_000


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Any) -> ObjectKey:
        return cls(obj.kind, obj.metadata.namespace, obj.metadata.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def owner_key(ref: Any, dependent_namespace: str) -> ObjectKey | None:
    """The key of the object `ref` names, None if it names no known kind."""
    kind = registry.KINDS.get(ref.kind)
    if kind is None:
        return None
    namespace = (ref.namespace or dependent_namespace) if kind.namespaced else ""
    return ObjectKey(kind.name, namespace, ref.name)


def owner_index(obj: Any) -> Iterable[str]:
    """Informer indexer: the owners `obj` names, as `Kind/namespace/name`."""
    keys = (owner_key(ref, obj.metadata.namespace) for ref in obj.metadata.owners)
    return tuple(f"{k.kind}/{k.namespace}/{k.name}" for k in keys if k is not None)


def names_owner(ref: Any, owner: Any) -> bool:
    return not ref.uid or ref.uid == owner.metadata.uid


class Graph:
    """Lookups over the caches, plus the uids of objects known to be gone: a uid is
    never reused, so an owner seen removed (or confirmed absent) stays absent and
    its dependents need no live check (the newest `GONE_KEPT` are remembered)."""

    def __init__(self, informers: Mapping[str, Informer]) -> None:
        self.informers = informers  # by kind name
        self.gone: dict[str, None] = {}  # insertion-ordered: the oldest go first

    def remember_gone(self, uid: str) -> None:
        if uid:
            self.gone[uid] = None
            if len(self.gone) > GONE_KEPT:
                del self.gone[next(iter(self.gone))]

    def kind(self, key: ObjectKey) -> Kind:
        return registry.KINDS[key.kind]

    def behind(self, revision: int) -> list[str]:
        """The kinds whose informer has not seen `revision` yet (or has not listed)."""
        return [
            name
            for name, informer in self.informers.items()
            if int(informer.resource_version or 0) < revision
        ]

    def get(self, key: ObjectKey) -> Any:
        informer = self.informers.get(key.kind)
        if informer is None:
            return None
        return informer.get(f"{key.namespace}/{key.name}" if key.namespace else key.name)

    def owner(self, ref: Any, dependent: Any) -> Any:
        """The cached owner `ref` of `dependent` names, or None."""
        key = owner_key(ref, dependent.metadata.namespace)
        found = self.get(key) if key is not None else None
        return found if found is not None and names_owner(ref, found) else None

    def dependents(self, owner: Any) -> list[Any]:
        """Every cached object that names `owner` (this very object) as an owner."""
        indexed = f"{owner.kind}/{owner.metadata.namespace}/{owner.metadata.name}"
        found = []
        for informer in self.informers.values():
            for dependent in informer.index(OWNER_INDEX, indexed):
                if any(
                    names_owner(ref, owner)
                    and owner_key(ref, dependent.metadata.namespace) == ObjectKey.of(owner)
                    for ref in dependent.metadata.owners
                ):
                    found.append(dependent)
        return found

    def descendants(self, root: Any) -> Iterator[Any]:
        """Every object below `root`, each once (cycles end the walk, not the loop)."""
        seen = {ObjectKey.of(root)}
        stack = [root]
        while stack:
            for dependent in self.dependents(stack.pop()):
                key = ObjectKey.of(dependent)
                if key not in seen:
                    seen.add(key)
                    stack.append(dependent)
                    yield dependent

    def in_cycle_with(self, obj: Any, dependent: Any) -> bool:
        """True if `obj` is below its own `dependent`: they own each other, indirectly."""
        target = ObjectKey.of(obj)
        return any(ObjectKey.of(d) == target for d in self.descendants(dependent))
