"""The scheduler's view of the API: one informer per kind it reads, indexed by
namespace, and the lookups placement needs over them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from krake_api import registry
from krake_controllers.runtime.client import Client
from krake_controllers.runtime.informer import Informer, by_namespace
from krake_controllers.scheduler.readings import MetricKey

NAMESPACE: Final = "namespace"
KINDS: Final = (
    "Application",
    "Cluster",
    "Cloud",
    "GlobalCloud",
    "Metric",
    "GlobalMetric",
    "MetricsProvider",
    "GlobalMetricsProvider",
)


class Key(NamedTuple):
    """A work-queue key: the kind (Application, Cluster, Cloud, GlobalCloud) and name."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Any) -> Key:
        return cls(obj.DESCRIPTOR.name, obj.metadata.namespace, obj.metadata.name)

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def cache_key(namespace: str, name: str) -> str:
    """The informer's key (`key_of`): `namespace/name`, or `name` for global kinds."""
    return f"{namespace}/{name}" if namespace else name


@dataclass(frozen=True)
class Caches:
    informers: Mapping[str, Informer]

    @classmethod
    def build(cls, client: Client, *, bookmark_interval: float = 10.0) -> Caches:
        return cls(
            {
                name: Informer(
                    client.kind(registry.KINDS[name]),
                    indexers={NAMESPACE: by_namespace},
                    bookmark_interval=bookmark_interval,
                )
                for name in KINDS
            }
        )

    def get(self, kind: str, namespace: str, name: str) -> Any | None:
        return self.informers[kind].get(cache_key(namespace, name))

    def in_namespace(self, kind: str, namespace: str) -> list[Any]:
        return self.informers[kind].index(NAMESPACE, namespace)

    def every(self, kind: str) -> list[Any]:
        return list(self.informers[kind].cache.values())

    def metric(self, key: MetricKey) -> Any | None:
        kind = "Metric" if key.namespace else "GlobalMetric"
        return self.get(kind, key.namespace, key.name)

    def provider(self, namespace: str, name: str) -> Any | None:
        kind = "MetricsProvider" if namespace else "GlobalMetricsProvider"
        return self.get(kind, namespace, name)

    def clouds_for(self, namespace: str) -> list[Any]:
        """The Clouds of `namespace`, then every GlobalCloud."""
        return [*self.in_namespace("Cloud", namespace), *self.every("GlobalCloud")]
