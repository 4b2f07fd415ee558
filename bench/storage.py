"""Storage benchmark: the Store layer against the raw client beneath it, side by side.

For each backend (a real etcd started here, and the embedded SQLite file) and for
its raw client (etcd: grpc.aio stubs from aetcd.rpc on one channel; SQLite: the
sqlite3 module on a plain key/value table, no revision log), at concurrency 1 and
32, with 1 KiB values: put, CAS-replace, get, range(1,000) and watch replay. Each
cell is the best of `--repeat` runs, store and raw interleaved. Prints ops/s and
their ratio store/raw (1.00 = no overhead; the etcd target is >= 0.87, i.e. the
Store layer adds at most 15%), and the client process's CPU time per operation
(all threads, gRPC's included) for both: on a noisy machine wall-clock rates swing
by tens of percent between runs, while the CPU a layer adds is what it costs.

    python bench/storage.py [--ops 4000] [--repeat 3] [--backends etcd,sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import pathlib
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from aetcd import rpc

from krake_api.storage.base import Store
from krake_api.storage.etcd import EtcdStore
from krake_api.storage.sqlite import SqliteStore
from krake_testing.etcd import EtcdCluster

VALUE = b"v" * 1024
RANGE_SIZE = 1000
Op = Callable[[int], Awaitable[object]]


@dataclass
class Subject:
    """One side of a comparison: the same five operations, named by index."""

    name: str
    put: Op
    replace: Op
    get: Op
    range: Op
    replay: Callable[[int], Awaitable[int]]  # watchers -> events delivered


@dataclass
class Best:
    """The best of several runs: highest rate, lowest CPU microseconds per op."""

    rate: float = 0.0
    cpu_us: float = float("inf")

    async def measure(self, run: Callable[[], Awaitable[int]]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        count = await run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if count:
            self.rate = max(self.rate, count / wall)
            self.cpu_us = min(self.cpu_us, cpu / count * 1e6)


def rate(op: Op, ops: int, concurrency: int) -> Callable[[], Awaitable[int]]:
    async def worker(offset: int) -> None:
        for i in range(offset, ops, concurrency):
            await op(i)

    async def run() -> int:
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        return ops

    return run


async def store_subject(store: Store, prefix: str, ops: int) -> Subject:
    revisions: dict[int, int] = {}
    for i in range(ops):
        revisions[i] = await store.put(f"{prefix}k/{i}", VALUE)
    for i in range(RANGE_SIZE):
        await store.put(f"{prefix}r/{i:05}", VALUE)
    replay_from = await store.revision()
    for i in range(ops):
        await store.put(f"{prefix}w/{i % 100}", VALUE)

    async def replace(i: int) -> None:
        revisions[i] = await store.replace(f"{prefix}k/{i}", VALUE, expect=revisions[i])

    async def replay(watchers: int) -> int:
        async def one() -> int:
            seen = 0
            events = store.watch(prefix + "w/", after=replay_from)
            async for _ in events:
                seen += 1
                if seen == ops:
                    break
            await events.aclose()
            return seen

        return sum(await asyncio.gather(*(one() for _ in range(watchers))))

    return Subject(
        "store",
        put=lambda i: store.put(f"{prefix}p/{i}", VALUE),
        replace=replace,
        get=lambda i: store.get(f"{prefix}k/{i}"),
        range=lambda i: store.range(prefix + "r/", limit=RANGE_SIZE),
        replay=replay,
    )


async def raw_etcd_subject(
    endpoint: str, prefix: str, ops: int
) -> tuple[Subject, grpc.aio.Channel]:
    channel = grpc.aio.insecure_channel(endpoint)
    kv, watch = rpc.KVStub(channel), rpc.WatchStub(channel)
    base = prefix.encode()
    revisions: dict[int, int] = {}
    for i in range(ops):
        response = await kv.Put(rpc.PutRequest(key=base + b"k/%d" % i, value=VALUE))
        revisions[i] = response.header.revision
    for i in range(RANGE_SIZE):
        await kv.Put(rpc.PutRequest(key=base + b"r/%05d" % i, value=VALUE))
    replay_from = (await kv.Range(rpc.RangeRequest(key=b"\0", limit=1))).header.revision
    for i in range(ops):
        await kv.Put(rpc.PutRequest(key=base + b"w/%d" % (i % 100), value=VALUE))

    async def put(i: int) -> None:
        await kv.Put(rpc.PutRequest(key=base + b"p/%d" % i, value=VALUE))

    async def replace(i: int) -> None:
        key = base + b"k/%d" % i
        compare = rpc.Compare(
            key=key,
            result=rpc.Compare.CompareResult.EQUAL,
            target=rpc.Compare.CompareTarget.MOD,
            mod_revision=revisions[i],
        )
        success = rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=VALUE))
        response = await kv.Txn(rpc.TxnRequest(compare=[compare], success=[success]))
        assert response.succeeded
        revisions[i] = response.header.revision

    async def get(i: int) -> None:
        await kv.Range(rpc.RangeRequest(key=base + b"k/%d" % i))

    async def ranged(i: int) -> None:
        await kv.Range(rpc.RangeRequest(key=base + b"r/", range_end=base + b"r0", limit=RANGE_SIZE))

    async def replay(watchers: int) -> int:
        async def one() -> int:
            create = rpc.WatchCreateRequest(
                key=base + b"w/",
                range_end=base + b"w0",
                start_revision=replay_from + 1,
                prev_kv=True,
            )
            stream = watch.Watch(iter([rpc.WatchRequest(create_request=create)]))
            seen = 0
            async for response in stream:
                seen += len(response.events)
                if seen >= ops:
                    break
            stream.cancel()
            return seen

        return sum(await asyncio.gather(*(one() for _ in range(watchers))))

    return Subject("raw", put, replace, get, ranged, replay), channel


def raw_sqlite_subject(path: str, ops: int) -> tuple[Subject, sqlite3.Connection]:
    """sqlite3 on a plain table in the same WAL mode, on the event loop like the store."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB, rev INTEGER) WITHOUT ROWID")
    for i in range(RANGE_SIZE):
        db.execute("INSERT INTO kv VALUES (?, ?, 1)", (b"r/%05d" % i, VALUE))
    revisions = dict.fromkeys(range(ops), 1)

    async def put(i: int) -> None:
        db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, 1)", (b"p/%d" % i, VALUE))

    async def replace(i: int) -> None:
        cursor = db.execute(
            "UPDATE kv SET value = ?, rev = rev + 1 WHERE key = ? AND rev = ?",
            (VALUE, b"k/%d" % i, revisions[i]),
        )
        assert cursor.rowcount == 1
        revisions[i] += 1

    async def get(i: int) -> None:
        db.execute("SELECT value, rev FROM kv WHERE key = ?", (b"k/%d" % i,)).fetchone()

    async def ranged(i: int) -> None:
        db.execute(
            "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
            (b"r/", b"r0", RANGE_SIZE),
        ).fetchall()

    async def replay(watchers: int) -> int:
        return 0  # sqlite3 has no watch: nothing to compare against

    for i in range(ops):
        db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, 1)", (b"k/%d" % i, VALUE))
    return Subject("raw", put, replace, get, ranged, replay), db


Row = tuple[str, str, int, Best, Best]


async def compare(backend: str, store: Subject, raw: Subject, ops: int, repeat: int) -> list[Row]:
    rows: list[Row] = []
    for concurrency in (1, 32):
        for op_name in ("put", "replace", "get", "range", "replay"):
            count = ops // 10 if op_name == "range" else ops
            watchers = 1 if concurrency == 1 else 8
            best = {"store": Best(), "raw": Best()}
            for _ in range(repeat):
                for subject in (store, raw):
                    if op_name == "replay":
                        run = functools.partial(subject.replay, watchers)
                    else:
                        run = rate(getattr(subject, op_name), count, concurrency)
                    await best[subject.name].measure(run)
            name = f"watch x{watchers}" if op_name == "replay" else op_name
            rows.append((backend, name, concurrency, best["store"], best["raw"]))
    return rows


async def bench_etcd(ops: int, repeat: int) -> list[Row]:
    with EtcdCluster(1) as cluster:
        store = await EtcdStore.connect(cluster.endpoints)
        raw, channel = await raw_etcd_subject(cluster.endpoints[0], "/bench/raw/", ops)
        try:
            subject = await store_subject(store, "/bench/store/", ops)
            return await compare("etcd", subject, raw, ops, repeat)
        finally:
            await store.close()
            await channel.close()


async def bench_sqlite(ops: int, repeat: int) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        store = await SqliteStore.open(str(pathlib.Path(folder) / "store.db"))
        raw, db = raw_sqlite_subject(str(pathlib.Path(folder) / "raw.db"), ops)
        try:
            subject = await store_subject(store, "/bench/store/", ops)
            return await compare("sqlite", subject, raw, ops, repeat)
        finally:
            await store.close()
            db.close()


def print_table(rows: list[Row]) -> None:
    print(
        f"{'backend':8} {'operation':11} {'conc':>4} {'store/s':>10} {'raw/s':>10} {'ratio':>6}"
        f" {'store us':>9} {'raw us':>9} {'added':>6}"
    )
    for backend, op, concurrency, store, raw in rows:
        if raw.rate:
            extra = (
                f"{raw.rate:10,.0f} {store.rate / raw.rate:6.2f}"
                f" {store.cpu_us:9,.0f} {raw.cpu_us:9,.0f} {store.cpu_us / raw.cpu_us - 1:+6.0%}"
            )
        else:
            extra = f"{'-':>10} {'-':>6} {store.cpu_us:9,.0f} {'-':>9} {'-':>6}"
        print(f"{backend:8} {op:11} {concurrency:4} {store.rate:10,.0f} {extra}")


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="etcd,sqlite")
    args = parser.parse_args(argv)
    runners = {"etcd": bench_etcd, "sqlite": bench_sqlite}
    rows = []
    for backend in args.backends.split(","):
        rows += await runners[backend](args.ops, args.repeat)
    print_table(rows)


if __name__ == "__main__":
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    asyncio.run(main(sys.argv[1:]))
