"""Placement: the pure function from a subject, its candidate targets and the metric
readings to a ranked, explained `Placement` (no I/O, no clock of its own).

`evaluate` filters and scores every target (`judge`: the same for every subject
with the same constraints, so callers may share it) and ranks them best first for
one subject (`rank`); `explain` turns the ranking into the `krake.core.v1.Placement`
message (the best `limit` candidates, the rest counted in `omitted_candidates`);
`decide` says what to do about it. The scheduler and PreviewApplicationPlacement
call the same functions.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from krake.core.v1 import metadata_pb2, placement_pb2
from krake_controllers.scheduler import scoring
from krake_controllers.scheduler.filters import Filter, Verdict
from krake_controllers.scheduler.readings import Readings
from krake_controllers.scheduler.views import Subject, Target


@dataclass(slots=True)
class Evaluation:
    target: Target
    verdicts: tuple[Verdict, ...]
    score: scoring.Score
    stickiness: float
    eligible: bool = False
    total: float = 0.0

    def __post_init__(self) -> None:
        self.eligible = all(v.passed for v in self.verdicts)
        self.total = self.score.base + self.stickiness


@dataclass(frozen=True, slots=True)
class Judged:
    """Every target filtered and scored, without stickiness, for any subject with
    the same constraints (`constraints`), in the order of the ranking key minus the
    tie-break: what many subjects share, computed once."""

    evaluations: tuple[Evaluation, ...]
    keys: tuple[scoring.RankKey, ...]  # each evaluation's key, as if not current
    index: Mapping[str, int]  # target key -> position


def constraints(subject: Subject) -> Hashable:
    """What the filters read from a subject: equal for subjects they judge alike."""
    return (subject.labels, subject.metrics, subject.custom_resources)


def judge(
    subject: Subject,
    targets: Iterable[Target],
    readings: Readings,
    filters: Sequence[Filter],
    *,
    scores: Mapping[str, scoring.Score] | None = None,
) -> Judged:
    """`scores` (by target key) are the targets' scores over the same `readings`,
    when the caller has them already (they do not depend on the subject)."""
    evaluations = [
        Evaluation(
            target,
            tuple([check(subject, target, readings) for check in filters]),
            scores[target.key] if scores is not None else scoring.score(target, readings),
            0.0,
        )
        for target in targets
    ]
    keyed = sorted(
        ((scoring.rank_key(e.target, e.eligible, e.score, e.total), e) for e in evaluations),
        key=lambda pair: pair[0],
    )
    return Judged(
        tuple(e for _, e in keyed),
        tuple(k for k, _ in keyed),
        {e.target.key: i for i, (_, e) in enumerate(keyed)},
    )


def rank(subject: Subject, judged: Judged, *, stickiness: float) -> list[Evaluation]:
    """`judged` in `subject`'s order, best first (see `scoring` for the order): its
    current target moved up by the stickiness bonus, ties broken by its hash."""
    evaluations, keys = list(judged.evaluations), list(judged.keys)
    at = judged.index.get(subject.current) if subject.current else None
    if at is not None:
        was = evaluations.pop(at)
        keys.pop(at)
        bonus = scoring.bonus(subject, was.target, stickiness)
        moved = Evaluation(was.target, was.verdicts, was.score, bonus)
        key = scoring.rank_key(moved.target, moved.eligible, moved.score, moved.total, True)
        where = bisect.bisect_left(keys, key)
        evaluations.insert(where, moved)
        keys.insert(where, key)
    start = 0
    for end in range(1, len(keys) + 1):
        if end == len(keys) or keys[end] != keys[start]:
            if end - start > 1:
                evaluations[start:end] = sorted(
                    evaluations[start:end], key=lambda e: scoring.tie_break(subject, e.target)
                )
            start = end
    return evaluations


def evaluate(
    subject: Subject,
    targets: Iterable[Target],
    readings: Readings,
    filters: Sequence[Filter],
    *,
    stickiness: float,
    scores: Mapping[str, scoring.Score] | None = None,
) -> list[Evaluation]:
    """Every target filtered and scored, best first: `judge`, then `rank`."""
    judged = judge(subject, targets, readings, filters, scores=scores)
    return rank(subject, judged, stickiness=stickiness)


def best(evaluations: Sequence[Evaluation]) -> Evaluation | None:
    return evaluations[0] if evaluations and evaluations[0].eligible else None


def candidate(evaluation: Evaluation) -> placement_pb2.Candidate:
    return placement_pb2.Candidate(
        ref=evaluation.target.ref,
        eligible=evaluation.eligible,
        verdicts=[
            placement_pb2.FilterVerdict(filter=v.filter, passed=v.passed, message=v.message)
            for v in evaluation.verdicts
        ],
        score=evaluation.total,
        stickiness=evaluation.stickiness,
        terms=[
            placement_pb2.ScoreTerm(
                metric=t.metric.name,
                weight=t.metric.weight,
                value=t.reading.value,
                normalized=t.reading.normalized,
                reason=t.reading.reason() if not t.reading.usable else None,
            )
            for t in evaluation.score.terms
        ],
    )


def explain(
    evaluations: Sequence[Evaluation],
    *,
    chosen: metadata_pb2.ResourceRef | None,
    now: datetime,
    limit: int | None = None,
) -> placement_pb2.Placement:
    """The explanation: `chosen` (see `chosen`) and the best `limit` candidates."""
    kept = evaluations if limit is None else evaluations[:limit]
    placement = placement_pb2.Placement(
        candidates=[candidate(e) for e in kept],
        omitted_candidates=len(evaluations) - len(kept),
    )
    placement.evaluated.FromDatetime(now)
    if chosen is not None and chosen.name:
        placement.chosen.CopyFrom(chosen)
    return placement


@dataclass(frozen=True, slots=True)
class Decision:
    """Bind to `target` (None: keep things as they are), and why."""

    target: Target | None
    why: str


def decide(subject: Subject, evaluations: Sequence[Evaluation]) -> Decision:
    """Unbound: bind to the best eligible target. Bound: move only when migration is
    allowed and the best target is another one. The stickiness bonus in the ranking
    makes that mean "better by more than the stickiness"; a current target that is
    no longer eligible (offline, deleted, constraints changed) loses to any
    eligible one."""
    top = best(evaluations)
    if not subject.current:
        if top is None:
            return Decision(None, "no suitable candidate")
        return Decision(top.target, "bind")
    if top is None:
        return Decision(None, "no suitable candidate; staying")
    if top.target.key == subject.current:
        return Decision(None, "current is best")
    if not subject.migration:
        return Decision(None, f"migration disabled; {top.target.key} would be better")
    return Decision(top.target, f"move from {subject.current}")


def chosen(
    decision: Decision, current: metadata_pb2.ResourceRef
) -> metadata_pb2.ResourceRef | None:
    """Where the subject is placed after `decision`: its new target, or the one it is
    bound to (`current`, empty when unbound) when it stays."""
    if decision.target is not None:
        return decision.target.ref
    return current if current.name else None
