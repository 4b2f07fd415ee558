"""`python -m krake_testing.kube --address 127.0.0.1:PORT --kubeconfig PATH [--token T]`:
serve one fake cluster until SIGINT/SIGTERM and write a kubeconfig for it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

from krake_testing.kube import kubeconfig
from krake_testing.kube.context import Timing
from krake_testing.kube.server import ClusterServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m krake_testing.kube", description=__doc__)
    parser.add_argument(
        "--address", default="127.0.0.1:0", help="HOST:PORT to listen on (port 0: any free one)"
    )
    parser.add_argument(
        "--kubeconfig", type=Path, required=True, help="where to write the kubeconfig"
    )
    parser.add_argument(
        "--name", default="fake", help="cluster name (kubeconfig context, node names)"
    )
    parser.add_argument(
        "--token",
        help="bearer token to accept and to put in the kubeconfig instead of a client certificate",
    )
    parser.add_argument(
        "--insecure", action="store_true", help="plain HTTP (token authentication only)"
    )
    parser.add_argument("--nodes", type=int, default=1, help="number of Ready nodes")
    parser.add_argument(
        "--ready-delay", type=float, default=1.0, help="seconds until a pod is Running"
    )
    parser.add_argument(
        "--completion-delay", type=float, default=2.0, help="seconds a batch pod runs"
    )
    return parser


async def _serve(args: argparse.Namespace, directory: Path) -> None:
    host, _, port = args.address.rpartition(":")
    server = ClusterServer(
        args.name,
        host=host or "127.0.0.1",
        port=int(port or 0),
        token=args.token,
        tls=not args.insecure,
        nodes=args.nodes,
        timing=Timing(ready_delay=args.ready_delay, completion_delay=args.completion_delay),
        directory=directory,
    )
    await server.start()
    auth: kubeconfig.Auth = "token" if args.token or args.insecure else "certificate"
    kubeconfig.write(server.kubeconfig(auth), args.kubeconfig)
    print(
        f"fake cluster {args.name} serving at {server.url}; kubeconfig in {args.kubeconfig}",
        flush=True,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix=f"fake-kube-{args.name}-") as directory,
        contextlib.suppress(KeyboardInterrupt),
    ):
        asyncio.run(_serve(args, Path(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
