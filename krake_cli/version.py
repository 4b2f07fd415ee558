"""`krakectl version`: the client's version, and the server's answer.

The API has no version RPC, so the server side is what the standard services it
runs tell: its health (grpc.health.v1) and, through gRPC server reflection, the
Krake API groups and versions it serves (`core/v1`, ...).
"""

from __future__ import annotations

from typing import Any

import click
import grpc
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from krake_cli import output
from krake_cli.session import Session, answering, pass_session
from krake_controllers.runtime.client import Client


def client_version() -> str:
    import importlib.metadata  # here: it takes a while to import, and only this needs it

    try:
        return importlib.metadata.version("krake")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


async def served_apis(channel: grpc.aio.Channel, timeout: float) -> list[str]:
    """`group/version` of every Krake service the server lists by reflection."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    call = stub.ServerReflectionInfo(iter([request]), timeout=timeout)
    apis: list[str] = []
    async for response in call:
        for service in response.list_services_response.service:
            parts = service.name.split(".")
            if parts[0] == "krake" and len(parts) == 4:
                apis.append(f"{parts[1]}/{parts[2]}")
        break
    call.cancel()
    return sorted(apis)


async def server(client: Client) -> dict[str, Any]:
    health = await answering(client.channel, "")
    return {
        "health": health_pb2.HealthCheckResponse.ServingStatus.Name(health.status),
        "apis": await served_apis(client.channel, client.timeout),
    }


@click.command("version")
@click.option("--client", "client_only", is_flag=True, help="Only the client's version.")
@click.option("-o", "--output", "fmt", type=click.Choice(["text", "json", "yaml"]), default="text")
@pass_session
def version(session: Session, client_only: bool, fmt: str) -> None:
    """Print the client's and the server's versions."""
    data: dict[str, Any] = {"client": {"version": client_version()}}
    if not client_only:
        data["server"] = {"address": session.settings.api, **session.run(server)}
    if fmt == "json":
        click.echo(output.dump_json(data))
    elif fmt == "yaml":
        click.echo(output.dump_yaml(data), nl=False)
    else:
        click.echo(f"Client: krakectl {data['client']['version']}")
        if "server" in data:
            found = data["server"]
            click.echo(
                f"Server: {found['address']} {found['health']}, APIs: {', '.join(found['apis'])}"
            )
