"""Strategic merge patch for built-in kinds, driven by a table of list merge keys.

Modelled, as Kubernetes' Go structs declare it:
- lists named in `MERGE_KEYS` are merged item by item on their key (containers,
  initContainers, ephemeralContainers, env, volumes, volumeMounts, imagePullSecrets,
  hostAliases, conditions, ownerReferences, Service `ports` on `port`, container `ports`
  on `containerPort`, topologySpreadConstraints on `topologyKey`);
- `finalizers` is a set of strings: patch items are added, existing ones kept;
- every other list is replaced whole; maps merge recursively; `null` deletes a key;
- directives: `$patch: replace` and `$patch: delete` on maps and list items,
  `$deleteFromPrimitiveList/<field>`; `$setElementOrder/<field>` and `$retainKeys` are
  accepted and ignored (items keep the target's order, new ones are appended).
Not modelled: merge keys inside CRDs (Kubernetes refuses strategic patches for them
with 415, and so does this server), `$retainKeys` pruning.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

MERGE_KEYS: Final[Mapping[str, str]] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "ports": "port",
    "topologySpreadConstraints": "topologyKey",
}
# (enclosing list field, list field) -> key, where the same field name means another key.
NESTED_MERGE_KEYS: Final[Mapping[tuple[str, str], str]] = {
    ("containers", "ports"): "containerPort",
    ("initContainers", "ports"): "containerPort",
    ("ephemeralContainers", "ports"): "containerPort",
}
SET_LISTS: Final = frozenset({"finalizers"})
DELETE_FROM: Final = "$deleteFromPrimitiveList/"
IGNORED_PREFIXES: Final = ("$setElementOrder/", "$retainKeys")


def merge_key(path: Sequence[str]) -> str | None:
    """The merge key of the list at `path` (field names only, list indexes left out)."""
    if not path:
        return None
    if len(path) >= 2 and (found := NESTED_MERGE_KEYS.get((path[-2], path[-1]))):
        return found
    return MERGE_KEYS.get(path[-1])


class _Deleted:
    """Marks a map or item removed by a `$patch: delete` directive."""


DELETED: Final = _Deleted()


def strategic_merge(
    target: Any, patch: Any, path: tuple[str, ...] = (), *, keyed: bool = True
) -> Any:
    """`target` with `patch` merged in; neither argument is modified. With `keyed`
    false (custom resources) every list but a set list is replaced whole."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "delete":
        return DELETED
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if key == "$patch" or key.startswith(IGNORED_PREFIXES):
            continue
        if key.startswith(DELETE_FROM):
            field = key.removeprefix(DELETE_FROM)
            result[field] = [v for v in result.get(field) or [] if v not in value]
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, (*path, key), keyed)
        else:
            merged = strategic_merge(result.get(key), value, (*path, key), keyed=keyed)
            if merged is DELETED:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def _merge_list(target: Any, patch: list[Any], path: tuple[str, ...], keyed: bool) -> list[Any]:
    current = list(target) if isinstance(target, list) else []
    if path[-1] in SET_LISTS:
        return current + [copy.deepcopy(v) for v in patch if v not in current]
    key = merge_key(path) if keyed else None
    items = [p for p in patch if not (isinstance(p, Mapping) and set(p) == {"$patch"})]
    replace = len(items) != len(patch)
    if key is None or replace:
        return [strip_directives(p) for p in items]
    for item in items:
        if not isinstance(item, Mapping):
            return [strip_directives(p) for p in items]
        at = find_item(current, key, item.get(key))
        merged = strategic_merge(current[at] if at is not None else {}, item, path, keyed=keyed)
        if merged is DELETED:
            if at is not None:
                del current[at]
        elif at is None:
            current.append(merged)
        else:
            current[at] = merged
    return current


def find_item(items: list[Any], key: str, value: Any) -> int | None:
    """The index of the map in `items` whose `key` is `value`."""
    return next(
        (i for i, c in enumerate(items) if isinstance(c, Mapping) and c.get(key) == value), None
    )


def strip_directives(value: Any) -> Any:
    """A copy of `value` with every `$`-key removed (what gets stored)."""
    if isinstance(value, Mapping):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return value
