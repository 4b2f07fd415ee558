"""The complete and shutdown hooks: per-application tokens, kept on the member cluster.

For each hook an application turns on (`spec.hooks.complete`, `spec.hooks.shutdown`):
- a Secret `krake-<hook>-<app>` in the application's namespace holds a random
  token (created once, reused while it exists, so the workload's token is stable);
- every container of every pod template gets `KRAKE_<HOOK>_URL` (the API's hook
  endpoint on the gateway) and `KRAKE_<HOOK>_TOKEN` (a `secretKeyRef` to that
  Secret), so the workload calls `PUT <url>` with `{"token": ...}`;
- `status.<hook>_token` holds only `sha256:<hex digest>` of the token, which the
  API compares against the presented token: the token itself never leaves the
  member cluster's Secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from krake_controllers.kubernetes_application.manifests import APP_LABEL, pod_template

HOOKS: Final = ("complete", "shutdown")
TOKEN_KEY: Final = "token"


@dataclass(frozen=True, slots=True)
class Hook:
    name: str  # "complete" or "shutdown"
    app_namespace: str
    app_name: str

    @property
    def secret_name(self) -> str:
        return f"krake-{self.name}-{self.app_name}"

    def url(self, endpoint: str) -> str:
        return (
            f"{endpoint.rstrip('/')}/kubernetes/namespaces/{self.app_namespace}"
            f"/applications/{self.app_name}/{self.name}"
        )

    def env(self, endpoint: str) -> list[dict[str, Any]]:
        prefix = f"KRAKE_{self.name.upper()}"
        return [
            {"name": f"{prefix}_URL", "value": self.url(endpoint)},
            {
                "name": f"{prefix}_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": self.secret_name, "key": TOKEN_KEY}},
            },
        ]


def enabled(app: Any) -> list[Hook]:
    meta = app.metadata
    return [Hook(n, meta.namespace, meta.name) for n in HOOKS if getattr(app.spec.hooks, n)]


def token_of(secret: Mapping[str, Any] | None) -> str | None:
    if secret is None:
        return None
    encoded = (secret.get("data") or {}).get(TOKEN_KEY)
    return base64.b64decode(encoded).decode() if encoded else None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def secret(hook: Hook, namespace: str, uid: str, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": hook.secret_name,
            "namespace": namespace,
            "labels": {APP_LABEL: uid},
        },
        "type": "Opaque",
        "data": {TOKEN_KEY: base64.b64encode(token.encode()).decode()},
    }


def inject(new: dict[str, Any], hooks: Iterable[Hook], endpoint: str) -> dict[str, Any]:
    """`new` (changed in place) with every hook's variables in each container of its
    pod template."""
    template = pod_template(new)
    hooks = list(hooks)
    if template is None or not hooks:
        return new
    added = [var for hook in hooks for var in hook.env(endpoint)]
    names = {var["name"] for var in added}
    for container in template.setdefault("spec", {}).get("containers") or []:
        kept = [var for var in container.get("env") or [] if var.get("name") not in names]
        container["env"] = kept + added
    return new
