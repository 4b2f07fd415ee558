"""The constraint grammar: every documented form, clear errors, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krake_api.constraints import (
    ConstraintError,
    LabelConstraint,
    MetricConstraint,
    parse_label,
    parse_metric,
)

LABELS = {"location": "DE", "tier": "gold"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("location is DE", True),
        ("location = DE", True),
        ("location=DE", True),
        ("location == DE", True),
        ("location is not DE", False),
        ("location != FR", True),
        ("tier in (gold, silver)", True),
        ("tier not in (gold, silver)", False),
        ("zone is not a", True),  # a missing label satisfies the negative forms
        ("zone not in (a, b)", True),
        ("zone is a", False),
        ("zone in (a)", False),
    ],
)
def test_label_forms(text: str, matches: bool) -> None:
    assert parse_label(text).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("load < 0.5", 0.4, True),
        ("load <= 0.5", 0.5, True),
        ("load > 0.5", 0.5, False),
        ("load >= 0.5", 0.5, True),
        ("load == 1", 1.0, True),
        ("load = 1", 1.0, True),
        ("load != 1", 1.0, False),
        ("load lt 0.5", 0.4, True),
        ("load ge 0.5", 0.4, False),
        ("load ne 0", 0.1, True),
    ],
)
def test_metric_forms(text: str, value: float, holds: bool) -> None:
    assert parse_metric(text).holds(value) is holds


@pytest.mark.parametrize(
    "text", ["", "location", "location is", "tier in gold", "in (a)", "a is b c"]
)
def test_bad_label_constraints_say_what_is_expected(text: str) -> None:
    with pytest.raises(ConstraintError, match="is not a label constraint: expected"):
        parse_label(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("load <", "is not a metric constraint"),
        ("load < fast", "is not a number"),
        ("load < inf", "finite"),
    ],
)
def test_bad_metric_constraints_say_why(text: str, message: str) -> None:
    with pytest.raises(ConstraintError, match=message):
        parse_metric(text)


TOKEN = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,8}[a-z0-9])?", fullmatch=True)


@given(TOKEN, st.booleans(), st.frozensets(TOKEN, min_size=1, max_size=4))
def test_label_constraints_round_trip(key: str, negated: bool, values: frozenset[str]) -> None:
    constraint = LabelConstraint(key, negated, values)
    assert parse_label(str(constraint)) == constraint


@given(
    TOKEN,
    st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_metric_constraints_round_trip(metric: str, op: str, value: float) -> None:
    constraint = MetricConstraint(metric, op, value)
    assert parse_metric(str(constraint)) == constraint
