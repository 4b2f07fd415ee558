"""The etcd backend: the Store protocol over etcd's v3 gRPC API.

It uses the generated etcdserverpb stubs and messages of `aetcd.rpc` over our own
`grpc.aio` channels (aetcd's client has neither TLS nor several endpoints). One
channel per member, fail-over and the retry policy live in `etcd_endpoints`; the
watch stream and its resumption in `etcd_watch`.

Every op of a `txn` is guarded by compares in one etcd Txn: Create by
`create_revision == 0`, Replace and Delete-with-expect by `version > 0` and
`mod_revision == expect`, Delete by `version > 0`. When a compare fails, the
failure branch reads each guarded key, so the first failing op is named exactly.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import grpc.aio
from aetcd import rpc

from krake_api.storage import etcd_watch
from krake_api.storage.base import (
    DEFAULT_TIMEOUT,
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
    Put,
    Replace,
    RevisionMismatch,
    SingleOps,
    StorageError,
    TooLarge,
    WatchEvent,
    check_ops,
)
from krake_api.storage.etcd_endpoints import (
    METADATA,
    Endpoints,
    EtcdFailure,
    Member,
    Rejected,
    TlsConfig,
)

__all__ = ["EtcdStore", "TlsConfig"]


class EtcdStore(SingleOps):
    """A Store on an etcd cluster; see the module docstring."""

    def __init__(self, endpoints: Endpoints) -> None:
        self._endpoints = endpoints

    @classmethod
    async def connect(
        cls,
        endpoints: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        tls: TlsConfig | None = None,
    ) -> EtcdStore:
        """A store on the etcd members at `endpoints` ("host:port").

        No request is made yet: an unreachable cluster raises `Unavailable` from
        the first call, within `timeout`.
        """
        return cls(Endpoints([Member.open(e, tls) for e in endpoints], timeout))

    async def close(self) -> None:
        await self._endpoints.close()

    async def get(self, key: str) -> Entry | None:
        response = await self._range(rpc.RangeRequest(key=key.encode()))
        return _entry(response.kvs[0]) if response.kvs else None

    async def range(
        self, prefix: str, *, start_after: str = "", limit: int = 0, revision: int = 0
    ) -> Page:
        start = prefix.encode() or b"\0"
        if start_after:
            start = max(start, start_after.encode() + b"\0")
        request = rpc.RangeRequest(
            key=start,
            range_end=etcd_watch.prefix_end(prefix.encode()),
            limit=limit,
            revision=revision,
        )
        response = await self._range(request)
        entries = [_entry(kv) for kv in response.kvs]
        return Page(entries, revision or response.header.revision, response.more)

    async def revision(self) -> int:
        response = await self._range(rpc.RangeRequest(key=b"\0", count_only=True))
        return int(response.header.revision)

    async def txn(self, ops: Sequence[Op]) -> int:
        check_ops(ops)
        guarded = [op for op in ops if not isinstance(op, Put)]
        request = rpc.TxnRequest(
            compare=[compare for op in guarded for compare in _compares(op)],
            success=[_request(op) for op in ops],
            failure=[_read_back(op.key) for op in guarded],
        )
        response = await self._write(
            lambda m, t: m.kv.Txn(request, timeout=t, metadata=METADATA), ops
        )
        if response.succeeded:
            return int(response.header.revision)
        for op, result in zip(guarded, response.responses, strict=True):
            if error := _failure(op, result.response_range.kvs):
                raise error
        raise StorageError(f"etcd refused the transaction on {[op.key for op in ops]}")

    async def put(self, key: str, value: bytes, *, lease: int = 0) -> int:
        check_ops([Put(key, value, lease)])
        request = rpc.PutRequest(key=key.encode(), value=value, lease=lease)
        response = await self._write(
            lambda m, t: m.kv.Put(request, timeout=t, metadata=METADATA), [Put(key, value, lease)]
        )
        return int(response.header.revision)

    def watch(
        self, prefix: str, *, after: int, progress_interval: float | None = None
    ) -> AsyncGenerator[WatchEvent, None]:
        watch = etcd_watch.Watch(
            self._endpoints, prefix, after=after, progress_interval=progress_interval
        )
        return watch.events()

    async def compact(self, revision: int) -> None:
        request = rpc.CompactionRequest(revision=revision, physical=True)
        try:
            await self._endpoints.call(
                lambda m, t: m.kv.Compact(request, timeout=t, metadata=METADATA),
                idempotent=True,  # compacting twice to one revision is a no-op here
            )
        except Rejected as err:
            error = await self._revision_error(err, revision)
            if not (isinstance(error, Compacted) and error.compacted == revision):
                raise error from None

    async def grant(self, ttl: int) -> int:
        request = rpc.LeaseGrantRequest(TTL=ttl)
        response = await self._write(
            lambda m, t: m.lease.LeaseGrant(request, timeout=t, metadata=METADATA), []
        )
        if response.error:
            raise StorageError(f"etcd refused a lease: {response.error}")
        return int(response.ID)

    async def keepalive(self, lease: int) -> int:
        async def once(member: Member, timeout: float) -> int:
            call = member.lease.LeaseKeepAlive(timeout=timeout, metadata=METADATA)
            try:
                await etcd_watch.send(call, rpc.LeaseKeepAliveRequest(ID=lease))
                response = await call.read()
            finally:
                call.cancel()
            if response is grpc.aio.EOF:
                raise StorageError(f"etcd ended the keepalive of lease {lease}")
            return int(response.TTL)

        ttl = await self._endpoints.call(once, idempotent=True)
        if ttl <= 0:
            raise LeaseNotFound(lease)
        return ttl

    async def revoke(self, lease: int) -> None:
        request = rpc.LeaseRevokeRequest(ID=lease)
        await self._write(
            lambda m, t: m.lease.LeaseRevoke(request, timeout=t, metadata=METADATA), [], lease
        )

    async def _range(self, request: Any) -> Any:
        try:
            return await self._endpoints.call(
                lambda m, t: m.kv.Range(request, timeout=t, metadata=METADATA), idempotent=True
            )
        except Rejected as err:
            raise await self._revision_error(err, request.revision) from None

    async def _write(self, send: Any, ops: Sequence[Op], lease: int = 0) -> Any:
        """Send a write once (resent only when etcd surely did not get it)."""
        try:
            return await self._endpoints.call(send, idempotent=False)
        except Rejected as err:
            if err.failure is EtcdFailure.LEASE_NOT_FOUND:
                leases = [op.lease for op in ops if not isinstance(op, Delete) and op.lease]
                raise LeaseNotFound(lease or (leases or [0])[0]) from None
            if err.failure is EtcdFailure.TOO_LARGE and ops:
                sizes = [(len(op.value), op.key) for op in ops if not isinstance(op, Delete)]
                size, key = max(sizes or [(0, ops[0].key)])
                raise TooLarge(key, size) from None
            raise

    async def _revision_error(self, err: Rejected, revision: int) -> StorageError:
        if err.failure is EtcdFailure.COMPACTED:
            compacted = await etcd_watch.compacted_revision(self._endpoints, revision)
            return Compacted(revision, compacted)
        if err.failure is EtcdFailure.FUTURE_REVISION:
            return FutureRevision(revision, await self.revision())
        return err


def _entry(kv: Any) -> Entry:
    return Entry(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision, kv.lease)


def _compares(op: Op) -> list[Any]:
    key = op.key.encode()
    if isinstance(op, Create):
        return [rpc.Compare(key=key, target=rpc.Compare.CREATE, create_revision=0)]
    exists = rpc.Compare(key=key, target=rpc.Compare.VERSION, result=rpc.Compare.GREATER)
    if isinstance(op, Put) or op.expect is None:
        return [exists]
    return [exists, rpc.Compare(key=key, target=rpc.Compare.MOD, mod_revision=op.expect)]


def _request(op: Op) -> Any:
    key = op.key.encode()
    if isinstance(op, Delete):
        return rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=key))
    put = rpc.PutRequest(key=key, value=op.value, lease=op.lease)
    return rpc.RequestOp(request_put=put)


def _read_back(key: str) -> Any:
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=key.encode(), keys_only=True))


def _failure(op: Op, kvs: Sequence[Any]) -> StorageError | None:
    """The error `op` fails with, given its key as read in the failed Txn."""
    actual = kvs[0].mod_revision if kvs else 0
    if isinstance(op, Create):
        return KeyExists(op.key) if kvs else None
    if isinstance(op, Replace | Delete) and op.expect is not None:
        return (
            RevisionMismatch(op.key, op.expect, actual) if actual != op.expect or not kvs else None
        )
    return None if kvs else KeyNotFound(op.key)
