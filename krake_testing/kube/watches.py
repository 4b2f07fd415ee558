"""Watch streams: newline-delimited JSON events `{"type", "object"}` over one chunked
HTTP response, as the Kubernetes API server sends them for `?watch=true`.

Invariants:
- `resourceVersion` unset or "0": first one ADDED event per existing matching object,
  then every later change; `resourceVersion` N: every change after N, none before;
  N older than the store's compaction point: HTTP 200 with one `ERROR` event carrying a
  410 `Expired` Status, then the stream ends (what client-go and the Python client
  expect);
- with selectors, an object that starts matching arrives as ADDED and one that stops
  matching as DELETED, as from the Kubernetes watch cache;
- `allowWatchBookmarks=true`: every `bookmark_interval`, once no event is pending, a
  BOOKMARK whose object has only apiVersion, kind and `metadata.resourceVersion` (every
  change up to that revision has been sent);
- `timeoutSeconds`: the stream ends cleanly after that many seconds;
- the stream also ends when the server stops or the cluster is made unreachable.
Not modelled: `sendInitialEvents`, `resourceVersionMatch`, progress notifications.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from krake_testing.kube import errors
from krake_testing.kube.kinds import Kind
from krake_testing.kube.selectors import Predicate
from krake_testing.kube.store import Event, Object, Store, Subscription

# (matched before, matches now) -> type sent for a MODIFIED event.
TRANSITIONS: Final[Mapping[tuple[bool, bool], str | None]] = {
    (True, True): "MODIFIED",
    (False, True): "ADDED",
    (True, False): "DELETED",
    (False, False): None,
}


@dataclass(frozen=True, slots=True)
class Watch:
    kind: Kind
    namespace: str | None
    resource_version: str
    labels: Predicate
    fields: Predicate
    bookmarks: bool
    timeout: float | None


def _line(kind: Kind, kind_of_event: str, obj: Mapping[str, Any]) -> bytes:
    served = {**obj, "apiVersion": kind.api_version, "kind": kind.kind}
    return json.dumps({"type": kind_of_event, "object": served}).encode() + b"\n"


def _matches(watch: Watch, obj: Object | None) -> bool:
    if obj is None:
        return False
    if watch.namespace is not None and obj["metadata"].get("namespace") != watch.namespace:
        return False
    return watch.labels(obj) and watch.fields(obj)


def translate(watch: Watch, event: Event) -> bytes | None:
    """The line a watcher gets for `event`, or None when it does not concern it."""
    now = _matches(watch, event.new)
    if event.type == "MODIFIED":
        sent = TRANSITIONS[(_matches(watch, event.old), now)]
    else:
        sent = event.type if now else None
    return _line(watch.kind, sent, event.new) if sent else None


def _start(store: Store, watch: Watch) -> tuple[list[bytes], Subscription]:
    """Initial lines and the subscription, taken together without yielding."""
    if watch.resource_version in ("", "0"):
        state = store.items(watch.kind.resource, watch.namespace)
        initial = [_line(watch.kind, "ADDED", o) for o in state if _matches(watch, o)]
        return initial, store.subscribe(watch.kind.resource, store.revision)
    try:
        after = int(watch.resource_version)
    except ValueError:
        raise errors.BadRequest(f"invalid resource version {watch.resource_version!r}") from None
    return [], store.subscribe(watch.kind.resource, after)


def _bookmark(watch: Watch, revision: int) -> bytes:
    obj = {"metadata": {"resourceVersion": str(revision)}}
    return _line(watch.kind, "BOOKMARK", obj)


async def serve(
    request: web.Request, store: Store, watch: Watch, *, bookmark_interval: float
) -> web.StreamResponse:
    """Answer a watch request; returns when the stream ends."""
    try:
        initial, subscription = _start(store, watch)
    except errors.Expired as expired:
        initial, subscription = [_error(expired)], None
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        for line in initial:
            await response.write(line)
        if subscription is not None:
            await _pump(response, store, watch, subscription, bookmark_interval)
    except (ConnectionError, RuntimeError):
        pass  # the client went away
    finally:
        if subscription is not None:
            store.unsubscribe(subscription)
    return response


async def _pump(
    response: web.StreamResponse,
    store: Store,
    watch: Watch,
    subscription: Subscription,
    interval: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + watch.timeout if watch.timeout else None
    bookmark_at = loop.time() + interval if watch.bookmarks else None
    while deadline is None or loop.time() < deadline:
        if subscription.queue.empty():
            wake = min((t for t in (deadline, bookmark_at) if t is not None), default=None)
            try:
                wait = None if wake is None else max(wake - loop.time(), 0)
                async with asyncio.timeout(wait):  # not wait_for: it can eat a cancellation
                    event = await subscription.queue.get()
            except TimeoutError:
                if bookmark_at is not None and loop.time() >= bookmark_at:
                    await response.write(_bookmark(watch, store.revision))
                    bookmark_at = loop.time() + interval
                continue
        else:
            event = subscription.queue.get_nowait()
        if event is None:
            return
        if (line := translate(watch, event)) is not None:
            await response.write(line)


def _error(expired: errors.Expired) -> bytes:
    return json.dumps({"type": "ERROR", "object": errors.status_of(expired)}).encode() + b"\n"
