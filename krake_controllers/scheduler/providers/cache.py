"""The fetcher: provider values cached per (provider, metric) for a TTL.

Invariants:
- Within `ttl` seconds of a fetch, the same (provider, metric) is answered from the
  cache, failures included: scheduling N applications costs one fetch per metric,
  not N, and an unreachable provider costs one timeout per TTL, not one per app.
- Concurrent askers of the same (provider, metric) share one in-flight fetch.
- The provider's identity includes its spec, so a changed provider is asked again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiohttp
import structlog

from krake_controllers.scheduler.providers.base import MetricFailure, Unreachable
from krake_controllers.scheduler.providers.table import FETCHERS

log = structlog.get_logger(__name__)


class ProviderId(NamedTuple):
    kind: str  # MetricsProvider or GlobalMetricsProvider
    namespace: str
    name: str
    spec: bytes  # the serialized spec


def provider_id(provider: Any) -> ProviderId:
    meta = provider.metadata
    kind = provider.kind or provider.DESCRIPTOR.name
    spec = provider.spec.SerializeToString(deterministic=True)
    return ProviderId(kind, meta.namespace, meta.name, spec)


@dataclass(slots=True)
class Entry:
    expires: float
    outcome: asyncio.Future[float]


@dataclass
class Fetcher:
    ttl: float = 10.0
    timeout: float = 5.0
    clock: Callable[[], float] = time.monotonic
    fetches: int = 0  # requests sent to providers, for observability
    _entries: dict[tuple[ProviderId, str], Entry] = field(default_factory=dict)
    _session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def settled(self, provider: Any, metric: str) -> float | MetricFailure | None:
        """The cached outcome of `value`, when it is fresh and known already (None:
        `value` would fetch or wait): a caller with many cached metrics needs no task."""
        entry = self._entries.get((provider_id(provider), metric))
        if entry is None or entry.expires <= self.clock() or not entry.outcome.done():
            return None
        failure = entry.outcome.exception()
        if failure is None:
            return entry.outcome.result()
        return failure if isinstance(failure, MetricFailure) else None

    async def value(self, provider: Any, metric: str) -> float:
        """The metric's value at `provider` (a [Global]MetricsProvider), or the
        `MetricFailure` that fetching it raised, possibly from the cache."""
        key = (provider_id(provider), metric)
        now = self.clock()
        entry = self._entries.get(key)
        if entry is None or entry.expires <= now:
            outcome = asyncio.get_running_loop().create_future()
            entry = self._entries[key] = Entry(now + self.ttl, outcome)
            self._expire(now)
            try:
                outcome.set_result(await self._fetch(provider, metric))
            except MetricFailure as err:
                outcome.set_exception(err)
            except BaseException:  # cancelled (or a bug): waiters must not hang
                del self._entries[key]
                outcome.set_exception(Unreachable(f"the fetch of {metric!r} was abandoned"))
                outcome.exception()
                raise
        return await asyncio.shield(entry.outcome)

    async def _fetch(self, provider: Any, metric: str) -> float:
        member = provider.spec.WhichOneof("type")
        self.fetches += 1
        try:
            if member not in FETCHERS:
                raise Unreachable(f"provider {provider.metadata.name!r} has no type")
            config = getattr(provider.spec, member)
            return await FETCHERS[member](self.session(), config, metric, self.timeout)
        except MetricFailure as err:
            log.info("metrics.fetch_failed", provider=provider.metadata.name, metric=metric,
                     code=err.code, error=err.message)  # fmt: skip
            raise

    def _expire(self, now: float) -> None:
        if len(self._entries) > 4096:
            for key in [k for k, e in self._entries.items() if e.expires <= now]:
                del self._entries[key]
