"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), both pure functions of
(document, patch) that return a new document and never modify their arguments.

A malformed patch raises `BadRequest` (400); a well-formed patch that cannot apply (a
missing path, a failed `test`) raises `Invalid` (422), as Kubernetes answers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, Final

from krake_testing.kube import errors


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.BadRequest(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, appending: bool) -> int:
    if appending and token == "-":
        return len(container)
    if not token.isdigit():
        raise errors.Invalid(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not appending):
        raise errors.Invalid(f"array index {index} out of range")
    return index


def _parent(document: Any, tokens: list[str]) -> Any:
    node = document
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, appending=False)]
        else:
            raise errors.Invalid(f"path /{'/'.join(tokens)} does not exist")
    return node


def _get(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return document
    parent, last = _parent(document, tokens), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, appending=False)]
    raise errors.Invalid(f"path {path} does not exist")


def _add(document: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return copy.deepcopy(value)
    parent, last = _parent(document, tokens), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, appending=True), copy.deepcopy(value))
    else:
        raise errors.Invalid(f"path {path} does not exist")
    return document


def _remove(document: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise errors.Invalid("cannot remove the whole document")
    _get(document, path)  # raises if absent
    parent, last = _parent(document, tokens), tokens[-1]
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[_index(parent, last, appending=False)]
    return document


def _move(document: Any, source: str, path: str) -> Any:
    value = _get(document, source)
    return _add(_remove(document, source), path, value)


def _replace(document: Any, path: str, value: Any) -> Any:
    if not _pointer(path):
        return copy.deepcopy(value)
    return _add(_remove(document, path), path, value)


def _test(document: Any, path: str, value: Any) -> Any:
    if _get(document, path) != value:
        raise errors.Invalid(f"test operation failed: {path} is not {value!r}")
    return document


OPERATIONS: Final[Mapping[str, Callable[[Any, Mapping[str, Any]], Any]]] = {
    "add": lambda doc, op: _add(doc, op["path"], op["value"]),
    "remove": lambda doc, op: _remove(doc, op["path"]),
    "replace": lambda doc, op: _replace(doc, op["path"], op["value"]),
    "move": lambda doc, op: _move(doc, op["from"], op["path"]),
    "copy": lambda doc, op: _add(doc, op["path"], _get(doc, op["from"])),
    "test": lambda doc, op: _test(doc, op["path"], op["value"]),
}


def json_patch(target: Any, patch: Any) -> Any:
    """RFC 6902: apply each operation in order; all or nothing."""
    if not isinstance(patch, list):
        raise errors.BadRequest("a JSON patch must be a list of operations")
    document = copy.deepcopy(target)
    for operation in patch:
        if not isinstance(operation, Mapping) or operation.get("op") not in OPERATIONS:
            raise errors.BadRequest(f"invalid JSON patch operation: {operation!r}")
        try:
            document = OPERATIONS[operation["op"]](document, operation)
        except KeyError as missing:
            raise errors.BadRequest(f"JSON patch operation lacks {missing}") from None
    return document
