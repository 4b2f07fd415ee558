"""Leader election through a `Lease` object in the API (compare-and-swap on its
resource_version), with client-go's timing rules.

- A replica acquires the lease when it does not exist, has no holder, or its record
  has not changed for `lease_duration` seconds *as observed by this replica* (local
  monotonic time, so clock skew between machines does not matter).
- The leader renews every `retry_period`; when it has not renewed successfully for
  `renew_deadline` seconds, or sees another holder, it steps down at once: its work
  is cancelled before anyone else can acquire (renew_deadline < lease_duration).
- On shutdown the leader releases the lease (empty holder), so a standby takes over
  within one retry period instead of waiting for expiry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import grpc
import grpc.aio
import structlog

from krake.core.v1 import core_pb2
from krake_controllers.runtime.client import KindClient

log = structlog.get_logger(__name__)


class LeaderElector:
    def __init__(
        self,
        leases: KindClient,
        name: str,
        identity: str,
        *,
        namespace: str = "krake-system",
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")
        self.leases, self.name, self.identity = leases, name, identity
        self.namespace = namespace
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.on_change = on_change
        self.leading = False
        self.holder = ""
        self._observed_version = ""
        self._observed_at = 0.0

    async def run(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign; lead by running `work` until it returns (then release) or the
        lease is lost (then cancel it and campaign again)."""
        working: asyncio.Task[None] | None = None
        renewing: asyncio.Task[None] | None = None
        try:
            while True:
                await self._acquire()
                working = asyncio.create_task(work())
                renewing = asyncio.create_task(self._renew())
                await asyncio.wait((working, renewing), return_when=asyncio.FIRST_COMPLETED)
                if working.done():
                    working.result()  # the work's own error, if any
                    return
                renewing.result()  # a bug in renewing, if any
                await self._stop(working)
                self._set(False)
        finally:
            for task in (working, renewing):
                if task is not None:
                    await self._stop(task)
            if self.leading:
                await asyncio.shield(self._release())

    @staticmethod
    async def _stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            log.info("leader.changed", lease=self.name, identity=self.identity, leading=leading)
            if self.on_change:
                self.on_change(leading)

    def _pause(self) -> float:
        return self.retry_period * (1 + 0.2 * random.random())

    async def _acquire(self) -> None:
        while not await self._try():
            await asyncio.sleep(self._pause())
        self._set(True)

    async def _renew(self) -> None:
        """Returns when the lease is lost."""
        loop = asyncio.get_running_loop()
        renewed = loop.time()
        while True:
            await asyncio.sleep(self.retry_period)
            left = self.renew_deadline - (loop.time() - renewed)
            try:
                async with asyncio.timeout(max(left, 0.001)):
                    held = await self._try()
            except TimeoutError:
                held = False
            if held:
                renewed = loop.time()
            elif (self.holder and self.holder != self.identity) or loop.time() - renewed >= (
                self.renew_deadline
            ):
                log.warning("leader.lost", lease=self.name, holder=self.holder)
                return

    def _observe(self, lease: Any) -> None:
        self.holder = lease.spec.holder
        if lease.metadata.resource_version != self._observed_version:
            self._observed_version = lease.metadata.resource_version
            self._observed_at = asyncio.get_running_loop().time()

    def _expired(self, lease: Any) -> bool:
        duration: float = lease.spec.duration.ToTimedelta().total_seconds()
        return asyncio.get_running_loop().time() > self._observed_at + duration

    async def _try(self) -> bool:
        """One attempt to acquire or renew; True if this replica holds the lease."""
        try:
            lease = await self.leases.get(self.namespace, self.name)
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                log.info("leader.unreachable", lease=self.name, code=err.code().name)
                return False
            lease = core_pb2.Lease()
            lease.metadata.name, lease.metadata.namespace = self.name, self.namespace
            return await self._write(self.leases.create, lease)
        self._observe(lease)
        taken = bool(lease.spec.holder) and lease.spec.holder != self.identity
        if taken and not self._expired(lease):
            return False
        return await self._write(self.leases.update, lease)

    async def _write(self, write: Callable[[Any], Awaitable[Any]], lease: Any) -> bool:
        now = datetime.now(UTC)
        if lease.spec.holder != self.identity:
            lease.spec.holder = self.identity
            lease.spec.acquired.FromDatetime(now)
        lease.spec.renewed.FromDatetime(now)
        lease.spec.duration.FromNanoseconds(int(self.lease_duration * 1e9))
        try:
            self._observe(await write(lease))
        except grpc.aio.AioRpcError as err:  # lost a race (ABORTED/ALREADY_EXISTS) or no API
            log.debug("leader.write_failed", lease=self.name, code=err.code().name)
            return False
        return True

    async def _release(self) -> None:
        try:
            lease = await self.leases.get(self.namespace, self.name)
            if lease.spec.holder == self.identity:
                lease.spec.holder = ""
                await self.leases.update(lease)
        except grpc.aio.AioRpcError as err:
            log.warning("leader.release_failed", lease=self.name, code=err.code().name)
        self._set(False)
