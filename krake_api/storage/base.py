"""The Store protocol: a key-value store with revisions, transactions, watches, leases.

Every backend (etcd, sqlite) implements this protocol and passes the one
conformance suite in `tests/conformance/`. The contract, in etcd's terms:

- The store has one revision counter. Every successful write (a whole `txn`)
  increments it once; every key written by it gets that `mod_revision`.
  A key's `create_revision` is the revision that created it (since its last
  deletion). Revisions only grow, also across restarts.
- `compact(r)` drops the history before `r`: reading at a revision below `r`
  or watching from `after < r - 1` raises `Compacted`.
- `watch(prefix, after=a)` yields every change with revision > a, in revision
  order (and key order within one revision), exactly once, then `Progress`
  markers while idle. A dropped backend connection is resumed from the last
  delivered revision inside the backend; the consumer sees no gap and no repeat.
- Writes are all-or-nothing: a failed compare leaves every key untouched.
- Every call either completes or raises `Unavailable` within the store's
  timeout; none hangs.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

MAX_VALUE_SIZE = 1536 * 1024
"""Largest value a store accepts (1.5 MiB, as etcd's default request limit)."""

DEFAULT_TIMEOUT = 5.0
"""Seconds after which an unreachable backend raises `Unavailable`."""


class StorageError(Exception):
    """Base of every storage error; the message names the key or revision."""


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class RevisionMismatch(StorageError):
    def __init__(self, key: str, expected: int, actual: int) -> None:
        found = f"mod_revision {actual}" if actual else "no such key"
        super().__init__(f"key {key!r}: expected mod_revision {expected}, found {found}")
        self.key = key
        self.expected = expected
        self.actual = actual


class Compacted(StorageError):
    def __init__(self, revision: int, compacted: int) -> None:
        super().__init__(f"revision {revision} is compacted (history starts at {compacted})")
        self.revision = revision
        self.compacted = compacted


class FutureRevision(StorageError):
    def __init__(self, revision: int, current: int) -> None:
        super().__init__(f"revision {revision} is in the future (the store is at {current})")
        self.revision = revision
        self.current = current


class TooLarge(StorageError):
    def __init__(self, key: str, size: int) -> None:
        super().__init__(f"value of key {key!r} is {size} bytes, over the {MAX_VALUE_SIZE} limit")
        self.key = key
        self.size = size


class LeaseNotFound(StorageError):
    def __init__(self, lease: int) -> None:
        super().__init__(f"lease {lease} not found (expired or revoked)")
        self.lease = lease


class Unavailable(StorageError):
    """The backend could not be reached in time; for a write, its outcome is unknown."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored key with its value and revisions."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of a range read, all read at one store `revision`."""

    entries: Sequence[Entry]
    revision: int
    more: bool


class ChangeType(enum.Enum):
    PUT = "PUT"
    DELETE = "DELETE"


@dataclass(frozen=True, slots=True)
class Change:
    """One key changed at `mod_revision` (for DELETE: the deleting revision).

    `value` is empty for DELETE; `prev_value` is the value before the change,
    None when the key did not exist. A PUT with `create_revision == mod_revision`
    created the key.
    """

    type: ChangeType
    key: str
    value: bytes
    prev_value: bytes | None
    mod_revision: int
    create_revision: int = 0


@dataclass(frozen=True, slots=True)
class Progress:
    """Every change up to and including `revision` has been delivered."""

    revision: int


WatchEvent = Change | Progress


@dataclass(frozen=True, slots=True)
class Create:
    """Put `value` at `key` only if the key does not exist (else `KeyExists`)."""

    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Replace:
    """Put `value` at `key` only if its mod_revision is `expect` (else `RevisionMismatch`)."""

    key: str
    value: bytes
    expect: int
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Put:
    """Put `value` at `key` unconditionally."""

    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete `key`; with `expect`, only if its mod_revision matches.

    A missing key raises `KeyNotFound` (or `RevisionMismatch` with `expect`).
    """

    key: str
    expect: int | None = None


Op = Create | Replace | Put | Delete


def check_ops(ops: Sequence[Op]) -> None:
    """Refuse empty transactions, repeated keys and oversized values before any I/O."""
    if not ops:
        raise ValueError("a transaction needs at least one operation")
    keys = [op.key for op in ops]
    if len(set(keys)) != len(keys):
        raise ValueError(f"a transaction may touch each key once: {sorted(keys)}")
    for op in ops:
        if not op.key:
            raise ValueError("keys must not be empty")
        if not isinstance(op, Delete) and len(op.value) > MAX_VALUE_SIZE:
            raise TooLarge(op.key, len(op.value))


@runtime_checkable
class Store(Protocol):
    """What the API server needs from storage; see the module docstring."""

    async def get(self, key: str) -> Entry | None: ...

    async def range(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> Page:
        """Keys starting with `prefix`, sorted, after `start_after`, at most `limit`
        (0: all), read at `revision` (0: the current one)."""
        ...

    async def txn(self, ops: Sequence[Op]) -> int:
        """Apply every op or none; return the new revision. Raises the error of the
        first failing op (`KeyExists`, `KeyNotFound`, `RevisionMismatch`)."""
        ...

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int: ...

    async def replace(self, key: str, value: bytes, *, expect: int, lease: int = 0) -> int: ...

    async def put(self, key: str, value: bytes, *, lease: int = 0) -> int: ...

    async def delete(self, key: str, *, expect: int | None = None) -> int: ...

    def watch(
        self, prefix: str, *, after: int, progress_interval: float | None = None
    ) -> AsyncGenerator[WatchEvent, None]:
        """Changes with revision > `after`; a `Progress` every `progress_interval`
        seconds while idle (None: never). Close with `aclose()` or by cancelling."""
        ...

    async def revision(self) -> int: ...

    async def compact(self, revision: int) -> None: ...

    async def grant(self, ttl: int) -> int:
        """A new lease that expires `ttl` seconds after its last keepalive."""
        ...

    async def keepalive(self, lease: int) -> int:
        """Refresh the lease; return its ttl. `LeaseNotFound` once expired."""
        ...

    async def revoke(self, lease: int) -> None:
        """End the lease now, deleting its keys."""
        ...

    async def close(self) -> None: ...


class SingleOps:
    """The single-key writes, expressed once through `txn` for every backend."""

    async def txn(self, ops: Sequence[Op]) -> int:
        raise NotImplementedError

    async def create(self, key: str, value: bytes, *, lease: int = 0) -> int:
        return await self.txn([Create(key, value, lease)])

    async def replace(self, key: str, value: bytes, *, expect: int, lease: int = 0) -> int:
        return await self.txn([Replace(key, value, expect, lease)])

    async def put(self, key: str, value: bytes, *, lease: int = 0) -> int:
        return await self.txn([Put(key, value, lease)])

    async def delete(self, key: str, *, expect: int | None = None) -> int:
        return await self.txn([Delete(key, expect)])
