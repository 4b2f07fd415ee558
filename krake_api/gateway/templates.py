"""Path templates of `google.api.http` rules, parsed once and matched per request.

Grammar (google/api/http.proto):

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;

`{x}` means `{x=*}`. A `*` matches one non-empty path segment, `**` the rest of the
path (so it may only come last). A request path is split at "/" before decoding,
so a variable of one segment receives its percent-decoded text (`%2F` included)
and a multi-segment variable keeps `%2F` encoded, as the rule's spec says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

_ENCODED_SLASH: Final = re.compile("%2F", re.IGNORECASE)
_FIELD_PATH: Final = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_OUTSIDE_BRACES_COLON: Final = re.compile(r":(?![^{]*\})")  # no "}" ahead before a "{"
_OUTSIDE_BRACES_SLASH: Final = re.compile(r"/(?![^{]*\})")


class TemplateError(ValueError):
    """A path template that does not follow the grammar."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A field path bound to the segments [start, end) of the path (end None: to the end)."""

    field_path: str
    start: int
    end: int | None


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    segments: tuple[str, ...]  # literals, "*" or "**"
    variables: tuple[Variable, ...]
    verb: str

    @classmethod
    def parse(cls, source: str) -> Template:
        if not source.startswith("/"):
            raise TemplateError(f"{source!r}: a path template starts with '/'")
        path, verb = _split_verb(source)
        segments: list[str] = []
        variables: list[Variable] = []
        for part in _top_level_split(path[1:]):
            if part.startswith("{"):
                if not part.endswith("}"):
                    raise TemplateError(f"{source!r}: unclosed variable {part!r}")
                name, _, pattern = part[1:-1].partition("=")
                if not _FIELD_PATH.fullmatch(name):
                    raise TemplateError(f"{source!r}: {name!r} is not a field path")
                inner = _plain_segments(source, pattern or "*")
                end = None if inner[-1] == "**" else len(segments) + len(inner)
                variables.append(Variable(name, len(segments), end))
                segments.extend(inner)
            else:
                segments.extend(_plain_segments(source, part))
        if "**" in segments[:-1]:
            raise TemplateError(f"{source!r}: '**' may only be the last segment")
        return cls(source, tuple(segments), tuple(variables), verb)

    @property
    def shape(self) -> str:
        """The path with each variable as `{}`: templates of equal shape match the same paths."""
        parts = list(self.segments)
        for variable in reversed(self.variables):
            parts[variable.start : variable.end] = ["{}"]
        return "/" + "/".join(parts) + (f":{self.verb}" if self.verb else "")

    def openapi_path(self, names: Sequence[str]) -> str:
        """The OpenAPI path: each variable, whatever it spans, becomes `{name}`."""
        parts = list(self.segments)
        for variable, name in reversed(list(zip(self.variables, names, strict=True))):
            parts[variable.start : variable.end] = [f"{{{name}}}"]
        return "/" + "/".join(parts) + (f":{self.verb}" if self.verb else "")

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The decoded value of every variable if `raw_path` (still percent-encoded,
        without the query) matches, else None."""
        if self.verb:
            raw_path, colon, verb = raw_path.rpartition(":")
            if not colon or verb != self.verb:
                return None
        parts = raw_path[1:].split("/") if raw_path.startswith("/") else None
        if parts is None or not self._segments_match(parts):
            return None
        return {
            v.field_path: _decode(parts[v.start : v.end], multi=v.end is None)
            for v in self.variables
        }

    def _segments_match(self, parts: list[str]) -> bool:
        deep = bool(self.segments) and self.segments[-1] == "**"
        fixed = self.segments[:-1] if deep else self.segments
        if len(parts) < len(fixed) or (not deep and len(parts) != len(fixed)):
            return False
        for pattern, part in zip(fixed, parts, strict=False):
            if not part or (pattern != "*" and pattern != unquote(part)):
                return False
        return not deep or all(parts[len(fixed) :])


def _split_verb(source: str) -> tuple[str, str]:
    colon = _OUTSIDE_BRACES_COLON.search(source)
    if colon is None:
        return source, ""
    verb = source[colon.end() :]
    if not verb or "/" in verb:
        raise TemplateError(f"{source!r}: bad verb {verb!r}")
    return source[: colon.start()], verb


def _top_level_split(path: str) -> list[str]:
    """Split at '/' outside braces."""
    return _OUTSIDE_BRACES_SLASH.split(path)


def _plain_segments(source: str, text: str) -> list[str]:
    parts = text.split("/")
    if any(not p or any(c in p for c in "{}=:") for p in parts):
        raise TemplateError(f"{source!r}: bad segment(s) {text!r}")
    return parts


def _decode(parts: list[str], multi: bool) -> str:
    if not multi:
        return "/".join(unquote(p) for p in parts)
    return "/".join(
        "%2F".join(unquote(piece) for piece in _ENCODED_SLASH.split(part)) for part in parts
    )
