"""CustomResourceDefinitions: what the server fills in when one is written.

A CRD is established at once (conditions NamesAccepted and Established true): the
fake never refuses names for conflicts, and its types are served from the same write.
"""

from __future__ import annotations

from typing import Any

from krake_testing.kube import meta

Object = dict[str, Any]


def established_status(crd: Object) -> Object:
    """The status a real API server reports for an accepted, established CRD."""
    spec = crd.get("spec", {})
    names = dict(spec.get("names", {}))
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    now = meta.timestamp()
    stored = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    return {
        "acceptedNames": names,
        "storedVersions": stored,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
    }


def version_problems(crd: Object) -> list[tuple[str, str]]:
    """(field, message) for a CRD whose versions or scope cannot be served."""
    spec = crd.get("spec", {})
    versions = spec.get("versions") or []
    problems = []
    if sum(1 for v in versions if v.get("storage")) != 1:
        problems.append(("spec.versions", "Invalid value: must have exactly one storage version"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        problems.append(("spec.scope", 'Unsupported value: must be "Namespaced" or "Cluster"'))
    return problems
