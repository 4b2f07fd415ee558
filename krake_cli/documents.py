"""Reading Krake objects from files: YAML or JSON, several documents per file, a
directory of files, or standard input (`-`).

Every document is parsed and checked before anything is sent, so a bad document
anywhere stops `apply`/`create`/`delete -f` before the first write. A problem names
its document (`app.yaml, document 2`). A `kind: List` document stands for its
`items`. YAML timestamps are read as strings, as the proto3 JSON mapping needs them.
"""

from __future__ import annotations

import difflib
import json
import pathlib
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import click
import yaml
from google.protobuf import descriptor_pool, json_format
from google.protobuf.message import Message

from krake_api.registry import KINDS, Kind

SUFFIXES: Final = (".yaml", ".yml", ".json")
UNKNOWN_FIELD: Final = re.compile(
    r'Message type "([\w.]+)" has no field named "(\w+)" at "([\w.]+)"'
)
SERVER_SET: Final = ("uid", "created", "modified", "deleted", "generation", "resource_version")


class Unreadable(click.ClickException):
    """A file or document that is not a valid Krake object (exit code 1)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML whose timestamps stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class Document:
    source: str  # "app.yaml, document 2"
    data: Any


def load_yaml(text: str, origin: str) -> list[Any]:
    try:
        return list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as err:
        raise Unreadable(f"{origin}: not valid YAML: {' '.join(str(err).split())}") from None


def files(path: str, *, recursive: bool = False) -> list[pathlib.Path]:
    """`path` itself, or the YAML/JSON files in the directory `path`, sorted."""
    where = pathlib.Path(path)
    if not where.exists():
        raise Unreadable(f"{path}: no such file or directory")
    if not where.is_dir():
        return [where]
    found = where.rglob("*") if recursive else where.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix in SUFFIXES)


def read(paths: Sequence[str], *, recursive: bool = False) -> list[Document]:
    """Every document in `paths` (`-` is standard input), empty documents skipped."""
    found: list[Document] = []
    for path in paths:
        if path == "-":
            found.extend(parse_text(sys.stdin.read(), "<stdin>"))
            continue
        for file in files(path, recursive=recursive):
            try:
                content = file.read_text()
            except (OSError, UnicodeDecodeError) as err:
                raise Unreadable(f"{file}: cannot read: {err}") from None
            found.extend(parse_text(content, str(file)))
    return found


def parse_text(text: str, origin: str) -> Iterator[Document]:
    """The documents of one file: a JSON value when it parses as JSON, else YAML."""
    try:
        values = [json.loads(text)]
    except json.JSONDecodeError as err:
        if origin.endswith(".json"):
            raise Unreadable(f"{origin}: not valid JSON: {err}") from None
        values = load_yaml(text, origin)
    several = len(values) > 1
    for index, value in enumerate(values, 1):
        source = f"{origin}, document {index}" if several else origin
        if isinstance(value, dict) and value.get("kind") == "List":
            items = value.get("items") or []
            for number, item in enumerate(items, 1):
                yield Document(f"{source}, item {number}", item)
        elif value is not None:
            yield Document(source, value)


def kind_of(document: Document, expected: Kind | None = None) -> Kind:
    """The document's kind (from its `kind`, or `expected` when it has none)."""
    data = document.data
    if not isinstance(data, dict):
        raise Unreadable(f"{document.source}: a document must be a mapping, not {data!r:.40}")
    word = data.get("kind") or (expected.name if expected else "")
    if not word:
        raise Unreadable(f"{document.source}: `kind` is missing")
    kind = KINDS.get(word)
    if kind is None:
        raise Unreadable(f"{document.source}: unknown kind {word!r}; kinds: {', '.join(KINDS)}")
    if expected is not None and kind is not expected:
        raise Unreadable(f"{document.source}: is a {kind.name}, not a {expected.name}")
    api = data.get("api")
    if api and api != kind.group:
        raise Unreadable(
            f"{document.source}: {kind.name} belongs to api {kind.group!r}, not {api!r}"
        )
    return kind


def problem(err: json_format.ParseError) -> str:
    """The parser's complaint, shortened; an unknown field is named by its path, with
    the nearest field names as suggestions."""
    first = str(err).splitlines()[0]
    unknown = UNKNOWN_FIELD.search(first)
    if unknown is None:
        return first
    message, field, where = unknown.groups()
    path = ".".join([*where.split(".")[1:], field])
    names = list(descriptor_pool.Default().FindMessageTypeByName(message).fields_by_name)
    close = difflib.get_close_matches(field, names, n=2)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"unknown field {path}{hint}"


def parse(document: Document, namespace: str, expected: Kind | None = None) -> tuple[Kind, Any]:
    """The document as its kind's message; its namespace, when it has none, is
    `namespace` (global kinds have none). Unknown fields are refused."""
    kind = kind_of(document, expected)
    try:
        obj: Any = json_format.ParseDict(document.data, kind.message())
    except json_format.ParseError as err:
        raise Unreadable(f"{document.source}: {problem(err)}") from None
    meta = obj.metadata
    if not meta.name:
        raise Unreadable(f"{document.source}: metadata.name is missing")
    if kind.namespaced:
        meta.namespace = meta.namespace or namespace
    elif meta.namespace:
        raise Unreadable(f"{document.source}: a {kind.name} has no namespace")
    obj.api, obj.kind = kind.group, kind.name
    return kind, obj


def desired(obj: Message) -> Any:
    """A copy of `obj` without status and the metadata the server sets, so that an
    object printed by `get -o yaml` can be applied again."""
    copy: Any = type(obj)()
    copy.CopyFrom(obj)
    copy.ClearField("status")
    for name in SERVER_SET:
        copy.metadata.ClearField(name)
    return copy
