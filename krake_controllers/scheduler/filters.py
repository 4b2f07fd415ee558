"""The filters a candidate must pass, each giving one verdict, in evaluation order.

A filter that does not apply to a pair (no label constraints; a cloud, which has
no state or custom resources) passes with a message saying so, so that every
candidate of one placement carries the same list of verdicts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from krake_controllers.scheduler.readings import Readings
from krake_controllers.scheduler.views import Subject, Target


@dataclass(frozen=True, slots=True)
class Verdict:
    filter: str
    passed: bool
    message: str


Filter = Callable[[Subject, Target, Readings], Verdict]


PRESENT: Final = Verdict("not_deleted", True, "")
NO_LABELS: Final = Verdict("label_constraints", True, "0 matched")
NO_CUSTOM_RESOURCES: Final = Verdict("custom_resources", True, "0 served")
NO_METRICS: Final = Verdict("metric_constraints", True, "0 held")


def not_deleted(subject: Subject, target: Target, readings: Readings) -> Verdict:
    if target.deleted:
        return Verdict("not_deleted", False, "deletion in progress")
    return PRESENT


@functools.cache
def _online(state: str, schedulable: bool) -> Verdict:
    if schedulable:
        return Verdict("online", True, state)
    return Verdict("online", False, f"state is {state}, not ONLINE")


def online(subject: Subject, target: Target, readings: Readings) -> Verdict:
    return _online(target.state, target.schedulable)


def label_constraints(subject: Subject, target: Target, readings: Readings) -> Verdict:
    if not subject.labels:
        return NO_LABELS
    failing = [str(c) for c in subject.labels if not c.matches(target.labels)]
    if failing:
        return Verdict("label_constraints", False, "not matched: " + "; ".join(failing))
    return Verdict("label_constraints", True, f"{len(subject.labels)} matched")


def custom_resources(subject: Subject, target: Target, readings: Readings) -> Verdict:
    if not subject.custom_resources:
        return NO_CUSTOM_RESOURCES
    served = target.custom_resources or frozenset()
    missing = sorted(subject.custom_resources - served)
    if missing:
        return Verdict("custom_resources", False, "not served: " + ", ".join(missing))
    return Verdict("custom_resources", True, f"{len(subject.custom_resources)} served")


def metric_constraints(subject: Subject, target: Target, readings: Readings) -> Verdict:
    """Each constraint holds on the normalized value of the target's metric of that
    name; a metric the target lacks or cannot read fails its constraints."""
    if not subject.metrics:
        return NO_METRICS
    by_name = {w.name: w.key for w in target.metrics}
    failing: list[str] = []
    for constraint in subject.metrics:
        key = by_name.get(constraint.metric)
        reading = readings.get(key) if key is not None else None
        if reading is None:
            failing.append(f"{constraint}: no metric {constraint.metric!r}")
        elif not reading.usable:
            failing.append(f"{constraint}: {reading.message}")
        elif not constraint.holds(reading.normalized):
            failing.append(f"{constraint}: normalized value is {reading.normalized:.4g}")
    if failing:
        return Verdict("metric_constraints", False, "; ".join(failing))
    return Verdict("metric_constraints", True, f"{len(subject.metrics)} held")


CLUSTER_FILTERS: Final[Sequence[Filter]] = (
    not_deleted,
    online,
    label_constraints,
    custom_resources,
    metric_constraints,
)
CLOUD_FILTERS: Final[Sequence[Filter]] = (not_deleted, label_constraints, metric_constraints)
