"""The pure rules, table-driven: observer schemas, the health of each workload kind,
the state machine, apply order and hook injection."""

from __future__ import annotations

from typing import Any

import pytest
from app_support import State, deployment

from krake_controllers.kubernetes_application import health, hooks, manifests, schemas, statuses

SCHEMA_CASES = [
    # (desired, live, schema, differs)
    ({"a": 1}, {"a": 1, "b": 2}, {"a": None}, False),
    ({"a": 1}, {"a": 2}, {"a": None}, True),
    ({"a": 1}, {}, {"a": None}, True),
    ({"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": None}, False),  # b not observed
    ({"a": {"x": 1}}, {"a": {"x": 1, "y": 2}}, {"a": {"x": None}}, False),
    ({}, {"a": 5}, {"a": None}, False),  # observed, but left to the cluster's defaults
    ({"l": [1]}, {"l": [1, 2]}, {"l": [None, {schemas.MIN: 1, schemas.MAX: 2}]}, False),
    ({"l": [1]}, {"l": [1, 2, 3]}, {"l": [None, {schemas.MIN: 1, schemas.MAX: 2}]}, True),
    ({"l": [1]}, {"l": [2]}, {"l": [None, {schemas.MIN: 1, schemas.MAX: 1}]}, True),
    ({"l": [1, 2]}, {"l": [1]}, {"l": [None, None, {schemas.MIN: 1, schemas.MAX: 2}]}, True),
]


@pytest.mark.parametrize(("desired", "live", "schema", "expected"), SCHEMA_CASES)
def test_schema_differs(desired: Any, live: Any, schema: Any, expected: bool) -> None:
    assert schemas.differs(desired, live, schema) is expected


def test_default_schema_observes_what_the_manifest_sets() -> None:
    schema = schemas.default({"a": 1, "l": [{"x": 1}], "d": {"k": "v"}})
    assert schema == {
        "a": None,
        "l": [{"x": None}, {schemas.MIN: 1, schemas.MAX: 1}],
        "d": {"k": None},
    }
    live = {"a": 1, "l": [{"x": 1, "y": 2}, {"x": 3}], "d": {"k": "v", "extra": 1}, "z": 0}
    observed = schemas.observe(live, schema)
    assert observed == {"a": 1, "l": [{"x": 1}, {schemas.CURRENT: 2}], "d": {"k": "v"}}


def _status(**fields: Any) -> dict[str, Any]:
    return fields


HEALTH_CASES = [
    # (object, healthy, completable and finished)
    (
        {"kind": "Deployment", "spec": {"replicas": 2}, "status": _status(readyReplicas=2)},
        True,
        False,
    ),
    (
        {"kind": "Deployment", "spec": {"replicas": 2}, "status": _status(readyReplicas=1)},
        False,
        False,
    ),
    (
        {
            "kind": "Deployment",
            "metadata": {"generation": 3},
            "spec": {"replicas": 1},
            "status": _status(readyReplicas=1, observedGeneration=2),
        },
        False,
        False,
    ),
    ({"kind": "StatefulSet", "spec": {}, "status": _status(readyReplicas=1)}, True, False),
    ({"kind": "ReplicaSet", "spec": {"replicas": 3}, "status": {}}, False, False),
    (
        {"kind": "DaemonSet", "status": _status(desiredNumberScheduled=2, numberReady=2)},
        True,
        False,
    ),
    ({"kind": "DaemonSet", "status": {}}, False, False),
    (
        {
            "kind": "Job",
            "spec": {},
            "status": _status(succeeded=1, conditions=[{"type": "Complete", "status": "True"}]),
        },
        True,
        True,
    ),
    (
        {"kind": "Job", "status": _status(conditions=[{"type": "Failed", "status": "True"}])},
        False,
        False,
    ),
    (
        {
            "kind": "Pod",
            "spec": {},
            "status": _status(phase="Running", conditions=[{"type": "Ready", "status": "True"}]),
        },
        True,
        False,
    ),
    ({"kind": "Pod", "spec": {}, "status": _status(phase="Pending")}, False, False),
    (
        {"kind": "Pod", "spec": {"restartPolicy": "Never"}, "status": _status(phase="Succeeded")},
        True,
        True,
    ),
    ({"kind": "ConfigMap"}, True, False),
]


@pytest.mark.parametrize(("obj", "healthy", "finished"), HEALTH_CASES)
def test_health_by_kind(obj: dict[str, Any], healthy: bool, finished: bool) -> None:
    found = health.of(obj)
    assert found.healthy is healthy
    assert (found.completable and found.finished) is finished


def _observed(*objects: dict[str, Any], crashing: int = 0) -> statuses.Observed:
    pod = {
        "status": {
            "phase": "Running",
            "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
        }
    }
    return statuses.Observed.of(list(objects), [pod] * crashing)


READY = {"kind": "Deployment", "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
NOT_READY = {"kind": "Deployment", "spec": {"replicas": 1}, "status": {}}
DONE = {"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
STATE_CASES = [
    # (current, spec changed, first, observed, next)
    (State.STATE_UNSPECIFIED, True, True, _observed(NOT_READY), State.CREATING),
    (State.CREATING, False, False, _observed(NOT_READY), State.CREATING),
    (State.CREATING, False, False, _observed(READY), State.RUNNING),
    (State.RUNNING, True, False, _observed(NOT_READY), State.RECONCILING),
    (State.RUNNING, False, False, _observed(NOT_READY), State.DEGRADED),
    (State.CREATING, False, False, _observed(NOT_READY, crashing=1), State.DEGRADED),
    (State.DEGRADED, False, False, _observed(READY), State.RUNNING),
    (State.RUNNING, False, False, _observed(READY, None), State.DEGRADED),  # type: ignore[arg-type]
    (State.CREATING, False, False, _observed(DONE), State.COMPLETED),
    (State.CREATING, False, False, _observed(DONE, READY), State.RUNNING),
]


@pytest.mark.parametrize(("current", "changed", "first", "observed", "expected"), STATE_CASES)
def test_state_machine(
    current: int, changed: bool, first: bool, observed: statuses.Observed, expected: int
) -> None:
    assert statuses.state(current, changed, first, observed) == expected


def test_apply_order_puts_dependencies_first() -> None:
    kinds = [
        "Deployment",
        "Widget",
        "Service",
        "Secret",
        "Namespace",
        "ConfigMap",
        "CustomResourceDefinition",
        "ServiceAccount",
        "Job",
    ]
    objects = [{"apiVersion": "v1", "kind": k, "metadata": {"name": "x"}} for k in kinds]
    order = [o["kind"] for o in manifests.ordered(objects)]
    assert order[:2] == ["Namespace", "CustomResourceDefinition"]
    assert order.index("ConfigMap") < order.index("Deployment")
    assert order.index("ServiceAccount") < order.index("Deployment")
    assert order[-1] == "Widget"


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "x"}}, "apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "x"}}, "kind"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "metadata.name"),
    ],
)
def test_manifest_items_need_identity(item: dict[str, Any], message: str) -> None:
    with pytest.raises(manifests.InvalidManifest, match=message):
        manifests.check([item])


def test_labels_and_hooks_reach_the_pod_template() -> None:
    hook = hooks.Hook("complete", "ns", "app")
    obj = hooks.inject(manifests.labelled(deployment(), "uid-1"), [hook], "http://api:8080")
    template = obj["spec"]["template"]
    assert obj["metadata"]["labels"][manifests.APP_LABEL] == "uid-1"
    assert template["metadata"]["labels"] == {"app": "web", manifests.APP_LABEL: "uid-1"}
    env = template["spec"]["containers"][0]["env"]
    assert env[0] == {
        "name": "KRAKE_COMPLETE_URL",
        "value": "http://api:8080/kubernetes/namespaces/ns/applications/app/complete",
    }
