"""The read verbs of every kind: `list`, `get NAME...` and `watch`, and `show`, which
the top-level `krakectl get KIND [NAME...]` shares with them.

`--watch` (and the `watch` verb) stream changes after the listing, from its
resource_version: nothing between the listing and the watch is lost. A stream the
server ends as too old is followed by a fresh listing; Ctrl-C ends it quietly.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import click
import grpc

from krake.core.v1 import metadata_pb2
from krake_api import structs
from krake_api.registry import Kind
from krake_cli import completion, output
from krake_cli import options as opt
from krake_cli.errors import Subject, about
from krake_cli.session import Session, pass_session
from krake_controllers.runtime.client import Client, KindClient

RESUMED = frozenset({grpc.StatusCode.OUT_OF_RANGE, grpc.StatusCode.RESOURCE_EXHAUSTED})


@dataclass(frozen=True, slots=True)
class Query:
    """What to read: the namespace ("" = all) and the selectors."""

    namespace: str
    selector: str = ""
    field_selector: str = ""

    @property
    def everywhere(self) -> bool:
        return not self.namespace


def query(
    session: Session, kind: Kind, namespace: str | None, everywhere: bool, **selectors: str
) -> Query:
    where = "" if everywhere or not kind.namespaced else session.namespace(namespace)
    return Query(where, **selectors)


async def events(client: KindClient, where: Query, version: str) -> AsyncIterator[tuple[str, Any]]:
    """(type name, object) for every change after `version`; re-lists (as ADDED
    events) when the server ends the stream as too old or too slow."""
    while True:
        try:
            async for event in client.events(
                where.namespace,
                resource_version=version,
                label_selector=where.selector,
                field_selector=where.field_selector,
            ):
                if event.type != metadata_pb2.BOOKMARK:
                    yield metadata_pb2.EventType.Name(event.type), event.object
        except grpc.RpcError as err:
            if err.code() not in RESUMED:
                raise
        page = await client.list(
            where.namespace, label_selector=where.selector, field_selector=where.field_selector
        )
        version = page.resource_version
        for item in page.items:
            yield "ADDED", item


class Printer:
    """Prints objects, or events, in one format; table rows stay aligned."""

    def __init__(self, kind: Kind, fmt: str, *, everywhere: bool, events: bool = False) -> None:
        self.kind, self.fmt, self.events = kind, fmt, events
        self.table = output.table(kind, fmt, all_namespaces=everywhere)
        self.header = True

    def objects(self, objects: Sequence[Any]) -> None:
        if self.fmt in ("table", "wide"):
            if objects:
                self.rows([("", obj) for obj in objects])
        else:
            click.echo(output.render(self.kind, objects, self.fmt), nl=False)

    def event(self, kind: str, obj: Any) -> None:
        if self.fmt in ("table", "wide"):
            self.rows([(kind, obj)])
        elif self.fmt == "name":
            prefix = f"{kind} " if self.events else ""
            click.echo(prefix + output.name(self.kind, obj))
        else:
            data = structs.to_data(obj)
            if self.events:
                data = {"type": kind, "object": data}
            if self.fmt == "json":
                click.echo(output.dump_json(data, compact=True))
            else:
                click.echo("---\n" + output.dump_yaml(data), nl=False)

    def rows(self, pairs: Sequence[tuple[str, Any]]) -> None:
        lines = self.table.lines([obj for _, obj in pairs], header=self.header)
        if self.events:
            labels = ["EVENT"] * self.header + [kind for kind, _ in pairs]
            lines = [f"{label:<10}{line}" for label, line in zip(labels, lines, strict=True)]
        self.header = False
        click.echo("\n".join(lines))


async def read(
    client: Client, kind: Kind, names: Sequence[str], where: Query
) -> tuple[list[Any], str]:
    """The named objects (or every selected one) and the resource_version to watch
    from (the oldest read: a change may be printed twice, never missed)."""
    typed = client.kind(kind)
    if names:
        found = []
        for name in names:
            with about(Subject(kind, where.namespace, name)):
                found.append(await typed.get(where.namespace, name))
        return found, min((obj.metadata.resource_version for obj in found), key=int)
    page = await typed.list(
        where.namespace, label_selector=where.selector, field_selector=where.field_selector
    )
    return page.items, page.resource_version


def show(
    session: Session, kind: Kind, names: Sequence[str], where: Query, fmt: str, watch: bool
) -> None:
    """Print the objects, then (with `watch`) every change to them until Ctrl-C."""
    printer = Printer(kind, fmt, everywhere=where.everywhere)

    async def work(client: Client) -> None:
        found, version = await read(client, kind, names, where)
        printer.objects(found)
        if not found and fmt in ("table", "wide") and not watch:
            place = f" in namespace {where.namespace}" if where.namespace else ""
            click.echo(f"No {kind.plural} found{place}.", err=True)
        if watch:
            streamed = where
            if len(names) == 1:
                streamed = Query(where.namespace, field_selector=f"metadata.name={names[0]}")
            async for _, obj in events(client.kind(kind), streamed, version):
                if not names or obj.metadata.name in names:
                    printer.event("", obj)

    until_interrupted(session, work)


def until_interrupted(session: Session, work: Any) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        session.run(work)


def list_command(kind: Kind) -> click.Command:
    @click.command("list", help=f"List {kind.plural}.")
    @opt.namespace
    @opt.all_namespaces
    @opt.selectors
    @opt.output()
    @opt.watch
    @pass_session
    def command(
        session: Session,
        namespace: str | None,
        all_namespaces: bool,
        selector: str,
        field_selector: str,
        output: str,
        watch: bool,
    ) -> None:
        where = query(
            session,
            kind,
            namespace,
            all_namespaces,
            selector=selector,
            field_selector=field_selector,
        )
        show(session, kind, (), where, output, watch)

    return command


def get_command(kind: Kind) -> click.Command:
    @click.command("get", help=f"Show {kind.plural} by name.")
    @click.argument("names", nargs=-1, required=True, shell_complete=completion.names(kind))
    @opt.namespace
    @opt.output()
    @opt.watch
    @pass_session
    def command(
        session: Session, names: tuple[str, ...], namespace: str | None, output: str, watch: bool
    ) -> None:
        show(session, kind, names, query(session, kind, namespace, False), output, watch)

    return command


def watch_command(kind: Kind) -> click.Command:
    @click.command("watch", help=f"Print every change to {kind.plural} (Ctrl-C ends).")
    @opt.namespace
    @opt.all_namespaces
    @opt.selectors
    @opt.output()
    @click.option("--resource-version", default="", help="Changes after this version only.")
    @pass_session
    def command(
        session: Session,
        namespace: str | None,
        all_namespaces: bool,
        selector: str,
        field_selector: str,
        output: str,
        resource_version: str,
    ) -> None:
        where = query(
            session,
            kind,
            namespace,
            all_namespaces,
            selector=selector,
            field_selector=field_selector,
        )
        printer = Printer(kind, output, everywhere=where.everywhere, events=True)

        async def work(client: Client) -> None:
            async for name, obj in events(client.kind(kind), where, resource_version):
                printer.event(name, obj)

        until_interrupted(session, work)

    return command
