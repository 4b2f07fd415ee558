"""Fixtures for the fake Kubernetes API server: a running cluster and official-client
APIs talking to it over HTTPS with the cluster's kubeconfig."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import kubernetes.client
import pytest

from krake_testing.kube import FakeCluster

_names = itertools.count()


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    """A fresh fake cluster with fast timings (pods ready after 50 ms)."""
    with FakeCluster(
        f"kube{next(_names)}",
        ready_delay=0.05,
        completion_delay=0.05,
        restart_interval=0.1,
        bookmark_interval=0.2,
    ) as started:
        yield started


@pytest.fixture
def api(cluster: FakeCluster) -> Iterator[kubernetes.client.ApiClient]:
    client = cluster.api_client()
    yield client
    client.close()


@pytest.fixture
def core(api: kubernetes.client.ApiClient) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api)


@pytest.fixture
def apps(api: kubernetes.client.ApiClient) -> kubernetes.client.AppsV1Api:
    return kubernetes.client.AppsV1Api(api)
