"""The synchronous SQL of the SQLite backend; runs on the store's one worker thread.

Tables, in the manner of k3s's kine:
- `log`: every change ever made and not yet compacted: (revision, key, deleted,
  create_revision, value). A transaction writes all its rows at one revision, in
  key order. Keys are BLOBs so that SQLite orders them bytewise, like etcd. A
  change's previous value is the key's preceding log row (compaction keeps the
  latest row before the compacted revision), so it is not stored twice.
- `kv`: the current value of every live key (the latest non-deleted log row).
- `meta`: the revision counter and the compacted revision.
- `leases`: lease id, ttl and wall-clock expiry (so they survive restarts).

Each public method is one SQLite transaction, so every read is a consistent
snapshot and every write is all-or-nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from krake_api.storage.base import (
    Change,
    ChangeType,
    Compacted,
    Create,
    Delete,
    Entry,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    LeaseNotFound,
    Op,
    Page,
    Replace,
    RevisionMismatch,
    StorageError,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('revision', 1), ('compacted', 0);
CREATE TABLE IF NOT EXISTS kv (
    key BLOB PRIMARY KEY, value BLOB NOT NULL, create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL, lease INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, revision INTEGER NOT NULL, key BLOB NOT NULL,
    deleted INTEGER NOT NULL, create_revision INTEGER NOT NULL, value BLOB
);
CREATE INDEX IF NOT EXISTS log_revision ON log (revision);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ttl INTEGER NOT NULL, expires REAL NOT NULL
);
"""

HISTORIC_RANGE = """
SELECT l.key, l.value, l.create_revision, l.revision FROM log l
WHERE l.key >= ? AND l.key < ? AND l.key > ? AND l.revision <= ? AND l.deleted = 0
  AND l.id = (SELECT MAX(m.id) FROM log m WHERE m.key = l.key AND m.revision <= ?)
ORDER BY l.key LIMIT ?
"""

CURRENT_RANGE = """
SELECT key, value, create_revision, mod_revision, lease FROM kv
WHERE key >= ? AND key < ? AND key > ? ORDER BY key LIMIT ?
"""

CHANGES = """
SELECT l.id, l.revision, l.key, l.deleted, l.create_revision, l.value,
  (SELECT p.value FROM log p WHERE p.key = l.key AND p.revision < l.revision
   ORDER BY p.revision DESC LIMIT 1)
FROM log l WHERE l.id > ? AND l.revision > ? AND l.key >= ? AND l.key < ? ORDER BY l.id LIMIT ?
"""

FIRST_AFTER = "SELECT min(id) FROM log WHERE revision > ?"

NO_LIMIT = 2**62


def key_bounds(prefix: str) -> tuple[bytes, bytes]:
    """[start, end) of the keys with `prefix`: UTF-8 never contains the byte 0xff."""
    start = prefix.encode()
    return start, start + b"\xff"


class Engine:
    """One SQLite connection and the statements of the Store operations."""

    def __init__(self, path: str, *, busy_timeout: float) -> None:
        self.db = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self, mode: str = "DEFERRED") -> Iterator[None]:
        self.db.execute(f"BEGIN {mode}")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def _meta(self, name: str) -> int:
        value: int = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0]
        return value

    def revision(self) -> int:
        return self._meta("revision")

    def get(self, key: str) -> Entry | None:
        row = self.db.execute(
            "SELECT key, value, create_revision, mod_revision, lease FROM kv WHERE key = ?",
            (key.encode(),),
        ).fetchone()
        return _entry(row) if row else None

    def range(self, prefix: str, start_after: str, limit: int, revision: int) -> Page:
        start, end = key_bounds(prefix)
        after = start_after.encode()
        wanted = (limit or NO_LIMIT - 1) + 1
        with self.transaction():
            current = self.revision()
            if revision and revision != current:
                self._check_readable(revision, current)
                rows = self.db.execute(
                    HISTORIC_RANGE, (start, end, after, revision, revision, wanted)
                ).fetchall()
                entries = [_entry((*row, 0)) for row in rows]
            else:
                rows = self.db.execute(CURRENT_RANGE, (start, end, after, wanted)).fetchall()
                entries = [_entry(row) for row in rows]
        more = limit > 0 and len(entries) > limit
        return Page(entries[:limit] if more else entries, revision or current, more)

    def _check_readable(self, revision: int, current: int) -> None:
        if revision > current:
            raise FutureRevision(revision, current)
        compacted = self._meta("compacted")
        if revision < compacted:
            raise Compacted(revision, compacted)

    def txns(self, batch: Sequence[Sequence[Op]]) -> list[int | StorageError]:
        """Apply several transactions in one SQLite commit (group commit).

        Each runs in a savepoint: a failing one is rolled back alone and returns
        its error; every successful one gets the next revision.
        """
        results: list[int | StorageError] = []
        with self.transaction("IMMEDIATE"):
            revision = self.revision()
            for ops in batch:
                self.db.execute("SAVEPOINT txn")
                try:
                    self._txn(ops, revision + 1)
                except StorageError as err:
                    self.db.execute("ROLLBACK TO txn")
                    results.append(err)
                else:
                    revision += 1
                    results.append(revision)
                self.db.execute("RELEASE txn")
            self._set_revision(revision)
        return results

    def _txn(self, ops: Sequence[Op], revision: int) -> None:
        rows = {op.key: self._row(op.key) for op in ops}
        for op in ops:
            _check(op, rows[op.key])
            if not isinstance(op, Delete) and op.lease:
                self._check_lease(op.lease)
        for op in sorted(ops, key=lambda op: op.key.encode()):
            self._apply(op, rows[op.key], revision)

    def _row(self, key: str) -> tuple[bytes, int, int] | None:
        row: tuple[bytes, int, int] | None = self.db.execute(
            "SELECT value, create_revision, mod_revision FROM kv WHERE key = ?", (key.encode(),)
        ).fetchone()
        return row

    def _check_lease(self, lease: int) -> None:
        if not self.db.execute("SELECT 1 FROM leases WHERE id = ?", (lease,)).fetchone():
            raise LeaseNotFound(lease)

    def _apply(self, op: Op, row: tuple[bytes, int, int] | None, revision: int) -> None:
        key = op.key.encode()
        if isinstance(op, Delete):
            assert row is not None
            self.db.execute("DELETE FROM kv WHERE key = ?", (key,))
            self._log(revision, key, True, row[1], None)
            return
        created = row[1] if row else revision
        self.db.execute(
            "INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)",
            (key, op.value, created, revision, op.lease),
        )
        self._log(revision, key, False, created, op.value)

    def _log(
        self,
        revision: int,
        key: bytes,
        deleted: bool,
        created: int,
        value: bytes | None,
    ) -> None:
        self.db.execute(
            "INSERT INTO log (revision, key, deleted, create_revision, value)"
            " VALUES (?, ?, ?, ?, ?)",
            (revision, key, int(deleted), created, value),
        )

    def _set_revision(self, revision: int) -> None:
        self.db.execute("UPDATE meta SET value = ? WHERE name = 'revision'", (revision,))

    def changes(
        self, prefix: str, after: int, after_id: int, limit: int
    ) -> tuple[list[tuple[int, Change]], int, int]:
        """Log rows after (`after` revision, `after_id` row) under `prefix`, the
        current revision, and the row id the log was read through: a cursor to
        resume from, so that a watch of a quiet prefix does not scan the other
        prefixes' rows again on every call. `after_id` 0 starts at `after`'s first
        row (by the revision index). `Compacted` when part of that history is gone."""
        start, end = key_bounds(prefix)
        with self.transaction():
            compacted = self._meta("compacted")
            if after + 1 < compacted:
                raise Compacted(after + 1, compacted)
            last = self.db.execute("SELECT coalesce(max(id), 0) FROM log").fetchone()[0]
            if after_id == 0:
                first = self.db.execute(FIRST_AFTER, (after,)).fetchone()[0]
                after_id = last if first is None else first - 1
            rows = self.db.execute(CHANGES, (after_id, after, start, end, limit)).fetchall()
            through = rows[-1][0] if len(rows) == limit else last
            return [(row[0], _change(row[1:])) for row in rows], self.revision(), through

    def compact(self, revision: int) -> None:
        with self.transaction("IMMEDIATE"):
            self._check_readable(revision, self.revision())
            self.db.execute(
                "DELETE FROM log WHERE revision < ? AND EXISTS (SELECT 1 FROM log n"
                " WHERE n.key = log.key AND n.id > log.id AND n.revision <= ?)",
                (revision, revision),
            )
            self.db.execute("DELETE FROM log WHERE revision < ? AND deleted = 1", (revision,))
            self.db.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (revision,))

    def grant(self, ttl: int, now: float) -> int:
        with self.transaction("IMMEDIATE"):
            cursor = self.db.execute(
                "INSERT INTO leases (ttl, expires) VALUES (?, ?)", (ttl, now + ttl)
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def keepalive(self, lease: int, now: float) -> int:
        with self.transaction("IMMEDIATE"):
            row = self.db.execute(
                "SELECT ttl FROM leases WHERE id = ? AND expires > ?", (lease, now)
            ).fetchone()
            if row is None:
                raise LeaseNotFound(lease)
            self.db.execute("UPDATE leases SET expires = ? WHERE id = ?", (now + row[0], lease))
        ttl: int = row[0]
        return ttl

    def revoke(self, lease: int) -> bool:
        """End the lease, deleting its keys at one new revision; True if any key went."""
        with self.transaction("IMMEDIATE"):
            if not self.db.execute("DELETE FROM leases WHERE id = ?", (lease,)).rowcount:
                raise LeaseNotFound(lease)
            rows = self.db.execute(
                "SELECT key, create_revision FROM kv WHERE lease = ? ORDER BY key", (lease,)
            ).fetchall()
            if not rows:
                return False
            revision = self.revision() + 1
            for key, created in rows:
                self._log(revision, key, True, created, None)
            self.db.execute("DELETE FROM kv WHERE lease = ?", (lease,))
            self._set_revision(revision)
        return True

    def expire(self, now: float) -> tuple[bool, float | None]:
        """Revoke every expired lease; return whether keys changed and the next expiry."""
        expired = [
            row[0] for row in self.db.execute("SELECT id FROM leases WHERE expires <= ?", (now,))
        ]
        changed = False
        for lease in expired:
            changed |= self.revoke(lease)
        following = self.db.execute("SELECT MIN(expires) FROM leases").fetchone()[0]
        return changed, following


def _check(op: Op, row: tuple[bytes, int, int] | None) -> None:
    """Raise the error of `op` against the key's current `row`, if it fails."""
    actual = row[2] if row else 0
    if isinstance(op, Create):
        if row:
            raise KeyExists(op.key)
    elif isinstance(op, Replace | Delete) and op.expect is not None:
        if row is None or op.expect != actual:
            raise RevisionMismatch(op.key, op.expect, actual)
    elif isinstance(op, Delete) and row is None:
        raise KeyNotFound(op.key)


def _entry(row: tuple[bytes, bytes, int, int, int]) -> Entry:
    key, value, created, modified, lease = row
    return Entry(key.decode(), value, created, modified, lease)


def _change(row: tuple[int, bytes, int, int, bytes | None, bytes | None]) -> Change:
    revision, key, deleted, created, value, previous = row
    kind = ChangeType.DELETE if deleted else ChangeType.PUT
    return Change(kind, key.decode(), value or b"", previous, revision, created)
