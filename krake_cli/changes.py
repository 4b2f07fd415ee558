"""The generic write verbs of every kind as commands: `create`, `update`, `delete`.

`create [NAME] -f FILE` creates the object in FILE (its `kind` may be left out);
without a file, an object with an empty spec. `update NAME` changes labels, and
with `-f` replaces the spec by the file's. Kinds whose objects are easier to write
with flags get a handwritten `create` instead (krake_cli/special/).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from krake_api.registry import Kind
from krake_cli import completion, documents, writes
from krake_cli import options as opt
from krake_cli.errors import Failure
from krake_cli.session import Session, pass_session
from krake_controllers.runtime.client import Client

F = Callable[..., Any]


def write_options(command: F) -> F:
    """-n, -o, --wait/--timeout and --dry-run, as every write verb has them."""
    return opt.compose(opt.namespace, opt.output(default=None), opt.wait, opt.dry_run)(command)


def new_object(kind: Kind, name: str | None, namespace: str, path: str | None) -> Any:
    """The object in `path` (one document of `kind`), or an empty one named `name`."""
    if path is None:
        if not name:
            raise click.UsageError("give a NAME or an object file with -f")
        obj: Any = kind.message(api=kind.group, kind=kind.name)
        obj.metadata.name = name
        obj.metadata.namespace = namespace if kind.namespaced else ""
        return obj
    found = documents.read([path])
    if len(found) != 1:
        raise Failure(f"{path}: holds {len(found)} objects; `create` takes one (see `apply`)")
    document = found[0]
    if isinstance(document.data, dict) and name:
        document.data.setdefault("metadata", {})["name"] = name
    _, obj = documents.parse(document, namespace, expected=kind)
    return documents.desired(obj)


def submit(session: Session, kind: Kind, obj: Any, how: writes.Write) -> None:
    """Create `obj` as a command does: check --wait first, then send, wait, report."""
    how.target(kind)

    async def work(client: Client) -> None:
        await writes.create(client, kind, obj, how)

    session.run(work)


def change(
    session: Session, kind: Kind, namespace: str, name: str, edit: writes.Change, how: writes.Write
) -> None:
    """Update one object as a command does: read, `edit`, write, wait, report."""
    how.target(kind)

    async def work(client: Client) -> None:
        await writes.update(client, kind, namespace, name, edit, how)

    session.run(work)


def same(obj: Any) -> Any:
    return obj


def with_spec(spec: Any) -> writes.Change:
    def replacing(obj: Any) -> Any:
        obj.spec.CopyFrom(spec)
        return obj

    return replacing


def labelled(
    edit: writes.Change, labels: dict[str, str], removed: tuple[str, ...]
) -> writes.Change:
    def labelling(obj: Any) -> Any:
        obj = edit(obj)
        obj.metadata.labels.update(labels)
        for key in removed:
            obj.metadata.labels.pop(key, None)
        return obj

    return labelling


def create_command(kind: Kind) -> click.Command:
    @click.command("create", help=f"Create a {kind.name} from a file (or with an empty spec).")
    @click.argument("name", required=False)
    @click.option(
        "-f", "--filename", "path", type=click.Path(allow_dash=True), help="The object (YAML/JSON)."
    )
    @opt.labels
    @write_options
    @pass_session
    def command(
        session: Session,
        name: str | None,
        path: str | None,
        labels: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        obj = new_object(kind, name, session.namespace(namespace), path)
        obj.metadata.labels.update(opt.pairs(labels))
        submit(session, kind, obj, writes.Write.of(output, wait, timeout, dry_run))

    return command


def update_command(kind: Kind) -> click.Command:
    @click.command("update", help=f"Change a {kind.name}: its labels, or its spec from a file.")
    @click.argument("name", shell_complete=completion.names(kind))
    @click.option(
        "-f",
        "--filename",
        "path",
        type=click.Path(allow_dash=True),
        help="Take the spec from this object file.",
    )
    @opt.labels
    @click.option("--remove-label", "removed", multiple=True, metavar="KEY", help="Remove a label.")
    @write_options
    @pass_session
    def command(
        session: Session,
        name: str,
        path: str | None,
        labels: tuple[str, ...],
        removed: tuple[str, ...],
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        where = session.namespace(namespace) if kind.namespaced else ""
        edit = same if path is None else with_spec(new_object(kind, name, where, path).spec)
        how = writes.Write.of(output, wait, timeout, dry_run)
        change(session, kind, where, name, labelled(edit, opt.pairs(labels), removed), how)

    return command


def delete_command(kind: Kind) -> click.Command:
    @click.command("delete", help=f"Delete {kind.plural} by name.")
    @click.argument("names", nargs=-1, required=True, shell_complete=completion.names(kind))
    @click.option(
        "--propagation",
        type=click.Choice(list(writes.PROPAGATIONS)),
        default="background",
        show_default=True,
        help="What happens to the objects it owns.",
    )
    @click.option("--ignore-not-found", is_flag=True, help="A missing object is not an error.")
    @write_options
    @pass_session
    def command(
        session: Session,
        names: tuple[str, ...],
        propagation: str,
        ignore_not_found: bool,
        namespace: str | None,
        output: str | None,
        wait: str | None,
        timeout: float,
        dry_run: str,
    ) -> None:
        where = session.namespace(namespace) if kind.namespaced else ""
        delete(
            session,
            kind,
            where,
            names,
            writes.Write.of(output, wait, timeout, dry_run),
            propagation,
            ignore_not_found,
        )

    return command


def delete(
    session: Session,
    kind: Kind,
    namespace: str,
    names: tuple[str, ...],
    how: writes.Write,
    propagation: str,
    ignore_not_found: bool,
) -> None:
    how.target(kind, deleting=True)

    async def work(client: Client) -> None:
        for name in names:
            await writes.delete(
                client,
                kind,
                namespace,
                name,
                how,
                propagation=propagation,
                missing_ok=ignore_not_found,
            )

    session.run(work)
