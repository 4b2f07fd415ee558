"""Scores and the ranking order.

score = sum(weight_i * normalized_i) / sum(weight_i) over the target's usable
metrics (a failed metric is listed with its reason and left out of both sums),
plus the stickiness bonus when the target is the one the subject is bound to.

Ranking, best first: eligible before not, lower tier (namespaced clouds before
global ones), targets with a usable metric before those without, higher score,
the current target on an exact tie (a move needs MORE than the stickiness), and
finally a rendezvous hash of (subject, target): deterministic, so a placement is
reproducible, yet different subjects spread over equally good targets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from krake_controllers.scheduler.readings import UNKNOWN_METRIC, Reading, Readings, failed
from krake_controllers.scheduler.views import Subject, Target, Weighted

NOT_READ = failed(UNKNOWN_METRIC, "the metric was not read")


@dataclass(frozen=True, slots=True)
class Term:
    metric: Weighted
    reading: Reading


@dataclass(frozen=True, slots=True)
class Score:
    terms: tuple[Term, ...]
    base: float  # the weighted mean; 0.0 without usable metrics
    has_metrics: bool


def score(target: Target, readings: Readings) -> Score:
    terms = tuple(Term(w, readings.get(w.key, NOT_READ)) for w in target.metrics)
    usable = [t for t in terms if t.reading.usable and t.metric.weight > 0]
    total = sum(t.metric.weight for t in usable)
    if not usable or total <= 0:
        return Score(terms, 0.0, False)
    base = sum(t.metric.weight * t.reading.normalized for t in usable) / total
    return Score(terms, base, True)


def bonus(subject: Subject, target: Target, stickiness: float) -> float:
    return stickiness if subject.current and target.key == subject.current else 0.0


def tie_break(subject: Subject, target: Target) -> int:
    digest = hashlib.blake2b(f"{subject.key}\0{target.key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


RankKey = tuple[bool, int, bool, float, bool]


def rank_key(
    target: Target, eligible: bool, result: Score, total: float, current: bool = False
) -> RankKey:
    """Sort ascending with this key, then by `tie_break` among equal keys, for best
    first (the hash is only worth computing for ties). `current`: the target the
    subject is bound to."""
    return (not eligible, target.tier, not result.has_metrics, -total, not current)
