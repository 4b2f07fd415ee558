"""Which etcd client for krake_api.storage.etcd? put/s and get/s against one real etcd.

1 KiB values, 32 concurrent tasks, `--ops` operations per task. Each client runs in
its own subprocess: two etcd client libraries cannot be loaded in one process
(their generated etcdserverpb descriptors collide).

    .venv/bin/python bench/etcd_clients.py [--ops 100] [--tasks 32]

etcd3aio is only in the dev venv (not a project dependency); it is skipped if absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

VALUE = b"x" * 1024
Op = Callable[[bytes], Awaitable[Any]]
Client = tuple[Op, Op, Callable[[], Awaitable[Any]]]


async def aetcd_client(endpoint: str) -> Client:
    import aetcd

    host, port = endpoint.rsplit(":", 1)
    client = aetcd.Client(host=host, port=int(port))
    await client.connect()
    return (lambda k: client.put(k, VALUE)), client.get, client.close


async def raw_stubs(endpoint: str) -> Client:
    import grpc.aio
    from aetcd import rpc

    channel = grpc.aio.insecure_channel(endpoint)
    kv = rpc.KVStub(channel)
    return (
        lambda k: kv.Put(rpc.PutRequest(key=k, value=VALUE), timeout=5),
        lambda k: kv.Range(rpc.RangeRequest(key=k), timeout=5),
        channel.close,
    )


async def etcd3aio_client(endpoint: str) -> Client:
    import etcd3aio

    client = etcd3aio.Etcd3Client([endpoint])
    await client.connect()
    assert client.kv is not None
    kv = client.kv
    return (lambda k: kv.put(k, VALUE, timeout=5)), (lambda k: kv.get(k, timeout=5)), client.close


async def krake_store(endpoint: str) -> Client:
    from krake_api.storage.etcd import EtcdStore

    store = await EtcdStore.connect([endpoint])
    return (
        (lambda k: store.put(k.decode(), VALUE)),
        (lambda k: store.get(k.decode())),
        store.close,
    )


CLIENTS: dict[str, Callable[[str], Awaitable[Client]]] = {
    "aetcd.Client": aetcd_client,
    "grpc.aio + aetcd.rpc stubs": raw_stubs,
    "etcd3aio.Etcd3Client": etcd3aio_client,
    "krake EtcdStore (stubs + retries)": krake_store,
}


async def measure(name: str, endpoint: str, tasks: int, ops: int) -> dict[str, float]:
    put, get, close = await CLIENTS[name](endpoint)
    keys = [[f"/bench/{name}/{t}/{i}".encode() for i in range(ops)] for t in range(tasks)]
    await put(keys[0][0])  # connect and warm up
    await get(keys[0][0])
    rates = {}
    for label, op in (("put", put), ("get", get)):

        async def worker(mine: list[bytes], op: Op = op) -> None:
            for key in mine:
                await op(key)

        started = time.perf_counter()
        await asyncio.gather(*(worker(mine) for mine in keys))
        rates[label] = tasks * ops / (time.perf_counter() - started)
    await close()
    return rates


def run_child(name: str, endpoint: str, tasks: int, ops: int) -> dict[str, float] | str:
    command = [sys.executable, __file__, "--child", name, "--endpoint", endpoint]
    command += ["--tasks", str(tasks), "--ops", str(ops)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--ops", type=int, default=100, help="operations per task")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.child, args.endpoint, args.tasks, args.ops))))
        return

    from krake_testing.etcd import EtcdCluster

    print(f"{args.tasks} tasks x {args.ops} ops, 1 KiB values, one local etcd (no fsync)")
    print(f"{'client':<36} {'put/s':>8} {'get/s':>8}")
    with EtcdCluster(1) as etcd:
        for name in CLIENTS:
            result = run_child(name, etcd.endpoints[0], args.tasks, args.ops)
            if isinstance(result, str):
                print(f"{name:<36} {'-':>8} {'-':>8}  ({result})")
            else:
                print(f"{name:<36} {result['put']:>8.0f} {result['get']:>8.0f}")


if __name__ == "__main__":
    main()
