"""JSON <-> protobuf messages, in the proto3 JSON mapping, strictly.

Output: proto field names (snake_case), enums by name, Timestamps in RFC 3339,
`google.protobuf.Struct` (manifests, kubeconfigs) as plain JSON objects, and every
whole number of a double written as an integer (`replicas: 1`, not `1.0`: Struct
stores numbers as doubles, and a real Kubernetes API server rejects `1.0` for an
integer field; for double fields `1` and `1.0` are the same JSON number).

Input: proto and JSON (lowerCamelCase) names alike; `shapes.check` names unknown
fields and values of the wrong JSON type before `merge` converts.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import Message

from krake_api.errors import FieldViolation
from krake_api.gateway.statuses import StatusError

_FAILED_FIELD: Final = re.compile(r"Failed to parse (\S+) field: ")


def loads(body: bytes) -> Any:
    """The JSON document in `body`; INVALID_ARGUMENT if it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise StatusError.invalid([FieldViolation("<body>", f"invalid JSON: {err}")]) from None


def merge(
    data: dict[str, Any], message: Message, *, where: str = "<body>", strip: str = ""
) -> None:
    """Merge the JSON object `data` into `message`; INVALID_ARGUMENT naming the field
    (without the prefix `strip`), or else `where`, whose value does not fit.
    Run `shapes.check` first: it names unknown fields and wrong JSON types better."""
    try:
        json_format.ParseDict(data, message)
    except (json_format.ParseError, TypeError, ValueError, AttributeError, RecursionError) as err:
        text = str(err)
        names = _FAILED_FIELD.findall(text)
        field = ".".join(names).removeprefix(strip) if names else where
        description = _FAILED_FIELD.sub("", text).strip().rstrip(".") or "invalid value"
        raise StatusError.invalid([FieldViolation(field, description)]) from None


def dumps(data: Any) -> bytes:
    """One JSON document, `{"key": value, ...}` with ", " and ": " separators, no newline."""
    return json.dumps(data, ensure_ascii=False).encode()
