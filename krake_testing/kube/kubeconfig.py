"""Kubeconfigs for a fake cluster: CA, client certificate and key embedded as base64
`*-data` fields (so no other file is needed), or a bearer token instead of the pair."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Literal

import yaml

from krake_testing.kube.certificates import Credentials

Auth = Literal["certificate", "token", "none"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build(
    name: str, url: str, credentials: Credentials | None, token: str | None, auth: Auth
) -> dict[str, Any]:
    """A kubeconfig dict with one cluster, one user and one current context, all `name`."""
    cluster: dict[str, Any] = {"server": url}
    if credentials is not None:
        cluster["certificate-authority-data"] = _b64(credentials.authority.cert)
    user: dict[str, Any] = {}
    if auth == "certificate" and credentials is not None:
        user["client-certificate-data"] = _b64(credentials.client.cert)
        user["client-key-data"] = _b64(credentials.client.key)
    elif auth == "token" and token:
        user["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": f"{name}-admin", "user": user}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": f"{name}-admin", "namespace": "default"},
            }
        ],
        "current-context": name,
        "preferences": {},
    }


def write(config: dict[str, Any], path: Path) -> Path:
    """Write `config` as YAML, readable by its owner only (it holds a private key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
