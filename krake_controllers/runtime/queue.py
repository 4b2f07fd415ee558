"""The work queue of a controller, with client-go's invariants.

- A key is queued at most once however often it is added (`dirty`).
- A key being processed (`get` returned it, `done` not yet called) is never handed
  to a second worker; if it is added meanwhile, it is queued again by `done`, so
  the change is processed after the current reconcile, not concurrently with it.
- `add_after(key, delay)` adds the key later; of several pending delays for one key
  the earliest wins.
- Periodic re-checks (`add_after(..., periodic=True)`, a reconcile's
  `requeue_after`) wait in a second lane, behind every change: a thousand apps due
  for re-evaluation do not delay the one just created. A change to a key waiting
  there moves it to the first lane; one periodic key is still handed out after
  every `FAIRNESS` changes, so that a flood of changes cannot starve re-checks.
- `add_rate_limited(key)` is `add_after` with the limiter's delay: per-key
  exponential backoff (5 ms doubling to 5 min by default) and a global token bucket
  (10 per second, burst 100), whichever is later. `forget(key)` resets the key's
  backoff after a success.
- `shutdown()` refuses new keys; `get` returns None once the queue is empty, and
  `drain()` waits until every key being processed is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
FAIRNESS: Final = 10


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `burst` saved; `reserve` says how long to wait."""

    rate: float = 10.0
    burst: int = 100
    tokens: float = field(init=False)
    updated: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def reserve(self, now: float) -> float:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclass
class RateLimiter(Generic[K]):
    """Per-key exponential backoff combined with a global token bucket."""

    base: float = 0.005
    cap: float = 300.0
    bucket: TokenBucket = field(default_factory=TokenBucket)
    failures: dict[K, int] = field(default_factory=dict)

    def when(self, key: K, now: float) -> float:
        failures = self.failures.get(key, 0)
        self.failures[key] = failures + 1
        backoff: float = min(self.cap, self.base * 2.0 ** min(failures, 64))
        return max(backoff, self.bucket.reserve(now))

    def forget(self, key: K) -> None:
        self.failures.pop(key, None)

    def retries(self, key: K) -> int:
        return self.failures.get(key, 0)


class WorkQueue(Generic[K]):
    def __init__(self, limiter: RateLimiter[K] | None = None) -> None:
        self.limiter: RateLimiter[K] = limiter or RateLimiter()
        self._queue: dict[K, None] = {}  # changes, in order (an ordered set)
        self._periodic: dict[K, None] = {}  # periodic re-checks, in order
        self._served_ahead = 0  # changes handed out while re-checks waited
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self.shutting_down = False

    def __len__(self) -> int:
        return len(self._queue) + len(self._periodic)

    def add(self, key: K, *, periodic: bool = False) -> None:
        if self.shutting_down:
            return
        if key in self._dirty:
            if not periodic and key in self._periodic:  # a change overtakes its re-check
                del self._periodic[key]
                self._queue[key] = None
            return
        self._dirty.add(key)
        if key in self._processing:
            return  # `done` queues it again
        (self._periodic if periodic else self._queue)[key] = None
        self._wake()

    def add_after(self, key: K, delay: float, *, periodic: bool = False) -> None:
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(key, periodic=periodic)
            return
        loop = asyncio.get_running_loop()
        pending = self._timers.get(key)
        if pending is not None:
            if pending.when() <= loop.time() + delay:
                return
            pending.cancel()
        self._timers[key] = loop.call_later(delay, self._fire, key, periodic)

    def _fire(self, key: K, periodic: bool) -> None:
        self._timers.pop(key, None)
        self.add(key, periodic=periodic)

    def add_rate_limited(self, key: K) -> None:
        self.add_after(key, self.limiter.when(key, asyncio.get_running_loop().time()))

    def forget(self, key: K) -> None:
        self.limiter.forget(key)

    def retries(self, key: K) -> int:
        return self.limiter.retries(key)

    async def get(self) -> K | None:
        """The next key to process, or None once shut down and empty."""
        while not self._queue and not self._periodic:
            if self.shutting_down:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        lane = self._queue
        if not lane or (self._periodic and self._served_ahead >= FAIRNESS):
            lane, self._served_ahead = self._periodic, 0
        elif self._periodic:
            self._served_ahead += 1
        key = next(iter(lane))
        del lane[key]
        self._processing.add(key)
        self._dirty.discard(key)
        self._idle.clear()
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue[key] = None
            self._wake()
        if not self._processing:
            self._idle.set()

    def processing(self) -> frozenset[K]:
        return frozenset(self._processing)

    def shutdown(self) -> None:
        self.shutting_down = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._wake()

    async def drain(self) -> None:
        """After `shutdown`: wait until no key is being processed."""
        await self._idle.wait()

    def _wake(self) -> None:
        """Wake every waiting `get`; those that find the queue empty wait again."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
