"""Printing objects: a table (or a wide one), JSON, YAML, or `kind/name` lines.

JSON and YAML are the API object in the proto3 JSON mapping with the proto field
names (snake_case), so `krakectl get ... -o yaml | krakectl apply -f -` round-trips.
A `google.protobuf.Struct` keeps every number as a double; whole numbers are
written as integers (`replicas: 1`, not `1.0`), which parse back to the same value
into a double field or a Struct. Several objects are one JSON `List` object, or
one YAML document each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

import yaml
from google.protobuf.message import Message

from krake_api import structs
from krake_api.registry import Kind
from krake_cli import kinds
from krake_cli.columns import Column

FORMATS: Final = ("table", "wide", "json", "yaml", "name")
GAP: Final = 3


def name(kind: Kind, obj: Any) -> str:
    """`application/web`: what `-o name` prints, and the subject of a change line."""
    return f"{kinds.command_name(kind)}/{obj.metadata.name}"


def dump_json(data: Any, *, compact: bool = False) -> str:
    if compact:
        return json.dumps(data, separators=(",", ":"))
    return json.dumps(data, indent=2)


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def documents(objects: Sequence[Message], fmt: str) -> str:
    """The objects as JSON (one object, or a List of them) or YAML (a document each)."""
    data = [structs.to_data(obj) for obj in objects]
    if fmt == "json":
        if len(data) == 1:
            return dump_json(data[0]) + "\n"
        return dump_json({"kind": "List", "items": data}) + "\n"
    return "---\n".join(dump_yaml(item) for item in data)


class Table:
    """Rows aligned in columns. Widths come from the first rows printed and only ever
    grow, so rows printed later (a watch) line up with the ones before them."""

    def __init__(self, shown: Sequence[Column]) -> None:
        self.columns = list(shown)
        self.widths = [len(column.header) for column in self.columns]

    def cells(self, obj: Any) -> list[str]:
        return [column.cell(obj) for column in self.columns]

    def lines(self, objects: Iterable[Any], *, header: bool = True) -> list[str]:
        rows = [self.cells(obj) for obj in objects]
        if header:
            rows.insert(0, [column.header for column in self.columns])
        for row in rows:
            self.widths = [max(w, len(cell)) for w, cell in zip(self.widths, row, strict=True)]
        return [self.line(row) for row in rows]

    def line(self, row: Sequence[str]) -> str:
        padded = [
            cell.ljust(width + GAP) for cell, width in zip(row[:-1], self.widths, strict=False)
        ]
        return ("".join(padded) + row[-1]).rstrip()


def table(kind: Kind, fmt: str, *, all_namespaces: bool = False) -> Table:
    return Table(kinds.table(kind, wide=fmt == "wide", all_namespaces=all_namespaces))


def render(
    kind: Kind, objects: Sequence[Message], fmt: str, *, all_namespaces: bool = False
) -> str:
    """Everything one `get`/`list` prints (no trailing newline for an empty table)."""
    if fmt in ("json", "yaml"):
        return documents(objects, fmt)
    if fmt == "name":
        return "".join(name(kind, obj) + "\n" for obj in objects)
    if not objects:
        return ""
    lines = table(kind, fmt, all_namespaces=all_namespaces).lines(objects)
    return "\n".join(lines) + "\n"
