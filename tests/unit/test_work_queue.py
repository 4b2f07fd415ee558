"""The work queue's invariants (client-go's), checked on random operation sequences."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krake_controllers.runtime.queue import FAIRNESS, RateLimiter, TokenBucket, WorkQueue

KEYS = st.sampled_from("abcde")
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), KEYS),
        st.tuples(st.just("periodic"), KEYS),
        st.tuples(st.just("get"), st.just("")),
        st.tuples(st.just("done"), st.integers(0, 10)),
    ),
    max_size=60,
)


async def run_sequence(ops: list[tuple[str, object]]) -> None:
    queue: WorkQueue[str] = WorkQueue()
    in_flight: list[str] = []
    unseen: set[str] = set()  # keys added since the last time a worker picked them up
    for op, arg in ops:
        if op in ("add", "periodic"):
            assert isinstance(arg, str)
            queue.add(arg, periodic=op == "periodic")
            unseen.add(arg)
        elif op == "get" and len(queue):
            key = await queue.get()
            assert key is not None and key not in in_flight  # never two workers on one key
            in_flight.append(key)
            unseen.discard(key)
        elif op == "done" and in_flight:
            assert isinstance(arg, int)
            queue.done(in_flight.pop(arg % len(in_flight)))
        assert not set(queue._queue) & set(queue._periodic)  # queued at most once
    for key in in_flight:
        queue.done(key)
    while len(queue):  # every change is processed after it was made: nothing lost
        key = await queue.get()
        assert key is not None
        unseen.discard(key)
        queue.done(key)
    assert not unseen


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_no_key_is_processed_twice_at_once_and_no_add_is_lost(
    ops: list[tuple[str, object]],
) -> None:
    asyncio.run(run_sequence(ops))


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("k")
    assert await queue.get() == "k"
    queue.add("k")
    assert len(queue) == 0  # not handed out while in progress
    queue.done("k")
    assert len(queue) == 1 and await queue.get() == "k"


async def test_periodic_re_checks_wait_behind_changes_but_are_not_starved() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("p1", "p2", "p3"):
        queue.add(key, periodic=True)
    for i in range(2 * FAIRNESS + 2):
        queue.add(f"c{i}")
    queue.add("p3")  # a change to a key waiting for its re-check: it moves up
    order = []
    while len(queue):
        key = await queue.get()
        assert key is not None
        order.append(key)
        queue.done(key)
    changes = [f"c{i}" for i in range(2 * FAIRNESS + 2)] + ["p3"]
    assert [k for k in order if k != "p1" and k != "p2"] == changes
    assert order.index("p1") == FAIRNESS and order.index("p2") == 2 * FAIRNESS + 1
    assert order[-1] == "p3"


async def test_the_earliest_delay_wins_and_fires() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("k", 30.0)
    queue.add_after("k", 0.01)
    queue.add_after("k", 20.0)
    async with asyncio.timeout(5):
        assert await queue.get() == "k"
    queue.done("k")
    queue.shutdown()
    assert await queue.get() is None  # the later timers were dropped


def test_per_key_backoff_doubles_to_a_cap_and_forget_resets() -> None:
    limiter: RateLimiter[str] = RateLimiter(base=0.005, cap=0.04, bucket=TokenBucket(1e9, 10**9))
    delays = [limiter.when("k", 0.0) for _ in range(6)]
    assert delays == pytest.approx([0.005, 0.01, 0.02, 0.04, 0.04, 0.04])
    assert limiter.when("other", 0.0) == pytest.approx(0.005)
    limiter.forget("k")
    assert limiter.retries("k") == 0 and limiter.when("k", 0.0) == pytest.approx(0.005)


def test_the_token_bucket_spaces_out_bursts() -> None:
    bucket = TokenBucket(rate=10.0, burst=2)
    assert [bucket.reserve(0.0) for _ in range(4)] == pytest.approx([0.0, 0.0, 0.1, 0.2])
    assert bucket.reserve(10.0) == 0.0  # refilled, up to the burst


async def test_shutdown_hands_out_what_is_queued_then_none_and_drain_waits() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in "ab":
        queue.add(key)
    first = await queue.get()
    queue.shutdown()
    queue.add("c")  # refused
    second = await queue.get()
    assert {first, second} == {"a", "b"}
    draining = asyncio.create_task(queue.drain())
    queue.done(first)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert not draining.done()  # `second` is still being processed
    queue.done(second)  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        await draining
    assert await queue.get() is None


async def test_waiting_workers_wake_for_new_keys_and_for_shutdown() -> None:
    queue: WorkQueue[str] = WorkQueue()
    waiting = [asyncio.create_task(queue.get()) for _ in range(2)]
    await asyncio.sleep(0)
    queue.add("x")
    async with asyncio.timeout(5):
        done, pending = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    assert [t.result() for t in done] == ["x"]
    queue.shutdown()
    async with asyncio.timeout(5):
        assert [await t for t in pending] == [None]
