"""`krake up`: the API server and every controller in one process, on the embedded
store by default: Krake on a laptop or for a demo. Ctrl-C (or SIGTERM) stops the
controllers first (their queues drain), then the API server drains. `--demo` also
serves two fake Kubernetes clusters and registers them (krake_cli/demo.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from krake_api import logs, server
from krake_api.config import parse
from krake_cli import demo
from krake_controllers import main as controllers
from krake_controllers.runtime.client import Client, connect
from krake_controllers.runtime.metrics import ControllerMetrics

USAGE = "usage: krake up [--demo] [options]  (krake up --help for the options)"


async def up(settings: argparse.Namespace, *, with_demo: bool = False) -> None:
    members = demo.clusters(demo.NAMES if with_demo else ())
    async with members as clusters, server.running(settings) as api:
        print(f"krake: API on {api.grpc} (gRPC) and {api.http} (HTTP), storage {settings.storage}")
        async with connect(api.grpc) as channel:
            client = Client(channel)
            await demo.register(client, clusters)
            metrics = ControllerMetrics()
            # workloads call their complete/shutdown hooks on this very gateway
            defaults = controllers.defaults(hook_endpoint=f"http://{api.http}")
            running = [
                controllers.build(n, client, defaults, metrics) for n in controllers.CONTROLLERS
            ]
            print(
                f"krake: controllers {', '.join(controllers.CONTROLLERS)}; Ctrl-C stops", flush=True
            )
            await controllers.run_until_stopped(running, settings.grace)
    print("krake: stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "up":
        sys.exit(USAGE)
    with_demo = "--demo" in args
    rest = [arg for arg in args[1:] if arg != "--demo"]
    settings = parse("krake up [--demo]", "Krake in one process", server.OPTIONS, rest)
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(up(settings, with_demo=with_demo))
