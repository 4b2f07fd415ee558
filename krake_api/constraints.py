"""The placement constraint grammar, parsed once: by the API when an object is
written (bad constraints are INVALID_ARGUMENT) and by the scheduler when it filters.

Label constraints (a missing label satisfies the negative forms, unlike the first
Krake):
    location is DE | location = DE | location == DE
    location is not DE | location != DE
    tier in (gold, silver) | tier not in (gold, silver)
Metric constraints compare a metric's normalized value (0..1) with a number:
    latency < 0.5   (also <=, >, >=, ==, !=; and the words lt, le, gt, ge, eq, ne)
`str()` of a constraint is its canonical text, and parsing it gives it back.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

NAME: Final = r"[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?"
VALUE: Final = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SET: Final = re.compile(
    rf"^\s*({NAME})\s+(not\s+in|in)\s*\(\s*({VALUE}(?:\s*,\s*{VALUE})*)\s*\)\s*$"
)
_ONE: Final = re.compile(rf"^\s*({NAME})\s+(is\s+not|is|!=|==|=)\s+({VALUE})\s*$")
_ONE_TIGHT: Final = re.compile(rf"^\s*({NAME})\s*(!=|==|=)\s*({VALUE})\s*$")
_METRIC: Final = re.compile(rf"^\s*({NAME})\s*(<=|>=|==|!=|<|>|=)\s*(\S+)\s*$")
_METRIC_WORD: Final = re.compile(rf"^\s*({NAME})\s+(lt|le|gt|ge|eq|ne)\s+(\S+)\s*$")

COMPARISONS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
WORDS: Final[Mapping[str, str]] = {
    "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!=", "=": "==",
}  # fmt: skip


class ConstraintError(ValueError):
    """The text is not a constraint; the message says what is expected."""


@dataclass(frozen=True, slots=True)
class LabelConstraint:
    key: str
    negated: bool  # "not in" / "is not"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.negated:
            return labels.get(self.key) not in self.values
        return self.key in labels and labels[self.key] in self.values

    def __str__(self) -> str:
        if len(self.values) == 1:
            (value,) = self.values
            return f"{self.key} {'is not' if self.negated else 'is'} {value}"
        listed = ", ".join(sorted(self.values))
        return f"{self.key} {'not in' if self.negated else 'in'} ({listed})"


@dataclass(frozen=True, slots=True)
class MetricConstraint:
    metric: str
    op: str  # a key of COMPARISONS
    value: float

    def holds(self, normalized: float) -> bool:
        return COMPARISONS[self.op](normalized, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value!r}"


def parse_label(text: str) -> LabelConstraint:
    if found := _SET.match(text):
        values = frozenset(v.strip() for v in found[3].split(","))
        return LabelConstraint(found[1], found[2] != "in", values)
    if found := _ONE.match(text) or _ONE_TIGHT.match(text):
        negated = found[2] == "!=" or found[2].split() == ["is", "not"]
        return LabelConstraint(found[1], negated, frozenset({found[3]}))
    raise ConstraintError(
        f"{text!r} is not a label constraint: expected 'KEY is VALUE', 'KEY is not VALUE', "
        "'KEY = VALUE', 'KEY != VALUE', 'KEY in (V1, V2)' or 'KEY not in (V1, V2)'"
    )


def parse_metric(text: str) -> MetricConstraint:
    found = _METRIC.match(text) or _METRIC_WORD.match(text)
    if found is None:
        raise ConstraintError(
            f"{text!r} is not a metric constraint: expected 'METRIC OP NUMBER' with OP one of "
            "<, <=, >, >=, ==, != (or lt, le, gt, ge, eq, ne)"
        )
    try:
        value = float(found[3])
    except ValueError:
        raise ConstraintError(f"{text!r}: {found[3]!r} is not a number") from None
    if not math.isfinite(value):
        raise ConstraintError(f"{text!r}: the number must be finite")
    return MetricConstraint(found[1], WORDS.get(found[2], found[2]), value)
