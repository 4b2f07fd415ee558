"""Per-namespace snapshots of the candidate clusters, so that scheduling many
applications of one namespace reads and scores the clusters once, not per app.

Invariant: a snapshot's `targets` are the views of the cached clusters of its
namespace as of the last cluster event there; `Triggers` calls `invalidate` on
every cluster event before it queues anything, so a reconcile that follows an
event never sees an older snapshot. Scores depend only on the targets and the
metric readings, so a snapshot keeps the scores of the last readings it saw; and
the targets judged for one set of constraints over those readings (the most recent
`JUDGED_KEPT` sets), which every application with those constraints shares.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from krake_controllers.scheduler import placement, scoring, views
from krake_controllers.scheduler.caches import Caches
from krake_controllers.scheduler.filters import Filter
from krake_controllers.scheduler.readings import MetricKey, Reading, Readings

_versions: Final = itertools.count(1)
JUDGED_KEPT: Final = 32


@dataclass
class Snapshot:
    version: int
    targets: list[views.Target]
    keys: tuple[MetricKey, ...]  # every metric the targets use, once
    _scored: tuple[tuple[Reading, ...], Mapping[str, scoring.Score]] | None = field(
        default=None, repr=False
    )
    _judged: collections.OrderedDict[Hashable, placement.Judged] = field(
        default_factory=collections.OrderedDict, repr=False
    )

    def fingerprint(self, readings: Readings) -> tuple[Reading, ...]:
        return tuple(readings[key] for key in self.keys)

    def scores(self, readings: Readings) -> Mapping[str, scoring.Score]:
        """Every target's score over `readings` (computed once per distinct readings)."""
        seen = self.fingerprint(readings)
        if self._scored is None or self._scored[0] != seen:
            computed = {t.key: scoring.score(t, readings) for t in self.targets}
            self._scored = (seen, computed)
            self._judged.clear()
        return self._scored[1]

    def judged(
        self, subject: views.Subject, readings: Readings, filters: Sequence[Filter]
    ) -> placement.Judged:
        """The targets judged for `subject`'s constraints over `readings` (always
        the same `filters` for one snapshot)."""
        scores = self.scores(readings)  # clears what was judged over other readings
        key = placement.constraints(subject)
        found = self._judged.get(key)
        if found is None:
            found = placement.judge(subject, self.targets, readings, filters, scores=scores)
            self._judged[key] = found
            if len(self._judged) > JUDGED_KEPT:
                self._judged.popitem(last=False)
        else:
            self._judged.move_to_end(key)
        return found


class Snapshots:
    def __init__(self, caches: Caches) -> None:
        self.caches = caches
        self._snapshots: dict[str, Snapshot] = {}

    def invalidate(self, namespace: str) -> None:
        self._snapshots.pop(namespace, None)

    def clusters(self, namespace: str) -> Snapshot:
        snapshot = self._snapshots.get(namespace)
        if snapshot is None:
            targets = [
                views.cluster_target(c) for c in self.caches.in_namespace("Cluster", namespace)
            ]
            keys = tuple(dict.fromkeys(w.key for t in targets for w in t.metrics))
            snapshot = self._snapshots[namespace] = Snapshot(next(_versions), targets, keys)
        return snapshot
