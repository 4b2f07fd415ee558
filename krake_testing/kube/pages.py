"""Paging of list results with `limit` and opaque `continue` tokens.

A token names the resourceVersion of the first page and the last (namespace, name)
served; the next page holds the items sorted after it in the CURRENT state (no
snapshot: objects created meanwhile behind the cursor appear), and reports the first
page's resourceVersion, as Kubernetes does. `remainingItemCount` counts what is left.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from krake_testing.kube import errors

Object = dict[str, Any]


def sort_key(obj: Object) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _encode(revision: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"rv": revision, "after": list(after)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode(token: str) -> tuple[int, tuple[str, str]]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(decoded["rv"]), (str(decoded["after"][0]), str(decoded["after"][1]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise errors.BadRequest(f"invalid continue token {token!r}") from None


def page(items: list[Object], revision: int, limit: int, token: str) -> tuple[list[Object], Object]:
    """(the page of sorted `items`, the list metadata to send with it)."""
    after: tuple[str, str] | None = None
    if token:
        revision, after = _decode(token)
        items = [o for o in items if sort_key(o) > after]
    served = items[:limit] if limit > 0 else items
    listed: Object = {"resourceVersion": str(revision)}
    if len(served) < len(items):
        listed["continue"] = _encode(revision, sort_key(served[-1]))
        listed["remainingItemCount"] = len(items) - len(served)
    return served, listed
