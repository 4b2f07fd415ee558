"""`krakectl apply|create|delete -f FILE|DIR|-`: the objects of files, any mix of kinds.

Every document is read and checked before the first call, so a bad document sends
nothing. Then each object is handled in file order; one that fails is reported and
the others go on; the command fails (exit 1) if any did.

`apply` creates an object that does not exist and otherwise replaces its spec and
the metadata the document names (labels, annotations, finalizers, owners): a
document without `finalizers` keeps those controllers added. Status and the fields
the server sets (uid, resource_version, ...) are ignored, so the output of
`get -o yaml` applies cleanly. An object the document would not change is
`unchanged` and is not written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import click
from google.protobuf.message import Message

from krake_api.registry import Kind
from krake_cli import documents, writes
from krake_cli import options as opt
from krake_cli.errors import Failure, Missing
from krake_cli.session import Session, pass_session
from krake_controllers.runtime.client import Client

REPLACEABLE: Final = ("labels", "annotations", "finalizers", "owners")
Handle = Callable[[Client, Kind, Any, documents.Document], Awaitable[Any]]

files = opt.compose(
    click.option(
        "-f",
        "--filename",
        "paths",
        multiple=True,
        required=True,
        type=click.Path(allow_dash=True),
        help="A YAML/JSON file, a directory of them, or - for stdin (repeatable).",
    ),
    click.option("-R", "--recursive", is_flag=True, help="Read directories recursively."),
)


def parsed(
    session: Session, paths: Sequence[str], recursive: bool, namespace: str | None
) -> list[tuple[Kind, Any, documents.Document]]:
    """Every object in the files, checked, before anything is sent."""
    found = documents.read(paths, recursive=recursive)
    if not found:
        raise Failure(f"no objects in {', '.join(paths)}")
    default = session.namespace(namespace)
    return [(*documents.parse(doc, default), doc) for doc in found]


def each(
    session: Session, objects: Sequence[tuple[Kind, Any, documents.Document]], handle: Handle
) -> None:
    """`handle` every object; report failures and go on; fail at the end if any failed."""

    async def work(client: Client) -> int:
        failed = 0
        for kind, obj, doc in objects:
            try:
                await handle(client, kind, obj, doc)
            except click.ClickException as err:
                failed += 1
                click.echo(f"Error: {err.format_message()}", err=True)
        return failed

    failed = session.run(work)
    if failed:
        raise Failure(f"{failed} of {len(objects)} objects failed")


def replaced(desired: Any, named: Sequence[str]) -> writes.Change:
    """The apply change: the document's spec, and the metadata fields it names."""

    def change(current: Any) -> Any:
        current.spec.CopyFrom(desired.spec)
        part: Message = type(desired.metadata)()
        part.CopyFrom(desired.metadata)
        for field, _ in part.ListFields():
            if field.name not in named:
                part.ClearField(field.name)
        for field_name in named:
            current.metadata.ClearField(field_name)
        current.metadata.MergeFrom(part)
        return current

    return change


async def apply_one(
    client: Client, kind: Kind, obj: Any, doc: documents.Document, how: writes.Write
) -> Any:
    """Update the object as the document says, or create it when there is none."""
    desired = documents.desired(obj)
    meta = desired.metadata
    named = [f for f in REPLACEABLE if f in (doc.data.get("metadata") or {})]
    change = replaced(desired, named)
    try:
        return await writes.update(client, kind, meta.namespace, meta.name, change, how)
    except Missing:
        return await writes.create(client, kind, desired, how)


@click.command("apply")
@files
@opt.namespace
@opt.dry_run
@opt.wait
@pass_session
def apply(
    session: Session,
    paths: tuple[str, ...],
    recursive: bool,
    namespace: str | None,
    dry_run: str,
    wait: str | None,
    timeout: float,
) -> None:
    """Create or update the objects in files: created, configured or unchanged."""
    how = writes.Write.of(None, wait, timeout, dry_run)
    objects = parsed(session, paths, recursive, namespace)
    for kind, _, _ in objects:
        how.target(kind)

    async def handle(client: Client, kind: Kind, obj: Any, doc: documents.Document) -> Any:
        return await apply_one(client, kind, obj, doc, how)

    each(session, objects, handle)


@click.command("create")
@files
@opt.namespace
@opt.dry_run
@opt.wait
@pass_session
def create(
    session: Session,
    paths: tuple[str, ...],
    recursive: bool,
    namespace: str | None,
    dry_run: str,
    wait: str | None,
    timeout: float,
) -> None:
    """Create the objects in files (an existing one is an error)."""
    how = writes.Write.of(None, wait, timeout, dry_run)
    objects = parsed(session, paths, recursive, namespace)
    for kind, _, _ in objects:
        how.target(kind)

    async def handle(client: Client, kind: Kind, obj: Any, doc: documents.Document) -> Any:
        return await writes.create(client, kind, documents.desired(obj), how)

    each(session, objects, handle)


def delete_files(
    session: Session,
    paths: Sequence[str],
    recursive: bool,
    namespace: str | None,
    how: writes.Write,
    propagation: str,
    ignore_not_found: bool,
) -> None:
    """Delete the objects named in files."""
    objects = parsed(session, paths, recursive, namespace)
    for kind, _, _ in objects:
        how.target(kind, deleting=True)

    async def handle(client: Client, kind: Kind, obj: Any, doc: documents.Document) -> Any:
        meta = obj.metadata
        return await writes.delete(
            client,
            kind,
            meta.namespace,
            meta.name,
            how,
            propagation=propagation,
            missing_ok=ignore_not_found,
        )

    each(session, objects, handle)
