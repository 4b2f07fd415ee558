"""The router: an HTTP method and path -> the route to call, or 404 / 405.

Routes with the same template are grouped; templates are tried in declaration
order, but only those that can match at all: they are indexed by their number
of segments and first literal segment. A path no template matches is 404; a path
some template matches, but with none for the request's method, is 405 with an
`Allow` header. When a method and path have both a unary and a server-streaming
route (`List<Kinds>` and `Watch<Kinds>` share their GET paths), the `watch` query
parameter, with any value or none, selects the streaming one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

import grpc

from krake_api.gateway.rules import Route
from krake_api.gateway.statuses import StatusError
from krake_api.gateway.templates import Template

WATCH = "watch"


@dataclass(slots=True)
class _Entry:
    order: int
    template: Template
    by_verb: dict[str, list[Route]] = field(default_factory=dict)


_Key = tuple[int | None, str | None]  # (segments, or None for "**"; first literal or None)


def _key(template: Template) -> _Key:
    segments = template.segments
    deep = bool(segments) and segments[-1] == "**"
    first = segments[0] if segments and segments[0] not in ("*", "**") else None
    return (None if deep else len(segments), first)


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    variables: dict[str, str]  # field path -> decoded value


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        entries: dict[str, _Entry] = {}
        for route in routes:
            source = route.template.source
            entry = entries.setdefault(source, _Entry(len(entries), route.template))
            entry.by_verb.setdefault(route.verb, []).append(route)
        self._index: dict[_Key, list[_Entry]] = {}
        for entry in entries.values():
            self._index.setdefault(_key(entry.template), []).append(entry)

    def _candidates(self, raw_path: str) -> list[_Entry]:
        parts = raw_path[1:].split("/")
        first = unquote(parts[0])
        keys: list[_Key] = [(len(parts), first), (len(parts), None), (None, first), (None, None)]
        found = [entry for key in keys for entry in self._index.get(key, ())]
        return sorted(found, key=lambda entry: entry.order)

    def match(self, verb: str, raw_path: str, *, watch: bool) -> Match:
        """The route for `verb` on `raw_path` (percent-encoded, without the query)."""
        allowed: set[str] = set()
        for entry in self._candidates(raw_path):
            variables = entry.template.match(raw_path)
            if variables is None:
                continue
            candidates = entry.by_verb.get(verb)
            if candidates is None:
                allowed.update(entry.by_verb)
                continue
            preferred = [r for r in candidates if r.streaming == watch] or candidates
            return Match(preferred[0], variables)
        if allowed:
            allow = ", ".join(sorted(allowed))
            raise StatusError.of(
                grpc.StatusCode.UNIMPLEMENTED,
                f"method {verb} is not allowed on {raw_path}; allowed: {allow}",
                http=405,
                headers={"Allow": allow},
            )
        raise StatusError.of(grpc.StatusCode.NOT_FOUND, f"no API path {raw_path}")
