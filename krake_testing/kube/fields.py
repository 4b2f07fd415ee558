"""Field sets: which fields of an object a manager owns, in Kubernetes' `FieldsV1` terms.

A field path is a tuple of `FieldsV1` keys: `f:<field>` for a map field, and
`k:{"<merge key>":<value>}` for an item of a list that has a merge key (see
`strategic.merge_key`). The members of a set are its leaves: scalars, empty maps,
whole lists without a merge key (atomic, as `listType: atomic`), and one member per
keyed list item (the item itself, `.` in FieldsV1) besides the item's own leaves.
Server-set metadata and, for kinds with a status subresource, `status` are never owned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from krake_testing.kube import strategic
from krake_testing.kube.kinds import Kind

Path = tuple[str, ...]
MISSING: Final = object()

UNOWNED: Final = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:generateName"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:resourceVersion"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:deletionTimestamp"),
        ("f:metadata", "f:deletionGracePeriodSeconds"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:selfLink"),
    }
)


def item_key(key: str, value: Any) -> str:
    return "k:" + json.dumps({key: value}, separators=(",", ":"), sort_keys=True)


def field_set(kind: Kind, obj: Mapping[str, Any]) -> set[Path]:
    """The leaves of `obj` that a manager can own."""
    found: set[Path] = set()
    _walk(kind, obj, (), (), found)
    skipped = UNOWNED | ({("f:status",)} if kind.has_status else frozenset())
    return {p for p in found if not any(p[: len(s)] == s for s in skipped)}


def _walk(kind: Kind, value: Any, path: Path, names: Path, found: set[Path]) -> None:
    if isinstance(value, Mapping):
        if not value and path:
            found.add(path)
        for field, item in value.items():
            _walk(kind, item, (*path, f"f:{field}"), (*names, field), found)
    elif isinstance(value, list) and (key := _list_key(kind, names, value)):
        for item in value:
            item_path = (*path, item_key(key, item[key]))
            found.add(item_path)
            for field, inner in item.items():
                _walk(kind, inner, (*item_path, f"f:{field}"), (*names, field), found)
    else:
        found.add(path)


def _list_key(kind: Kind, names: Path, items: list[Any]) -> str | None:
    key = strategic.merge_key(names) if kind.builtin else None
    if key and items and all(isinstance(i, Mapping) and key in i for i in items):
        return key
    return None


def value_at(obj: Any, path: Path) -> Any:
    """The value at `path`, or `MISSING`."""
    for element in path:
        if element.startswith("f:") and isinstance(obj, Mapping) and element[2:] in obj:
            obj = obj[element[2:]]
        elif element.startswith("k:") and isinstance(obj, list):
            ((key, wanted),) = json.loads(element[2:]).items()
            index = strategic.find_item(obj, key, wanted)
            if index is None:
                return MISSING
            obj = obj[index]
        else:
            return MISSING
    return obj


def delete_at(obj: Any, path: Path) -> None:
    """Remove the field or list item at `path`, if present."""
    parent = value_at(obj, path[:-1])
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        ((key, wanted),) = json.loads(last[2:]).items()
        index = strategic.find_item(parent, key, wanted)
        if index is not None:
            del parent[index]


def changed(kind: Kind, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> set[Path]:
    """The leaves of `new` that are absent from `old` or hold another value there."""
    return {p for p in field_set(kind, new) if value_at(old, p) != value_at(new, p)}


def covers(owned: Iterable[Path], path: Path) -> bool:
    """Whether `owned` holds `path` or a field below it."""
    return any(p[: len(path)] == path for p in owned)


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Render a set as the nested `fieldsV1` map (`.` marks an owned keyed item)."""
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        if path and path[-1].startswith("k:"):
            node["."] = {}
    return tree


def from_fields_v1(tree: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    """Parse a `fieldsV1` map back into a set (inverse of `to_fields_v1`)."""
    paths: set[Path] = set()
    for element, inner in tree.items():
        if element == ".":
            paths.add(prefix)
        elif inner:
            paths |= from_fields_v1(inner, (*prefix, element))
        else:
            paths.add((*prefix, element))
    return paths
