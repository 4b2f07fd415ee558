"""Observer schemas: which fields of an object Krake observes and keeps converged.

The format is the first Krake's: a schema mirrors the object; a leaf `None` means
"observe this field's value"; a dict observes the listed keys; a list observes its
first elements, one schema each, and ends with a control dict
`{"observer_schema_list_min_length": m, "observer_schema_list_max_length": n}`
bounding the observed list's length. `apiVersion`, `kind`, `metadata.name` (and
`metadata.namespace`) identify the object and are always observed.

- `default(obj)`: every field the manifest sets, each list bounded to the length it
  was given (the first Krake's default).
- `observe(obj, schema)`: the observed part of `obj`; lists end with
  `{"observer_schema_list_current_length": n}` (as in `last_observed_manifest`).
- `differs(desired, live, schema)`: an observed field that the manifest sets has
  another value on the cluster (drift) or is missing, or a list's length left its
  bounds. Fields outside the schema, and observed fields the manifest leaves to
  the cluster's defaults, never count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

MIN: Final = "observer_schema_list_min_length"
MAX: Final = "observer_schema_list_max_length"
CURRENT: Final = "observer_schema_list_current_length"
IDENTITY: Final = ("apiVersion", "kind")


def default(obj: Any) -> Any:
    """The schema observing every field of `obj`."""
    if isinstance(obj, dict):
        return {key: default(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [*(default(item) for item in obj), {MIN: len(obj), MAX: len(obj)}]
    return None


def with_identity(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` observing the identifying fields as well."""
    new = dict(schema)
    for field in IDENTITY:
        new[field] = None
    meta = dict(new.get("metadata") or {})
    meta["name"] = None
    meta["namespace"] = None
    new["metadata"] = meta
    return new


def _controls(schema: list[Any]) -> tuple[list[Any], int, int]:
    """(element schemas, min length, max length) of a list schema."""
    if schema and isinstance(schema[-1], dict) and MIN in schema[-1]:
        control = schema[-1]
        elements = schema[:-1]
        return elements, int(control.get(MIN, 0)), int(control.get(MAX, len(elements)))
    return schema, 0, len(schema)


def observe(obj: Any, schema: Any) -> Any:
    """The part of `obj` that `schema` selects."""
    if schema is None:
        return obj
    if isinstance(schema, dict):
        if not isinstance(obj, dict):
            return obj
        return {key: observe(obj[key], sub) for key, sub in schema.items() if key in obj}
    if isinstance(schema, list):
        if not isinstance(obj, list):
            return obj
        elements, _, _ = _controls(schema)
        seen = [observe(item, sub) for item, sub in zip(obj, elements, strict=False)]
        return [*seen, {CURRENT: len(obj)}]
    return obj


def differs(desired: Any, live: Any, schema: Any) -> bool:
    """Whether `live` disagrees with `desired` in a field `schema` observes."""
    if schema is None:
        return bool(desired != live)
    if isinstance(schema, dict):
        if not isinstance(desired, dict) or not isinstance(live, dict):
            return bool(desired != live)
        return any(
            key not in live or differs(desired[key], live[key], sub)
            for key, sub in schema.items()
            if key in desired
        )
    if isinstance(schema, list):
        if not isinstance(desired, list) or not isinstance(live, list):
            return bool(desired != live)
        elements, low, high = _controls(schema)
        if not low <= len(live) <= max(high, len(desired)):
            return True
        pairs = zip(desired, live, elements, strict=False)
        return len(live) < len(desired) or any(differs(d, v, s) for d, v, s in pairs)
    return bool(desired != live)
