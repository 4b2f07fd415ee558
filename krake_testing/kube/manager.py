"""The controller manager: runs every simulated controller (namespace, workload,
scheduler/kubelet, add-ons) as level-based sweeps over the store.

Invariants:
- a sweep runs without yielding the event loop, so it sees and writes a consistent
  state; reconcilers read current objects and write only differences;
- a sweep follows every store change (after a short pause that batches bursts) and
  any time a reconciler asked for (`Context.wake_at`, e.g. when a pod becomes ready);
  a converged, idle cluster is not swept and writes nothing;
- a reconciler's failure is logged and retried on a later sweep; it never stops the
  manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from krake_testing.kube import addons, jobs, namespaces, pods, replicas, sets
from krake_testing.kube.context import Context, Timing
from krake_testing.kube.faults import Faults
from krake_testing.kube.store import Event, Object
from krake_testing.kube.verbs import Api

log = logging.getLogger(__name__)
Reconciler = Callable[[Context, Object], None]

# Owners before what they own, so one sweep carries a change down the chain.
RECONCILERS: Final[tuple[tuple[str, Reconciler], ...]] = (
    ("Namespace", namespaces.namespace),
    ("Deployment", replicas.deployment),
    ("StatefulSet", sets.stateful_set),
    ("DaemonSet", sets.daemon_set),
    ("Job", jobs.job),
    ("ReplicaSet", replicas.replica_set),
    ("Pod", pods.reconcile),
    ("Service", addons.service),
    ("PersistentVolumeClaim", addons.claim),
)
BATCH: Final = 0.002  # seconds to let a burst of changes land before sweeping
RETRY: Final = 0.05


class ControllerManager:
    def __init__(self, api: Api, timing: Timing, faults: Faults, *, host: str) -> None:
        loop = asyncio.get_running_loop()
        self.context = Context(api, timing, faults, loop.time, host)
        self._wake = asyncio.Event()
        self.sweeps = 0
        api.store.listeners.append(self._changed)

    def _changed(self, event: Event) -> None:
        self._wake.set()

    def poke(self) -> None:
        """Sweep soon (after a timing change or an injected fault)."""
        self._wake.set()

    def sweep(self) -> float | None:
        """Reconcile everything once; returns when the next timed sweep is due."""
        ctx = self.context
        ctx.wakeups.clear()
        self.sweeps += 1
        for kind_name, reconcile in RECONCILERS:
            for obj in ctx.items(kind_name):
                try:
                    reconcile(ctx, obj)
                except Exception:
                    log.exception("reconcile %s %s failed", kind_name, obj["metadata"]["name"])
                    ctx.wake_at(ctx.clock() + RETRY)
        live = {p["metadata"]["uid"] for p in ctx.items("Pod")}
        ctx.pods = {uid: clock for uid, clock in ctx.pods.items() if uid in live}
        return min(ctx.wakeups, default=None)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(BATCH)
            self._wake.clear()
            due = self.sweep()
            timeout = None if due is None else max(due - loop.time(), 0)
            # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
