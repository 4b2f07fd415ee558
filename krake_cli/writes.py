"""Writes, for every command that changes objects: create, update (read, change,
compare-and-swap), delete, each with `--dry-run=client`, `--wait` and `-o`.

Each change is reported as one line, `application/web created` (`configured`,
`unchanged`, `deleted`), or, with `-o`, as the object the API returned. An update
sends the resource_version it read, so a concurrent writer is never overwritten: it
reads again and re-applies the change (`CONFLICT_RETRIES` times). A change that
leaves the object as it was is `unchanged` and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import click
import grpc

from krake.core.v1 import metadata_pb2
from krake_api.registry import Kind
from krake_cli import output, waits
from krake_cli.errors import Failure, Missing, Subject, about
from krake_cli.progress import Progress
from krake_controllers.runtime.client import Client

CONFLICT_RETRIES: Final = 3
PROPAGATIONS: Final = {
    "background": metadata_pb2.BACKGROUND,
    "foreground": metadata_pb2.FOREGROUND,
    "orphan": metadata_pb2.ORPHAN,
}
Change = Callable[[Any], Any]
"""A copy of the object read, changed as the command asks."""


@dataclass(frozen=True, slots=True)
class Write:
    """How a command writes and reports: its -o, --wait, --timeout, --dry-run."""

    output: str | None = None
    wait: str | None = None
    timeout: float = 300.0
    dry_run: bool = False

    @classmethod
    def of(cls, output: str | None, wait: str | None, timeout: float, dry_run: str) -> Write:
        return cls(output, wait, timeout, dry_run == "client")

    def target(self, kind: Kind, *, deleting: bool = False) -> waits.Target | None:
        """What --wait waits for (checked before anything is sent)."""
        return None if self.wait is None else waits.target(kind, self.wait, deleting=deleting)

    def report(self, kind: Kind, obj: Any, change: str) -> None:
        if self.output and change != "deleted":
            click.echo(output.render(kind, [obj], self.output), nl=False)
        else:
            suffix = " (dry run)" if self.dry_run else ""
            click.echo(f"{output.name(kind, obj)} {change}{suffix}")


def subject(kind: Kind, obj: Any) -> Subject:
    return Subject(kind, obj.metadata.namespace, obj.metadata.name)


async def create(client: Client, kind: Kind, obj: Any, how: Write) -> Any:
    """Create `obj` (report `created`) and wait as --wait asks."""
    goal = how.target(kind)
    if how.dry_run:
        how.report(kind, obj, "created")
        return obj
    with about(subject(kind, obj)):
        created = await client.kind(kind).create(obj)
    if goal is not None:
        created = await waits.until(client.kind(kind), created, goal, how.timeout, Progress())
    how.report(kind, created, "created")
    return created


async def update(
    client: Client, kind: Kind, namespace: str, name: str, change: Change, how: Write
) -> Any:
    """Read the object, `change` a copy and write it unless it is unchanged."""
    goal = how.target(kind)
    typed = client.kind(kind)
    named = Subject(kind, namespace, name)
    for _ in range(CONFLICT_RETRIES):
        with about(named):
            current = await typed.get(namespace, name)
        new = change(copy(current))
        if new == current:
            if goal is not None:
                current = await waits.until(typed, current, goal, how.timeout, Progress())
            how.report(kind, current, "unchanged")
            return current
        if how.dry_run:
            how.report(kind, new, "configured")
            return new
        try:
            with about(named):
                written = await typed.update(new)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.ABORTED:
                continue
            raise
        if goal is not None:
            written = await waits.until(typed, written, goal, how.timeout, Progress())
        how.report(kind, written, "configured")
        return written
    raise Failure(f"{kind.name} {name!r} keeps changing under us: try again")


async def delete(
    client: Client,
    kind: Kind,
    namespace: str,
    name: str,
    how: Write,
    *,
    propagation: str = "background",
    missing_ok: bool = False,
) -> Any:
    """Delete the object (report `deleted`); --wait waits until it is gone, which
    takes as long as its finalizers stay."""
    goal = how.target(kind, deleting=True)
    typed = client.kind(kind)
    try:
        with about(Subject(kind, namespace, name)):
            if how.dry_run:
                gone = await typed.get(namespace, name)
            else:
                gone = await typed.delete(namespace, name, propagation=PROPAGATIONS[propagation])
    except Missing:
        if missing_ok:
            return None
        raise
    if goal is not None and gone.metadata.finalizers and not how.dry_run:
        await waits.until(typed, gone, goal, how.timeout, Progress())
    how.report(kind, gone, "deleted")
    return gone


def copy(obj: Any) -> Any:
    new = type(obj)()
    new.CopyFrom(obj)
    return new
