"""The scheduler's pure placement: normalization, filters, scoring, stickiness,
tie-break, decisions and explanations (no I/O)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krake.core.v1 import core_pb2, metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.scheduler import filters, normalization, placement, scoring, views
from krake_controllers.scheduler.readings import (
    INVALID_METRIC,
    UNREACHABLE_METRICS_PROVIDER,
    MetricKey,
    Reading,
    failed,
)

ONLINE = kubernetes_pb2.Cluster.Status.ONLINE
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def cluster(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    state: int = ONLINE,
    crds: tuple[str, ...] = (),
    deleted: bool = False,
) -> views.Target:
    obj = kubernetes_pb2.Cluster(api="kubernetes", kind="Cluster")
    obj.metadata.name, obj.metadata.namespace = name, "ns"
    obj.metadata.labels.update(labels or {})
    obj.status.state = state  # type: ignore[assignment]
    obj.spec.custom_resources.extend(crds)
    obj.status.custom_resources.extend(crds)  # the cluster controller found them served
    for metric, weight in (metrics or {}).items():
        obj.spec.metrics.add(name=metric, weight=weight, namespaced=False)
    if deleted:
        obj.metadata.deleted.FromDatetime(NOW)
    return views.cluster_target(obj)


def app(
    *,
    labels: tuple[str, ...] = (),
    metrics: tuple[str, ...] = (),
    crds: tuple[str, ...] = (),
    on: str = "",
    migration: bool | None = None,
    name: str = "web",
) -> views.Subject:
    obj = kubernetes_pb2.Application(api="kubernetes", kind="Application")
    obj.metadata.name, obj.metadata.namespace = name, "ns"
    wanted = obj.spec.constraints
    wanted.cluster.labels.extend(labels)
    wanted.cluster.metrics.extend(metrics)
    wanted.cluster.custom_resources.extend(crds)
    if migration is not None:
        wanted.migration = migration
    if on:
        obj.status.scheduled_to.CopyFrom(
            metadata_pb2.ResourceRef(api="kubernetes", kind="Cluster", namespace="ns", name=on)
        )
    return views.application_subject(obj)


def values(**named: float) -> dict[MetricKey, Reading]:
    return {MetricKey("", k): Reading(value=v, normalized=v) for k, v in named.items()}


def rank(subject: views.Subject, targets: list[views.Target], readings: Any, **kw: Any) -> Any:
    return placement.evaluate(
        subject, targets, readings, filters.CLUSTER_FILTERS, stickiness=kw.get("stickiness", 0.1)
    )


def names(evaluations: list[placement.Evaluation]) -> list[str]:
    return [e.target.ref.name for e in evaluations]


# --- normalization ----------------------------------------------------------------


def spec(
    low: float | None = None, high: float | None = None, allowed: tuple[float, ...] = ()
) -> Any:
    made = core_pb2.Metric.Spec(allowed_values=allowed)
    if low is not None:
        made.min = low
    if high is not None:
        made.max = high
    return made


@settings(deadline=None)  # a loaded CI machine must not fail a pure test
@given(
    st.floats(-1e6, 1e6),
    st.floats(1e-3, 1e6),
    st.floats(0, 1),
)
def test_normalization_maps_min_max_onto_0_1(low: float, width: float, share: float) -> None:
    high = low + width
    value = low + share * width
    if not low <= value <= high:  # float rounding at the edges
        return
    reading = normalization.normalize(spec(low, high), value)
    assert reading.usable
    assert 0.0 <= reading.normalized <= 1.0
    assert math.isclose(reading.normalized, share, abs_tol=1e-6)
    assert reading.value == value


def test_normalization_refuses_out_of_range_non_finite_and_not_allowed() -> None:
    assert normalization.normalize(spec(0, 10), 5).normalized == 0.5
    assert normalization.normalize(spec(), 0.25).normalized == 0.25  # default [0, 1]
    for bad, why in (
        (normalization.normalize(spec(0, 10), 11), "outside [0, 10]"),
        (normalization.normalize(spec(0, 10), -1), "outside"),
        (normalization.normalize(spec(0, 10), math.nan), "finite"),
        (normalization.normalize(spec(0, 10), math.inf), "finite"),
        (normalization.normalize(spec(0, 10, (1, 2)), 3), "allowed"),
        (normalization.normalize(spec(5, 5), 5), "not below max"),
    ):
        assert bad.code == INVALID_METRIC and why in bad.message
    assert normalization.normalize(spec(0, 10, (1, 2)), 2).normalized == 0.2


# --- filters ----------------------------------------------------------------------


def test_filters_give_one_verdict_each_in_order() -> None:
    subject = app(labels=("zone is a",), metrics=("load < 0.5",), crds=("x.example.com",))
    good = cluster("good", labels={"zone": "a"}, metrics={"load": 1}, crds=("x.example.com",))
    (only,) = rank(subject, [good], values(load=0.2))
    assert [v.filter for v in only.verdicts] == [
        "not_deleted",
        "online",
        "label_constraints",
        "custom_resources",
        "metric_constraints",
    ]
    assert only.eligible


ZONE_A: dict[str, Any] = {"labels": {"zone": "a"}, "metrics": {"load": 1}}
OFFLINE = kubernetes_pb2.Cluster.Status.OFFLINE


@pytest.mark.parametrize(
    ("target", "failing", "message"),
    [
        (cluster("c", deleted=True, **ZONE_A), "not_deleted", "deletion"),
        (cluster("c", state=OFFLINE, **ZONE_A), "online", "OFFLINE"),
        (cluster("c", labels={"zone": "b"}, metrics={"load": 1}), "label_constraints", "zone is a"),
        (cluster("c", labels={"zone": "a"}), "metric_constraints", "no metric 'load'"),
    ],
)
def test_each_filter_can_fail_alone(target: views.Target, failing: str, message: str) -> None:
    subject = app(labels=("zone is a",), metrics=("load < 0.5",))
    (only,) = rank(subject, [target], values(load=0.2))
    failed_ = [v for v in only.verdicts if not v.passed]
    assert [v.filter for v in failed_] == [failing]
    assert message in failed_[0].message
    assert not only.eligible


def test_metric_constraints_compare_the_normalized_value_not_weight_times_value() -> None:
    heavy = cluster("heavy", metrics={"load": 10.0})  # weight 10, normalized 0.3
    (only,) = rank(app(metrics=("load < 0.5",)), [heavy], values(load=0.3))
    assert only.eligible


def test_an_unusable_metric_fails_its_constraint_with_the_reason() -> None:
    target = cluster("c", metrics={"load": 1})
    readings = {MetricKey("", "load"): failed(UNREACHABLE_METRICS_PROVIDER, "down")}
    (only,) = rank(app(metrics=("load gt 0.1",)), [target], readings)
    assert not only.eligible and "down" in only.verdicts[-1].message


def test_missing_custom_resources_are_named() -> None:
    subject = app(crds=("a.example.com", "b.example.com"))
    (only,) = rank(subject, [cluster("c", crds=("a.example.com",))], {})
    assert not only.eligible
    assert only.verdicts[3].message == "not served: b.example.com"


def test_declared_but_unserved_custom_resources_do_not_count() -> None:
    """What the cluster controller found served (status) counts, not the spec."""
    obj = kubernetes_pb2.Cluster(api="kubernetes", kind="Cluster")
    obj.metadata.name, obj.metadata.namespace = "c", "ns"
    obj.status.state = ONLINE  # type: ignore[assignment]
    obj.spec.custom_resources.append("a.example.com")  # declared, not (yet) found served
    (only,) = rank(app(crds=("a.example.com",)), [views.cluster_target(obj)], {})
    assert not only.eligible
    assert only.verdicts[3].message == "not served: a.example.com"


@settings(deadline=None)  # a loaded CI machine must not fail a pure test
@given(st.dictionaries(st.sampled_from("abc"), st.sampled_from("xyz"), max_size=3))
def test_a_missing_label_satisfies_only_negative_constraints(labels: dict[str, str]) -> None:
    target = cluster("c", labels=labels)
    for text, expected in (
        ("a is x", labels.get("a") == "x"),
        ("a != x", labels.get("a") != "x"),
        ("a in (x, y)", labels.get("a") in ("x", "y")),
        ("a not in (x, y)", labels.get("a") not in ("x", "y")),
    ):
        (only,) = rank(app(labels=(text,)), [target], {})
        assert only.eligible is expected, (text, labels)


# --- scoring ----------------------------------------------------------------------


@settings(deadline=None)  # a loaded CI machine must not fail a pure test
@given(st.lists(st.tuples(st.floats(0.01, 100), st.floats(0, 1)), min_size=1, max_size=5))
def test_score_is_the_weighted_mean_of_normalized_values(terms: list[tuple[float, float]]) -> None:
    metrics = {f"m{i}": weight for i, (weight, _) in enumerate(terms)}
    readings = {MetricKey("", f"m{i}"): Reading(v, v) for i, (_, v) in enumerate(terms)}
    result = scoring.score(cluster("c", metrics=metrics), readings)
    expected = sum(w * v for w, v in terms) / sum(w for w, _ in terms)
    assert result.has_metrics and math.isclose(result.base, expected, abs_tol=1e-9)
    assert 0.0 <= result.base <= 1.0 + 1e-12


def test_a_failed_metric_is_listed_but_left_out_of_the_score() -> None:
    target = cluster("c", metrics={"good": 1, "bad": 3})
    readings = {
        MetricKey("", "good"): Reading(0.8, 0.8),
        MetricKey("", "bad"): failed(INVALID_METRIC, "out of range"),
    }
    result = scoring.score(target, readings)
    assert result.base == 0.8 and len(result.terms) == 2


def test_clusters_with_metrics_rank_above_those_without() -> None:
    ranked = rank(app(), [cluster("bare"), cluster("low", metrics={"m": 1})], values(m=0.01))
    assert names(ranked) == ["low", "bare"]


def test_ineligible_clusters_rank_last_whatever_their_score() -> None:
    offline = cluster("off", metrics={"m": 1}, state=kubernetes_pb2.Cluster.Status.OFFLINE)
    ranked = rank(app(), [offline, cluster("on", metrics={"m": 1})], values(m=0.5))
    assert names(ranked) == ["on", "off"] and placement.best(ranked) is ranked[0]


# --- stickiness and decisions -----------------------------------------------------


@pytest.mark.parametrize(
    ("other", "moves"),
    [(0.55, False), (0.6, False), (0.61, True)],
)
def test_a_move_needs_a_score_better_by_more_than_the_stickiness(other: float, moves: bool) -> None:
    subject = app(on="here")
    here = cluster("here", metrics={"h": 1})
    there = cluster("there", metrics={"t": 1})
    ranked = rank(subject, [here, there], values(h=0.5, t=other))
    decision = placement.decide(subject, ranked)
    assert (decision.target is not None) is moves
    assert ranked[0 if not moves else 1].stickiness == pytest.approx(0.1)


def test_stickiness_is_configurable() -> None:
    subject = app(on="here")
    targets = [cluster("here", metrics={"h": 1}), cluster("there", metrics={"t": 1})]
    ranked = rank(subject, targets, values(h=0.5, t=0.7), stickiness=0.5)
    assert placement.decide(subject, ranked).target is None
    ranked = rank(subject, targets, values(h=0.5, t=0.7), stickiness=0.0)
    assert placement.decide(subject, ranked).target is not None


def test_an_ineligible_current_cluster_is_left_when_migration_is_allowed() -> None:
    offline = cluster("here", metrics={"m": 1}, state=kubernetes_pb2.Cluster.Status.OFFLINE)
    ranked = rank(app(on="here"), [offline, cluster("there")], values(m=1.0))
    decision = placement.decide(app(on="here"), ranked)
    assert decision.target is not None and decision.target.ref.name == "there"
    pinned = app(on="here", migration=False)
    assert (
        placement.decide(pinned, rank(pinned, [offline, cluster("there")], values(m=1))).target
        is None
    )


def test_an_app_whose_cluster_is_gone_is_moved() -> None:
    subject = app(on="gone")
    decision = placement.decide(subject, rank(subject, [cluster("there")], {}))
    assert decision.target is not None and decision.target.ref.name == "there"


def test_chosen_is_where_the_subject_is_after_the_decision() -> None:
    here = metadata_pb2.ResourceRef(kind="Cluster", namespace="ns", name="here")
    offline = cluster("here", state=OFFLINE)
    pinned = app(on="here", migration=False)
    stays = placement.decide(pinned, rank(pinned, [offline, cluster("there")], {}))
    assert placement.chosen(stays, here) == here  # pinned: it stays, even offline
    free = app(on="here")
    moves = placement.decide(free, rank(free, [offline, cluster("there")], {}))
    moved = placement.chosen(moves, here)
    assert moved is not None and moved.name == "there"
    unbound = app(labels=("a is b",))
    nowhere = placement.decide(unbound, rank(unbound, [cluster("c")], {}))
    assert placement.chosen(nowhere, metadata_pb2.ResourceRef()) is None


def test_no_decision_without_an_eligible_cluster() -> None:
    subject = app(labels=("zone is a",))
    decision = placement.decide(subject, rank(subject, [cluster("c")], {}))
    assert decision.target is None and decision.why == "no suitable candidate"


# --- tie-break ----------------------------------------------------------------------


def test_ties_break_deterministically_and_spread_over_subjects() -> None:
    targets = [cluster(f"c{i}", metrics={"m": 1}) for i in range(10)]
    readings = values(m=0.5)
    chosen = {}
    for i in range(200):
        subject = app(name=f"app{i}")
        first = names(rank(subject, targets, readings))
        assert first == names(rank(subject, list(reversed(targets)), readings))
        chosen[i] = first[0]
    assert len(set(chosen.values())) >= 8  # not every app on the same cluster


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["", "a", "b"]), st.booleans(), st.sampled_from([0.2, 0.7])),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 40),
)
def test_the_ranking_is_the_full_order_with_the_hash_breaking_ties(
    shapes: list[tuple[str, bool, float]], on: int
) -> None:
    """The hash is computed only among equal keys; the order must be the same as
    sorting by (key, hash) over every candidate."""
    targets = [
        cluster(f"c{i}", metrics={metric: 1} if metric else None, state=ONLINE if up else 0)
        for i, (metric, up, _) in enumerate(shapes)
    ]
    readings = values(a=shapes[0][2], b=0.7)
    subject = app(on=f"c{on}")
    ranked = rank(subject, targets, readings)

    def full(e: placement.Evaluation) -> tuple[object, ...]:
        current = e.target.key == subject.current
        key = scoring.rank_key(e.target, e.eligible, e.score, e.total, current)
        return (*key, scoring.tie_break(subject, e.target))

    assert names(ranked) == names(sorted(ranked, key=full))
    assert sorted(names(ranked)) == sorted(t.ref.name for t in targets)


# --- explanations -------------------------------------------------------------------


def test_explain_records_every_candidate_or_the_best_ones() -> None:
    subject = app(on="c1")
    targets = [cluster(f"c{i}", metrics={"m": 2}) for i in range(5)]
    readings = {MetricKey("", "m"): Reading(7.0, 0.7)}
    ranked = rank(subject, targets, readings)
    full = placement.explain(ranked, chosen=ranked[0].target.ref, now=NOW)
    assert len(full.candidates) == 5 and full.omitted_candidates == 0
    assert full.chosen.name == "c1" and full.evaluated.ToDatetime(UTC) == NOW
    top = full.candidates[0]
    assert top.score == pytest.approx(0.8) and top.stickiness == pytest.approx(0.1)
    (term,) = top.terms
    assert (term.metric, term.weight, term.value, term.normalized) == ("m", 2, 7.0, 0.7)
    assert not term.HasField("reason")
    short = placement.explain(ranked, chosen=None, now=NOW, limit=2)
    assert len(short.candidates) == 2 and short.omitted_candidates == 3
    assert not short.HasField("chosen")


def test_explain_names_no_cluster_when_none_is_eligible_and_keeps_reasons() -> None:
    readings = {MetricKey("", "m"): failed(UNREACHABLE_METRICS_PROVIDER, "refused")}
    ranked = rank(app(labels=("a is b",)), [cluster("c", metrics={"m": 1})], readings)
    found = placement.explain(ranked, chosen=None, now=NOW)
    assert not found.HasField("chosen")
    (term,) = found.candidates[0].terms
    assert term.reason.code == UNREACHABLE_METRICS_PROVIDER and term.reason.message == "refused"
