"""The cluster controller's reconciler: one monitor per Cluster with a kubeconfig,
and the Cluster's status kept equal to what that monitor observes.

- A Cluster with a kubeconfig gets a `Monitor` (monitor.py) on a connection of its
  own; a changed kubeconfig replaces monitor and connection (the state goes back to
  CONNECTING); a changed `spec.custom_resources` only triggers discovery again.
- A kubeconfig the client cannot load makes the Cluster OFFLINE with reason
  INVALID_RESOURCE, until the spec changes.
- A Cluster without a kubeconfig (one the infrastructure controller is to create),
  a deleted-marked one and a gone one have no monitor: stopping it ends its watches
  and closes its connection. A deleted-marked Cluster loses `FINALIZER` if it has
  it. This controller adds no finalizer: it holds nothing a restart would leak,
  since monitors live only in memory.
- Reconciling never waits for a member cluster: monitors run on their own and
  enqueue their cluster's key when their observation changes, so one hanging
  cluster delays no other. Status writes are compare-and-swap on the cached
  resource_version; after a conflict the write is tried once more on the live
  object, then the runtime retries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Set
from typing import Any, Final

import grpc
import grpc.aio
import kubernetes.config
import structlog

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_api.structs import to_dict
from krake_controllers.kube.connection import Connection, fingerprint
from krake_controllers.kubernetes_cluster import status
from krake_controllers.kubernetes_cluster.monitor import Monitor, Observation, Problem, Timing
from krake_controllers.runtime.client import Client, unless_gone
from krake_controllers.runtime.controller import Result
from krake_controllers.runtime.informer import Informer

log = structlog.get_logger(__name__)
Cluster = kubernetes_pb2.Cluster
FINALIZER: Final = "kubernetes-cluster"
CONNECTION_WORKERS: Final = 4
"""Threads for one cluster's calls (its watches have threads of their own)."""


class InvalidKubeconfig(Exception):
    pass


class Monitors:
    """The running monitors by cluster key (each owns its connection)."""

    def __init__(self, changed: Callable[[str], None], timing: Timing) -> None:
        self.changed, self.timing = changed, timing
        self._running: dict[str, Monitor] = {}

    def __iter__(self) -> Iterator[Monitor]:
        return iter(list(self._running.values()))

    def __len__(self) -> int:
        return len(self._running)

    async def ensure(self, key: str, kubeconfig: Mapping[str, Any], wanted: Set[str]) -> Monitor:
        """The monitor of `key` for this kubeconfig: the running one, or a new one."""
        current = self._running.get(key)
        if current is not None and current.connection.fingerprint == fingerprint(kubeconfig):
            current.want(wanted)
            return current
        await self.stop(key)
        try:
            connection = Connection(
                kubeconfig, workers=CONNECTION_WORKERS, timeout=self.timing.timeout
            )
        except (kubernetes.config.ConfigException, KeyError, TypeError, ValueError) as err:
            raise InvalidKubeconfig(f"kubeconfig: {err}") from None
        changed = functools.partial(self.changed, key)
        monitor = Monitor(key, connection, wanted, changed, self.timing)
        monitor.start()
        self._running[key] = monitor
        log.info("cluster.monitoring", cluster=key, replaced=current is not None)
        return monitor

    async def stop(self, key: str) -> None:
        monitor = self._running.pop(key, None)
        if monitor is not None:
            await monitor.stop()
            log.info("cluster.released", cluster=key)

    async def close(self) -> None:
        for key in list(self._running):
            await self.stop(key)


class ClusterReconciler:
    def __init__(self, client: Client, informer: Informer, monitors: Monitors) -> None:
        self.client, self.informer, self.monitors = client, informer, monitors
        self.clusters = client.kind(registry.KINDS["Cluster"])

    async def reconcile(self, key: str) -> Result:
        cluster: Cluster | None = self.informer.get(key)
        if cluster is None or cluster.metadata.HasField("deleted"):
            await self.monitors.stop(key)
            if cluster is not None and FINALIZER in cluster.metadata.finalizers:
                await self._release(cluster)
            return Result()
        if not cluster.spec.kubeconfig.fields:
            await self.monitors.stop(key)
            return Result()
        wanted = frozenset(cluster.spec.custom_resources)
        try:
            monitor = await self.monitors.ensure(key, to_dict(cluster.spec.kubeconfig), wanted)
            observation = monitor.observation
        except InvalidKubeconfig as err:
            problem = Problem(metadata_pb2.Reason.INVALID_RESOURCE, str(err))
            observation = Observation(reachable=False, problem=problem, wanted=wanted)
        await self._record(cluster, observation)
        return Result()

    async def _record(self, cluster: Cluster, observation: Observation) -> None:
        """Write the status `observation` calls for. A conflict (ABORTED) on an
        unchanged spec means our cache lags behind our own last write: try once more
        on the live object. A changed spec is left to the reconcile its event brings."""
        for attempt in (1, 2):
            new = status.desired(cluster, observation)
            if new == cluster.status:
                return
            try:
                await self._write(cluster, new)
                return
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.ABORTED or attempt == 2:
                    raise
            meta = cluster.metadata
            live: Cluster | None = await unless_gone(self.clusters.get(meta.namespace, meta.name))
            if live is None or live.metadata.generation != meta.generation:
                return
            cluster = live

    async def _write(self, cluster: Cluster, new_status: Cluster.Status) -> None:
        new = Cluster()
        new.CopyFrom(cluster)
        new.status.CopyFrom(new_status)
        await unless_gone(self.clusters.update_status(new))
        if new_status.state != cluster.status.state:
            log.info(
                "cluster.state",
                cluster=f"{cluster.metadata.namespace}/{cluster.metadata.name}",
                state=Cluster.Status.State.Name(new_status.state),
                reason=new_status.reason.message,
            )

    async def _release(self, cluster: Cluster) -> None:
        new = Cluster()
        new.CopyFrom(cluster)
        new.metadata.ClearField("finalizers")
        new.metadata.finalizers.extend(f for f in cluster.metadata.finalizers if f != FINALIZER)
        await unless_gone(self.clusters.update(new))
