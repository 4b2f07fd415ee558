"""Label and field selectors, parsed once into predicates over objects.

Label selectors take the full Kubernetes grammar: `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
`k notin (a,b)`, `k` and `!k`, comma-separated (all must hold). Field selectors take
`path=v`, `path==v` and `path!=v` on `metadata.name`, `metadata.namespace` and the
kind's own `field_labels`; any other field is refused with 400, as Kubernetes does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from krake_testing.kube import errors
from krake_testing.kube.kinds import Kind
from krake_testing.kube.validation import lookup

Predicate = Callable[[Mapping[str, Any]], bool]

SET_TERM: Final = re.compile(r"^\s*(\S+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
EQUALITY_TERM: Final = re.compile(r"^\s*([^=!\s]+)\s*(==|=|!=)\s*(\S*)\s*$")
EXISTS_TERM: Final = re.compile(r"^\s*(!?)\s*([^=!\s()]+)\s*$")
ALWAYS_FIELDS: Final = ("metadata.name", "metadata.namespace")

LABEL_TESTS: Final[Mapping[str, Callable[[Mapping[str, str], str, frozenset[str]], bool]]] = {
    "=": lambda labels, key, values: labels.get(key) in values,
    "==": lambda labels, key, values: labels.get(key) in values,
    "in": lambda labels, key, values: labels.get(key) in values,
    "!=": lambda labels, key, values: labels.get(key) not in values,
    "notin": lambda labels, key, values: labels.get(key) not in values,
    "exists": lambda labels, key, values: key in labels,
    "!": lambda labels, key, values: key not in labels,
}


def _split_terms(selector: str) -> list[str]:
    """Split on commas that are not inside a `( ... )` value set."""
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> tuple[str, str, frozenset[str]]:
    if match := SET_TERM.match(term):
        values = frozenset(v.strip() for v in match[3].split(",") if v.strip())
        return match[1], match[2], values
    if match := EQUALITY_TERM.match(term):
        return match[1], match[2], frozenset({match[3]})
    if match := EXISTS_TERM.match(term):
        return match[2], "!" if match[1] else "exists", frozenset()
    raise errors.BadRequest(f"unable to parse requirement: {term!r}")


def labels(selector: str) -> Predicate:
    """A predicate for a label selector string ("" matches everything)."""
    terms = [_label_term(t) for t in _split_terms(selector)]

    def matches(obj: Mapping[str, Any]) -> bool:
        found = obj.get("metadata", {}).get("labels") or {}
        return all(LABEL_TESTS[op](found, key, values) for key, op, values in terms)

    return matches


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value = lookup(obj, path)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def fields(kind: Kind, selector: str) -> Predicate:
    """A predicate for a field selector string ("" matches everything)."""
    terms = []
    for term in _split_terms(selector):
        match = EQUALITY_TERM.match(term)
        if match is None:
            raise errors.BadRequest(f"invalid field selector: {term!r}")
        path, op, value = match[1], match[2], match[3]
        if path not in ALWAYS_FIELDS + kind.field_labels:
            raise errors.BadRequest(f'field label not supported: "{path}"')
        terms.append((path, op == "!=", value))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, path) == value) != negated for path, negated, value in terms)

    return matches


def match_labels(selector: Mapping[str, Any] | None) -> Predicate:
    """A predicate for a `LabelSelector` object (matchLabels + matchExpressions)."""
    selector = selector or {}
    terms = [(k, "=", frozenset({v})) for k, v in (selector.get("matchLabels") or {}).items()]
    operators = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expression in selector.get("matchExpressions") or []:
        op = operators[expression["operator"]]
        terms.append((expression["key"], op, frozenset(expression.get("values") or ())))

    def matches(obj: Mapping[str, Any]) -> bool:
        found = obj.get("metadata", {}).get("labels") or {}
        return all(LABEL_TESTS[op](found, key, values) for key, op, values in terms)

    return matches
