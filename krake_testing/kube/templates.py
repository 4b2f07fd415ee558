"""Pod templates: the stable hash that names a template revision, and the Pod a
controller makes from a template (labels, annotations and spec copied, an owner
reference to the controller added)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from krake_testing.kube import context, meta
from krake_testing.kube.kinds import Kind
from krake_testing.kube.store import Object


def template_hash(template: Mapping[str, Any]) -> str:
    """Equal for equal templates; what `pod-template-hash` and revisions carry."""
    return meta.short_hash(json.dumps(template, sort_keys=True))


def pod_from(
    template: Mapping[str, Any],
    owner_kind: Kind,
    owner: Object,
    *,
    name: str | None = None,
    labels: Mapping[str, str] | None = None,
    spec: Mapping[str, Any] | None = None,
) -> Object:
    """A Pod for `owner` from `template`; `name` None means `<owner name>-<random>`;
    `labels` and `spec` are added to the template's own."""
    metadata = copy.deepcopy(dict(template.get("metadata") or {}))
    metadata["labels"] = {**(metadata.get("labels") or {}), **(labels or {})}
    metadata["ownerReferences"] = [context.controller_ref(owner_kind, owner)]
    if name:
        metadata["name"] = name
    else:
        metadata["generateName"] = f"{owner['metadata']['name']}-"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {**copy.deepcopy(dict(template.get("spec") or {})), **(spec or {})},
    }
