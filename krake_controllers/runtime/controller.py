"""A controller: informers feed keys to a work queue, N workers reconcile them.

The worker loop is the only `except` ladder of krake_controllers: a reconciler
returns a `Result` (optionally asking to be called again later), raises
`Terminal` for a failure retrying cannot fix (logged, not retried), or raises
anything else to be retried with the queue's per-key backoff. With a leader
elector, the informers run (warm caches) on every replica, the workers only on
the leader, and they stop the moment leadership is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog

from krake_controllers.runtime.informer import Informer
from krake_controllers.runtime.leader import LeaderElector
from krake_controllers.runtime.metrics import ControllerMetrics
from krake_controllers.runtime.queue import WorkQueue

log = structlog.get_logger(__name__)
K = TypeVar("K")
K_contra = TypeVar("K_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class Result:
    requeue_after: float = 0.0  # seconds; 0: only when something changes


class Terminal(Exception):
    """A failure that retrying cannot fix (bad input, a refused precondition)."""


class Reconciler(Protocol[K_contra]):
    async def reconcile(self, key: K_contra) -> Result: ...


class Controller(Generic[K]):
    def __init__(
        self,
        name: str,
        reconciler: Reconciler[K],
        queue: WorkQueue[K],
        *,
        informers: Sequence[Informer] = (),
        workers: int = 2,
        elector: LeaderElector | None = None,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self.name, self.reconciler, self.queue = name, reconciler, queue
        self.informers = list(informers)
        self.workers = workers
        self.elector = elector
        self.metrics = metrics or ControllerMetrics()
        self.metrics.watch_queue(name, queue)

    async def run(self) -> None:
        """Informers, then workers (as leader, if elected) until `shutdown` has
        drained the queue, or until cancelled."""
        async with asyncio.TaskGroup() as group:
            informing = [group.create_task(i.run()) for i in self.informers]
            await asyncio.gather(*(i.synced.wait() for i in self.informers))
            log.info("controller.synced", controller=self.name)
            if self.elector is None:
                await self._work()
            else:
                await self.elector.run(self._work)
            for task in informing:
                task.cancel()

    def shutdown(self) -> None:
        """Take no new keys; `run` returns once the queued ones are processed."""
        self.queue.shutdown()

    async def _work(self) -> None:
        """The workers, until the queue is shut down and empty (or cancellation)."""
        tasks = [asyncio.create_task(self._worker()) for _ in range(self.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while (key := await self.queue.get()) is not None:
            await self.process(key)

    async def process(self, key: K) -> None:
        started = time.perf_counter()
        outcome = "error"
        bound = structlog.get_logger(__name__).bind(controller=self.name, key=str(key))
        try:
            result = await self.reconciler.reconcile(key)
        except asyncio.CancelledError:
            outcome = "cancelled"
            self.queue.add(key)  # leadership lost mid-reconcile: whoever leads next redoes it
            raise
        except Terminal as err:
            outcome = "terminal"
            bound.warning("reconcile.terminal", error=str(err))
            self.queue.forget(key)
        except Exception:
            bound.exception("reconcile.failed", retries=self.queue.retries(key))
            self.queue.add_rate_limited(key)
        else:
            outcome = "requeue" if result.requeue_after else "success"
            self.queue.forget(key)
            if result.requeue_after:
                self.queue.add_after(key, result.requeue_after, periodic=True)
        finally:
            self.queue.done(key)
            self.metrics.reconciled(self.name, outcome, time.perf_counter() - started)
        bound.debug("reconcile.done", outcome=outcome)

    def enqueue(self, key: Any) -> None:
        self.queue.add(key)
