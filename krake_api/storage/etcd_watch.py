"""Watch a key prefix over etcd's Watch stream, resuming on another member after failures.

Invariants:
- Changes are yielded in revision order (key order within one), each exactly once.
  A stream is (re)opened at `resume`, one past the last revision delivered; etcd
  sends every event of one revision in one response (fragments are never
  requested), so a stream that breaks never splits a revision.
- `Progress(r)` is yielded only when every change up to `r` was yielded. etcd before
  3.5.8 may answer a progress request ahead of events it still holds
  (etcd-io/etcd#15220), so an answer counts only once a second answer, requested
  `CONFIRM_DELAY` later (more than etcd's 100 ms watcher sync), arrives with no
  event in between. etcd's own per-watch notifications (our watch id) are in order
  with the events and count at once.
- A broken stream is reopened on the next member; `Unavailable` is raised only when
  no member let us open one within the store's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any, Final

import grpc
import grpc.aio
import structlog
from aetcd import rpc

from krake_api.storage.base import (
    Change,
    ChangeType,
    Compacted,
    Progress,
    StorageError,
    WatchEvent,
)
from krake_api.storage.etcd_endpoints import METADATA, Endpoints, Member, Rejected, is_unavailable

log = structlog.get_logger(__name__)

CONFIRM_DELAY: Final = 0.25
"""Seconds between a progress answer and the request that confirms it."""

COMPACT_GRACE: Final = 0.5
"""Seconds within which etcd cancels a watch that starts below its history."""

_PROGRESS_REQUEST: Final = rpc.WatchRequest(progress_request=rpc.WatchProgressRequest())


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with `prefix` (etcd's range_end)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\0"  # every key
    return stripped[:-1] + bytes([stripped[-1] + 1])


async def send(call: Any, request: Any) -> None:
    """Write to a stream; a call that already failed tells why at its next read."""
    with contextlib.suppress(asyncio.InvalidStateError):
        await call.write(request)


class _Dropped(Exception):
    """etcd ended the stream in a way that reopening it elsewhere may cure."""


class Watch:
    """One `Store.watch` call: the state that survives reconnections."""

    def __init__(
        self, endpoints: Endpoints, prefix: str, *, after: int, progress_interval: float | None
    ) -> None:
        self.endpoints = endpoints
        self.key = prefix.encode() or b"\0"
        self.range_end = prefix_end(prefix.encode())
        self.resume = after + 1
        self.interval = progress_interval
        self.opened = False  # a stream was opened since the last failure

    async def events(self) -> AsyncGenerator[WatchEvent, None]:
        loop = asyncio.get_running_loop()
        failures, down_since = 0, loop.time()
        while True:
            member = self.endpoints.current
            stream = self._stream(member, down_since + self.endpoints.timeout)
            try:
                async with contextlib.aclosing(stream):  # cancels the call when we are closed
                    async for event in stream:
                        yield event
                err: BaseException = _Dropped("the stream ended")
            except grpc.aio.AioRpcError as rpc_err:
                if not is_unavailable(rpc_err):
                    raise Rejected(rpc_err) from None
                err = rpc_err
            except (_Dropped, TimeoutError) as dropped:
                err = dropped
            if self.opened:
                failures, down_since, self.opened = 0, loop.time(), False
            failures += 1
            log.info("etcd.watch.reopen", endpoint=member.endpoint, resume=self.resume)
            self.endpoints.fail_over(member, err)
            await self.endpoints.pause(failures, down_since + self.endpoints.timeout, err)

    async def _stream(self, member: Member, deadline: float) -> AsyncGenerator[WatchEvent, None]:
        call = member.watch.Watch(metadata=METADATA)
        ticker: _Ticker | None = None
        try:
            await send(call, self._create_request())
            left = deadline - asyncio.get_running_loop().time()
            created = self._check(await asyncio.wait_for(call.read(), max(left, 0.001)))
            if created is None:
                raise _Dropped("the stream ended before the watch was created")
            watch_id = created.watch_id
            self.opened = True
            if self.interval is not None:
                ticker = _Ticker(call, self.interval)
            while (response := self._check(await call.read())) is not None:
                if response.events:
                    if ticker:
                        ticker.activity()
                    # etcd keeps a Txn's op order; the Store promises key order
                    for event in sorted(response.events, key=_position):
                        yield _change(event)
                        self.resume = event.kv.mod_revision + 1
                    continue
                revision = response.header.revision
                if ticker and response.watch_id != watch_id:
                    revision = ticker.answer(revision)
                if revision is not None and revision >= self.resume - 1:
                    self.resume = revision + 1
                    yield Progress(revision)
        finally:
            call.cancel()
            if ticker:
                await ticker.stop()

    def _create_request(self) -> Any:
        return rpc.WatchRequest(
            create_request=rpc.WatchCreateRequest(
                key=self.key,
                range_end=self.range_end,
                start_revision=self.resume,
                prev_kv=True,
                progress_notify=self.interval is not None,
            )
        )

    def _check(self, response: Any) -> Any:
        """The response, or None at the stream's end; raise for cancellations."""
        if response is grpc.aio.EOF:
            return None
        if response.compact_revision:
            raise Compacted(self.resume, response.compact_revision)
        if response.canceled:
            if "no leader" in response.cancel_reason:
                raise _Dropped(response.cancel_reason)
            raise StorageError(f"etcd canceled the watch: {response.cancel_reason}")
        return response


class _Ticker:
    """Asks for progress on an idle stream; confirms each answer (module docstring)."""

    def __init__(self, call: Any, interval: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._call = call
        self._interval = interval
        self._due = self._loop.time() + interval
        self._pending: int | None = None
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def activity(self) -> None:
        """Events arrived: postpone the next request; an unconfirmed answer is void."""
        self._due = self._loop.time() + self._interval
        self._pending = None

    def answer(self, revision: int) -> int | None:
        """A progress answer arrived; return the revision it confirms, if any."""
        if self._pending is None:
            self._pending = revision
            self._due = min(self._due, self._loop.time() + CONFIRM_DELAY)
            self._wake.set()
            return None
        confirmed, self._pending = self._pending, None
        return confirmed

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            delay = self._due - self._loop.time()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            self._due = self._loop.time() + self._interval
            try:
                await self._call.write(_PROGRESS_REQUEST)
            except (grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
                return  # the stream is over; its reader sees why


def _position(event: Any) -> tuple[int, bytes]:
    return event.kv.mod_revision, event.kv.key


def _change(event: Any) -> Change:
    kv, prev = event.kv, (event.prev_kv if event.HasField("prev_kv") else None)
    previous = None if prev is None else bytes(prev.value)
    if event.type == rpc.Event.DELETE:
        created = prev.create_revision if prev is not None else 0
        return Change(ChangeType.DELETE, kv.key.decode(), b"", previous, kv.mod_revision, created)
    return Change(
        ChangeType.PUT, kv.key.decode(), kv.value, previous, kv.mod_revision, kv.create_revision
    )


async def compacted_revision(endpoints: Endpoints, revision: int) -> int:
    """The first revision etcd's history keeps, known to be `revision` or above.

    etcd names it only when it cancels a watch that starts too early; a watch from
    `revision` that etcd's watcher sync (every 100 ms) does not cancel within
    `COMPACT_GRACE` seconds shows that the history starts at `revision` itself.
    """

    async def ask(member: Member, timeout: float) -> int:
        call = member.watch.Watch(metadata=METADATA, timeout=timeout)
        try:
            create = rpc.WatchCreateRequest(key=b"\0", start_revision=max(revision, 1))
            await send(call, rpc.WatchRequest(create_request=create))
            while (response := await call.read()) is not grpc.aio.EOF:
                if response.compact_revision:
                    return int(response.compact_revision)
                if response.created:
                    response = await asyncio.wait_for(call.read(), COMPACT_GRACE)
                    return int(response.compact_revision) or revision
            raise StorageError("etcd ended a watch without naming its compacted revision")
        except TimeoutError:
            return revision
        finally:
            call.cancel()

    return await endpoints.call(ask, idempotent=True)
