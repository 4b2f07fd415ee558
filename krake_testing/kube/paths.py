"""Resource URLs: `/api/v1/...` and `/apis/<group>/<version>/...` parsed into a `Target`.

Accepted shapes, after the group-version prefix (an optional leading `watch/` segment,
the deprecated watch form, sets `watch`):
    <plural>                                   all namespaces, or a cluster-scoped type
    <plural>/<name>[/<subresource>]            a cluster-scoped object
    namespaces/<ns>/<plural>                   one namespace
    namespaces/<ns>/<plural>/<name>[/<sub>]    a namespaced object
An unknown type, a subresource the type does not serve, or a namespaced object
addressed without its namespace is a 404 with a `Status` body.
"""

from __future__ import annotations

from dataclasses import dataclass

from krake_testing.kube import errors
from krake_testing.kube.kinds import Kind, Kinds


@dataclass(frozen=True, slots=True)
class Target:
    kind: Kind
    namespace: str | None
    name: str | None
    subresource: str | None
    watch: bool = False


def _missing(path: str) -> errors.NotFound:
    return errors.NotFound(f"the server could not find the requested resource ({path})")


def _target(kind: Kind | None, namespace: str | None, rest: list[str], watch: bool) -> Target:
    if kind is None or len(rest) > 2 or (kind.namespaced and namespace is None and rest):
        raise _missing("/".join(rest))
    if not kind.namespaced and namespace is not None:
        raise _missing(kind.plural)
    name = rest[0] if rest else None
    subresource = rest[1] if len(rest) > 1 else None
    if subresource is not None and subresource not in kind.subresources:
        raise _missing(f"{kind.plural}/{subresource}")
    return Target(kind, namespace, name, subresource, watch)


def resolve(kinds: Kinds, group: str, version: str, tail: str) -> Target:
    """The target of `tail`, the URL path after the group-version prefix."""
    segments = [s for s in tail.split("/") if s]
    watch = bool(segments) and segments[0] == "watch"
    segments = segments[1:] if watch else segments
    if not segments:
        raise _missing(tail)
    if segments[0] == "namespaces" and len(segments) >= 3:
        inner = kinds.by_path(group, version, segments[2])
        if inner is not None and inner.namespaced:
            return _target(inner, segments[1], segments[3:], watch)
    return _target(kinds.by_path(group, version, segments[0]), None, segments[1:], watch)
