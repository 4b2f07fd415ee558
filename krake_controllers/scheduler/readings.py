"""Metric readings: what the scheduler knows about one metric at one moment.

A metric is named by a `MetricKey`: (namespace, name) for a namespaced `Metric`,
("", name) for a `GlobalMetric`. A `Reading` is either a usable value (raw and
normalized to [0, 1]) or a failure with a `Reason` code saying why the metric
cannot be used; a failure never blocks the other metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, NamedTuple

from krake.core.v1 import metadata_pb2

Code = metadata_pb2.Reason.Code
INVALID_METRIC: Final = metadata_pb2.Reason.INVALID_METRIC
UNKNOWN_METRIC: Final = metadata_pb2.Reason.UNKNOWN_METRIC
UNKNOWN_METRICS_PROVIDER: Final = metadata_pb2.Reason.UNKNOWN_METRICS_PROVIDER
UNREACHABLE_METRICS_PROVIDER: Final = metadata_pb2.Reason.UNREACHABLE_METRICS_PROVIDER


class MetricKey(NamedTuple):
    namespace: str  # "" for a GlobalMetric
    name: str

    @classmethod
    def of(cls, ref: object, owner_namespace: str) -> MetricKey:
        """The metric a `MetricRef` of a resource in `owner_namespace` names."""
        namespaced = bool(getattr(ref, "namespaced"))  # noqa: B009
        return cls(owner_namespace if namespaced else "", str(getattr(ref, "name")))  # noqa: B009

    def __str__(self) -> str:
        kind = "Metric" if self.namespace else "GlobalMetric"
        return f"{kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True, slots=True)
class Reading:
    value: float = 0.0
    normalized: float = 0.0
    code: int = 0  # a Reason.Code; 0 (CODE_UNSPECIFIED) means usable
    message: str = ""

    @property
    def usable(self) -> bool:
        return self.code == 0

    def reason(self) -> metadata_pb2.Reason:
        return metadata_pb2.Reason(code=self.code, message=self.message)  # type: ignore[arg-type]


def failed(code: int, message: str) -> Reading:
    return Reading(code=code, message=message)


Readings = Mapping[MetricKey, Reading]
