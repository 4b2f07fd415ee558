"""Server-side apply and the `metadata.managedFields` bookkeeping behind it.

How ownership is modelled (a simplification of Kubernetes' structured-merge-diff):
- each manager holds one field set per operation (`Apply` or `Update`), stored in
  `metadata.managedFields` as `FieldsV1` (see `fields`); subresource writes (status)
  are not recorded;
- a create, update or non-apply patch by manager M makes M (`Update`) own every leaf
  it changed, taking those leaves from every other manager, never conflicting;
- an apply by M with configuration C conflicts (409) on every leaf of C that another
  manager owns and whose live value differs from C's; `force=true` takes such leaves
  over instead; leaves with equal values end up shared;
- the applied result is the live object with C merged in (maps recursively, keyed
  lists item by item, other lists whole); then every leaf M applied before but left
  out of C, and that no other manager owns, is removed from the object;
- M's `Apply` set becomes exactly the leaves of C;
- an apply that changes nothing (same C, no conflicts) leaves the object, including
  managedFields timestamps, byte-for-byte unchanged, so it writes nothing.
Not modelled: list types from CRD schemas (their lists are atomic), `listType: set`
beyond `finalizers`, per-version field sets, and the `Update` manager limit.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from krake_testing.kube import errors, fields, meta, strategic
from krake_testing.kube.kinds import Kind

Object = dict[str, Any]
Owners = dict[tuple[str, str], set[fields.Path]]  # (manager, operation) -> leaves


def owners(obj: Mapping[str, Any]) -> Owners:
    found: Owners = {}
    for entry in obj.get("metadata", {}).get("managedFields") or []:
        if entry.get("subresource"):
            continue
        key = (entry.get("manager", ""), entry.get("operation", "Update"))
        found[key] = fields.from_fields_v1(entry.get("fieldsV1") or {})
    return found


def _render(kind: Kind, before: Mapping[str, Any] | None, owned: Owners) -> list[Object]:
    """managedFields for `owned`, keeping each unchanged entry's time."""
    previous = {
        (e.get("manager", ""), e.get("operation", "")): e
        for e in ((before or {}).get("metadata", {}).get("managedFields") or [])
    }
    entries = []
    for (manager, operation), paths in owned.items():
        if not paths:
            continue
        tree = fields.to_fields_v1(paths)
        old = previous.get((manager, operation))
        unchanged = old is not None and old.get("fieldsV1") == tree
        entries.append(
            {
                "manager": manager,
                "operation": operation,
                "apiVersion": kind.api_version,
                "time": old["time"] if unchanged and old else meta.timestamp(),
                "fieldsType": "FieldsV1",
                "fieldsV1": tree,
            }
        )
    return entries


def record_update(kind: Kind, old: Object | None, new: Object, manager: str) -> Object:
    """Give `manager` the leaves a non-apply write changed; returns `new`, updated."""
    owned = owners(old or {})
    present = fields.field_set(kind, new)
    taken = fields.changed(kind, old, new)
    for key in owned:
        owned[key] = (owned[key] & present) - taken
    if taken:
        owned.setdefault((manager, "Update"), set()).update(taken)
    new["metadata"]["managedFields"] = _render(kind, old, owned)
    return new


def _conflicts(
    live: Object, config: Object, applied: set[fields.Path], owned: Owners, manager: str
) -> dict[tuple[str, str], set[fields.Path]]:
    found: dict[tuple[str, str], set[fields.Path]] = {}
    for key, paths in owned.items():
        if key == (manager, "Apply"):
            continue
        clashing = {
            p
            for p in applied & paths
            if not p[-1].startswith("k:") and fields.value_at(live, p) != fields.value_at(config, p)
        }
        if clashing:
            found[key] = clashing
    return found


def _conflict_error(kind: Kind, name: str, found: dict[tuple[str, str], set[fields.Path]]) -> None:
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{manager}"',
            "field": "." + ".".join(e[2:] for e in path),
        }
        for (manager, _), paths in sorted(found.items())
        for path in sorted(paths)
    ]
    listing = "\n".join(f"- {c['message']}: {c['field']}" for c in causes)
    raise errors.Conflict(
        f"Apply failed with {len(causes)} conflict(s):\n{listing}",
        details={"name": name, "group": kind.group, "kind": kind.plural, "causes": causes},
    )


def apply(kind: Kind, live: Object | None, config: Object, manager: str, force: bool) -> Object:
    """The object after manager `manager` applies `config` to `live` (None: absent).

    Raises `Conflict` when `config` would change fields another manager owns and
    `force` is false. The result still needs defaults, validation and storing."""
    current: Object = copy.deepcopy(live) if live is not None else {"metadata": {}}
    owned = owners(current)
    applied = fields.field_set(kind, config)
    clashes = _conflicts(current, config, applied, owned, manager)
    if clashes and not force:
        _conflict_error(kind, config.get("metadata", {}).get("name", ""), clashes)
    for key, paths in clashes.items():
        owned[key] -= paths
    merged = strategic.strategic_merge(current, config, keyed=kind.builtin)
    previous = owned.get((manager, "Apply"), set())
    others = [paths for key, paths in owned.items() if key != (manager, "Apply")]
    for path in sorted(previous - applied):
        if not any(fields.covers(paths, path) for paths in others):
            fields.delete_at(merged, path)
    owned[(manager, "Apply")] = applied
    merged["metadata"]["managedFields"] = _render(kind, live, owned)
    return dict(merged)
