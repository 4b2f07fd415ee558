"""`krake up`: the API server and every controller in one process, on the embedded
store by default: Krake on a laptop or for a demo. Ctrl-C (or SIGTERM) stops the
controllers first (their queues drain), then the API server drains."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from krake_api import logs, server
from krake_api.config import parse
from krake_controllers import main as controllers
from krake_controllers.runtime.client import Client, connect
from krake_controllers.runtime.metrics import ControllerMetrics

USAGE = "usage: krake up [options]  (krake up --help for the options)"


async def up(settings: argparse.Namespace) -> None:
    async with server.running(settings) as api:
        print(f"krake: API on {api.grpc} (gRPC) and {api.http} (HTTP), storage {settings.storage}")
        async with connect(api.grpc) as channel:
            client = Client(channel)
            metrics = ControllerMetrics()
            defaults = argparse.Namespace(leader_elect="false", workers=0)
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
    settings = parse("krake up", "Krake in one process", server.OPTIONS, args[1:])
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(up(settings))
