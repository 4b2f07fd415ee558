"""Authentication over real TLS: client certificates and bearer tokens, 401 otherwise."""

from __future__ import annotations

import json

import kubernetes.client
import kubernetes.config
import pytest
from kubernetes.client.exceptions import ApiException

from krake_testing.kube import FakeCluster


def namespaces(config: dict[str, object]) -> list[str]:
    with kubernetes.config.new_client_from_config_dict(config) as api:
        listed = kubernetes.client.CoreV1Api(api).list_namespace()
    return [n.metadata.name for n in listed.items]


def test_client_certificate_from_the_kubeconfig(cluster: FakeCluster) -> None:
    config = cluster.kubeconfig_for("certificate")
    assert "token" not in config["users"][0]["user"]
    assert "default" in namespaces(config)


def test_bearer_token(cluster: FakeCluster) -> None:
    config = cluster.kubeconfig_for("token")
    assert set(config["users"][0]["user"]) == {"token"}
    assert "default" in namespaces(config)


@pytest.mark.parametrize("user", [{}, {"token": "wrong"}])
def test_no_or_wrong_credentials_are_401(cluster: FakeCluster, user: dict[str, str]) -> None:
    config = cluster.kubeconfig_for("none")
    config["users"][0]["user"] = user
    with pytest.raises(ApiException) as caught:
        namespaces(config)
    assert caught.value.status == 401
    assert json.loads(caught.value.body)["reason"] == "Unauthorized"


def test_a_certificate_from_another_cluster_is_refused(cluster: FakeCluster) -> None:
    with FakeCluster("other") as other:
        config = cluster.kubeconfig_for("certificate")
        config["users"][0]["user"] = other.kubeconfig_for("certificate")["users"][0]["user"]
        with pytest.raises(Exception, match=r"SSL|certificate|Max retries"):
            namespaces(config)


def test_the_kubeconfig_file_loads_with_load_kube_config(cluster: FakeCluster) -> None:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(
        config_file=str(cluster.kubeconfig_path), client_configuration=configuration
    )
    assert configuration.host == cluster.url
    with kubernetes.client.ApiClient(configuration) as api:
        assert kubernetes.client.VersionApi(api).get_code().major == "1"


def test_plain_http_with_a_token() -> None:
    with FakeCluster("plain", tls=False, token="secret-token") as cluster:
        assert cluster.url.startswith("http://")
        config = cluster.kubeconfig
        assert config["users"][0]["user"] == {"token": "secret-token"}
        assert "kube-system" in namespaces(config)
