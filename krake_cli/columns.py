"""Table columns: a header and how to read its cell from an object.

Columns are values built from a few readers (`field`, `age`, `oneof`, `count`), so a
kind's table is declared as data in `krake_cli.kinds`, never printed by code of its
own. Every reader returns `NONE` for a field that is unset, so tables never show a
proto default (`0`, `STATE_UNSPECIFIED`) as if it were a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

NONE: Final = "<none>"
Cell = Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    cell: Cell


def walk(obj: Any, path: str) -> tuple[Any, Any]:
    """The value at the dotted `path` of a message and the descriptor of its last field;
    (None, None) when a message on the way is unset."""
    value: Any = obj
    field: Any = None
    for part in path.split("."):
        if not isinstance(value, Message):
            return None, None
        field = value.DESCRIPTOR.fields_by_name[part]
        is_message = field.message_type is not None and not _repeated(field)
        if is_message and not value.HasField(part):
            return None, None
        value = getattr(value, part)
    return value, field


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def text(value: Any, field: FieldDescriptor | None) -> str:
    """One cell's text for a field's value."""
    if value is None or field is None:
        return NONE
    if field.enum_type is not None and not _repeated(field):
        return field.enum_type.values_by_number[value].name if value else NONE
    if field.message_type is not None and field.message_type.full_name.endswith("ResourceRef"):
        return "/".join(part for part in (value.namespace, value.name) if part) or NONE
    if _is_map(field):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items())) or NONE
    if _repeated(field):
        return ",".join(str(item) for item in value) or NONE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value) if value not in ("", 0) else NONE


def field(path: str) -> Cell:
    """The field at `path`, e.g. "status.scheduled_to" (a reference shows "ns/name")."""

    def cell(obj: Any) -> str:
        return text(*walk(obj, path))

    return cell


def optional(path: str) -> Cell:
    """A proto3 `optional` scalar at `path`: its value when set, even when it is 0."""
    parent, name = path.rsplit(".", 1)

    def cell(obj: Any) -> str:
        holder, _ = walk(obj, parent)
        if holder is None or not holder.HasField(name):
            return NONE
        value = getattr(holder, name)
        return f"{value:g}" if isinstance(value, float) else str(value)

    return cell


def count(path: str) -> Cell:
    """How many items the repeated field at `path` holds."""

    def cell(obj: Any) -> str:
        value, _ = walk(obj, path)
        return str(len(value)) if value is not None else "0"

    return cell


def oneof(path: str, group: str, member: str = "") -> Cell:
    """Which member of the oneof `group` in the message at `path` is set or, with
    `member`, that field of the set member (e.g. the `url` of whichever provider)."""

    def cell(obj: Any) -> str:
        holder, _ = walk(obj, path)
        chosen = holder.WhichOneof(group) if holder is not None else None
        if chosen is None:
            return NONE
        if not member:
            return str(chosen)
        value = getattr(holder, chosen)
        if member not in value.DESCRIPTOR.fields_by_name:
            return NONE
        return text(*walk(value, member))

    return cell


def age(path: str, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Cell:
    """Time since the Timestamp at `path`, as `duration` writes it."""

    def cell(obj: Any) -> str:
        stamp, _ = walk(obj, path)
        if stamp is None:
            return NONE
        seconds = (now() - stamp.ToDatetime(tzinfo=UTC)).total_seconds()
        return duration(seconds)

    return cell


def duration(seconds: float) -> str:
    """Human-readable and short, as kubectl shows ages: 42s, 7m, 5h, 3d, 2y."""
    seconds = max(int(seconds), 0)
    for limit, unit, size in (
        (120, "s", 1),
        (2 * 3600, "m", 60),
        (48 * 3600, "h", 3600),
        (2 * 365 * 86400, "d", 86400),
    ):
        if seconds < limit:
            return f"{seconds // size}{unit}"
    return f"{seconds // (365 * 86400)}y"


NAME: Final = Column("NAME", field("metadata.name"))
NAMESPACE: Final = Column("NAMESPACE", field("metadata.namespace"))
AGE: Final = Column("AGE", age("metadata.created"))
STATE: Final = Column("STATE", field("status.state"))
LABELS: Final = Column("LABELS", field("metadata.labels"))
