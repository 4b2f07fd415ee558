"""The handwritten commands, checked by the objects they make; shell completion."""

from __future__ import annotations

import base64
import json
import pathlib
from typing import Any

import yaml
from click.testing import CliRunner

from krake_cli import main

from .conftest import Cli

NAMESPACE = "special"
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "first",
    "clusters": [
        {"name": "one", "cluster": {"server": "https://one.example:6443"}},
        {
            "name": "two",
            "cluster": {"server": "https://two.example:6443", "certificate-authority": "ca.pem"},
        },
    ],
    "users": [
        {"name": "alice", "user": {"token": "a"}},
        {"name": "bob", "user": {"token": "b"}},
    ],
    "contexts": [
        {"name": "first", "context": {"cluster": "one", "user": "alice"}},
        {"name": "second", "context": {"cluster": "two", "user": "bob"}},
    ],
}


def spec(cli: Cli, *words: str) -> Any:
    return json.loads(cli.ok(*words, "-o", "json"))["spec"]


def test_cluster_register_takes_one_context_and_inlines_files(
    cli: Cli, tmp_path: pathlib.Path
) -> None:
    (tmp_path / "ca.pem").write_bytes(b"CA BYTES")
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    created = cli.ok(
        "kube",
        "cluster",
        "register",
        "-k",
        str(path),
        "--context",
        "second",
        "-n",
        NAMESPACE,
        "-l",
        "env=prod",
        "-m",
        "load",
        "0.5",
        "--namespaced-metric",
        "heat",
        "2",
        "-R",
        "crd.example.com",
    )
    assert created == "cluster/second created\n"
    got = json.loads(cli.ok("get", "cluster", "second", "-n", NAMESPACE, "-o", "json"))
    config = got["spec"]["kubeconfig"]
    assert config["current-context"] == "second"
    assert [c["name"] for c in config["contexts"]] == ["second"]
    assert config["users"] == [{"name": "bob", "user": {"token": "b"}}]
    (cluster,) = config["clusters"]
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == b"CA BYTES"
    assert "certificate-authority" not in cluster["cluster"]
    assert got["spec"]["metrics"] == [
        {"name": "load", "weight": 0.5},
        {"name": "heat", "weight": 2, "namespaced": True},
    ]
    assert got["spec"]["custom_resources"] == ["crd.example.com"]
    assert got["metadata"]["labels"] == {"env": "prod"}
    missing = cli("kube", "cluster", "register", "-k", str(path), "--context", "third")
    assert missing.exit_code == 1 and "no context 'third' (has: first, second)" in missing.stderr


def test_app_create_and_update_from_flags(cli: Cli, tmp_path: pathlib.Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2},
    }
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    manifest.write_text(yaml.safe_dump_all([deployment, service]))
    cli.ok(
        "kube",
        "app",
        "create",
        "web",
        "-f",
        str(manifest),
        "-n",
        NAMESPACE,
        "-L",
        "location=DE",
        "-M",
        "load<5",
        "-R",
        "crd.example.com",
        "--disable-migration",
        "--hook-complete",
        "--backoff-limit",
        "3",
    )
    got = spec(cli, "kube", "app", "get", "web", "-n", NAMESPACE)
    assert got["manifest"] == [deployment, service]  # replicas: 2, not 2.0
    assert got["constraints"] == {
        "cluster": {
            "labels": ["location=DE"],
            "custom_resources": ["crd.example.com"],
            "metrics": ["load<5"],
        },
        "migration": False,
    }
    assert (got["hooks"], got["backoff_limit"]) == ({"complete": True}, 3)
    updated = cli.ok(
        "kube",
        "app",
        "update",
        "web",
        "-n",
        NAMESPACE,
        "--remove-existing-label-constraints",
        "-L",
        "location=FR",
        "--migration",
        "--no-hook-complete",
    )
    assert updated == "application/web configured\n"
    got = spec(cli, "kube", "app", "get", "web", "-n", NAMESPACE)
    assert got["constraints"]["cluster"]["labels"] == ["location=FR"]
    assert got["constraints"]["cluster"]["metrics"] == ["load<5"]
    assert got["constraints"]["migration"] is True
    assert "complete" not in got.get("hooks", {})


def test_metrics_providers_and_metrics(cli: Cli) -> None:
    incomplete = cli("core", "mp", "create", "k", "--type", "kafka", "--url", "http://ksql:8088")
    assert incomplete.exit_code == 2
    assert "--type kafka needs --table, --comparison-column, --value-column" in incomplete.stderr
    cli.ok(
        "core", "mp", "create", "fixed", "--type", "static", "-m", "load", "0.5", "-n", NAMESPACE
    )
    assert spec(cli, "core", "mp", "get", "fixed", "-n", NAMESPACE) == {
        "static": {"metrics": {"load": 0.5}}
    }
    cli.ok("core", "gmp", "create", "prom", "--type", "prometheus", "--url", "http://prom:9090")
    assert spec(cli, "get", "gmp", "prom") == {"prometheus": {"url": "http://prom:9090"}}
    cli.ok(
        "core",
        "metric",
        "create",
        "heat",
        "--mp-name",
        "fixed",
        "--min",
        "0",
        "--max",
        "10",
        "-n",
        NAMESPACE,
    )
    assert spec(cli, "get", "metric", "heat", "-n", NAMESPACE) == {
        "min": 0,
        "max": 10,
        "provider": {"name": "fixed", "metric": "heat"},
    }
    table = cli.ok("get", "metric", "heat", "-n", NAMESPACE).splitlines()
    assert table[0].split() == ["NAME", "PROVIDER", "METRIC", "MIN", "MAX", "AGE"]
    assert table[1].split()[:5] == ["heat", "fixed", "heat", "0", "10"]


def test_cloud_password_comes_from_env_or_a_silent_prompt(cli: Cli) -> None:
    args = [
        "infra",
        "cloud",
        "register",
        "--url",
        "https://keystone:5000/v3",
        "--username",
        "u",
        "--project",
        "p",
        "--infra-provider",
        "im",
        "-n",
        NAMESPACE,
    ]
    from_env = CliRunner().invoke(
        main.cli,
        ["--api", cli.api, *args, "os-env"],
        env={**cli.env(), "OS_PASSWORD": "env-secret"},
    )
    assert (from_env.exit_code, from_env.output) == (0, "cloud/os-env created\n")
    typed = CliRunner().invoke(
        main.cli,
        ["--api", cli.api, *args, "os-typed"],
        input="typed-secret\n",
        env={**cli.env(), "OS_PASSWORD": None},
    )
    assert typed.exit_code == 0, typed.output
    assert "typed-secret" not in typed.output and "OpenStack password" in typed.output
    for name, password in (("os-env", "env-secret"), ("os-typed", "typed-secret")):
        auth = spec(cli, "get", "cloud", name, "-n", NAMESPACE)["openstack"]["auth"]["password"]
        assert auth["user"] == {"username": "u", "password": password, "domain_name": "Default"}
    table = cli.ok("get", "cloud", "-n", NAMESPACE, "-o", "wide")
    assert "secret" not in table and "https://keystone:5000/v3" in table


def test_infrastructure_provider_roles_and_bindings(cli: Cli) -> None:
    cli.ok(
        "infra", "gip", "register", "im", "--type", "im", "--url", "http://im:8800", "--token", "t"
    )
    assert spec(cli, "get", "gip", "im") == {"im": {"url": "http://im:8800", "token": "t"}}
    cli.ok(
        "core",
        "role",
        "create",
        "reader",
        "--rule",
        "kubernetes:applications,clusters:get,list:prod,dev",
    )
    assert spec(cli, "get", "role", "reader") == {
        "rules": [
            {
                "api": "kubernetes",
                "resources": ["applications", "clusters"],
                "namespaces": ["prod", "dev"],
                "verbs": ["get", "list"],
            }
        ]
    }
    cli.ok(
        "core",
        "rolebinding",
        "create",
        "readers",
        "--user",
        "alice",
        "--user",
        "bob",
        "--role",
        "reader",
    )
    assert spec(cli, "get", "rolebinding", "readers") == {
        "users": ["alice", "bob"],
        "roles": ["reader"],
    }
    assert cli.ok("get", "rb").split()[:4] == ["NAME", "USERS", "ROLES", "AGE"]


def test_completion_offers_kinds_and_names_from_the_server(cli: Cli) -> None:
    cli.ok("core", "lease", "create", "lease-one", "-n", NAMESPACE)
    cli.ok("core", "lease", "create", "lease-two", "-n", NAMESPACE)

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        env = {
            **cli.env(),
            "_KRAKECTL_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        }
        result = CliRunner().invoke(main.cli, [], env=env, prog_name="krakectl")
        return [row.split(",", 1)[1] for row in result.output.splitlines() if row]

    at = f"krakectl --api {cli.api}"
    assert complete(f"{at} core lease get -n {NAMESPACE} lease-") == ["lease-one", "lease-two"]
    assert complete(f"{at} get lease -n {NAMESPACE} lease-t") == ["lease-two"]
    assert "gcloud" in complete(f"{at} get g")
    assert complete("krakectl --api 127.0.0.1:1 core lease get x") == []  # no error either
    script = cli.ok("completion", "zsh")
    assert "_KRAKECTL_COMPLETE" in script
