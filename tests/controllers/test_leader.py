"""Leader election over the API's Lease kind: one leader at a time, fail-over after a
crash within the lease duration, a fast hand-over on a clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from krake_api import registry
from krake_controllers.runtime.client import Client, connect
from krake_controllers.runtime.leader import LeaderElector
from krake_testing.proxy import TcpProxy

LEASE = registry.KINDS["Lease"]
TIMING = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.25}
DEADLINE = 30.0


class Replica:
    """One elector with its own channel, recording when it leads."""

    def __init__(self, name: str, target: str, ns: str, log: list[tuple[float, str, bool]]) -> None:
        self.name = name
        self.channel = connect(target)  # through a proxy the test can cut
        loop = asyncio.get_running_loop()

        def changed(leading: bool) -> None:
            log.append((loop.time(), name, leading))

        leases = Client(self.channel, timeout=2.0).kind(LEASE)
        self.elector = LeaderElector(
            leases, "collector", name, namespace=ns, on_change=changed, **TIMING
        )
        self.done = asyncio.Event()
        self.task = asyncio.create_task(self.elector.run(self.done.wait))

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.channel.close()


async def until(condition: Callable[[], Any]) -> float:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(DEADLINE):
        while not condition():
            await asyncio.sleep(0.01)
    return loop.time()


def no_overlap(log: list[tuple[float, str, bool]]) -> bool:
    leaders: set[str] = set()
    for _, name, leading in log:
        (leaders.add if leading else leaders.discard)(name)
        if len(leaders) > 1:
            return False
    return True


async def test_one_leader_then_fail_over_after_a_crash(
    api_target: str, client: Client, ns: str
) -> None:
    log: list[tuple[float, str, bool]] = []
    proxy = TcpProxy(api_target)
    first = Replica("first", await proxy.start(), ns, log)
    await until(lambda: first.elector.leading)
    second = Replica("second", api_target, ns, log)
    leases = client.kind(LEASE)
    try:
        renewals: set[str] = set()

        async def renewed_a_few_times() -> None:
            while len(renewals) < 4:
                renewals.add((await leases.get(ns, "collector")).metadata.resource_version)
                await asyncio.sleep(0.05)

        async with asyncio.timeout(DEADLINE):
            await renewed_a_few_times()
        assert not second.elector.leading  # a live leader keeps its lease
        assert (await leases.get(ns, "collector")).spec.holder == "first"
        crashed = asyncio.get_running_loop().time()
        await proxy.partition()  # the leader is cut off: no renewal, no release
        took_over = await until(lambda: second.elector.leading)
        # the lease runs out lease_duration after the last renewal (< crashed); the
        # rest is the standby's poll period and API latency on a loaded machine
        assert took_over - crashed <= 2 * TIMING["lease_duration"]
        await until(lambda: not first.elector.leading)
        assert no_overlap(log)
        assert (await leases.get(ns, "collector")).spec.holder == "second"
    finally:
        await first.close()
        await second.close()
        await proxy.close()


async def test_a_clean_shutdown_hands_over_within_a_retry_period(
    api_target: str, client: Client, ns: str
) -> None:
    log: list[tuple[float, str, bool]] = []
    first = Replica("first", api_target, ns, log)
    await until(lambda: first.elector.leading)
    second = Replica("second", api_target, ns, log)
    try:
        first.done.set()  # its work ends: it releases the lease
        released = await until(lambda: first.task.done())
        took_over = await until(lambda: second.elector.leading)
        assert took_over - released < TIMING["lease_duration"]
        assert no_overlap(log)
    finally:
        await first.close()
        await second.close()
