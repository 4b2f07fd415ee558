"""The embedded SQLite backend: the default store, one file, no extra service.

One WAL-mode connection (`sqlite_engine.Engine`) used inline on the event loop:
an indexed SQLite read or commit takes microseconds to a few hundred, less than a
hop to a worker thread and back on our machines (~500 us measured). Writes that
arrive in the same loop iteration, or while a commit is retried, are applied
together in one commit (group commit, each transaction in its own savepoint),
which amortizes the commit over concurrent writers. The connection's busy timeout
is short; a locked file is retried asynchronously until the store timeout, then
`Unavailable`, so a foreign lock never stalls the loop for long.

One process owns the file (a lock file keeps a second one out), so watches are fed
in-process: after every commit the store wakes the watchers whose prefix a written
key falls under (all of them after a lease expiry or a compaction, whose keys it
does not track), and each watcher reads the log from its own cursor. A write to one
kind so costs one log query, not one per kind being watched. Catch-up and live
delivery are the same query, which makes "every change after `after`, once, in
order" hold by construction. A background task revokes expired leases.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from typing import TypeVar

import structlog

from krake_api.storage.base import (
    DEFAULT_TIMEOUT,
    Entry,
    Op,
    Page,
    Progress,
    SingleOps,
    StorageError,
    Unavailable,
    WatchEvent,
    check_ops,
)
from krake_api.storage.sqlite_engine import Engine

log = structlog.get_logger(__name__)
T = TypeVar("T")
WATCH_BATCH = 1000
LEASE_POLL_MAX = 1.0
BUSY_TIMEOUT = 0.02
BUSY_RETRY = 0.02


async def wait_for_event(event: asyncio.Event, timeout: float | None) -> bool:
    """Wait until `event` is set or `timeout` seconds passed; True if it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    return True


class SqliteStore(SingleOps):
    """Store over one SQLite file in WAL mode; see the module docstring."""

    def __init__(self, engine: Engine, lock_fd: int, path: str, timeout: float) -> None:
        self._engine = engine
        self._lock_fd = lock_fd
        self._path = path
        self._timeout = timeout
        self._watchers: dict[asyncio.Event, str] = {}  # a watch's wake-up -> its prefix
        self._leases_changed = asyncio.Event()
        self._closed = False
        self._pending: list[tuple[Sequence[Op], asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._expiry = asyncio.create_task(self._expire_leases(), name="sqlite-lease-expiry")

    @classmethod
    async def open(cls, path: str, *, timeout: float = DEFAULT_TIMEOUT) -> SqliteStore:
        """Open (creating if needed) the store in file `path`."""
        lock_fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise Unavailable(f"{path} is in use by another Krake process") from None
        try:
            engine = Engine(path, busy_timeout=BUSY_TIMEOUT)
        except sqlite3.Error as err:
            os.close(lock_fd)
            raise Unavailable(f"cannot open {path}: {err}") from err
        log.info("sqlite.opened", path=path)
        return cls(engine, lock_fd, path, timeout)

    def _read(self, function: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise Unavailable(f"store {self._path} is closed")
        try:
            return function(*args)
        except sqlite3.Error as err:
            raise Unavailable(f"{self._path}: {err}") from err

    async def _write(self, function: Callable[..., T], *args: object) -> T:
        """Run a write transaction; while the file is locked, retry until the timeout.

        A failed attempt rolled back completely, so retrying it is safe.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while True:
            try:
                return self._read(function, *args)
            except Unavailable as err:
                locked = isinstance(err.__cause__, sqlite3.OperationalError) and (
                    "locked" in str(err) or "busy" in str(err)
                )
                if not locked or loop.time() + BUSY_RETRY > deadline:
                    raise
            await asyncio.sleep(BUSY_RETRY)

    def _notify(self, keys: Collection[str] | None = None) -> None:
        """Wake the watchers of `keys` (None: every watcher): they were committed."""
        for wake, prefix in self._watchers.items():
            if keys is None or any(key.startswith(prefix) for key in keys):
                wake.set()

    async def get(self, key: str) -> Entry | None:
        return self._read(self._engine.get, key)

    async def range(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> Page:
        return self._read(self._engine.range, prefix, start_after, limit, revision)

    async def revision(self) -> int:
        return self._read(self._engine.revision)

    async def txn(self, ops: Sequence[Op]) -> int:
        check_ops(ops)
        if self._closed:
            raise Unavailable(f"store {self._path} is closed")
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((ops, done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="sqlite-group-commit")
        return await done

    async def _flush(self) -> None:
        """Commit pending transactions, a batch per commit, until none is left."""
        try:
            await asyncio.sleep(0)  # writers of this loop iteration join the batch
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._write(self._engine.txns, [ops for ops, _ in batch])
                except Unavailable as err:
                    results = [err] * len(batch)
                written: set[str] = set()
                for (ops, done), result in zip(batch, results, strict=True):
                    if isinstance(result, StorageError):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
                        written.update(op.key for op in ops)
                self._notify(written)
        finally:
            self._flusher = None

    async def compact(self, revision: int) -> None:
        await self._write(self._engine.compact, revision)
        self._notify()

    async def grant(self, ttl: int) -> int:
        lease = await self._write(self._engine.grant, ttl, time.time())
        self._leases_changed.set()
        return lease

    async def keepalive(self, lease: int) -> int:
        return await self._write(self._engine.keepalive, lease, time.time())

    async def revoke(self, lease: int) -> None:
        if await self._write(self._engine.revoke, lease):
            self._notify()

    async def watch(
        self, prefix: str, *, after: int, progress_interval: float | None = None
    ) -> AsyncGenerator[WatchEvent, None]:
        loop = asyncio.get_running_loop()
        last_id, idle_since = 0, loop.time()
        wake = asyncio.Event()
        self._watchers[wake] = prefix
        try:
            while True:
                wake.clear()  # before reading: a commit after the read sets it again
                rows, current, through = self._read(
                    self._engine.changes, prefix, after, last_id, WATCH_BATCH
                )
                for row_id, change in rows:
                    last_id, after = row_id, change.mod_revision - 1
                    yield change
                last_id = through
                if rows:
                    idle_since = loop.time()
                    await asyncio.sleep(0)  # a long replay must not starve the loop
                    continue
                after = current
                wait = None
                if progress_interval is not None:
                    if loop.time() - idle_since >= progress_interval:
                        yield Progress(current)
                        idle_since = loop.time()
                    wait = idle_since + progress_interval - loop.time()
                await wait_for_event(wake, wait)
        finally:
            del self._watchers[wake]

    async def _expire_leases(self) -> None:
        """Revoke leases as they expire, sleeping until the next expiry."""
        while not self._closed:
            self._leases_changed.clear()
            try:
                changed, following = await self._write(self._engine.expire, time.time())
            except Unavailable as err:
                log.warning("sqlite.lease_expiry_failed", error=str(err))
                changed, following = False, None
            if changed:
                self._notify()
            delay = LEASE_POLL_MAX if following is None else following - time.time()
            await wait_for_event(self._leases_changed, max(0.0, min(delay, LEASE_POLL_MAX)))

    async def close(self) -> None:
        if self._closed:
            return
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._closed = True
        self._expiry.cancel()
        await asyncio.gather(self._expiry, return_exceptions=True)
        self._notify()
        self._engine.close()
        os.close(self._lock_fd)
        log.info("sqlite.closed", path=self._path)
