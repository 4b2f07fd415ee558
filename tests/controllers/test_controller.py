"""The worker loop: results, retries with backoff, terminal errors, requeues, no
concurrent reconciles of one key, metrics, and shutdown that drains."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from krake_controllers.runtime.controller import Controller, Result, Terminal
from krake_controllers.runtime.metrics import ControllerMetrics
from krake_controllers.runtime.queue import WorkQueue

DEADLINE = 10.0


@dataclass
class Script:
    """A reconciler that does what each key's script says, one step per call."""

    steps: dict[str, list[str]]
    calls: list[str] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    overlaps: int = 0

    async def reconcile(self, key: str) -> Result:
        if key in self.running:
            self.overlaps += 1
        self.running.add(key)
        self.calls.append(key)
        try:
            await asyncio.sleep(0.001)
            step = self.steps[key].pop(0) if self.steps[key] else "ok"
            if step == "fail":
                raise RuntimeError(f"{key} failed")
            if step == "terminal":
                raise Terminal(f"{key} cannot work")
            if step == "again":
                return Result(requeue_after=0.05)
            return Result()
        finally:
            self.running.discard(key)


def samples(metrics: ControllerMetrics, name: str) -> dict[tuple[str, ...], float]:
    return {
        tuple(sorted(s.labels.values())): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == name
    }


async def test_outcomes_retries_and_metrics() -> None:
    script = Script(
        {"flaky": ["fail", "fail", "ok"], "bad": ["terminal"], "loop": ["again"], "fine": []}
    )
    metrics = ControllerMetrics()
    queue: WorkQueue[str] = WorkQueue()
    controller = Controller("test", script, queue, workers=3, metrics=metrics)
    for key in script.steps:
        queue.add(key)
    task = asyncio.create_task(controller.run())
    async with asyncio.timeout(DEADLINE):
        while Counter(script.calls) != {"flaky": 3, "bad": 1, "loop": 2, "fine": 1}:
            await asyncio.sleep(0.005)
    controller.shutdown()
    async with asyncio.timeout(DEADLINE):
        await task
    assert queue.retries("flaky") == 0  # forgotten after the success
    assert samples(metrics, "krake_controller_reconciles_total") == {
        ("error", "test"): 2.0,
        ("success", "test"): 3.0,
        ("terminal", "test"): 1.0,
        ("requeue", "test"): 1.0,
    }


async def test_a_key_is_never_reconciled_twice_at_once() -> None:
    script = Script({"hot": ["ok"] * 200})
    queue: WorkQueue[str] = WorkQueue()
    controller = Controller("test", script, queue, workers=8)
    task = asyncio.create_task(controller.run())
    for _ in range(200):
        queue.add("hot")
        await asyncio.sleep(0)
    controller.shutdown()
    async with asyncio.timeout(DEADLINE):
        await task
    assert script.overlaps == 0 and script.calls


async def test_shutdown_finishes_what_is_queued() -> None:
    script = Script({f"k{i}": [] for i in range(50)})
    queue: WorkQueue[str] = WorkQueue()
    controller = Controller("test", script, queue, workers=2)
    for key in script.steps:
        queue.add(key)
    task = asyncio.create_task(controller.run())
    controller.shutdown()
    async with asyncio.timeout(DEADLINE):
        await task
    assert sorted(script.calls) == sorted(script.steps)
