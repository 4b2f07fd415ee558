"""A monitor: one task per member cluster that keeps an `Observation` of it current.

Life of a monitor (until `stop`):
1. Connect: list the nodes (the reachability check), list CRDs, discover which
   wanted custom resources are served; publish the observation (reachable).
2. Follow: watch nodes and CRDs (a CRD event triggers discovery again), and probe
   `/version` every `probe_interval` seconds, since a watch through a silent network
   partition would notice nothing for minutes. A failed probe publishes the cluster
   unreachable at once; a failed watch does not (load balancers cut long requests):
   the monitor reconnects, and only a failed reconnect says unreachable.
3. After a failure, wait (jittered exponential backoff, reset by a successful
   connect) and connect again.
A cluster whose credentials may not list or watch CRDs is still monitored: discovery
then runs again at each probe instead. `changed()` is called after every change of
the observation; the monitor never touches the Krake API. Every call has the
connection's timeouts, so a hanging cluster holds up only its own monitor.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Set
from dataclasses import dataclass, field
from typing import Any

import structlog

from krake.core.v1 import metadata_pb2
from krake_api.config import tunable
from krake_controllers.kube.connection import Connection, KubeError, Unreachable
from krake_controllers.kubernetes_cluster import discovery, health, paths
from krake_controllers.kubernetes_cluster.mirror import Mirror
from krake_controllers.runtime.backoff import Backoff

log = structlog.get_logger(__name__)
Code = metadata_pb2.Reason.Code
FORBIDDEN_OR_ABSENT = frozenset({401, 403, 404})


@dataclass(frozen=True, slots=True)
class Timing:
    """The monitors' tunables (tests shorten them)."""

    probe_interval: float = tunable(
        10.0, "seconds between reachability probes while a cluster answers"
    )
    # Waits between connection attempts while it does not.
    backoff: Backoff = field(default_factory=lambda: Backoff(base=1.0, cap=60.0))
    # (connect, read) seconds for one request.
    timeout: tuple[float, float] = (3.0, 10.0)
    watch_seconds: int = tunable(
        240, "server-side lifetime of one watch of a cluster's nodes (then reopened)"
    )


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a cluster is not reachable, as a `Reason` of the Cluster's status."""

    code: Code.ValueType
    message: str

    @classmethod
    def of(cls, err: KubeError) -> Problem:
        code = Code.CLUSTER_NOT_REACHABLE if isinstance(err, Unreachable) else Code.KUBERNETES_ERROR
        return cls(code, str(err))


class ProbeFailed(Exception):
    """The periodic reachability check failed: the cluster is unreachable."""

    def __init__(self, error: KubeError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class Observation:
    """What a monitor last saw of its cluster."""

    reachable: bool | None = None  # None: no answer yet
    problem: Problem | None = None  # why it is not reachable
    nodes: tuple[health.Node, ...] = ()  # last seen, kept while unreachable
    wanted: frozenset[str] = frozenset()  # the custom resources `served` answers for
    served: frozenset[str] | None = None  # None: not discovered yet


class Monitor:
    def __init__(
        self,
        name: str,
        connection: Connection,
        wanted: Set[str],
        changed: Callable[[], None],
        timing: Timing,
    ) -> None:
        self.name, self.connection, self.timing = name, connection, timing
        self.observation = Observation(wanted=frozenset(wanted))
        self._wanted = frozenset(wanted)
        self._changed = changed
        self._rediscover = asyncio.Event()
        self._crds_watched = False
        self._task: asyncio.Task[None] | None = None
        api = connection.api_client
        self._nodes = Mirror(
            connection,
            paths.collection(api, paths.NODES),
            self._nodes_changed,
            watch_seconds=timing.watch_seconds,
        )
        self._crds = Mirror(
            connection,
            paths.collection(api, paths.CRDS),
            self._rediscover.set,
            watch_seconds=timing.watch_seconds,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"cluster-monitor {self.name}")

    def want(self, wanted: Set[str]) -> None:
        """Discover these custom resources from now on."""
        if frozenset(wanted) != self._wanted:
            self._wanted = frozenset(wanted)
            self._rediscover.set()

    async def stop(self) -> None:
        """End the task (and with it every watch), then close the connection."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.connection.close()

    def _observe(self, **changes: Any) -> None:
        new = dataclasses.replace(self.observation, **changes)
        if new != self.observation:
            self.observation = new
            self._changed()

    async def _run(self) -> None:
        failures = 0
        while True:
            connected = False
            try:
                await self._connect()
                connected, failures = True, 0
                await self._follow()
            except ProbeFailed as failed:
                self._unreachable(failed.error)
            except KubeError as err:
                if connected:  # a lost watch: only a failed reconnect says unreachable
                    log.info("cluster.watch_lost", cluster=self.name, error=str(err))
                else:
                    self._unreachable(err)
            except Exception as err:  # a bug or an answer we cannot read: retry, said
                log.exception("cluster.monitor_failed", cluster=self.name)
                self._observe(reachable=False, problem=Problem(Code.INTERNAL_ERROR, repr(err)))
            pause = self.timing.backoff.delay(failures)
            failures += 1
            await asyncio.sleep(pause)

    def _unreachable(self, err: KubeError) -> None:
        log.info("cluster.unreachable", cluster=self.name, error=str(err))
        self._observe(reachable=False, problem=Problem.of(err))

    async def _connect(self) -> None:
        await self._nodes.list()
        try:
            await self._crds.list()
            self._crds_watched = True
        except KubeError as err:
            if isinstance(err, Unreachable) or err.status not in FORBIDDEN_OR_ABSENT:
                raise
            self._crds_watched = False
        self._rediscover.clear()  # before reading `_wanted`: a later `want` sets it again
        wanted = self._wanted
        served = await discovery.served(self.connection, wanted)
        self._observe(
            reachable=True,
            problem=None,
            nodes=self._node_states(),
            wanted=wanted,
            served=served,
        )
        log.info("cluster.connected", cluster=self.name, nodes=len(self._nodes.objects))

    async def _follow(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._nodes.follow())
                if self._crds_watched:
                    group.create_task(self._follow_crds())
                group.create_task(self._discover_when_asked())
                group.create_task(self._probe())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None

    async def _follow_crds(self) -> None:
        try:
            await self._crds.follow()
        except KubeError as err:
            if isinstance(err, Unreachable) or err.status not in FORBIDDEN_OR_ABSENT:
                raise
            self._crds_watched = False  # may list but not watch: discover at each probe

    async def _probe(self) -> None:
        while True:
            await asyncio.sleep(self.timing.probe_interval)
            try:
                await self.connection.call(paths.fetch, self.connection.api_client, paths.VERSION)
            except KubeError as err:
                raise ProbeFailed(err) from err
            if not self._crds_watched:
                self._rediscover.set()

    async def _discover_when_asked(self) -> None:
        while True:
            await self._rediscover.wait()
            self._rediscover.clear()
            wanted = self._wanted
            served = await discovery.served(self.connection, wanted)
            self._observe(wanted=wanted, served=served)

    def _nodes_changed(self) -> None:
        if self.observation.reachable:
            self._observe(nodes=self._node_states())

    def _node_states(self) -> tuple[health.Node, ...]:
        return tuple(health.node_of(obj) for _, obj in sorted(self._nodes.objects.items()))
