"""Label and field selectors: Kubernetes syntax and semantics, compiled once."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from krake.core.v1 import core_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import errors
from krake_api.resources import selectors

LABELS = {"app": "web", "tier": "gold", "example.com/team": "a-b_c.d"}

MATCHES = [
    # (selector, labels, expected)
    ("", {}, True),
    ("   ", LABELS, True),
    ("app=web", LABELS, True),
    ("app==web", LABELS, True),
    ("app=db", LABELS, False),
    ("missing=web", LABELS, False),
    ("app!=db", LABELS, True),
    ("app!=web", LABELS, False),
    ("missing!=web", LABELS, True),  # != matches objects without the key
    ("tier in (gold, silver)", LABELS, True),
    ("tier in (silver)", LABELS, False),
    ("missing in (gold)", LABELS, False),
    ("tier notin (gold,silver)", LABELS, False),
    ("tier notin (bronze)", LABELS, True),
    ("missing notin (gold)", LABELS, True),  # notin matches objects without the key
    ("app", LABELS, True),
    ("missing", LABELS, False),
    ("!missing", LABELS, True),
    ("!app", LABELS, False),
    ("example.com/team=a-b_c.d", LABELS, True),
    ("app=web,tier=gold", LABELS, True),
    ("app=web,tier=silver", LABELS, False),
    ("  app = web ,tier in(gold) , ! missing,app  ", LABELS, True),
    ("app=in", {"app": "in"}, True),  # keywords are fine as values
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCHES)
def test_label_selector_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    selector = selectors.LabelSelector.parse(text)
    assert selector.matches(labels) is expected
    assert selector.empty is (not text.strip())


def test_label_selector_matches_a_protobuf_label_map() -> None:
    app = kubernetes_pb2.Application()
    app.metadata.labels["app"] = "web"
    assert selectors.LabelSelector.parse("app=web,!tier").matches(app.metadata.labels)


BAD_LABEL_SELECTORS = [
    # (selector, a token the message must name)
    ("a in (b", "end of selector"),
    ("=x", "'='"),
    ("a==", "end of selector"),  # empty values are refused, unlike Kubernetes
    ("a=", "end of selector"),
    ("in (a)", "'in'"),
    ("notin=a", "'notin'"),
    ("a b", "'b'"),
    ("a=b c", "'c'"),
    ("a in b", "'b'"),
    ("a in ()", "')'"),
    ("a in (b,)", "')'"),
    ("a in (b c)", "'c'"),
    ("a=b,", "end of selector"),
    (",a", "','"),
    ("!a=b", "'='"),
    ("!", "end of selector"),
    ("a=(b)", "'('"),
    ("a%b=c", "a%b"),
    ("-a=b", "-a"),
    ("Example.com/a=b", "Example.com"),
    ("a/b/c=d", "a/b"),
    ("/a=b", "prefix"),
    (f"{'k' * 64}=v", "63"),
    (f"k={'v' * 64}", "63"),
    ("k=-v", "-v"),
    ("k in (a, b_)", "b_"),
]


@pytest.mark.parametrize(("text", "token"), BAD_LABEL_SELECTORS)
def test_bad_label_selector_names_the_token(text: str, token: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        selectors.LabelSelector.parse(text)
    [violation] = caught.value.violations
    assert violation.field == "label_selector"
    assert token in violation.description


def _application(name: str, namespace: str, state: int) -> kubernetes_pb2.Application:
    app = kubernetes_pb2.Application()
    app.metadata.name = name
    app.metadata.namespace = namespace
    app.status.state = state  # type: ignore[assignment]
    return app


RUNNING = _application("web", "team-a", kubernetes_pb2.Application.Status.RUNNING)
PENDING = _application("db", "team-b", kubernetes_pb2.Application.Status.PENDING)

FIELD_MATCHES = [
    # (selector, matches RUNNING, matches PENDING)
    ("", True, True),
    ("status.state=RUNNING", True, False),
    ("status.state==PENDING", False, True),
    ("status.state!=RUNNING", False, True),
    ("metadata.name=web", True, False),
    ("metadata.name!=web", False, True),
    ("metadata.namespace=team-b", False, True),
    (" metadata.namespace = team-a , status.state = RUNNING ", True, False),
    ("metadata.namespace=team-a,status.state=PENDING", False, False),
    ("metadata.namespace=", False, False),
]


@pytest.mark.parametrize(("text", "running", "pending"), FIELD_MATCHES)
def test_field_selector_on_applications(text: str, running: bool, pending: bool) -> None:
    selector = selectors.FieldSelector.parse(text, kubernetes_pb2.Application.DESCRIPTOR)
    assert (selector.matches(RUNNING), selector.matches(PENDING)) == (running, pending)
    assert selector.empty is (not text)


BAD_FIELD_SELECTORS = [
    # (selector, kind, a token the message must name)
    ("spec.manifest=x", kubernetes_pb2.Application, "'spec.manifest'"),
    ("metadata.labels=x", kubernetes_pb2.Application, "'metadata.labels'"),
    ("status.state=NOPE", kubernetes_pb2.Application, "'NOPE'"),
    ("status.state=ONLINE", kubernetes_pb2.Application, "'ONLINE'"),  # a Cluster state
    ("status.state=running", kubernetes_pb2.Application, "'running'"),
    ("status.state=ONLINE", core_pb2.Role, "Role has no status.state"),
    ("metadata.name", kubernetes_pb2.Application, "'metadata.name'"),
    ("metadata.name=a,", kubernetes_pb2.Application, "''"),
    ("=web", kubernetes_pb2.Application, "''"),
]


@pytest.mark.parametrize(("text", "kind", "token"), BAD_FIELD_SELECTORS)
def test_bad_field_selector_names_the_problem(text: str, kind: type[Message], token: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        selectors.FieldSelector.parse(text, kind.DESCRIPTOR)
    [violation] = caught.value.violations
    assert violation.field == "field_selector"
    assert token in violation.description


def test_field_selector_state_of_a_cluster() -> None:
    cluster = kubernetes_pb2.Cluster()
    cluster.status.state = kubernetes_pb2.Cluster.Status.ONLINE
    selector = selectors.FieldSelector.parse(
        "status.state=ONLINE", kubernetes_pb2.Cluster.DESCRIPTOR
    )
    assert selector.matches(cluster)
    cluster.status.state = kubernetes_pb2.Cluster.Status.OFFLINE
    assert not selector.matches(cluster)


# --- property: the compiled selector agrees with a plain reference evaluation -----

KEYS = ("a", "b", "c")
VALUES = ("x", "y", "z")
OPERATORS = ("=", "==", "!=", "in", "notin", "exists", "!")

label_dicts = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES))
requirements = st.tuples(
    st.sampled_from(KEYS),
    st.sampled_from(OPERATORS),
    st.frozensets(st.sampled_from(VALUES), min_size=1),
)
spaces = st.sampled_from(("", " ", "  "))


def _render(requirement: tuple[str, str, frozenset[str]], pad: str) -> str:
    key, op, values = requirement
    if op == "exists":
        return key
    if op == "!":
        return f"!{pad}{key}"
    if op in ("in", "notin"):
        return f"{key} {op}{pad}({pad}{f'{pad},{pad}'.join(sorted(values))}{pad})"
    return f"{key}{pad}{op}{pad}{min(values)}"


def _reference(requirement: tuple[str, str, frozenset[str]], labels: Mapping[str, str]) -> bool:
    key, op, values = requirement
    present = key in labels
    if op == "exists":
        return present
    if op == "!":
        return not present
    if op in ("=", "=="):
        return present and labels[key] == min(values)
    if op == "!=":
        return not present or labels[key] != min(values)
    if op == "in":
        return present and labels[key] in values
    return not present or labels[key] not in values  # notin


@settings(deadline=None)  # cheap, but a loaded CI machine can stall any one example
@given(
    labels=label_dicts,
    reqs=st.lists(requirements, max_size=4),
    pad=spaces,
)
def test_matches_agrees_with_a_reference_evaluation(
    labels: dict[str, str], reqs: list[tuple[str, str, frozenset[str]]], pad: str
) -> None:
    text = f"{pad},{pad}".join(_render(r, pad) for r in reqs)
    selector = selectors.LabelSelector.parse(text)
    assert selector.matches(labels) is all(_reference(r, labels) for r in reqs)
