"""The pure parts of the cluster controller: node health and the status it writes."""

from __future__ import annotations

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.kubernetes_cluster import health, status
from krake_controllers.kubernetes_cluster.monitor import Observation, Problem

State = kubernetes_pb2.Cluster.Status.State


def node(name: str, **conditions: str) -> health.Node:
    base = {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False"}
    merged = {**base, **conditions}
    return health.Node(name, tuple(health.Condition(t, s) for t, s in merged.items()))


def test_not_ready_wins_over_pressure_and_no_nodes_is_not_ready() -> None:
    assert health.verdict([node("a"), node("b")]).state == State.ONLINE
    assert health.verdict([]).state == State.NOTREADY
    pressed = health.verdict([node("a", DiskPressure="True")])
    assert (pressed.state, pressed.message) == (State.UNHEALTHY, "node a has DiskPressure")
    both = health.verdict([node("a", MemoryPressure="True"), node("b", Ready="Unknown")])
    assert (both.state, both.message) == (State.NOTREADY, "node b is not Ready")
    missing = health.Node("c", (health.Condition("MemoryPressure", "False"),))
    assert health.verdict([missing]).state == State.NOTREADY


def test_node_objects_keep_only_what_the_status_shows() -> None:
    obj = {
        "metadata": {"name": "n"},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": "2026-01-01T00:00:09Z",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        },
    }
    beat = {**obj, "status": {"conditions": [{**obj["status"]["conditions"][0]}]}}  # type: ignore[index]
    beat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:19Z"
    assert health.node_of(obj) == health.node_of(beat)  # heartbeats change nothing
    (made,) = health.to_proto([health.node_of(obj)])
    assert made.conditions[0].last_transition.ToJsonString() == "2026-01-01T00:00:00Z"


def cluster(state: int, *crs: str) -> kubernetes_pb2.Cluster:
    made = kubernetes_pb2.Cluster()
    made.metadata.generation = 3
    made.spec.custom_resources.extend(crs)
    made.status.state = state  # type: ignore[assignment]
    return made


def test_the_status_follows_the_observation() -> None:
    online = Observation(reachable=True, nodes=(node("a"),), served=frozenset())
    assert status.desired(cluster(State.CONNECTING), online).state == State.ONLINE
    assert status.desired(cluster(State.CONNECTING), online).observed_generation == 3
    connecting = Observation()
    assert status.desired(cluster(State.ONLINE), connecting).state == State.CONNECTING
    # Not yet asked, by a restarted controller: the status observed for this spec stays.
    observed = cluster(State.ONLINE)
    observed.status.observed_generation = 3
    assert status.desired(observed, connecting) == observed.status
    problem = Problem(metadata_pb2.Reason.CLUSTER_NOT_REACHABLE, "refused")
    offline = status.desired(cluster(State.ONLINE), Observation(reachable=False, problem=problem))
    assert (offline.state, offline.reason.message) == (State.OFFLINE, "refused")


def test_other_controllers_states_are_left_alone() -> None:
    online = Observation(reachable=True, nodes=(node("a"),), served=frozenset())
    # The scheduler's FAILING_METRICS stays while the cluster itself is fine...
    kept = status.desired(cluster(State.FAILING_METRICS), online)
    assert kept.state == State.FAILING_METRICS
    assert [n.name for n in kept.nodes] == ["a"]
    # ...but not when it is not.
    sick = Observation(reachable=True, nodes=(node("a", Ready="False"),), served=frozenset())
    assert status.desired(cluster(State.FAILING_METRICS), sick).state == State.NOTREADY
    # The infrastructure controller's lifecycle states are its own.
    for state in (State.CREATING, State.RECONCILING, State.DELETING, State.FAILED):
        assert status.desired(cluster(state), sick).state == state


def test_custom_resources_are_written_only_for_the_wanted_set_they_answer() -> None:
    wanted = frozenset({"a.x", "b.x"})
    answered = Observation(reachable=True, nodes=(node("n"),), wanted=wanted,
                           served=frozenset({"b.x"}))  # fmt: skip
    assert list(status.desired(cluster(0, "a.x", "b.x"), answered).custom_resources) == ["b.x"]
    stale = status.desired(cluster(0, "a.x"), answered)
    assert list(stale.custom_resources) == []
    assert stale.observed_generation == 0
