"""`krake-controller NAME`: runs one controller against the API (DESIGN.md §7).

Settings come from flags, `KRAKE_*` environment variables and `--config FILE`
(krake_api/config.py): the common ones below, and each controller's own tunables
(`TUNABLES`: the scheduler's `--stickiness`, `--reschedule-after`, ...).
With `--leader-elect`, replicas share a Lease named after the controller: all
keep their informers warm, only the leader reconciles. SIGTERM/SIGINT: the queue takes
no new keys, the workers finish the queued ones (up to `--grace` seconds), the
lease is released.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import structlog

from krake_api import logs, registry
from krake_api.config import Option, options_of, parse, settings_of
from krake_api.server import stopped
from krake_controllers import (
    garbage_collector,
    kubernetes_application,
    kubernetes_cluster,
    scheduler,
)
from krake_controllers.runtime.client import Client, connect
from krake_controllers.runtime.controller import Controller
from krake_controllers.runtime.leader import LeaderElector
from krake_controllers.runtime.metrics import ControllerMetrics
from krake_controllers.runtime.serving import serve_http

log = structlog.get_logger(__name__)
Builder = Callable[..., Controller[Any]]
CONTROLLERS: Final[Mapping[str, Builder]] = {
    garbage_collector.NAME: garbage_collector.build,
    scheduler.NAME: scheduler.build,
    kubernetes_application.NAME: kubernetes_application.build,
    kubernetes_cluster.NAME: kubernetes_cluster.build,
}
TUNABLES: Final[Mapping[str, type]] = {
    scheduler.NAME: scheduler.Settings,
    kubernetes_application.NAME: kubernetes_application.Settings,
    kubernetes_cluster.NAME: kubernetes_cluster.Timing,
}
"""The settings dataclass each controller's `build` takes as `settings=`."""
OPTIONS: Final = (
    Option("api", "127.0.0.1:50051", "HOST:PORT of the Krake API (gRPC)"),
    Option("ca", "", "CA certificate file: use TLS"),
    Option("cert", "", "client certificate file (mutual TLS)"),
    Option("key", "", "client key file (mutual TLS)"),
    Option("token-file", "", "file holding a bearer token for the API"),
    Option("workers", "0", "concurrent reconciles (0: the controller's default)", int),
    Option("leader-elect", "false", "elect a leader among replicas", choices=("true", "false")),
    Option("lease-namespace", "krake-system", "namespace of the leader election Lease"),
    Option("identity", f"{socket.gethostname()}-{os.getpid()}", "this replica's name"),
    Option("lease-duration", "15", "seconds a lease lasts without renewal", float),
    Option("renew-deadline", "10", "seconds a leader keeps trying to renew", float),
    Option("retry-period", "2", "seconds between election attempts", float),
    Option("metrics-address", "", "HOST:PORT for /metrics and /healthz (empty: off)"),
    Option("grace", "10", "seconds the workers get to finish on SIGTERM", float),
    Option("log-level", "info", "least severe log level written", choices=logs.LEVELS),
    Option("log-format", "json", "JSON or console log lines", choices=logs.FORMATS),
)


def defaults(**overrides: Any) -> argparse.Namespace:
    """Every controller's settings at their defaults, but `overrides` (`krake up`
    runs them all in one process)."""
    options = OPTIONS + tuple(o for cls in TUNABLES.values() for o in options_of(cls))
    settings = parse("krake up", "every controller", options, [], environ={})
    vars(settings).update(overrides)
    return settings


def build(
    name: str, client: Client, settings: argparse.Namespace, metrics: ControllerMetrics
) -> Controller[Any]:
    elector = None
    if settings.leader_elect == "true":
        elector = LeaderElector(
            client.kind(registry.KINDS["Lease"]),
            name,
            settings.identity,
            namespace=settings.lease_namespace,
            lease_duration=settings.lease_duration,
            renew_deadline=settings.renew_deadline,
            retry_period=settings.retry_period,
            on_change=lambda leading: metrics.leader.labels(name).set(int(leading)),
        )
    extra: dict[str, Any] = {"workers": settings.workers} if settings.workers > 0 else {}
    if name in TUNABLES:
        extra["settings"] = settings_of(TUNABLES[name], settings)
    return CONTROLLERS[name](client, elector=elector, metrics=metrics, **extra)


async def run_until_stopped(controllers: Sequence[Controller[Any]], grace: float) -> None:
    """Run `controllers` until SIGTERM/SIGINT, then drain them for `grace` seconds."""
    tasks = [asyncio.create_task(c.run()) for c in controllers]
    signalled = asyncio.create_task(stopped())
    await asyncio.wait([signalled, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for controller in controllers:
        controller.shutdown()
    _, late = await asyncio.wait(tasks, timeout=grace)
    for task in [*late, signalled]:
        task.cancel()
    await asyncio.gather(*tasks, signalled, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def run(name: str, settings: argparse.Namespace) -> None:
    token = pathlib.Path(settings.token_file).read_text().strip() if settings.token_file else ""
    channel = connect(
        settings.api, ca=settings.ca or None, cert=settings.cert or None, key=settings.key or None
    )
    async with channel:
        metrics = ControllerMetrics()
        controller = build(name, Client(channel, token=token), settings, metrics)
        runner = None
        if settings.metrics_address:
            synced = lambda: all(i.synced.is_set() for i in controller.informers)  # noqa: E731
            runner, port = await serve_http(metrics, synced, settings.metrics_address)
            log.info(
                "controller.metrics", address=f"{settings.metrics_address.rsplit(':', 1)[0]}:{port}"
            )
        log.info("controller.starting", controller=name, api=settings.api)
        try:
            await run_until_stopped([controller], settings.grace)
        finally:
            if runner is not None:
                await runner.cleanup()
    log.info("controller.stopped", controller=name)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in CONTROLLERS:
        known = ", ".join(sorted(CONTROLLERS))
        sys.exit(f"usage: krake-controller NAME [options]; NAME is one of: {known}")
    name = args.pop(0)
    options = OPTIONS + (options_of(TUNABLES[name]) if name in TUNABLES else ())
    settings = parse(f"krake-controller {name}", f"Krake's {name} controller", options, args)
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(run(name, settings))
