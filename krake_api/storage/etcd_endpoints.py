"""The etcd members a store talks to: one gRPC channel each, fail-over, one retry policy.

Invariants:
- Every call ends within the store's timeout: it returns, raises a storage error,
  or raises `Unavailable`.
- A call is resent to another member only when resending cannot apply it twice:
  reads (idempotent) on any UNAVAILABLE or per-attempt deadline; writes only when
  etcd cannot have received them (no connection was made, or the member refused
  them because it had no leader: etcd checks the `hasleader` metadata before it
  proposes anything). A write whose outcome is unknown raises `Unavailable`.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import grpc
import grpc.aio
import structlog
from aetcd import rpc

from krake_api.storage.base import StorageError, Unavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")

METADATA: Final = (("hasleader", "true"),)
"""Ask etcd to refuse requests (and end watches) on a member without a leader."""

CHANNEL_OPTIONS: Final[Sequence[tuple[str, int]]] = (
    ("grpc.max_send_message_length", 16 * 1024 * 1024),  # etcd refuses > 1.5 MiB itself
    ("grpc.max_receive_message_length", -1),  # a range may return many large values
    ("grpc.keepalive_time_ms", 10_000),  # etcd permits pings every 5 s during calls
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.initial_reconnect_backoff_ms", 100),  # a restarted member is used again soon
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
)

_NEVER_SENT: Final = ("failed to connect to all addresses", "etcdserver: no leader")
"""UNAVAILABLE details that prove etcd did not apply the request."""


class EtcdFailure(enum.Enum):
    """THE table of etcd errors that mean something to the Store: message -> meaning.

    Callers turn the meaning into a storage error with their context (key,
    revision, lease); every other gRPC error becomes `StorageError`.
    """

    COMPACTED = "required revision has been compacted"
    FUTURE_REVISION = "required revision is a future revision"
    LEASE_NOT_FOUND = "requested lease not found"
    TOO_LARGE = "request is too large"


class Rejected(StorageError):
    """etcd answered with an error; `failure` is its meaning, if the table has one."""

    def __init__(self, err: grpc.aio.AioRpcError) -> None:
        details = err.details() or ""
        super().__init__(f"etcd: {err.code().name}: {details}")
        self.failure = next((f for f in EtcdFailure if f.value in details), None)


@dataclass(frozen=True)
class TlsConfig:
    """PEM bytes: the CA to trust, and a client certificate + key for mTLS."""

    ca: bytes
    cert: bytes | None = None
    key: bytes | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class Member:
    """One etcd endpoint with its channel and the stubs over it."""

    endpoint: str
    channel: grpc.aio.Channel
    kv: Any
    lease: Any
    watch: Any

    @classmethod
    def open(cls, endpoint: str, tls: TlsConfig | None) -> Member:
        target = endpoint.removeprefix("http://").removeprefix("https://")
        options: list[tuple[str, int | str]] = list(CHANNEL_OPTIONS)
        if tls is None:
            channel = grpc.aio.insecure_channel(target, options=options)
        else:
            if tls.server_name:
                options.append(("grpc.ssl_target_name_override", tls.server_name))
            credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
            channel = grpc.aio.secure_channel(target, credentials, options=options)
        return cls(
            target, channel, rpc.KVStub(channel), rpc.LeaseStub(channel), rpc.WatchStub(channel)
        )

    def broken(self) -> bool:
        state = self.channel.get_state(try_to_connect=False)
        return bool(state == grpc.ChannelConnectivity.TRANSIENT_FAILURE)


class Endpoints:
    """The members of one etcd cluster; calls go to `current`, which moves on failure."""

    def __init__(self, members: Sequence[Member], timeout: float) -> None:
        if not members:
            raise ValueError("etcd needs at least one endpoint")
        self.members = list(members)
        self.timeout = timeout
        self._current = 0

    @property
    def current(self) -> Member:
        return self.members[self._current]

    def fail_over(self, member: Member, err: BaseException) -> None:
        """Move away from `member` (once, if several calls saw it fail), preferring
        a member whose channel is not known to be broken."""
        if self.current is not member:
            return
        count = len(self.members)
        following = [self.members[(self._current + i) % count] for i in range(1, count + 1)]
        chosen = next((m for m in following if not m.broken()), following[0])
        self._current = self.members.index(chosen)
        reason = err.details() if isinstance(err, grpc.aio.AioRpcError) else str(err)
        if chosen is not member:
            log.info("etcd.failover", endpoint=member.endpoint, to=chosen.endpoint, error=reason)

    async def call(
        self, request: Callable[[Member, float], Awaitable[T]], *, idempotent: bool
    ) -> T:
        """Run `request(member, timeout)` until it succeeds, fails for good, or the
        store's timeout passes; see the module docstring for what is resent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        failures, last_error = 0, None
        while True:
            member = self.current
            left = deadline - loop.time()
            if left <= 0:
                raise self.unavailable(last_error)
            attempt = min(left, max(self.timeout / 3, 0.5)) if idempotent else left
            try:
                return await request(member, attempt)
            except grpc.aio.AioRpcError as err:
                if not is_unavailable(err):
                    raise Rejected(err) from None
                if not retryable(err, idempotent=idempotent):
                    raise self.unavailable(err) from None
                failures, last_error = failures + 1, err
                self.fail_over(member, err)
                await self.pause(failures, deadline, err)

    async def pause(self, failures: int, deadline: float, err: BaseException | None) -> None:
        """Back off once every member failed in turn; `Unavailable` (at once) when
        the back-off would reach `deadline`."""
        left = deadline - asyncio.get_running_loop().time()
        rounds, partial = divmod(failures, len(self.members))
        delay = 0.0 if partial else min(0.05 * 2 ** (rounds - 1), 0.5)
        if delay >= left:
            raise self.unavailable(err)
        await asyncio.sleep(delay)

    def unavailable(self, err: BaseException | None) -> Unavailable:
        reason = f": {err.details()}" if isinstance(err, grpc.aio.AioRpcError) else ""
        endpoints = ",".join(m.endpoint for m in self.members)
        return Unavailable(f"etcd {endpoints} did not answer within {self.timeout}s{reason}")

    async def close(self) -> None:
        await asyncio.gather(*(m.channel.close() for m in self.members))


_TRANSPORT_FAILURES: Final = ("Internal error from Core", "RST_STREAM")
"""INTERNAL details with which gRPC reports a connection that broke mid-call (seen
when the member in use is killed): the member is gone, not refusing the request."""


def is_unavailable(err: grpc.aio.AioRpcError) -> bool:
    if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return True
    details = err.details() or ""
    return err.code() == grpc.StatusCode.INTERNAL and any(s in details for s in _TRANSPORT_FAILURES)


def retryable(err: grpc.aio.AioRpcError, *, idempotent: bool) -> bool:
    if not is_unavailable(err):
        return False
    if idempotent:
        return True
    details = err.details() or ""
    return err.code() == grpc.StatusCode.UNAVAILABLE and any(s in details for s in _NEVER_SENT)
