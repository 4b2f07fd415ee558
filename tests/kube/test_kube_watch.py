"""Watches through the official client's `kubernetes.watch.Watch`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes.client
import kubernetes.watch
import pytest
from kubernetes.client.exceptions import ApiException

from krake_testing.kube import FakeCluster, manifests


def events(
    list_function: Callable[..., Any], count: int, *args: Any, **kwargs: Any
) -> list[tuple[str, str, str]]:
    """The first `count` events as (type, name, resourceVersion); the server ends the
    stream after 5 s at the latest, so a missing event fails instead of hanging."""
    watch = kubernetes.watch.Watch()
    seen = []
    stream: Iterator[dict[str, Any]] = watch.stream(
        list_function, *args, timeout_seconds=5, **kwargs
    )
    for event in stream:
        meta = event["raw_object"]["metadata"]
        seen.append((event["type"], meta.get("name", ""), meta["resourceVersion"]))
        if len(seen) == count:
            watch.stop()
            break
    return seen


def test_watch_from_a_resource_version_sends_exactly_the_later_changes(
    core: kubernetes.client.CoreV1Api,
) -> None:
    core.create_namespaced_config_map("default", manifests.config_map("a"))
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", manifests.config_map("b"))
    core.patch_namespaced_config_map("b", "default", {"data": {"key": "new"}})
    core.delete_namespaced_config_map("a", "default")
    seen = events(core.list_namespaced_config_map, 3, "default", resource_version=start)
    assert [(kind, name) for kind, name, _ in seen] == [
        ("ADDED", "b"),
        ("MODIFIED", "b"),
        ("DELETED", "a"),
    ]
    revisions = [int(rv) for _, _, rv in seen]
    assert revisions == sorted(revisions) and revisions[0] > int(start)


def test_watch_without_a_resource_version_starts_with_the_current_state(
    core: kubernetes.client.CoreV1Api,
) -> None:
    for name in ("x", "y"):
        core.create_namespaced_config_map("default", manifests.config_map(name))
    seen = events(core.list_namespaced_config_map, 2, "default")
    assert [(kind, name) for kind, name, _ in seen] == [("ADDED", "x"), ("ADDED", "y")]


def test_watch_from_a_compacted_resource_version_is_410(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    old = core.create_namespaced_config_map("default", manifests.config_map("a"))
    core.create_namespaced_config_map("default", manifests.config_map("b"))
    cluster.compact()
    with pytest.raises(ApiException) as caught:
        events(
            core.list_namespaced_config_map,
            1,
            "default",
            resource_version=old.metadata.resource_version,
        )
    assert caught.value.status == 410
    assert "too old resource version" in str(caught.value.reason)


def test_bookmarks_carry_the_latest_resource_version(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    created = core.create_namespaced_config_map("default", manifests.config_map("a"))
    watch = kubernetes.watch.Watch()
    stream = watch.stream(
        core.list_namespaced_config_map,
        "default",
        resource_version=created.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=5,
    )
    first = next(iter(stream))
    watch.stop()
    assert first["type"] == "BOOKMARK"
    assert int(first["raw_object"]["metadata"]["resourceVersion"]) == cluster.revision


def test_selectors_turn_label_changes_into_added_and_deleted(
    core: kubernetes.client.CoreV1Api,
) -> None:
    start = core.create_namespaced_config_map(
        "default", manifests.config_map("cm", tier="back")
    ).metadata.resource_version
    core.patch_namespaced_config_map("cm", "default", {"metadata": {"labels": {"tier": "front"}}})
    core.patch_namespaced_config_map("cm", "default", {"data": {"key": "2"}})
    core.patch_namespaced_config_map("cm", "default", {"metadata": {"labels": {"tier": "back"}}})
    seen = events(
        core.list_namespaced_config_map,
        3,
        "default",
        resource_version=start,
        label_selector="tier=front",
    )
    assert [kind for kind, _, _ in seen] == ["ADDED", "MODIFIED", "DELETED"]


def test_timeout_seconds_ends_an_idle_watch(core: kubernetes.client.CoreV1Api) -> None:
    began = time.monotonic()
    watch = kubernetes.watch.Watch()
    seen = list(
        watch.stream(
            core.list_namespaced_config_map, "default", resource_version="1", timeout_seconds=1
        )
    )
    elapsed = time.monotonic() - began
    assert seen == []
    assert 0.9 <= elapsed < 4


def test_watching_one_object_by_field_selector(core: kubernetes.client.CoreV1Api) -> None:
    start = core.list_namespaced_config_map("default").metadata.resource_version
    core.create_namespaced_config_map("default", manifests.config_map("other"))
    core.create_namespaced_config_map("default", manifests.config_map("mine"))
    seen = events(
        core.list_namespaced_config_map,
        1,
        "default",
        resource_version=start,
        field_selector="metadata.name=mine",
    )
    assert [(kind, name) for kind, name, _ in seen] == [("ADDED", "mine")]


def test_the_deprecated_watch_path_streams_too(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    start = core.create_namespaced_config_map("default", manifests.config_map("a"))
    core.delete_namespaced_config_map("a", "default")
    query = [("resourceVersion", start.metadata.resource_version), ("timeoutSeconds", "2")]
    request = core.api_client.param_serialize(
        "GET", "/api/v1/watch/namespaces/default/configmaps", query_params=query
    )
    lines = core.api_client.call_api(*request).read().decode().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["DELETED"]


def test_an_unreachable_cluster_ends_open_watches(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    ended = threading.Event()

    def watch_forever() -> None:
        watch = kubernetes.watch.Watch()
        try:
            for _ in watch.stream(core.list_namespaced_config_map, "default", timeout_seconds=30):
                pass
        except Exception:  # a reset connection surfaces as a urllib3 error
            pass
        ended.set()

    watcher = threading.Thread(target=watch_forever, daemon=True)
    watcher.start()
    cluster.wait_for(lambda c: any("watch=true" in path for _, path in c.requests()))
    cluster.unreachable()
    assert ended.wait(5)
    cluster.reachable()
    watcher.join(5)
