"""Which of a Cluster's `spec.custom_resources` ("<plural>.<group>") its API serves.

Asks API discovery, as kubectl does, rather than reading CRDs: discovery is what the
cluster really serves (a CRD not yet established is not served; an aggregated API
is served without a CRD). Only the groups named in the wanted set are asked:
`/apis` once, then `/apis/<group>/<version>` for each of their versions. A group
version that vanishes between the two reads (404) serves nothing.
"""

from __future__ import annotations

from collections.abc import Set

from krake_controllers.kube.connection import Connection, KubeError
from krake_controllers.kubernetes_cluster import paths

NOT_FOUND = 404


def split(name: str) -> tuple[str, str] | None:
    """("crontabs", "stable.example.com") of "crontabs.stable.example.com"; None
    for a name without a group (core types are not custom resources)."""
    plural, _, group = name.partition(".")
    return (plural, group) if plural and group else None


async def served(connection: Connection, wanted: Set[str]) -> frozenset[str]:
    """The names of `wanted` the cluster serves (errors: see `Connection.call`)."""
    groups = {parts[1] for name in wanted if (parts := split(name)) is not None}
    if not groups:
        return frozenset()
    found: set[str] = set()
    listing = await connection.call(paths.fetch, connection.api_client, paths.GROUPS)
    for group in listing.get("groups") or ():
        if group.get("name") not in groups:
            continue
        for version in group.get("versions") or ():
            try:
                resources = await connection.call(
                    paths.fetch, connection.api_client, f"/apis/{version['groupVersion']}"
                )
            except KubeError as err:
                if err.status != NOT_FOUND:
                    raise
                continue
            found.update(
                f"{resource['name']}.{group['name']}"
                for resource in resources.get("resources") or ()
                if "/" not in resource["name"]  # subresources such as crontabs/status
            )
    return frozenset(found & set(wanted))
