"""Discovery documents, computed from the registry on each request so that a CRD's types
appear as soon as it is created and vanish when it is deleted.

Served: `/version`, `/api` (APIVersions), `/apis` (APIGroupList), `/apis/<group>`
(APIGroup) and `/api/v1`, `/apis/<group>/<version>` (APIResourceList with name,
singularName, namespaced, kind, verbs, shortNames, categories and one `<plural>/status`
entry per status subresource). Not served: aggregated discovery (`/apis` with an
`as=APIGroupDiscoveryList` Accept header gets the plain list, which clients accept),
OpenAPI documents.
"""

from __future__ import annotations

from typing import Any, Final

from krake_testing.kube.kinds import OBJECT_VERBS, SUBRESOURCE_VERBS, Kind, Kinds

Object = dict[str, Any]

KUBERNETES_VERSION: Final = (1, 33, 0)


def version() -> Object:
    major, minor, patch = KUBERNETES_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.{patch}-krake-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def core_versions(address: str) -> Object:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _group(kinds: Kinds, name: str) -> Object:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in kinds.versions(name)]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def group(kinds: Kinds, name: str) -> Object | None:
    return _group(kinds, name) if kinds.versions(name) else None


def group_list(kinds: Kinds) -> Object:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group(kinds, name) for name in kinds.groups()],
    }


def _resource(kind: Kind) -> Object:
    entry: Object = {
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": list(OBJECT_VERBS),
    }
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.categories:
        entry["categories"] = list(kind.categories)
    return entry


def _subresources(kind: Kind) -> list[Object]:
    return [
        {
            "name": f"{kind.plural}/{sub}",
            "singularName": "",
            "namespaced": kind.namespaced,
            "kind": kind.kind,
            "verbs": list(SUBRESOURCE_VERBS),
        }
        for sub in kind.subresources
    ]


def resource_list(kinds: Kinds, group_name: str, version_name: str) -> Object | None:
    """The APIResourceList of one group version, or None when it is not served."""
    served = [k for k in kinds if (k.group, k.version) == (group_name, version_name)]
    if not served:
        return None
    resources = []
    for kind in served:
        resources += [_resource(kind), *_subresources(kind)]
    group_version = f"{group_name}/{version_name}" if group_name else version_name
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }
